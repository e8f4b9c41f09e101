// The credentials book: per family and site, the most specific site wins,
// stock logins where none matches, and a file others can read is refused.
#include "asicmon/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "asicmon/driver.h"

namespace asicmon::driver {
namespace {

const MinerDriver& Antminer() { return *FindDriver("antminer"); }

TEST(CredentialsBook, TheMostSpecificSiteWinsAndStockLoginsFillTheRest) {
  Result<CredentialsBook> book = CredentialsBook::Parse(R"([
      {"family": "antminer", "user": "root", "password": "farm-wide"},
      {"family": "antminer", "cidr": "10.1.0.0/16", "user": "root", "password": "site-a"},
      {"family": "antminer", "cidr": "10.1.2.0/24", "user": "admin", "password": "row-2"}])");
  ASSERT_TRUE(book.ok()) << book.status().ToString();
  EXPECT_EQ(book->size(), 3u);
  EXPECT_EQ(book->For(Antminer(), "10.1.2.7").password, "row-2");
  EXPECT_EQ(book->For(Antminer(), "10.1.2.7").user, "admin");
  EXPECT_EQ(book->For(Antminer(), "10.1.9.7").password, "site-a");
  EXPECT_EQ(book->For(Antminer(), "10.2.0.1").password, "farm-wide");

  CredentialsBook empty;
  EXPECT_EQ(empty.For(Antminer(), "10.0.0.1").user, "root");
  EXPECT_EQ(empty.For(Antminer(), "10.0.0.1").password, "root");  // stock firmware's
  empty.AddDefault("antminer", {"farmer", "legacy"});
  EXPECT_EQ(empty.For(Antminer(), "10.0.0.1").password, "legacy");
  // A file's row beats the legacy default.
  book->AddDefault("antminer", {"farmer", "legacy"});
  EXPECT_EQ(book->For(Antminer(), "10.2.0.1").password, "farm-wide");
}

TEST(CredentialsBook, RefusesEveryBadRowWithTheRowNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"family": "antminer"})", "JSON list"},
      {R"([{"family": "antminer", "user": "root"}])", "row 1: needs \"password\""},
      {R"([{"family": "nosuch", "password": "x"}])", "no control driver"},
      {R"([{"family": "antminer", "password": "x", "cidr": "10.1.0.0/33"}])", "prefix length"},
      {R"([{"family": "antminer", "password": "x", "pasword": "y"}])", "unknown key"},
      {R"([{"family": "antminer", "password": 7}])", "must be a string"},
      {R"([{"family": "antminer", "password": "x"}, {"family": "antminer", "password": "y"}])",
       "row 2: repeats"},
  };
  for (const auto& [text, why] : cases) {
    Result<CredentialsBook> book = CredentialsBook::Parse(text);
    ASSERT_FALSE(book.ok()) << text;
    EXPECT_NE(book.status().message().find(why), std::string::npos) << book.status().message();
  }
}

TEST(CredentialsBook, AFileOthersCanReadIsRefused) {
  const std::string path = ::testing::TempDir() + "/asicmon-credentials.json";
  {
    std::ofstream out(path);
    out << R"([{"family": "antminer", "password": "secret"}])";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  Result<CredentialsBook> open = CredentialsBook::Load(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(open.status().message().find("secret"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  Result<CredentialsBook> closed = CredentialsBook::Load(path);
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(closed->For(Antminer(), "10.0.0.1").password, "secret");
  std::remove(path.c_str());
}

TEST(DriverNames, EveryActionAndModeHasItsRouteName) {
  EXPECT_EQ(ToString(Action::kPools), "pool");
  EXPECT_EQ(ToString(Action::kPowerLimit), "power_limit");
  EXPECT_EQ(ParsePowerMode("low"), PowerMode::kLow);
  EXPECT_FALSE(ParsePowerMode("Low"));
  Capabilities caps;
  caps.unsupported[Action::kPowerLimit] = "no limit";
  caps.unsupported[Action::kLocate] = "no light";
  EXPECT_EQ(caps.Names(), (std::vector<std::string>{"reset", "reboot", "pool", "sleep", "wake",
                                                    "power_mode"}));
}

}  // namespace
}  // namespace asicmon::driver
