// Planning a fake farm before any socket exists: the faults, shares and
// scenario steps the command line and a --scenario file ask for, each
// miner's address, model, fault and API access, and its manifest line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"
#include "fake_miner.h"

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
// "all" (every model), "default" (DefaultModels) or a comma-separated list
// of model keys; assigned round-robin.
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
  std::vector<ModelId> models;  // round-robin; empty means DefaultModels()
  // The machine at each address, in address order (--machines): a machine's
  // number drives everything it is (model, worker, MAC, serial, telemetry),
  // so a farm restarted with the numbers reordered has the same machines at
  // other addresses, as DHCP moves and swaps them. Empty: machine i at base+i.
  std::vector<int> machines;
  uint64_t seed = 1;
  std::vector<FaultRequest> faults;
  int slow_ms = 2500;
  size_t huge_bytes = 8 << 20;
  double flap_period_s = 10;
  Share deny;
  RestartReply restart_reply = RestartReply::kCgminer;  // every miner's answer to `restart`
  std::string action_log;                               // path; empty for none
  uint16_t http_port = 0;                               // web interface on every miner; 0 for none
  std::string http_user = "root";
  std::string http_password = "root";
  double reboot_s = 3;  // how long a reboot keeps a miner down
  // A configuration applied through the web interface restarts the mining
  // software: the API refuses connections this long (the web interface,
  // lighttpd, stays up), then answers with uptime reset, in the new mode.
  // Issue 17's field report: an S19j Pro's "mining software restarts and
  // comes back asleep ~3 s after set_miner_conf". Default: 3 s.
  double restart_s = 3;
  // Every miner's FakeMinerSpec::wake_idle_s and wake_ramp_s. Defaults: 5 s, 10 s.
  double wake_idle_s = 5;
  double wake_ramp_s = 10;
  // Every Braiins OS miner's FakeMinerSpec::power_ramp_s. Default: 10 s.
  double power_ramp_s = 10;
  // Every miner's FakeMinerSpec::halt_s. Default: 3 s.
  double halt_s = 3;
  // Port of the Braiins OS public API (gRPC) on every Braiins OS miner's
  // address; 0 for none. Default: 50051, the firmware's.
  uint16_t bos_grpc_port = 50051;
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
// miners, the web interface on the API's port, --machines not naming one
// distinct machine per miner.
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

// {"ip":...,"port":...,["http_port":...,]["v3_port":4433,]"model":...,"worker":...,"mac":...,"fault":...,
//  "hashrate_nominal":H/s,"boards":N,"deny_privileged":bool,"dead_board":chain|null}
std::string ManifestLine(const MinerPlan& plan);

// Raises the soft RLIMIT_NOFILE to the hard limit. InvalidArgument, saying
// what to raise, when the hard limit is below `needed`.
Status RaiseFileLimit(uint64_t needed);

// Open files a farm needs before it can take connections.
uint64_t FilesNeeded(const FarmOptions& options);

}  // namespace asicmon::fakefarm
