// Braiins OS's public API as the fake farm serves it. Behaviour from
// braiins/bos-plus-api (efa32c749a4a698fa87688e085ef69ff3b268601): README
// (Login gives a token, sent back as the "authorization" metadata, also
// returned in the reply's metadata the legacy way; a session lasts 3600 s
// from its last use) and proto/bos/v1 (the replies' fields). A wrong login
// is UNAUTHENTICATED "Bad credentials", as a real 25.05 miner answers
// (bos-plus-api issue 33). No source shows what a call with no token or a
// stale one gets: UNAUTHENTICATED as well (the code pyasic retries a login
// on, UpstreamData/pyasic pyasic/web/braiins_os/boser.py), message ours.
// A power target outside the miner's range is INVALID_ARGUMENT here; the
// range is the docs' (100..5000 W, braiins-os-docs Configuration), the code
// unsourced.
#include "bos_grpc.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>

#include "asicmon/clock.h"
#include "proto/bos_v1.grpc.pb.h"

namespace asicmon::fakefarm {
namespace pb = ::braiins::bos::v1;

namespace {

constexpr double kSessionS = 3600;  // README: tokens expire after 3600 s of inactivity
constexpr int kMinWatts = 100;      // braiins-os-docs: psu_power_limit 100..5000
constexpr int kMaxWatts = 5000;

// "127.20.0.5:50051" (or "[::1]:50051") -> "127.20.0.5".
std::string_view HostOf(std::string_view authority) {
  if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    authority = authority.substr(0, colon);
  }
  return authority;
}

}  // namespace

struct BosGrpcServer::Impl {
  struct Task {
    std::string ip;
    std::function<grpc::Status(BosMiner&)> work;
    std::promise<grpc::Status> done;
  };
  struct Session {
    std::string ip;
    double last_used = 0;
  };

  std::string user;
  std::string password;
  int event_fd = -1;
  std::mutex mu;
  std::deque<Task> queue;                             // guarded by mu
  bool stopping = false;                              // guarded by mu
  std::map<std::string, Session> sessions;            // by token; guarded by mu
  std::mt19937_64 token_rng{std::random_device{}()};  // guarded by mu
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> server;

  // Runs `work` on the farm's thread for the miner the call dialled.
  grpc::Status OnMiner(grpc::ServerContext* ctx, std::function<grpc::Status(BosMiner&)> work) {
    const grpc::string_ref authority = ctx->ExperimentalGetAuthority();
    Task task{std::string(HostOf({authority.data(), authority.size()})), std::move(work), {}};
    std::future<grpc::Status> done = task.done.get_future();
    {
      std::lock_guard lock(mu);
      if (stopping) return {grpc::StatusCode::UNAVAILABLE, "the farm is stopping"};
      queue.push_back(std::move(task));
    }
    const uint64_t one = 1;
    if (write(event_fd, &one, sizeof one) < 0) {
      // eventfd writes fail only on overflow, which a counter in the billions never reaches
    }
    return done.get();
  }

  // The session of the call's token, refreshing it; UNAUTHENTICATED when none.
  grpc::Status CheckToken(grpc::ServerContext* ctx, const std::string& ip) {
    const auto& meta = ctx->client_metadata();
    const auto it = meta.find("authorization");
    if (it == meta.end()) return {grpc::StatusCode::UNAUTHENTICATED, "Missing authorization token"};
    const std::string token(it->second.data(), it->second.size());
    const double now = UnixNow();
    std::lock_guard lock(mu);
    const auto session = sessions.find(token);
    if (session == sessions.end() || session->second.ip != ip ||
        now - session->second.last_used > kSessionS) {
      return {grpc::StatusCode::UNAUTHENTICATED, "Invalid authorization token"};
    }
    session->second.last_used = now;
    return grpc::Status::OK;
  }

  // An authenticated call: the token checked, then `work` on the miner.
  grpc::Status Authed(grpc::ServerContext* ctx, std::function<grpc::Status(BosMiner&)> work) {
    return OnMiner(ctx, [this, ctx, work = std::move(work)](BosMiner& m) {
      const grpc::Status auth = CheckToken(ctx, IpOf(m));
      if (!auth.ok()) return auth;
      return work(m);
    });
  }

  static std::string IpOf(BosMiner& m) {
    const uint32_t ip = m.fake().spec().ip;
    return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
  }

  std::string NewToken(const std::string& ip) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::lock_guard lock(mu);
    std::string token(16, ' ');  // the README's tokens: 16 letters and digits
    for (char& ch : token) ch = kAlphabet[token_rng() % (sizeof kAlphabet - 1)];
    sessions[token] = {ip, UnixNow()};
    return token;
  }
};

