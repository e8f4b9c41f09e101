// Braiins OS (BOSer, 23.03 and later): its public gRPC API on port 50051
// (braiins/bos-plus-api, README and proto/bos/v1, at
// efa32c749a4a698fa87688e085ef69ff3b268601). AuthenticationService/Login
// with the web UI's user and password gives a session token, sent as the
// "authorization" metadata of every other call; a wrong password is
// UNAUTHENTICATED "Bad credentials" (bos-plus-api issue 33). Actions:
// Restart, Reboot, PauseMining/ResumeMining (sleep/wake),
// SetLocateDeviceStatus; PoolService/SetPoolGroups; PerformanceService/
// SetPowerTarget. Read back from MinerService/GetMinerDetails (status),
// PerformanceService/GetTunerState (the power target) and
// ActionsService/GetLocateDeviceStatus.
//
// Braiins OS has no power modes: its tuner holds a power target in watts,
// which the docs bound to 100..5000 W (tgr-braiins/braiins-os-docs at
// 0b63e289ce90d83659aee24825366516c290ea9f,
// braiins-os-plus-en/source/Configuration/index_configuration.rst,
// psu_power_limit); the miner's own constraints may be narrower, and it
// refuses a target outside them.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <variant>

#include "braiins_api.h"
#include "drivers.h"
#include "proto/bos_v1.grpc.pb.h"

namespace asicmon::driver {
namespace bos {

pb::SetPoolGroupsRequest PoolGroupsRequest(std::span<const PoolSetting> pools) {
  pb::SetPoolGroupsRequest request;
  request.set_save_action(pb::SAVE_ACTION_SAVE_AND_APPLY);
  pb::PoolGroupConfiguration* group = request.add_pool_groups();
  group->set_name("asicmon");
  group->mutable_quota()->set_value(1);
  for (const PoolSetting& p : pools.first(std::min(pools.size(), kMaxPools))) {
    pb::PoolConfiguration* pool = group->add_pools();
    pool->set_url(p.url);
    pool->set_user(p.user);
    pool->set_password(p.password);
    pool->set_enabled(true);
  }
  return request;
}

Outcome RpcFailed(std::string step, const grpc::Status& status) {
  const std::string detail =
      fmt::format("gRPC {}: {}", static_cast<int>(status.error_code()), status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return Outcome::Fail(Failure::kCredentials, std::move(step), detail);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Outcome::Fail(Failure::kTimeout, std::move(step), detail);
    case grpc::StatusCode::UNAVAILABLE:
      return Outcome::Fail(Failure::kUnreachable, std::move(step), detail);
    case grpc::StatusCode::UNIMPLEMENTED:
      return Outcome::Fail(Failure::kUnsupported, std::move(step),
                           detail + " (this Braiins OS version lacks it)");
    default:
      return Outcome::Fail(Failure::kRefused, std::move(step), detail);
  }
}

void ReadStatus(const pb::GetMinerDetailsResponse& details, Settings& settings) {
  switch (details.status()) {
    case pb::MINER_STATUS_NORMAL:
      settings.sleeping = false;
      break;
    case pb::MINER_STATUS_PAUSED:
      settings.sleeping = true;
      break;
    default:
      break;  // not started, suspended, restricted: neither asleep nor awake by asking
  }
}

void ReadTuner(const pb::GetTunerStateResponse& tuner, Settings& settings) {
  if (!tuner.has_power_target_mode_state()) return;  // a hashrate target: no power limit
  const pb::PowerTargetModeState& state = tuner.power_target_mode_state();
  if (!state.has_current_target()) return;
  const uint64_t watts = state.current_target().watt();
  if (watts > 0 && watts <= 1'000'000) settings.power_limit_w = static_cast<int>(watts);
}

namespace {

constexpr PowerLimitRange kPowerTargetRange{100, 5000};

// A logged-in connection to one miner's API.
class Session {
 public:
  // Connects and logs in; the failed step's outcome when it cannot.
  static std::variant<Session, Outcome> Open(const Context& ctx) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // a miner on the LAN, never through a proxy
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 1 << 20);
    Session s(ctx, grpc::CreateCustomChannel(fmt::format("{}:{}", ctx.ip, kApiPort),
                                             grpc::InsecureChannelCredentials(), args));
    pb::LoginRequest request;
    request.set_username(ctx.credentials.user);
    request.set_password(ctx.credentials.password);
    pb::LoginResponse reply;
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + ctx.options.http_timeout);
    const grpc::Status status =
        pb::AuthenticationService::NewStub(s.channel_)->Login(&call, request, &reply);
    if (!status.ok()) return RpcFailed("Login", status);
    s.token_ = reply.token();
    if (s.token_.empty()) {
      // Older builds sent it only as response metadata (the README's
      // "legacy way"), which they still do.
      const auto& meta = call.GetServerInitialMetadata();
      if (auto it = meta.find(kAuthMetadata); it != meta.end()) {
        s.token_.assign(it->second.data(), it->second.size());
      }
    }
    if (s.token_.empty() || s.token_.size() > 4096) {
      return Outcome::Fail(Failure::kBadReply, "Login", "no usable session token in the reply");
    }
    return s;
  }

