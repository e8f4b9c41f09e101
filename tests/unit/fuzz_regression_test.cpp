// The fuzz targets' own feeds (fuzz/feeds.h), outside libFuzzer: every seed
// the fuzzers start from keeps every invariant, and every input that once
// broke a parser (tests/data/fuzz/<target>/<name>) now gets the verdict
// written beside it in <name>.expected and breaks no invariant.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "asicmon/bus.h"
#include "feeds.h"
#include "seeds.h"

namespace asicmon::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using Inputs = std::vector<std::pair<std::string, std::string>>;  // (name, bytes)

void AddFiles(const fs::path& dir, std::string_view extension, Inputs& inputs) {
  if (!fs::is_directory(dir)) return;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && (extension.empty() || entry.path().extension() == extension)) {
      inputs.emplace_back(entry.path().string(), ReadFile(entry.path()));
    }
  }
}

// What scripts/fuzz.sh starts each target's corpus with.
Inputs SeedsOf(std::string_view target) {
  Inputs seeds;
  AddFiles(fs::path(ASICMON_FUZZ_CORPUS_DIR) / target, "", seeds);
  if (target == "miner_reply" || target == "json_repair" || target == "http_reply") {
    AddFiles(ASICMON_TEST_DATA_DIR, ".json", seeds);
  }
  if (target == "json_repair")
    AddFiles(fs::path(ASICMON_FUZZ_CORPUS_DIR) / "miner_reply", "", seeds);
  if (target == "bus_message") seeds = BusMessageSeeds();
  return seeds;
}

class FuzzSeedsTest : public ::testing::TestWithParam<FeedTarget> {};

TEST_P(FuzzSeedsTest, KeepEveryInvariant) {
  const Inputs seeds = SeedsOf(GetParam().name);
  ASSERT_FALSE(seeds.empty());
  for (const auto& [name, bytes] : seeds) {
    const FeedResult result = GetParam().feed(bytes);
    EXPECT_EQ(result.violation, "") << name << "\n" << result.verdict;
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzSeedsTest, ::testing::ValuesIn(kFeedTargets),
                         [](const auto& target) { return std::string(target.param.name); });

TEST(FuzzCrashers, GetTheirVerdict) {
  const fs::path root = fs::path(ASICMON_TEST_DATA_DIR) / "fuzz";
  int crashers = 0;
  for (const FeedTarget& target : kFeedTargets) {
    const fs::path dir = root / target.name;
    if (!fs::is_directory(dir)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".expected") continue;
      ++crashers;
      const fs::path expected = fs::path(entry.path()).concat(".expected");
      ASSERT_TRUE(fs::exists(expected)) << expected;
      const FeedResult result = target.feed(ReadFile(entry.path()));
      EXPECT_EQ(result.violation, "") << entry.path();
      EXPECT_EQ(result.verdict, ReadFile(expected)) << entry.path();
    }
  }
  EXPECT_GT(crashers, 0) << "no crasher under " << root;
}

// Found by reading the decoders while writing their target, not by libFuzzer,
// whose inputs stay a few KB: arrays nested to the bus's cap overflowed the
// stack in nlohmann's recursive msgpack reader (alert, control and tap decode
// event bodies with it).
TEST(FuzzCrashers, BusMessageNestedToTheCapIsRefused) {
  std::string nested(bus::kMaxBodyBytes - 1, '\x91');  // [[[[...
  nested.push_back('\xc0');                            // nil
  const FeedResult result = FeedBusMessage(nested);
  EXPECT_EQ(result.violation, "");
  EXPECT_EQ(result.verdict,
            "record: parse error: bad msgpack record: depth size overflow\n"
            "inventory: parse error: bad msgpack inventory entry: depth size overflow\n"
            "poll job: parse error: bad msgpack poll job: depth size overflow\n"
            "event: parse error: event is not a msgpack map\n"
            "ack: parse error: bad msgpack ack: depth size overflow\n");
}

}  // namespace
}  // namespace asicmon::fuzz
