// What the braiins driver builds and reads of the Braiins OS public API
// (gRPC, proto/bos_v1.proto), apart from any channel so tests can check it.
// Only braiins.cpp and its tests include it: it carries protobuf types.
#pragma once

#include <grpcpp/support/status.h>

#include <span>
#include <string>

#include "asicmon/driver.h"
#include "proto/bos_v1.pb.h"

namespace asicmon::driver::bos {

namespace pb = ::braiins::bos::v1;

// The public API's port (bos-plus-api README: "port 50051 enabled").
inline constexpr uint16_t kApiPort = 50051;
// The metadata key the Login token travels in (bos-plus-api README,
// "How to use auth token"): the bare token, no "Bearer".
inline constexpr const char* kAuthMetadata = "authorization";

// One pool group holding `pools` in priority order (pools inside a group are
// failover, first first), saved and applied: the whole pool configuration.
pb::SetPoolGroupsRequest PoolGroupsRequest(std::span<const PoolSetting> pools);

// The outcome of an RPC named `step` that ended with `status`.
Outcome RpcFailed(std::string step, const grpc::Status& status);

// The settings GetMinerDetails and GetTunerState report.
void ReadStatus(const pb::GetMinerDetailsResponse& details, Settings& settings);
void ReadTuner(const pb::GetTunerStateResponse& tuner, Settings& settings);

}  // namespace asicmon::driver::bos
