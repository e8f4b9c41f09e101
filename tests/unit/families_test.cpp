// The family registry: what each entry must give for normalisation and the
// poll to use it (issue 19 adds families here).
#include "families/family.h"

#include <cctype>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "asicmon/miner_api.h"

namespace asicmon {
namespace {

TEST(Families, EachIsNamedOnceAndRecognisable) {
  std::set<std::string_view> names;
  for (const Family* f : Families()) {
    EXPECT_FALSE(f->name.empty());
    EXPECT_TRUE(names.insert(f->name).second) << "two families named " << f->name;
    // A family that reads its own documents may recognise nothing in a cgminer reply.
    if (f->read_documents == nullptr) {
      EXPECT_NE(f->recognise, nullptr) << f->name;
    }
  }
  EXPECT_GE(names.size(), 4u);
}

// A poll job names its family (PollJob::family): the name finds it again.
// A family that reads its own documents (HTTP, API v3) has a poll plan to
// fetch them and none of the cgminer hooks, which would never be called.
TEST(Families, FoundByNameAndDocumentReadersHaveAPlan) {
  for (const Family* f : Families()) {
    EXPECT_EQ(FindFamily(f->name), f) << f->name;
    if (f->read_documents != nullptr) {
      EXPECT_FALSE(f->poll.empty()) << f->name;
      EXPECT_EQ(f->stats_boards, nullptr) << f->name;
      EXPECT_EQ(f->fans, nullptr) << f->name;
    }
  }
  EXPECT_EQ(FindFamily("no such family"), nullptr);
  EXPECT_EQ(FindFamily(""), nullptr);
}

// A software key names one family: the first family listing it would take it.
TEST(Families, EachSoftwareKeyBelongsToOneFamily) {
  std::set<std::string> keys;
  for (const Family* f : Families()) {
    for (const Software& s : f->software) {
      std::string key(s.key);
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_TRUE(keys.insert(key).second) << s.key << " in " << f->name;
    }
  }
}

}  // namespace
}  // namespace asicmon
