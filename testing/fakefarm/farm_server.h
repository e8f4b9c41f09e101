// The fake farm: N FakeMiners, each listening on its own loopback address,
// served by one thread with non-blocking sockets and one epoll set, with the
// faults real miners show (slow, silent, reset, garbage, cut-off, huge,
// flapping, dead board) assigned to chosen miners. Optionally each miner also
// serves stock firmware's web interface (miner_web.h) on its own address,
// from the same thread and epoll set; a reboot there takes the miner off
// the network for a while, a configuration written there its API.
//
// Thread-safety: a FarmServer belongs to the thread that runs it.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"
#include "farm_plan.h"
#include "http.h"

namespace asicmon::fakefarm {

class BosGrpcServer;

class FarmServer {
 public:
  // Binds and listens on every miner's address. IoError naming the address
  // when one cannot be bound.
  static Result<std::unique_ptr<FarmServer>> Create(const FarmOptions& options,
                                                    std::vector<MinerPlan> plans);
  ~FarmServer();
  FarmServer(const FarmServer&) = delete;
  FarmServer& operator=(const FarmServer&) = delete;

  // Serves until `stop_fd` becomes readable (or forever when -1). The
  // scenario's clock starts here.
  Status Run(int stop_fd);

  // "served N exchanges in T s (ok A, slow B, ...)[; W web requests]".
  std::string Summary() const;
  uint64_t exchanges() const;  // of the API
  uint64_t web_requests() const { return web_requests_; }

 private:
  struct Miner;
  struct Conn;
  struct Timer;

  explicit FarmServer(const FarmOptions& options);
  // Opens the miner's API and, when on, web listeners, those not open.
  Status Listen(uint32_t miner);
  Result<int> OpenListener(const Miner& miner, uint16_t port, uint64_t kind, uint32_t index);
  void Unlisten(uint32_t miner);
  // `kind`: the listener's, as the epoll event names it.
  void OnAccept(uint32_t miner, uint64_t kind);
  void OnReadable(uint32_t slot);
  // True once `c.in` holds a whole request (its length in c.request_end).
  static bool ScanRequest(Conn& c);
  // True once `c.in` holds a whole Whatsminer API v3 request: its 4-byte
  // little-endian length, then that many bytes.
  static bool ScanV3Request(Conn& c);
  // True once `c.in` holds a whole web request (parsed into http_request_)
  // or one the parser refuses (c.web_error).
  bool ScanWebRequest(Conn& c);
  void OnWritable(uint32_t slot);
  void Respond(uint32_t slot);
  void RespondWeb(uint32_t slot);
  void Reboot(uint32_t miner);
  void FinishReboot(uint32_t miner);
  // The mining software restarting: the API alone goes down for restart_s.
  void RestartSoftware(uint32_t miner);
  void FinishRestart(uint32_t miner);
  void StartWriting(uint32_t slot);
  void Finish(uint32_t slot);
  void CloseConn(uint32_t slot, bool reset);
  void AddTimer(const Timer& timer);  // keeps timers_ a min-heap
  void FireTimers(int64_t now_ms);
  void Flap(uint32_t miner, uint32_t cycle, int64_t now_ms);
  // Applies the scenario's steps due by `now_ms` and sets the timer of the next.
  void PlayScenario(int64_t now_ms);
  void LogActions(const Miner& miner, uint16_t port);
  // The Braiins OS public API (farm_bos.cpp): started when a miner runs
  // Braiins OS and --bos-grpc-port is on; its calls run in Drain.
  struct BosAdapter;
  Status StartBos();
  void DrainBos();
  void BuildHugeReply();

  FarmOptions options_;
  int epoll_fd_ = -1;
  int spare_fd_ = -1;  // given up to accept() and close() when out of files
  std::vector<Miner> miners_;
  std::vector<Conn> conns_;
  std::vector<uint32_t> free_conns_;
  std::vector<Timer> timers_;  // a min-heap on deadline
  std::FILE* action_log_ = nullptr;
  std::string huge_reply_;    // shared by every huge reply
  fmt::memory_buffer reply_;  // the reply being built
  std::vector<PrivilegedAction> actions_;
  std::optional<DigestAuth> web_auth_;  // with --http-port
  HttpRequest http_request_;            // the web request being answered
  uint64_t web_requests_ = 0;
  uint64_t served_[kFaultCount] = {};
  uint64_t refused_accepts_ = 0;
  int64_t started_ms_ = 0;
  int64_t scenario_start_ms_ = 0;
  size_t scenario_next_ = 0;  // the first step not applied yet
  std::unique_ptr<BosGrpcServer> bos_;  // declared last: its calls use the rest
};

}  // namespace asicmon::fakefarm