namespace {

using Impl = BosGrpcServer::Impl;

class Authentication final : public pb::AuthenticationService::Service {
 public:
  explicit Authentication(Impl& impl) : impl_(impl) {}
  grpc::Status Login(grpc::ServerContext* ctx, const pb::LoginRequest* request,
                     pb::LoginResponse* reply) override {
    return impl_.OnMiner(ctx, [&](BosMiner& m) {
      if (request->username() != impl_.user || request->password() != impl_.password) {
        m.Log("Login", request->username(), ActionResult::kDenied);
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Bad credentials");
      }
      const std::string token = impl_.NewToken(Impl::IpOf(m));
      reply->set_token(token);
      reply->set_timeout_s(static_cast<uint32_t>(kSessionS));
      ctx->AddInitialMetadata("authorization", token);  // the legacy way, still sent
      return grpc::Status::OK;
    });
  }

 private:
  Impl& impl_;
};

class Actions final : public pb::ActionsService::Service {
 public:
  explicit Actions(Impl& impl) : impl_(impl) {}
  grpc::Status PauseMining(grpc::ServerContext* ctx, const pb::PauseMiningRequest*,
                           pb::PauseMiningResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_already_paused(m.fake().sleeping());
      m.fake().Pause(true, UnixNow());
      m.Log("PauseMining", "", ActionResult::kOk);
      return grpc::Status::OK;
    });
  }
  grpc::Status ResumeMining(grpc::ServerContext* ctx, const pb::ResumeMiningRequest*,
                            pb::ResumeMiningResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_already_mining(!m.fake().sleeping());
      m.fake().Pause(false, UnixNow());
      m.Log("ResumeMining", "", ActionResult::kOk);
      return grpc::Status::OK;
    });
  }
  grpc::Status Restart(grpc::ServerContext* ctx, const pb::RestartRequest*,
                       pb::RestartResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_already_running(true);
      m.Log("Restart", "", ActionResult::kOk);
      m.RestartSoftware();
      return grpc::Status::OK;
    });
  }
  grpc::Status Reboot(grpc::ServerContext* ctx, const pb::RebootRequest*,
                      pb::RebootResponse*) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      m.Log("Reboot", "", ActionResult::kOk);
      m.Reboot();
      return grpc::Status::OK;
    });
  }
  grpc::Status SetLocateDeviceStatus(grpc::ServerContext* ctx,
                                     const pb::SetLocateDeviceStatusRequest* request,
                                     pb::LocateDeviceStatusResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      m.fake().SetBlinking(request->enable());
      reply->set_enabled(m.fake().blinking());
      m.Log("SetLocateDeviceStatus", request->enable() ? "true" : "false", ActionResult::kOk);
      return grpc::Status::OK;
    });
  }
  grpc::Status GetLocateDeviceStatus(grpc::ServerContext* ctx,
                                     const pb::GetLocateDeviceStatusRequest*,
                                     pb::LocateDeviceStatusResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_enabled(m.fake().blinking());
      return grpc::Status::OK;
    });
  }

 private:
  Impl& impl_;
};

class Performance final : public pb::PerformanceService::Service {
 public:
  explicit Performance(Impl& impl) : impl_(impl) {}
  grpc::Status GetTunerState(grpc::ServerContext* ctx, const pb::GetTunerStateRequest*,
                             pb::GetTunerStateResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_overall_tuner_state(m.fake().sleeping() ? pb::TUNER_STATE_DISABLED
                                                         : pb::TUNER_STATE_STABLE);
      reply->mutable_power_target_mode_state()->mutable_current_target()->set_watt(
          static_cast<uint64_t>(m.fake().power_target()));
      return grpc::Status::OK;
    });
  }
  grpc::Status SetPowerTarget(grpc::ServerContext* ctx, const pb::SetPowerTargetRequest* request,
                              pb::SetPowerTargetResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      const uint64_t watts = request->power_target().watt();
      const std::string parameter = std::to_string(watts);
      if (watts < kMinWatts || watts > kMaxWatts) {
        m.Log("SetPowerTarget", parameter, ActionResult::kError);
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            fmt::format("Power target {} W out of range {}..{} W", watts, kMinWatts, kMaxWatts));
      }
      m.fake().SetPowerTarget(static_cast<int>(watts), UnixNow());
      reply->mutable_power_target()->set_watt(watts);
      m.Log("SetPowerTarget", parameter, ActionResult::kOk);
      return grpc::Status::OK;
    });
  }

 private:
  Impl& impl_;
};

