// Target specs: every form operators write, and clear errors for the rest.
// (Parsing only: nothing here is contacted.)
#include "asicmon/targets.h"

#include <gtest/gtest.h>

#include "testlib.h"

namespace asicmon {
namespace {

std::vector<std::string> Expand(std::vector<std::string> in, std::vector<std::string> out = {}) {
  Result<std::vector<uint32_t>> r = ExpandTargets(in, out);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> s;
  if (r.ok()) for (uint32_t a : *r) s.push_back(Ipv4ToString(a));
  return s;
}

TEST(Targets, Single) { EXPECT_EQ(Expand({"10.0.0.7"}), std::vector<std::string>{"10.0.0.7"}); }

TEST(Targets, CidrIsHostsOnly) {
  auto v = Expand({"10.1.2.0/24"});
  ASSERT_EQ(v.size(), 254u);
  EXPECT_EQ(v.front(), "10.1.2.1");
  EXPECT_EQ(v.back(), "10.1.2.254");
  EXPECT_EQ(Expand({"10.1.0.0/16"}).size(), 65534u);
  EXPECT_EQ(Expand({"10.1.2.3/32"}), std::vector<std::string>{"10.1.2.3"});
  EXPECT_EQ(Expand({"10.1.2.2/31"}).size(), 2u);
  // A host address with a prefix names its network.
  EXPECT_EQ(Expand({"10.1.2.77/24"}).front(), "10.1.2.1");
}

TEST(Targets, Wildcards) {
  auto v = Expand({"192.168.2.*"});
  ASSERT_EQ(v.size(), 254u);
  EXPECT_EQ(v.front(), "192.168.2.1");
  EXPECT_EQ(Expand({"10.1.*.*"}), Expand({"10.1.0.0/16"}));
}

TEST(Targets, Ranges) {
  auto v = Expand({"10.0.0.10-10.0.0.200"});
  ASSERT_EQ(v.size(), 191u);
  EXPECT_EQ(v.front(), "10.0.0.10");
  EXPECT_EQ(v.back(), "10.0.0.200");
  EXPECT_EQ(Expand({"10.0.0.10-200"}), v);
  EXPECT_EQ(Expand({"10.0.0.250-10.0.1.5"}).size(), 12u);  // across an octet
}

TEST(Targets, ListsMergeAndDeduplicate) {
  auto v = Expand({"10.0.0.1, 10.0.0.3,10.0.0.1", "10.0.0.2-3"});
  EXPECT_EQ(v, (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
}

TEST(Targets, Excludes) {
  auto v = Expand({"10.0.0.0/24"}, {"10.0.0.1-10.0.0.100", "10.0.0.200"});
  EXPECT_EQ(v.size(), 254u - 100u - 1u);
  EXPECT_EQ(v.front(), "10.0.0.101");
}

TEST(Targets, MalformedIsAClearError) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "/24", "10.0.*.1",
                          "*.1.2.3", "10.0.0.9-10.0.0.1", "10.0.0.1-", "host.local", "10.0.0.1/2/3",
                          "10..0.1", "10.0.0.1a", "-1.0.0.1", "10.0.0.01234"}) {
    Result<std::vector<uint32_t>> r = ExpandTargets({bad}, {});
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok() && std::string(bad).size() > 0) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
}

TEST(Targets, TooLargeIsRefused) {
  Result<std::vector<uint32_t>> r = ExpandTargets({"10.0.0.0/8"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than"), std::string::npos);
  EXPECT_FALSE(ExpandTargets({"0.0.0.0/0"}, {}).ok());
  EXPECT_FALSE(ExpandTargets({"10.0.0.0/24"}, {}, 100).ok());
}

}  // namespace
}  // namespace asicmon
