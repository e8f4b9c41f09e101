// The braiins driver's requests and readings, apart from any channel: the
// wire bytes of what it sends checked against the public protocol's field
// numbers (braiins/bos-plus-api proto/bos/v1), gRPC failures mapped to
// outcomes, and settings read from replies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "braiins_api.h"

namespace asicmon::driver::bos {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

TEST(BraiinsDriverTest, PowerTargetRequestHasTheProtocolsFieldNumbers) {
  pb::SetPowerTargetRequest request;
  request.set_save_action(pb::SAVE_ACTION_SAVE_AND_APPLY);
  request.mutable_power_target()->set_watt(1500);
  // save_action = 1 (varint 2), power_target = 2 { watt = 1 (varint 1500) }.
  EXPECT_EQ(Hex(request.SerializeAsString()),
            "0802"
            "1203"
            "08dc0b");
}

TEST(BraiinsDriverTest, PoolsBecomeOneGroupInPriorityOrder) {
  const std::vector<PoolSetting> pools = {{"stratum+tcp://a:3333", "w.1", "x"},
                                          {"stratum+tcp://b:3333", "w.2", ""}};
  const pb::SetPoolGroupsRequest request = PoolGroupsRequest(pools);
  EXPECT_EQ(request.save_action(), pb::SAVE_ACTION_SAVE_AND_APPLY);
  ASSERT_EQ(request.pool_groups_size(), 1);
  const pb::PoolGroupConfiguration& group = request.pool_groups(0);
  EXPECT_EQ(group.quota().value(), 1u);
  ASSERT_EQ(group.pools_size(), 2);
  EXPECT_EQ(group.pools(0).url(), "stratum+tcp://a:3333");
  EXPECT_EQ(group.pools(0).user(), "w.1");
  EXPECT_EQ(group.pools(0).password(), "x");
  EXPECT_TRUE(group.pools(0).enabled());
  EXPECT_EQ(group.pools(1).url(), "stratum+tcp://b:3333");
  // An empty password is still sent (optional field present), as the web UI saves it.
  EXPECT_TRUE(group.pools(1).has_password());

  // A pool: url = 2, user = 3, password = 4, enabled = 5.
  pb::PoolConfiguration one;
  one.set_url("u");
  one.set_user("w");
  one.set_password("p");
  one.set_enabled(true);
  EXPECT_EQ(Hex(one.SerializeAsString()),
            "120175"
            "1a0177"
            "220170"
            "2801");
}

TEST(BraiinsDriverTest, LoginIsFieldsOneAndTwo) {
  pb::LoginRequest login;
  login.set_username("root");
  login.set_password("root");
  EXPECT_EQ(Hex(login.SerializeAsString()),
            "0a04726f6f74"
            "1204726f6f74");
}

TEST(BraiinsDriverTest, FailuresMapToOutcomes) {
  const Outcome bad = RpcFailed("Login", {grpc::StatusCode::UNAUTHENTICATED, "Bad credentials"});
  EXPECT_EQ(bad.failure, Failure::kCredentials);
  EXPECT_EQ(bad.step, "Login");
  EXPECT_NE(bad.detail.find("Bad credentials"), std::string::npos);
  EXPECT_EQ(RpcFailed("x", {grpc::StatusCode::DEADLINE_EXCEEDED, ""}).failure, Failure::kTimeout);
  EXPECT_EQ(RpcFailed("x", {grpc::StatusCode::UNAVAILABLE, ""}).failure, Failure::kUnreachable);
  EXPECT_EQ(RpcFailed("x", {grpc::StatusCode::UNIMPLEMENTED, ""}).failure, Failure::kUnsupported);
  EXPECT_EQ(RpcFailed("x", {grpc::StatusCode::INVALID_ARGUMENT, ""}).failure, Failure::kRefused);
}

TEST(BraiinsDriverTest, SettingsFromDetailsAndTuner) {
  Settings settings;
  pb::GetMinerDetailsResponse details;
  details.set_status(pb::MINER_STATUS_PAUSED);
  ReadStatus(details, settings);
  EXPECT_EQ(settings.sleeping, true);
  details.set_status(pb::MINER_STATUS_NORMAL);
  ReadStatus(details, settings);
  EXPECT_EQ(settings.sleeping, false);
  Settings unknown;
  details.set_status(pb::MINER_STATUS_NOT_STARTED);
  ReadStatus(details, unknown);
  EXPECT_FALSE(unknown.sleeping.has_value());

  pb::GetTunerStateResponse tuner;
  ReadTuner(tuner, settings);  // no mode state: no limit
  EXPECT_FALSE(settings.power_limit_w.has_value());
  tuner.mutable_power_target_mode_state()->mutable_current_target()->set_watt(3100);
  ReadTuner(tuner, settings);
  EXPECT_EQ(settings.power_limit_w, 3100);
  Settings absurd;
  tuner.mutable_power_target_mode_state()->mutable_current_target()->set_watt(1ULL << 40);
  ReadTuner(tuner, absurd);
  EXPECT_FALSE(absurd.power_limit_w.has_value());
}

}  // namespace
}  // namespace asicmon::driver::bos