class Pools final : public pb::PoolService::Service {
 public:
  explicit Pools(Impl& impl) : impl_(impl) {}
  // The groups' pools in order become the miner's list (one group is what
  // the driver sends; more are flattened in order). Applied as a new
  // configuration, which restarts the mining software's pool connections.
  grpc::Status SetPoolGroups(grpc::ServerContext* ctx, const pb::SetPoolGroupsRequest* request,
                             pb::SetPoolGroupsResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      std::vector<PoolConfig> pools;
      std::string parameter;
      for (const pb::PoolGroupConfiguration& group : request->pool_groups()) {
        for (const pb::PoolConfiguration& p : group.pools()) {
          if (p.has_enabled() && !p.enabled()) continue;
          pools.push_back({p.url(), p.user(), p.password()});
          parameter += (parameter.empty() ? "" : ",") + p.url() + "," + p.user();
        }
      }
      if (pools.empty() || pools.size() > 16) {
        m.Log("SetPoolGroups", parameter, ActionResult::kError);
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "No enabled pool");
      }
      m.fake().Reconfigure(pools, UnixNow());
      *reply->mutable_pool_groups() = request->pool_groups();
      m.Log("SetPoolGroups", parameter, ActionResult::kOk);
      return grpc::Status::OK;
    });
  }

 private:
  Impl& impl_;
};

class Miner final : public pb::MinerService::Service {
 public:
  explicit Miner(Impl& impl) : impl_(impl) {}
  grpc::Status GetMinerDetails(grpc::ServerContext* ctx, const pb::GetMinerDetailsRequest*,
                               pb::GetMinerDetailsResponse* reply) override {
    return impl_.Authed(ctx, [&](BosMiner& m) {
      reply->set_uid(m.fake().serial());
      reply->set_hostname(m.fake().hostname());
      reply->set_mac_address(m.fake().mac());
      reply->set_status(m.fake().sleeping() ? pb::MINER_STATUS_PAUSED : pb::MINER_STATUS_NORMAL);
      return grpc::Status::OK;
    });
  }

 private:
  Impl& impl_;
};

}  // namespace

BosGrpcServer::BosGrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BosGrpcServer>> BosGrpcServer::Start(const std::vector<std::string>& ips,
                                                            uint16_t port, std::string user,
                                                            std::string password) {
  auto impl = std::make_unique<Impl>();
  impl->user = std::move(user);
  impl->password = std::move(password);
  impl->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->event_fd < 0) return Status::IoError("eventfd for the gRPC queue");
  impl->services.push_back(std::make_unique<Authentication>(*impl));
  impl->services.push_back(std::make_unique<Actions>(*impl));
  impl->services.push_back(std::make_unique<Performance>(*impl));
  impl->services.push_back(std::make_unique<Pools>(*impl));
  impl->services.push_back(std::make_unique<Miner>(*impl));
  grpc::ServerBuilder builder;
  std::vector<int> bound(ips.size(), 0);
  for (size_t i = 0; i < ips.size(); ++i) {
    builder.AddListeningPort(fmt::format("{}:{}", ips[i], port), grpc::InsecureServerCredentials(),
                             &bound[i]);
  }
  for (auto& service : impl->services) builder.RegisterService(service.get());
  impl->server = builder.BuildAndStart();
  std::unique_ptr<BosGrpcServer> server(new BosGrpcServer(std::move(impl)));
  if (!server->impl_->server) return Status::IoError(fmt::format("gRPC on port {}", port));
  for (size_t i = 0; i < ips.size(); ++i) {
    if (bound[i] == 0) return Status::IoError(fmt::format("listen on {}:{} (gRPC)", ips[i], port));
  }
  return server;
}

BosGrpcServer::~BosGrpcServer() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (Impl::Task& task : impl_->queue) {
      task.done.set_value({grpc::StatusCode::UNAVAILABLE, "the farm is stopping"});
    }
    impl_->queue.clear();
  }
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  if (impl_->event_fd >= 0) close(impl_->event_fd);
}

int BosGrpcServer::event_fd() const { return impl_->event_fd; }

void BosGrpcServer::Drain(const WithMiner& with_miner) {
  uint64_t count = 0;
  if (read(impl_->event_fd, &count, sizeof count) < 0) {
    // EAGAIN: woken for calls an earlier Drain ran already
  }
  std::deque<Impl::Task> tasks;
  {
    std::lock_guard lock(impl_->mu);
    tasks.swap(impl_->queue);
  }
  for (Impl::Task& task : tasks) {
    const bool served =
        with_miner(task.ip, [&](BosMiner& miner) { task.done.set_value(task.work(miner)); });
    if (!served) {
      // Down (rebooting) or no Braiins OS miner there: as a closed port looks to gRPC.
      task.done.set_value({grpc::StatusCode::UNAVAILABLE, "Connection refused"});
    }
  }
}

}  // namespace asicmon::fakefarm
