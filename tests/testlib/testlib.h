// Helpers shared by asicmon's tests: fixture files, Status assertions, and
// real child processes for integration tests.
//
// Loopback address plan (ctest -j2 runs tests side by side, so no two test
// programs may share an address): each test program takes its own 127.X.0.0/16
// with X from this list, and says so in a kLoopback constant.
//   127.31 miner_api_test   127.32 collect_fakefarm_test   127.33 fake_miner_test
//   127.34, 127.35 discover_test   127.36 pipeline_test   127.37 push tests (HTTP receivers)
//   127.38 fakefarm_web_test   127.39 control_api_test   127.52 sleep and locate tests
//   127.45 alert_test   127.46 health_pipeline_test   127.47/48 hostile_control/miner_test
//   127.53 fleet_test, fleet_ops_test   127.54 resend_test   127.64 http_families_test
//   127.42 Curve bus: 127.42.0 curve_bus_test, 127.42.1 bus_security_test,
//          127.42.3 curve_netns_test (inside network namespaces it makes)
//   127.43 dashboard_test (fakefarm on 127.43.0, control on 127.43.1.1)
//   127.44 scenario_fakefarm_test (fakefarm_scenario_test plans 127.44.0 but binds nothing)
//   127.63 braiins_fakefarm_test   127.67 braiins_control_test   127.96 vnish_control_test
//   127.98 control_rest_test   127.99 web_client_test   127.71 keys_roles_test (nothing listens there)   127.61.x curtail_test
//   127.81 (fake farm), 127.82 (push receiver, control) bench/chaos.sh and its ctest "chaos"
//   benches: 127.40 client_bench   127.50 sweep and pipeline benches   127.60 pipeline_bench
//            127.61 push_bench   127.62 control_bench   127.72-79 scale_bench.sh
//   127.41 data only (sample_records.h DataOnlyIp): addresses inside records and
//          inventory that tests and benches store and relay. Nothing listens
//          there and nothing contacts it, so it is shared. No private network
//          address ever appears where a running process could act on it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "json_repair.h"
#include "asicmon/events.h"
#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon::testing {
// The Status of a Status or of a Result<T>, so one macro serves both.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) { return r.status(); }
}  // namespace asicmon::testing

#define EXPECT_OK(expr)                                                         \
  do {                                                                          \
    const auto& asicmon_s_ = (expr);                                            \
    EXPECT_TRUE(::asicmon::testing::StatusOf(asicmon_s_).ok())                  \
        << ::asicmon::testing::StatusOf(asicmon_s_).ToString();                 \
  } while (0)
#define ASSERT_OK(expr)                                                         \
  do {                                                                          \
    const auto& asicmon_s_ = (expr);                                            \
    ASSERT_TRUE(::asicmon::testing::StatusOf(asicmon_s_).ok())                  \
        << ::asicmon::testing::StatusOf(asicmon_s_).ToString();                 \
  } while (0)