  // One unary call with the session's token; `write` bounds it as a change.
  template <typename Stub, typename Request, typename Reply>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
                    Stub& stub, const Request& request, Reply& reply, bool write) const {
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() +
                      (write ? ctx_->options.http_write_timeout : ctx_->options.http_timeout));
    call.AddMetadata(kAuthMetadata, token_);
    return (stub.*method)(&call, request, &reply);
  }

  std::unique_ptr<pb::ActionsService::Stub> Actions() const {
    return pb::ActionsService::NewStub(channel_);
  }
  std::unique_ptr<pb::PerformanceService::Stub> Performance() const {
    return pb::PerformanceService::NewStub(channel_);
  }
  std::unique_ptr<pb::PoolService::Stub> Pools() const {
    return pb::PoolService::NewStub(channel_);
  }
  std::unique_ptr<pb::MinerService::Stub> Miner() const {
    return pb::MinerService::NewStub(channel_);
  }

 private:
  Session(const Context& ctx, std::shared_ptr<grpc::Channel> channel)
      : ctx_(&ctx), channel_(std::move(channel)) {}

  const Context* ctx_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
};

// Logs in, then sends one change; `step` names it in the outcome.
template <typename Stub, typename Request, typename Reply>
Outcome Send(const Context& ctx, const char* step,
             std::unique_ptr<Stub> (Session::*stub_of)() const,
             grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
             const Request& request) {
  auto opened = Session::Open(ctx);
  if (auto* failed = std::get_if<Outcome>(&opened)) return *failed;
  const Session& session = std::get<Session>(opened);
  const std::unique_ptr<Stub> stub = (session.*stub_of)();
  Reply reply;
  const grpc::Status status = session.Call(method, *stub, request, reply, /*write=*/true);
  if (!status.ok()) return RpcFailed(step, status);
  return Outcome::Done(std::string("grpc ") + step);
}

class Braiins final : public MinerDriver {
 public:
  std::string_view family() const override { return "braiins"; }
  // pyasic's default for BOSer's gRPC API (UpstreamData/pyasic,
  // pyasic/web/braiins_os/boser.py: username "root", password "root").
  Credentials StockCredentials() const override { return {"root", "root"}; }

  Capabilities Describe(const Record&) const override {
    Capabilities caps;
    caps.unsupported[Action::kPowerMode] =
        "Braiins OS has no power modes: its tuner holds a power target; set power_limit";
    caps.power_limit = kPowerTargetRange;
    return caps;
  }

