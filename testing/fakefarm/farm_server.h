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
#include "fake_miner.h"
#include "http.h"

namespace asicmon::fakefarm {

enum class Fault : uint8_t {
  kNone,
  kSlow,       // answers correctly after --slow-ms
  kSilent,     // reads, never answers, holds the connection until the client closes
  kReset,      // reads the request, then RST
  kGarbage,    // a few hundred non-JSON bytes, then FIN
  kBroken,     // the first half of a normal reply, then FIN
  kHuge,       // --huge-bytes of a JSON reply that never ends, then FIN
  kFlapping,   // listening socket closed and reopened every --flap-period-s
  kDeadBoard,  // healthy replies except one hash board is dead
};
inline constexpr int kFaultCount = 9;
std::string_view ToString(Fault fault);  // "none", "slow", ..., "deadboard"
std::optional<Fault> ParseFault(std::string_view word);

// A share of the miners: an exact count, a percentage, or all of them.
struct Share {
  int count = 0;
  double percent = 0;
  bool is_percent = false;
  // How many of `total` miners this is (percentages rounded to nearest).
  int Of(int total) const;
};

struct FaultRequest {
  Fault fault = Fault::kNone;
  Share share;
};
// "KIND=N" or "KIND=P%".
Result<FaultRequest> ParseFaultRequest(std::string_view text);
// "none", "all", "N" or "P%".
Result<Share> ParseDenyRequest(std::string_view text);
// "all" or a comma-separated list of model keys; assigned round-robin.
Result<std::vector<ModelId>> ParseModels(std::string_view text);

// One line of a --scenario file: changes to one miner at a time after READY.
// Each change is optional; a line carries at least one.
struct ScenarioStep {
  int line = 0;                    // 1-based, in the file
  double at_s = 0;                 // seconds after READY
  uint32_t miner = 0;              // 0-based index
  std::optional<Fault> fault;      // any but deadboard (dead_board does that)
  std::optional<int> temp_offset;  // °C on every live board's sensors; 0 is normal
  std::optional<bool> dead_board;
  std::optional<int> fans_stopped;  // how many fans report 0 rpm
  std::optional<bool> sleeping;     // asleep (true) or awake, as FakeMiner::SetSleeping
};
// "fault=silent temp_offset=30 sleeping=true": the changes a step makes, as logged.
std::string Describe(const ScenarioStep& step);

struct FarmOptions {
  std::string base = "127.20.0.1";
  int count = 1;
  uint16_t port = 4028;
  std::vector<ModelId> models;  // round-robin; empty means all
  uint64_t seed = 1;
  std::vector<FaultRequest> faults;
  int slow_ms = 2500;
  size_t huge_bytes = 8 << 20;
  double flap_period_s = 10;
  Share deny;
  RestartReply restart_reply = RestartReply::kCgminer;  // every miner's answer to `restart`
  std::string action_log;  // path; empty for none
  uint16_t http_port = 0;  // web interface on every miner; 0 for none
  std::string http_user = "root";
  std::string http_password = "root";
  double reboot_s = 3;                 // how long a reboot keeps a miner down
  // A configuration applied through the web interface restarts the mining
  // software: the API refuses connections this long (the web interface,
  // lighttpd, stays up), then answers with uptime reset, in the new mode.
  // Issue 17's field report: an S19j Pro's "mining software restarts and
  // comes back asleep ~3 s after set_miner_conf". Default: 3 s.
  double restart_s = 3;
  // Every miner's FakeMinerSpec::wake_idle_s and wake_ramp_s. Defaults: 5 s, 10 s.
  double wake_idle_s = 5;
  double wake_ramp_s = 10;
  // How long set_miner_conf.cgi takes to answer (its change is applied at
  // once). Some S19j Pro firmware takes ~21 s (issue 17's field report).
  double conf_write_s = 0;
  std::vector<ScenarioStep> scenario;  // from ParseScenario; applied from Run() on
};

// One miner of the farm, as planned before any socket exists.
struct MinerPlan {
  uint32_t ip = 0;  // host byte order
  std::string ip_text;
  uint16_t port = 4028;
  uint16_t http_port = 0;  // 0: no web interface
  Fault fault = Fault::kNone;
  FakeMinerSpec spec;
};

// Addresses, models and, from a seeded shuffle, faults (at most one per
// miner) and read-only APIs. InvalidArgument when the options cannot be met:
// a base outside 127.0.0.0/8, a range that would leave it, more faults than
// miners, the web interface on the API's port.
Result<std::vector<MinerPlan>> PlanFarm(const FarmOptions& options);

// JSON lines, blank lines skipped:
//   {"at_s":S, "miner":I | "ip":"A.B.C.D", "fault":K, "temp_offset":C,
//    "dead_board":bool, "fans_stopped":N}
// Steps in order of at_s, lines with the same at_s in file order.
// InvalidArgument naming the line for bad JSON, an unknown key, a missing or
// negative at_s, no miner or one `plans` lacks, no change, a fault that cannot
// switch at runtime, more stopped fans than the model has.
Result<std::vector<ScenarioStep>> ParseScenario(std::string_view text,
                                                const std::vector<MinerPlan>& plans);

// {"ip":...,"port":...,["http_port":...,]"model":...,"worker":...,"fault":...,
//  "hashrate_nominal":H/s,"boards":N,"deny_privileged":bool,"dead_board":chain|null}
std::string ManifestLine(const MinerPlan& plan);

// Raises the soft RLIMIT_NOFILE to the hard limit. InvalidArgument, saying
// what to raise, when the hard limit is below `needed`.
Status RaiseFileLimit(uint64_t needed);

// Open files a farm needs before it can take connections.
uint64_t FilesNeeded(const FarmOptions& options);

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
  void OnAccept(uint32_t miner, bool web);
  void OnReadable(uint32_t slot);
  // True once `c.in` holds a whole request (its length in c.request_end).
  static bool ScanRequest(Conn& c);
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
  void FireTimers(int64_t now_ms);
  void Flap(uint32_t miner, uint32_t cycle, int64_t now_ms);
  // Applies the scenario's steps due by `now_ms` and sets the timer of the next.
  void PlayScenario(int64_t now_ms);
  void LogActions(const Miner& miner, uint16_t port);
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
};

}  // namespace asicmon::fakefarm
