// The fake farm's Braiins OS public API: one gRPC server listening on
// ip:50051 of every Braiins OS miner (bos-plus-api README: "port 50051"),
// serving the part of braiins.bos.v1 the braiins driver uses
// (common/driver/proto/bos_v1.proto) with the firmware's authentication.
//
// gRPC answers on its own threads; the miners belong to the farm's thread.
// So each call is queued, the farm's thread is woken through event_fd() and
// runs the queue (Drain) against the miner the call is for, and the gRPC
// thread waits for that. Which miner: the address the client dialled, as
// its :authority header names it (what every gRPC client sends by default).
//
// Thread-safety: Drain and the destructor on the farm's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"
#include "fake_miner.h"

namespace asicmon::fakefarm {

// What a call may do to its miner, on the farm's thread.
class BosMiner {
 public:
  virtual ~BosMiner() = default;
  virtual FakeMiner& fake() = 0;
  // Down for the farm's --reboot-s (API, web and gRPC), then up with uptime 0.
  virtual void Reboot() = 0;
  // The mining software restarts: its cgminer API down for --restart-s.
  virtual void RestartSoftware() = 0;
  // Writes one line to the action log (port 50051).
  virtual void Log(std::string command, std::string parameter, ActionResult result) = 0;
};

class BosGrpcServer {
 public:
  inline static constexpr uint16_t kPort = 50051;

  // Listens on ip:port of each of `ips`; `user` and `password` are the
  // login Login accepts (the farm's --http-user and --http-password: Braiins
  // OS logs in its API and web UI with the same account). IoError when gRPC
  // cannot listen on one of them.
  static Result<std::unique_ptr<BosGrpcServer>> Start(const std::vector<std::string>& ips,
                                                      uint16_t port, std::string user,
                                                      std::string password);
  ~BosGrpcServer();  // refuses what is queued, then stops gRPC

  // Readable while calls wait for Drain.
  int event_fd() const;
  // Runs every queued call: `with_miner(ip, body)` calls body with the
  // miner at `ip` and returns true, or returns false when there is none
  // serving the API there (no Braiins OS miner, or down).
  using WithMiner =
      std::function<bool(std::string_view ip, const std::function<void(BosMiner&)>& body)>;
  void Drain(const WithMiner& with_miner);

  struct Impl;

 private:
  explicit BosGrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asicmon::fakefarm