  Outcome Restart(const Context& ctx) const override {
    return Send(ctx, "Restart", &Session::Actions, &pb::ActionsService::Stub::Restart,
                pb::RestartRequest());
  }
  Outcome Reboot(const Context& ctx) const override {
    return Send(ctx, "Reboot", &Session::Actions, &pb::ActionsService::Stub::Reboot,
                pb::RebootRequest());
  }
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    if (pools.empty() || pools.size() > kMaxPools) {
      return Outcome::Fail(Failure::kRefused, "SetPoolGroups",
                           fmt::format("1 to {} pools, not {}", kMaxPools, pools.size()));
    }
    return Send(ctx, "SetPoolGroups", &Session::Pools, &pb::PoolService::Stub::SetPoolGroups,
                PoolGroupsRequest(pools));
  }
  Outcome Locate(const Context& ctx, bool on) const override {
    pb::SetLocateDeviceStatusRequest request;
    request.set_enable(on);
    return Send(ctx, "SetLocateDeviceStatus", &Session::Actions,
                &pb::ActionsService::Stub::SetLocateDeviceStatus, request);
  }
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    if (sleep) {
      return Send(ctx, "PauseMining", &Session::Actions, &pb::ActionsService::Stub::PauseMining,
                  pb::PauseMiningRequest());
    }
    return Send(ctx, "ResumeMining", &Session::Actions, &pb::ActionsService::Stub::ResumeMining,
                pb::ResumeMiningRequest());
  }
  Outcome SetPowerLimit(const Context& ctx, int watts) const override {
    if (watts < kPowerTargetRange.min_w || watts > kPowerTargetRange.max_w) {
      return Outcome::Fail(Failure::kRefused, "SetPowerTarget",
                           fmt::format("{} W is outside Braiins OS's {}..{} W", watts,
                                       kPowerTargetRange.min_w, kPowerTargetRange.max_w));
    }
    pb::SetPowerTargetRequest request;
    request.set_save_action(pb::SAVE_ACTION_SAVE_AND_APPLY);
    request.mutable_power_target()->set_watt(static_cast<uint64_t>(watts));
    return Send(ctx, "SetPowerTarget", &Session::Performance,
                &pb::PerformanceService::Stub::SetPowerTarget, request);
  }

  // One login, three reads. A read this firmware lacks (UNIMPLEMENTED)
  // leaves its fields empty; any other failure is the whole read's.
  Result<Settings> ReadSettings(const Context& ctx) const override {
    auto opened = Session::Open(ctx);
    if (auto* failed = std::get_if<Outcome>(&opened)) {
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    const Session& session = std::get<Session>(opened);
    Settings settings;
    auto failed = [](const char* step, const grpc::Status& status) -> std::optional<Status> {
      if (status.ok() || status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        return std::nullopt;
      }
      const Outcome why = RpcFailed(step, status);
      return Status::Unavailable(why.step + ": " + why.detail);
    };
    pb::GetMinerDetailsResponse details;
    auto miner = session.Miner();
    grpc::Status status = session.Call(&pb::MinerService::Stub::GetMinerDetails, *miner,
                                       pb::GetMinerDetailsRequest(), details, false);
    if (auto error = failed("GetMinerDetails", status)) return *error;
    if (status.ok()) ReadStatus(details, settings);
    pb::GetTunerStateResponse tuner;
    auto performance = session.Performance();
    status = session.Call(&pb::PerformanceService::Stub::GetTunerState, *performance,
                          pb::GetTunerStateRequest(), tuner, false);
    if (auto error = failed("GetTunerState", status)) return *error;
    if (status.ok()) ReadTuner(tuner, settings);
    pb::LocateDeviceStatusResponse locate;
    auto actions = session.Actions();
    status = session.Call(&pb::ActionsService::Stub::GetLocateDeviceStatus, *actions,
                          pb::GetLocateDeviceStatusRequest(), locate, false);
    if (auto error = failed("GetLocateDeviceStatus", status)) return *error;
    if (status.ok()) settings.locate_on = locate.enabled();
    return settings;
  }
};

}  // namespace
}  // namespace bos

const MinerDriver& BraiinsDriver() {
  static const bos::Braiins driver;
  return driver;
}

}  // namespace asicmon::driver
