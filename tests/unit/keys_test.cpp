// Control's API keys: names, expiries, minting, checking a presented key
// against the store (SQLite), and the penalty for a peer's wrong keys.
#include "keys.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "fleet_requests.h"
#include "service.h"

namespace asicmon::control {
namespace {

TEST(KeyNames, AreShortAndPlainAndNeverTheBootstrapName) {
  EXPECT_TRUE(ValidateKeyName("alice").ok());
  EXPECT_TRUE(ValidateKeyName("night-shift.2_b").ok());
  EXPECT_FALSE(ValidateKeyName("").ok());
  EXPECT_FALSE(ValidateKeyName("al ice").ok());
  EXPECT_FALSE(ValidateKeyName("alice@x").ok());  // '@' separates name and peer in the audit
  EXPECT_FALSE(ValidateKeyName(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateKeyName("token").ok());
}

TEST(KeyExpiry, IsANumberAndAUnit) {
  EXPECT_EQ(*ParseExpiry("30d"), 30 * 86400.0);
  EXPECT_EQ(*ParseExpiry("12h"), 12 * 3600.0);
  EXPECT_EQ(*ParseExpiry("90m"), 90 * 60.0);
  EXPECT_EQ(*ParseExpiry("2w"), 14 * 86400.0);
  EXPECT_EQ(*ParseExpiry("45s"), 45.0);
  for (const char* bad : {"", "d", "30", "-1d", "0d", "1.5d", "30y", "99999999999999999999d",
                          "4000d"}) {
    EXPECT_FALSE(ParseExpiry(bad).ok()) << bad;
  }
}

TEST(Roles, FollowTheIssuesTable) {
  EXPECT_EQ(RequiredRole(ActionKind::kLocate), Role::kOperator);
  EXPECT_EQ(RequiredRole(ActionKind::kReset), Role::kOperator);
  EXPECT_EQ(RequiredRole(ActionKind::kReboot), Role::kOperator);
  EXPECT_EQ(RequiredRole(ActionKind::kSleep), Role::kOperator);
  EXPECT_EQ(RequiredRole(ActionKind::kWake), Role::kOperator);
  EXPECT_EQ(RequiredRole(ActionKind::kPool), Role::kAdmin);
  EXPECT_EQ(RequiredRole(ActionKind::kPower), Role::kAdmin);
  EXPECT_EQ(ParseRole("operator"), Role::kOperator);
  EXPECT_FALSE(ParseRole("root").has_value());
}

class KeyRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("keys_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    StoreOptions options;
    options.database = (dir_ / "keys.db").string();
    db_ = std::make_unique<DbPool>(options);
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  MintedKey Add(const std::string& name, Role role, double now,
                std::optional<double> expires_in = std::nullopt) {
    Result<MintedKey> minted = MintKey(name, role, now, expires_in);
    EXPECT_TRUE(minted.ok()) << minted.status().ToString();
    EXPECT_TRUE(db_->With([&](StoreDb& s) { return s.AddApiKey(minted->row); }).ok());
    return *minted;
  }

  std::filesystem::path dir_;
  std::unique_ptr<DbPool> db_;
};

TEST_F(KeyRingTest, AMintedKeyIsStoredOnlyAsASaltedHash) {
  const MintedKey a = Add("alice", Role::kOperator, 1000);
  const MintedKey b = Add("bob", Role::kOperator, 1000);
  EXPECT_TRUE(a.key.starts_with("amk_" + a.row.key_id + "_"));
  EXPECT_EQ(a.key.size(), 4u + 12 + 1 + 64);
  EXPECT_EQ(a.row.hash.size(), 64u);
  EXPECT_EQ(a.key.find(a.row.hash), std::string::npos);
  EXPECT_NE(a.row.salt, b.row.salt);
  EXPECT_NE(a.key, b.key);
  const nlohmann::json shown = KeyJson(a.row, 1000);
  EXPECT_FALSE(shown.contains("hash"));
  EXPECT_FALSE(shown.contains("salt"));
  EXPECT_EQ(shown["state"], "active");
}

TEST_F(KeyRingTest, AKeyNamesItsCallerUntilRevokedOrExpired) {
  KeyRing ring("bootstrap-token", *db_);
  const MintedKey alice = Add("alice", Role::kOperator, 1000, 3600);
  KeyRing::Found found = ring.Authenticate(alice.key, "10.0.0.5", 1001);
  ASSERT_TRUE(found.caller);
  EXPECT_EQ(found.caller->name, "alice");
  EXPECT_EQ(found.caller->role, Role::kOperator);
  EXPECT_EQ(found.caller->Actor(), "alice@10.0.0.5");

  // The same key id with another secret is not alice.
  std::string forged = alice.key;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(ring.Authenticate(forged, "10.0.0.5", 1002).refusal, Refusal::kUnknown);
  EXPECT_EQ(ring.Authenticate("amk_nothex", "10.0.0.5", 1002).refusal, Refusal::kUnknown);
  EXPECT_EQ(ring.Authenticate("", "10.0.0.5", 1002).refusal, Refusal::kMissing);

  EXPECT_EQ(ring.Authenticate(alice.key, "10.0.0.5", 1000 + 3600).refusal, Refusal::kExpired);
  ASSERT_TRUE(*db_->With([](StoreDb& s) { return s.RevokeApiKey("alice", 1500); }));
  EXPECT_EQ(ring.Authenticate(alice.key, "10.0.0.5", 1501).refusal, Refusal::kRevoked);

  KeyRing::Found bootstrap = ring.Authenticate("bootstrap-token", "127.0.0.1", 1501);
  ASSERT_TRUE(bootstrap.caller);
  EXPECT_EQ(bootstrap.caller->Actor(), "token@127.0.0.1");
  EXPECT_EQ(bootstrap.caller->role, Role::kAdmin);
}

TEST_F(KeyRingTest, LastUseIsWrittenAtMostOnceAMinute) {
  KeyRing ring("", *db_);
  const MintedKey viewer = Add("dash", Role::kViewer, 1000);
  ASSERT_TRUE(ring.Authenticate(viewer.key, "10.0.0.9", 1010).caller);
  ASSERT_TRUE(ring.Authenticate(viewer.key, "10.0.0.9", 1030).caller);
  auto last_use = [&] {
    return (*db_->With([](StoreDb& s) { return s.ApiKeys(); }))[0].last_used_ts;
  };
  EXPECT_EQ(last_use(), 1010);
  ASSERT_TRUE(ring.Authenticate(viewer.key, "10.0.0.9", 1075).caller);
  EXPECT_EQ(last_use(), 1075);
}

TEST(AuthThrottle, HoldsBackOnlyThePeerThatKeepsFailingAndForBoundedTime) {
  AuthThrottle throttle;
  for (int i = 0; i < AuthThrottle::kFreeFailures - 1; ++i) throttle.Failed("10.0.0.66", 100);
  EXPECT_FALSE(throttle.HeldBack("10.0.0.66", 100));
  throttle.Failed("10.0.0.66", 100);
  ASSERT_TRUE(throttle.HeldBack("10.0.0.66", 100));
  EXPECT_EQ(*throttle.HeldBack("10.0.0.66", 100), 1.0);
  EXPECT_FALSE(throttle.HeldBack("10.0.0.7", 100));  // the others go on
  EXPECT_FALSE(throttle.HeldBack("10.0.0.66", 101));  // served its second
  // Each further failure doubles the wait, up to the cap.
  for (int i = 0; i < 20; ++i) throttle.Failed("10.0.0.66", 200);
  EXPECT_EQ(*throttle.HeldBack("10.0.0.66", 200), AuthThrottle::kMaxPenaltyS);
  throttle.Succeeded("10.0.0.66");
  EXPECT_FALSE(throttle.HeldBack("10.0.0.66", 200));
}

TEST(AuthThrottle, ItsTableStaysBoundedUnderAFloodOfPeers) {
  AuthThrottle throttle;
  for (size_t i = 0; i < AuthThrottle::kMaxPeers + 500; ++i) {
    throttle.Failed("peer-" + std::to_string(i), static_cast<double>(i));
    ASSERT_LE(throttle.peers(), AuthThrottle::kMaxPeers);
  }
  // The newest peer is tracked; the stalest were let go.
  for (int i = 0; i < AuthThrottle::kFreeFailures; ++i) {
    throttle.Failed("peer-last", 1e6);
  }
  EXPECT_TRUE(throttle.HeldBack("peer-last", 1e6));
}

TEST(PlainTextWarning, OnlyBeyondLoopbackWithoutTls) {
  ServiceOptions options;
  for (const char* loopback : {"127.0.0.1:8000", "127.4.5.6:80", "localhost:8000", "[::1]:8000"}) {
    options.bind = loopback;
    EXPECT_EQ(PlainTextWarning(options), "") << loopback;
  }
  for (const char* wide : {"0.0.0.0:8000", "10.0.0.2:8000", "[::]:8000"}) {
    options.bind = wide;
    EXPECT_NE(PlainTextWarning(options).find("without TLS"), std::string::npos) << wide;
  }
  options.tls_cert = "/etc/asicmon/cert.pem";
  options.tls_key = "/etc/asicmon/key.pem";
  EXPECT_EQ(PlainTextWarning(options), "");
}

}  // namespace
}  // namespace asicmon::control