namespace asicmon::testing {

// The body of `bytes` when they are an event of `kind`, typed by `from_json`
// (HealthEventFromJson, bus::StageStatsFromJson) as a consumer does after
// DecodeEvent: nullopt for another kind, ParseError for bytes that are no
// event or a malformed body.
template <typename T>
Result<std::optional<T>> DecodeEventAs(std::string_view bytes, EventKind kind,
                                       Result<T> (*from_json)(const nlohmann::json&)) {
  Result<Event> event = DecodeEvent(bytes);
  if (!event.ok()) return event.status();
  if (event->kind != kind) return std::optional<T>();
  Result<T> body = from_json(event->body);
  if (!body.ok()) return body.status();
  return std::optional<T>(std::move(*body));
}

// The bytes of tests/data/<name>; fails the test when missing.
std::string ReadFixture(const std::string& name);

// Path of a built executable, e.g. BinPath("asicmon-collect").
std::string BinPath(const std::string& name);

// A child process with stdout (and optionally stderr) captured. Killed
// (SIGTERM, then SIGKILL) when destroyed.
class Subprocess {
 public:
  explicit Subprocess(std::vector<std::string> argv, bool capture_stderr = false);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout until EOF or timeout; returns what was read.
  std::string ReadAllStdout(std::chrono::milliseconds timeout);
  // Reads stdout until `needle` appears or timeout; true when found.
  bool WaitForStdout(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads stderr (with capture_stderr) until `needle` appears or timeout.
  bool WaitForStderr(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& stdout_text() const { return out_; }
  // What the child wrote on stderr so far (with capture_stderr).
  const std::string& stderr_text();
  // Waits for exit; returns the exit code, 128+signal, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);

 private:
  enum class ReadResult { kData, kTimeout, kEof };
  static ReadResult ReadSome(int fd, std::string& into, std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A running asicmon-fakefarm and the manifest it printed: ip -> that miner's
// manifest line (model, worker, fault, nominal hashrate in H/s, ...).
struct FakeFarm {
  std::unique_ptr<Subprocess> process;
  std::map<std::string, nlohmann::json> miners;
};
// Starts asicmon-fakefarm with `args` (plus --manifest -) and waits for READY.
// `prefix` runs it through another command, e.g. {"ip", "netns", "exec", ns}.
FakeFarm StartFakeFarm(std::vector<std::string> args, std::vector<std::string> prefix = {});
// The privileged commands and web actions a farm started with --action-log
// `path` received, one JSON object each ({ts, ip, port, command, parameter,
// result}), in order; a line still being written is left for the next read.
std::vector<nlohmann::json> ReadActionLog(const std::string& path);

// Runs asicmon-keygen for <dir>/<name>.key and .pub; the public key it
// printed (empty, and the test failed, when it did not succeed).
std::string RunKeygen(const std::string& dir, const std::string& name);

// A TCP port free on `ip` a moment ago (bound to port 0, then closed).
uint16_t FreeTcpPort(const std::string& ip);

// A blocking TCP connection with 5 s send and receive timeouts; -1 with
// errno set when it cannot be made.
int ConnectTcp(const std::string& ip, uint16_t port);

// The key=value fields of the newest " stats " line a stage logged on
// stderr (captured), e.g. {"sent": "500", ...}; empty when none yet.
std::map<std::string, std::string> StatsFields(Subprocess& process);
// One field of StatsFields as a number (0 when absent).
uint64_t StatValue(Subprocess& process, const std::string& key);
// Waits until the newest stats line has `key` at `at_least` or more; false
// after `timeout`.
bool WaitForStat(Subprocess& process, const std::string& key, uint64_t at_least,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20));
// A "VmRSS"/"VmHWM"-style line of /proc/<pid>/status, in KiB (0 when absent).
int64_t ProcStatusKib(pid_t pid, const std::string& key);

// A PUSH socket connected to a store's ingest `endpoint`, as a producer's:
// it holds up to 100,000 messages while the store pauses its intake, and a
// send waits up to 10 s.
zmq::socket_t IngestPusher(zmq::context_t& context, const std::string& endpoint);

// Waits until a TCP connect to ip:port succeeds (a server is up).
bool WaitForListen(const std::string& ip, uint16_t port, std::chrono::milliseconds timeout);

// One HTTP exchange with a REST server (control), as a client would make it.
struct HttpReply {
  long status = 0;  // 0: no answer
  std::string body;
  std::string headers;  // the status line and header lines as received
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};
struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::string body;       // JSON, sent with POST
  std::string token;      // a bearer token when not empty
  std::string source_ip;  // the client's address (127.x) when not empty
  std::string ca_file;    // for https: the CA (or self-signed certificate) to trust
};
// The path is sent as written ("/static/../x" reaches the server as is);
// 30 s at most.
HttpReply Http(const HttpCall& call);
HttpReply Http(const std::string& method, const std::string& url, const std::string& body = "",
               const std::string& token = "");

// A miner reply repaired, then parsed as nlohmann::json for tests to inspect.
Result<nlohmann::json> ParseMinerJson(std::string_view raw, RepairStats* stats = nullptr);

// NormaliseRawReply over `reply` written out as JSON text.
Record NormaliseJson(const nlohmann::json& reply);

// ---- What the family tests share ----
// A fixture repaired and parsed; null (and a failure) when it does not parse.
nlohmann::json Fixture(const std::string& name);
// A multi-command reply made of fixtures, as "summary+stats+pools" returns it
// (one array per command, "id" beside them).
nlohmann::json Multi(const std::vector<std::pair<std::string, std::string>>& parts);
// Equal within 1e-6 relative (exactly for 0); a failure when not reported.
::testing::AssertionResult Near(const std::optional<double>& actual, double expected);
// The boards' indices, in the record's order.
std::vector<int32_t> BoardIndices(const Record& r);

// A control audit event as control/request_pipeline.cpp PublishEvent sends it
// on the bus (msgpack of the map), of `action` on `ip` at unix time `ts`.
nlohmann::json ControlEvent(const std::string& action, const std::string& ip, double ts,
                            const std::string& result = "ok");
std::string ToMsgpack(const nlohmann::json& j);

}  // namespace asicmon::testing
