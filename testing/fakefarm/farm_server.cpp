#include "farm_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "asicmon/log.h"
#include "miner_web.h"
#include "random.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kFaultNames[kFaultCount] = {
    "none", "slow", "silent", "reset", "garbage", "broken", "huge", "flapping", "deadboard"};

// Bounds at_s so its milliseconds fit any clock arithmetic: a year.
constexpr double kMaxScenarioS = 365 * 86400;

constexpr int kListenBacklog = 128;
// Requests longer than this are hostile: the connection is closed unanswered.
constexpr size_t kMaxRequestBytes = 64 * 1024;
// cgminer gives a client 10 s to send its request (SO_RCVTIMEO); the same
// bound frees connections a client leaves open without reading or writing.
constexpr int64_t kIdleTimeoutMs = 10'000;
constexpr int64_t kSweepPeriodMs = 1'000;
constexpr int kAcceptsPerWakeup = 64;
// Files besides the listening sockets: epoll, stdio, the action log, the
// spare, the stop pipe, and room for a few hundred exchanges at once.
constexpr uint64_t kFilesBesidesListeners = 512;

// Where an epoll event came from: kind in the top byte, the connection
// slot's generation (so an event for a closed connection is not taken for
// the slot's next one) and the index in the low 32 bits.
enum Kind : uint64_t { kListener = 1, kConn = 2, kStop = 3, kWebListener = 4 };
uint64_t EventData(uint64_t kind, uint32_t gen, uint32_t index) {
  return kind << 56 | (static_cast<uint64_t>(gen & 0xFFFFFF) << 32) | index;
}

int64_t MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

double UnixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Fisher-Yates with our own generator, so a seed gives the same farm with
// every standard library.
std::vector<int> Shuffled(int n, uint64_t seed) {
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  uint64_t state = seed;
  for (int i = n - 1; i > 0; --i) {
    const auto j = static_cast<int>(SplitMix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::string IpText(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

Result<int> ParseCount(std::string_view text, std::string_view what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not a count", what, text));
  }
  return value;
}

Result<Share> ParseShare(std::string_view text, std::string_view what) {
  Share share;
  if (!text.empty() && text.back() == '%') {
    std::string number(text.substr(0, text.size() - 1));
    char* end = nullptr;
    share.percent = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !(share.percent >= 0 && share.percent <= 100)) {
      return Status::InvalidArgument(
          fmt::format("{}: '{}' is not a percentage 0-100%", what, text));
    }
    share.is_percent = true;
    return share;
  }
  auto count = ParseCount(text, what);
  if (!count.ok()) return count.status();
  share.count = *count;
  return share;
}

// The value of `v` when it is an integer from lo to hi.
std::optional<int64_t> IntIn(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo) {
      return static_cast<int64_t>(u);
    }
    return std::nullopt;
  }
  if (!v.is_number_integer()) return std::nullopt;
  const auto i = v.get<int64_t>();
  if (i < lo || i > hi) return std::nullopt;
  return i;
}

bool SwitchesAtRuntime(Fault fault) {
  switch (fault) {
    case Fault::kNone:
    case Fault::kSlow:
    case Fault::kSilent:
    case Fault::kReset:
    case Fault::kGarbage:
    case Fault::kBroken:
    case Fault::kHuge:
    case Fault::kFlapping:
      return true;
    case Fault::kDeadBoard:  // the step's dead_board key does it
      return false;
  }
  return false;
}

int64_t StepMs(const ScenarioStep& step) { return std::llround(step.at_s * 1000); }

}  // namespace

struct FarmServer::Miner {
  MinerPlan plan;
  FakeMiner fake;
  int listen_fd = -1;
  uint64_t rng = 0;  // for garbage bytes
  int web_listen_fd = -1;
  bool rebooting = false;   // down until its reboot timer fires
  bool restarting = false;  // API down until its restart timer fires
  // Flap timers carry the cycle they belong to: a scenario that ends a
  // miner's flapping and starts it again outdates the old cycle's timer.
  uint32_t flap_cycle = 0;
};

struct FarmServer::Conn {
  enum class State : uint8_t { kFree, kReading, kWaiting, kWriting, kSilent };
  int fd = -1;
  uint32_t miner = 0;
  uint32_t gen = 0;
  State state = State::kFree;
  bool registered = false;  // in the epoll set
  // Request framing: a JSON object ends when its braces balance outside
  // strings; text ("summary|x") ends with what one read brought, as
  // cgminer's single recv() does, or at a NUL or newline.
  bool started = false;
  bool json = false;
  bool in_string = false;
  bool escape = false;
  int depth = 0;
  size_t scanned = 0;
  size_t request_end = 0;  // > 0 once a whole request is in
  std::string in;
  std::string out;           // the reply, when it outlives one attempt to send
  std::string_view pending;  // what is left to send: in `out` or the shared huge reply
  int64_t idle_deadline_ms = 0;
  bool web = false;            // an HTTP client of the web interface
  bool continue_sent = false;  // "100 Continue" answered an Expect
  int web_error = 0;           // status the HTTP parser refused the request with
};

struct FarmServer::Timer {
  enum class Kind : uint8_t { kSlowReply, kFlap, kSweep, kRebootDone, kRestartDone, kScenario };
  int64_t at_ms;
  Kind kind;
  uint32_t index;
  uint32_t gen;
  bool operator>(const Timer& other) const { return at_ms > other.at_ms; }
};

std::string_view ToString(Fault fault) { return kFaultNames[static_cast<size_t>(fault)]; }

std::optional<Fault> ParseFault(std::string_view word) {
  for (int i = 0; i < kFaultCount; ++i) {
    if (kFaultNames[i] == word) return static_cast<Fault>(i);
  }
  return std::nullopt;
}

int Share::Of(int total) const {
  if (!is_percent) return count;
  return static_cast<int>(std::lround(total * percent / 100.0));
}

Result<FaultRequest> ParseFaultRequest(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("--fault '{}': expected KIND=N or KIND=P%", text));
  }
  FaultRequest request;
  std::optional<Fault> fault = ParseFault(text.substr(0, eq));
  if (!fault || *fault == Fault::kNone) {
    return Status::InvalidArgument(fmt::format(
        "--fault '{}': unknown kind (slow, silent, reset, garbage, broken, huge, flapping, "
        "deadboard)",
        text));
  }
  request.fault = *fault;
  auto share = ParseShare(text.substr(eq + 1), "--fault");
  if (!share.ok()) return share.status();
  request.share = *share;
  return request;
}

Result<Share> ParseDenyRequest(std::string_view text) {
  if (text == "none") return Share{};
  if (text == "all") return Share{0, 100, true};
  return ParseShare(text, "--deny-privileged");
}

Result<std::vector<ModelId>> ParseModels(std::string_view text) {
  std::vector<ModelId> models;
  if (text == "all") {
    for (const ModelSpec& m : AllModels()) models.push_back(m.id);
    return models;
  }
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view key = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const ModelSpec* model = FindModel(key);
    if (!model) {
      return Status::InvalidArgument(fmt::format(
          "--models: unknown model '{}' (s9, s17pro, s19pro, s19jpro, l3plus or all)", key));
    }
    models.push_back(model->id);
  }
  if (models.empty()) return Status::InvalidArgument("--models: no model given");
  return models;
}

Result<std::vector<MinerPlan>> PlanFarm(const FarmOptions& options) {
  in_addr addr{};
  if (inet_pton(AF_INET, options.base.c_str(), &addr) != 1) {
    return Status::InvalidArgument(fmt::format("--base '{}' is not an IPv4 address", options.base));
  }
  const uint32_t base = ntohl(addr.s_addr);
  if (options.count < 1) return Status::InvalidArgument("--count must be at least 1");
  const uint64_t last = static_cast<uint64_t>(base) + static_cast<uint64_t>(options.count) - 1;
  if (base >> 24 != 127 || last >> 24 != 127) {
    return Status::InvalidArgument(fmt::format(
        "--base {} --count {} reaches {}: every miner must be in 127.0.0.0/8 (loopback)",
        options.base, options.count, IpText(static_cast<uint32_t>(std::min<uint64_t>(last, ~0u)))));
  }
  if (options.http_port != 0 && options.http_port == options.port) {
    return Status::InvalidArgument(
        fmt::format("--http-port {} is the API's --port: give the web interface its own port",
                    options.http_port));
  }
  std::vector<ModelId> models = options.models;
  if (models.empty()) {
    for (const ModelSpec& m : AllModels()) models.push_back(m.id);
  }

  std::vector<Fault> faults(options.count, Fault::kNone);
  int wanted = 0;
  for (const FaultRequest& f : options.faults) wanted += f.share.Of(options.count);
  if (wanted > options.count) {
    return Status::InvalidArgument(
        fmt::format("--fault asks for {} faulty miners but the farm has {} (one fault per miner)",
                    wanted, options.count));
  }
  const std::vector<int> fault_order = Shuffled(options.count, options.seed ^ 0xFA017ULL);
  size_t next = 0;
  for (const FaultRequest& f : options.faults) {
    for (int k = f.share.Of(options.count); k > 0; --k) faults[fault_order[next++]] = f.fault;
  }
  std::vector<bool> deny(options.count, false);
  const std::vector<int> deny_order = Shuffled(options.count, options.seed ^ 0xDE4FULL);
  const int denied = std::min(options.deny.Of(options.count), options.count);
  for (int k = 0; k < denied; ++k) deny[deny_order[k]] = true;

  std::vector<MinerPlan> plans(options.count);
  for (int i = 0; i < options.count; ++i) {
    MinerPlan& p = plans[i];
    p.ip = base + static_cast<uint32_t>(i);
    p.ip_text = IpText(p.ip);
    p.port = options.port;
    p.http_port = options.http_port;
    p.fault = faults[i];
    p.spec.model = models[i % models.size()];
    p.spec.index = i;
    p.spec.seed = options.seed;
    p.spec.deny_privileged = deny[i];
    p.spec.restart_reply = options.restart_reply;
    p.spec.dead_board = p.fault == Fault::kDeadBoard;
    p.spec.wake_idle_s = options.wake_idle_s;
    p.spec.wake_ramp_s = options.wake_ramp_s;
    // Units have been up between an hour and a month.
    uint64_t state = options.seed * 0x100000001B3ULL + static_cast<uint64_t>(i);
    p.spec.uptime_s = 3600 + static_cast<double>(SplitMix64(state) % (30 * 86400));
  }
  return plans;
}

std::string ManifestLine(const MinerPlan& plan) {
  const ModelSpec& model = GetModel(plan.spec.model);
  const FakeMiner probe(plan.spec, 0);
  std::string line = "{\"ip\":";
  AppendJsonString(line, plan.ip_text);
  fmt::format_to(std::back_inserter(line), ",\"port\":{},", plan.port);
  if (plan.http_port != 0)
    fmt::format_to(std::back_inserter(line), "\"http_port\":{},", plan.http_port);
  line += "\"model\":";
  AppendJsonString(line, model.name);
  line += ",\"worker\":";
  AppendJsonString(line, probe.worker());
  line += ",\"fault\":";
  AppendJsonString(line, ToString(plan.fault));
  fmt::format_to(std::back_inserter(line),
                 ",\"hashrate_nominal\":{:.0f},\"boards\":{},\"deny_privileged\":{},"
                 "\"dead_board\":{}}}",
                 model.hashrate_nominal, model.boards, plan.spec.deny_privileged,
                 probe.dead_chain() >= 0 ? fmt::format("{}", probe.dead_chain()) : "null");
  return line;
}

std::string Describe(const ScenarioStep& step) {
  std::string out;
  auto add = [&out](std::string_view key, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}{}={}", out.empty() ? "" : " ", key, value);
  };
  if (step.fault) add("fault", ToString(*step.fault));
  if (step.temp_offset) add("temp_offset", *step.temp_offset);
  if (step.dead_board) add("dead_board", *step.dead_board);
  if (step.fans_stopped) add("fans_stopped", *step.fans_stopped);
  if (step.sleeping) add("sleeping", *step.sleeping);
  return out;
}

Result<std::vector<ScenarioStep>> ParseScenario(std::string_view text,
                                                const std::vector<MinerPlan>& plans) {
  std::vector<ScenarioStep> steps;
  int line_no = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_no;
    auto bad = [line_no](std::string_view why) {
      return Status::InvalidArgument(fmt::format("line {}: {}", line_no, why));
    };
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad("not JSON");
    if (!j.is_object()) return bad("not a JSON object");
    ScenarioStep step;
    step.line = line_no;
    bool has_at = false;
    bool has_miner = false;
    for (const auto& [key, value] : j.items()) {
      if (key == "at_s") {
        if (!value.is_number() || !(value.get<double>() >= 0) ||
            value.get<double>() > kMaxScenarioS) {
          return bad(fmt::format("at_s {} is not seconds from 0 to {:.0f}",
                                 SafeForLog(value.dump(), 40), kMaxScenarioS));
        }
        step.at_s = value.get<double>();
        has_at = true;
      } else if (key == "miner" || key == "ip") {
        if (has_miner) return bad("give the miner once, by miner or by ip");
        has_miner = true;
        if (key == "miner") {
          const auto index = IntIn(value, 0, static_cast<int64_t>(plans.size()) - 1);
          if (!index) {
            return bad(fmt::format("miner {} is out of range: the farm has miners 0 to {}",
                                   SafeForLog(value.dump(), 40), plans.size() - 1));
          }
          step.miner = static_cast<uint32_t>(*index);
        } else {
          const auto it = value.is_string()
                              ? std::find_if(plans.begin(), plans.end(),
                                             [&value](const MinerPlan& p) {
                                               return p.ip_text == value.get<std::string>();
                                             })
                              : plans.end();
          if (it == plans.end()) {
            return bad(fmt::format("ip {} is no miner of the farm", SafeForLog(value.dump(), 40)));
          }
          step.miner = static_cast<uint32_t>(it - plans.begin());
        }
      } else if (key == "fault") {
        const std::optional<Fault> fault =
            value.is_string() ? ParseFault(value.get<std::string>()) : std::nullopt;
        if (!fault || !SwitchesAtRuntime(*fault)) {
          return bad(fmt::format(
              "fault {} cannot switch at runtime (none, slow, silent, reset, garbage, broken, "
              "huge, flapping; dead_board for a dead board)",
              SafeForLog(value.dump(), 40)));
        }
        step.fault = fault;
      } else if (key == "temp_offset") {
        const auto celsius = IntIn(value, -100, 200);
        if (!celsius) {
          return bad(fmt::format("temp_offset {} is not whole °C from -100 to 200",
                                 SafeForLog(value.dump(), 40)));
        }
        step.temp_offset = static_cast<int>(*celsius);
      } else if (key == "dead_board") {
        if (!value.is_boolean()) return bad("dead_board must be true or false");
        step.dead_board = value.get<bool>();
      } else if (key == "fans_stopped") {
        const auto count = IntIn(value, 0, std::numeric_limits<int>::max());
        if (!count) {
          return bad(
              fmt::format("fans_stopped {} is not a count of fans", SafeForLog(value.dump(), 40)));
        }
        step.fans_stopped = static_cast<int>(*count);
      } else if (key == "sleeping") {
        if (!value.is_boolean()) return bad("sleeping must be true or false");
        step.sleeping = value.get<bool>();
      } else {
        return bad(fmt::format(
            "unknown key '{}' (at_s, miner, ip, fault, temp_offset, dead_board, fans_stopped, "
            "sleeping)",
            SafeForLog(key, 40)));
      }
    }
    if (!has_at) return bad("no at_s");
    if (!has_miner) return bad("no miner (give miner or ip)");
    if (!step.fault && !step.temp_offset && !step.dead_board && !step.fans_stopped &&
        !step.sleeping) {
      return bad("no change (fault, temp_offset, dead_board, fans_stopped or sleeping)");
    }
    const ModelId model = plans[step.miner].spec.model;
    if (step.sleeping && !CanSleep(model)) {
      return bad(
          fmt::format("sleeping: miner {} ({}) has no sleep", step.miner, GetModel(model).key));
    }
    if (step.fans_stopped && *step.fans_stopped > FanCount(model)) {
      return bad(fmt::format("fans_stopped {}: miner {} ({}) has {} fans", *step.fans_stopped,
                             step.miner, GetModel(model).key, FanCount(model)));
    }
    steps.push_back(step);
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.at_s < b.at_s; });
  return steps;
}

uint64_t FilesNeeded(const FarmOptions& options) {
  const uint64_t listeners_per_miner = options.http_port != 0 ? 2 : 1;
  return static_cast<uint64_t>(options.count) * listeners_per_miner + kFilesBesidesListeners;
}

Status RaiseFileLimit(uint64_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::IoError(fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
  }
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    return Status::InvalidArgument(fmt::format(
        "need {} open files (one or two per miner plus {} for connections) but the hard limit "
        "is {}; "
        "raise it (ulimit -Hn, LimitNOFILE= in systemd, nofile in limits.conf) or use fewer "
        "miners per process",
        needed, kFilesBesidesListeners, limit.rlim_max));
  }
  const rlim_t target =
      limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(needed, 1 << 20) : limit.rlim_max;
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return Status::IoError(
          fmt::format("setrlimit(RLIMIT_NOFILE, {}): {}", target, std::strerror(errno)));
    }
  }
  return Status::Ok();
}

FarmServer::FarmServer(const FarmOptions& options) : options_(options) {}

FarmServer::~FarmServer() {
  for (Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  for (Miner& m : miners_) {
    if (m.listen_fd >= 0) close(m.listen_fd);
    if (m.web_listen_fd >= 0) close(m.web_listen_fd);
  }
  if (spare_fd_ >= 0) close(spare_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (action_log_) std::fclose(action_log_);
}

Result<std::unique_ptr<FarmServer>> FarmServer::Create(const FarmOptions& options,
                                                       std::vector<MinerPlan> plans) {
  std::unique_ptr<FarmServer> server(new FarmServer(options));
  server->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (server->epoll_fd_ < 0) {
    return Status::IoError(fmt::format("epoll_create1: {}", std::strerror(errno)));
  }
  server->spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!options.action_log.empty()) {
    server->action_log_ = std::fopen(options.action_log.c_str(), "ae");
    if (!server->action_log_) {
      return Status::IoError(
          fmt::format("--action-log {}: {}", options.action_log, std::strerror(errno)));
    }
  }
  if (options.http_port != 0) {
    server->web_auth_.emplace(std::string(kWebRealm), options.http_user, options.http_password,
                              DigestAuth::RandomNonce());
  }
  const double now = UnixNow();
  server->started_ms_ = MonotonicMs();
  server->miners_.reserve(plans.size());
  bool any_huge = false;
  for (MinerPlan& plan : plans) {
    any_huge |= plan.fault == Fault::kHuge;
    uint64_t rng = plan.spec.seed ^ (0x6A09E667F3BCC909ULL * (plan.spec.index + 1));
    FakeMiner fake(plan.spec, now);
    server->miners_.push_back(Miner{std::move(plan), std::move(fake), -1, rng, -1, false, 0});
  }
  if (any_huge) server->BuildHugeReply();
  const int64_t period_ms =
      std::max<int64_t>(1, static_cast<int64_t>(std::llround(options.flap_period_s * 1000)));
  for (uint32_t i = 0; i < server->miners_.size(); ++i) {
    Status status = server->Listen(i);
    if (!status.ok()) return status;
    if (server->miners_[i].plan.fault == Fault::kFlapping) {
      // Each flapping miner starts at its own point of its up/down cycle.
      const double phase = std::fmod(i * 0.6180339887498949, 1.0);
      const auto first = static_cast<int64_t>(static_cast<double>(period_ms) * (1 - phase));
      server->timers_.push_back(
          {server->started_ms_ + std::max<int64_t>(1, first), Timer::Kind::kFlap, i, 0});
    }
  }
  server->timers_.push_back({server->started_ms_ + kSweepPeriodMs, Timer::Kind::kSweep, 0, 0});
  std::make_heap(server->timers_.begin(), server->timers_.end(), std::greater<>());
  return server;
}

Status FarmServer::Listen(uint32_t index) {
  Miner& m = miners_[index];
  if (m.listen_fd < 0) {
    auto api = OpenListener(m, m.plan.port, kListener, index);
    if (!api.ok()) return api.status();
    m.listen_fd = *api;
  }
  if (m.plan.http_port != 0 && m.web_listen_fd < 0) {
    auto web = OpenListener(m, m.plan.http_port, kWebListener, index);
    if (!web.ok()) {
      Unlisten(index);
      return web.status();
    }
    m.web_listen_fd = *web;
  }
  return Status::Ok();
}

Result<int> FarmServer::OpenListener(const Miner& m, uint16_t port, uint64_t kind, uint32_t index) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(fmt::format("socket: {}", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Clients speak first and once per connection, so let the kernel hand over
  // a connection only with its request in: one wakeup and no epoll_ctl for
  // most exchanges.
  const int defer_s = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(m.plan.ip);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoError(
        fmt::format("listen on {}:{}: {}", m.plan.ip_text, port, std::strerror(err)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = EventData(kind, 0, index);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoError(fmt::format("epoll_ctl: {}", std::strerror(err)));
  }
  return fd;
}

void FarmServer::Unlisten(uint32_t index) {
  Miner& m = miners_[index];
  if (m.listen_fd >= 0) close(m.listen_fd);
  if (m.web_listen_fd >= 0) close(m.web_listen_fd);
  m.listen_fd = -1;
  m.web_listen_fd = -1;
}

void FarmServer::BuildHugeReply() {
  // A stats reply whose STATS object never closes within --huge-bytes: every
  // byte is a valid JSON prefix, so only a size cap stops a client.
  std::string& r = huge_reply_;
  fmt::format_to(std::back_inserter(r),
                 "{{\"STATUS\":[{{\"STATUS\":\"S\",\"When\":{},\"Code\":70,\"Msg\":\"CGMiner "
                 "stats\",\"Description\":\"cgminer 1.0.0\"}}],\"STATS\":[{{\"STATS\":0,\"ID\":"
                 "\"BTM_SOC0\"",
                 static_cast<int64_t>(UnixNow()));
  for (int i = 1; r.size() < options_.huge_bytes; ++i) {
    fmt::format_to(std::back_inserter(r), ",\"chain_acs{}\":\"{}\"", i,
                   " oooooooo oooooooo oooooooo oooooooo oooooooo oooooooo oooooooo ooooooo");
  }
  r.resize(options_.huge_bytes);
}

uint64_t FarmServer::exchanges() const {
  uint64_t total = 0;
  for (uint64_t n : served_) total += n;
  return total;
}

std::string FarmServer::Summary() const {
  const double seconds = static_cast<double>(MonotonicMs() - started_ms_) / 1000;
  std::string s = fmt::format("served {} exchanges for {} miners in {:.1f} s", exchanges(),
                              miners_.size(), seconds);
  std::string parts;
  for (int i = 0; i < kFaultCount; ++i) {
    if (served_[i] == 0) continue;
    fmt::format_to(std::back_inserter(parts), "{}{} {}", parts.empty() ? "" : ", ",
                   i == 0 ? std::string_view("healthy") : kFaultNames[i], served_[i]);
  }
  if (!parts.empty()) s += " (" + parts + ")";
  if (web_requests_ > 0) fmt::format_to(std::back_inserter(s), "; {} web requests", web_requests_);
  if (refused_accepts_ > 0) {
    fmt::format_to(std::back_inserter(s), "; {} connections dropped for lack of files",
                   refused_accepts_);
  }
  return s;
}

Status FarmServer::Run(int stop_fd) {
  if (stop_fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = EventData(kStop, 0, 0);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd, &ev) != 0) {
      return Status::IoError(fmt::format("epoll_ctl(stop): {}", std::strerror(errno)));
    }
  }
  scenario_start_ms_ = MonotonicMs();
  PlayScenario(scenario_start_ms_);
  std::array<epoll_event, 256> events;
  while (true) {
    int timeout = -1;
    if (!timers_.empty()) {
      timeout = static_cast<int>(
          std::clamp<int64_t>(timers_.front().at_ms - MonotonicMs(), 0, kSweepPeriodMs));
    }
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(fmt::format("epoll_wait: {}", std::strerror(errno)));
    }
    for (int k = 0; k < n; ++k) {
      const uint64_t data = events[k].data.u64;
      const auto index = static_cast<uint32_t>(data & 0xFFFFFFFF);
      const auto gen = static_cast<uint32_t>((data >> 32) & 0xFFFFFF);
      switch (data >> 56) {
        case kStop:
          return Status::Ok();
        case kListener:
          if (miners_[index].listen_fd >= 0) OnAccept(index, false);
          break;
        case kWebListener:
          if (miners_[index].web_listen_fd >= 0) OnAccept(index, true);
          break;
        case kConn: {
          if (index >= conns_.size() || (conns_[index].gen & 0xFFFFFF) != gen) break;
          const Conn::State state = conns_[index].state;
          if (state == Conn::State::kWriting) {
            OnWritable(index);
          } else if (state != Conn::State::kFree) {
            OnReadable(index);
          }
          break;
        }
        default:
          break;
      }
    }
    FireTimers(MonotonicMs());
  }
}

void FarmServer::OnAccept(uint32_t miner, bool web) {
  const int listen_fd = web ? miners_[miner].web_listen_fd : miners_[miner].listen_fd;
  for (int k = 0; k < kAcceptsPerWakeup; ++k) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of files: take the connection with the spare and drop it, so
        // the listener does not stay readable and spin the loop.
        close(spare_fd_);
        const int dropped = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (dropped >= 0) close(dropped);
        spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (refused_accepts_++ % 1000 == 0) {
          spdlog::warn("out of open files: dropped a connection to {} ({} so far)",
                       miners_[miner].plan.ip_text, refused_accepts_);
        }
      }
      return;
    }
    uint32_t slot;
    if (!free_conns_.empty()) {
      slot = free_conns_.back();
      free_conns_.pop_back();
    } else {
      slot = static_cast<uint32_t>(conns_.size());
      conns_.emplace_back();
    }
    Conn& c = conns_[slot];
    c.fd = fd;
    c.miner = miner;
    c.web = web;
    // Faults shape the API only; the web interface of a faulty miner answers.
    c.state = !web && miners_[miner].plan.fault == Fault::kSilent ? Conn::State::kSilent
                                                                  : Conn::State::kReading;
    c.idle_deadline_ms = MonotonicMs() + kIdleTimeoutMs;
    // The request is often in already: read before paying for epoll_ctl.
    OnReadable(slot);
    if (c.state == Conn::State::kFree || c.registered) continue;
    epoll_event ev{};
    ev.events = c.state == Conn::State::kWriting ? EPOLLOUT : EPOLLIN;
    ev.data.u64 = EventData(kConn, c.gen, slot);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      spdlog::warn("epoll_ctl(add): {}", std::strerror(errno));
      CloseConn(slot, false);
      continue;
    }
    c.registered = true;
  }
}

void FarmServer::OnReadable(uint32_t slot) {
  Conn& c = conns_[slot];
  char buf[16384];
  while (true) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (c.state != Conn::State::kReading) continue;  // silent or waiting: read and forget
      if (c.in.size() + static_cast<size_t>(n) > kMaxRequestBytes) {
        CloseConn(slot, false);
        return;
      }
      c.in.append(buf, static_cast<size_t>(n));
      if (c.web ? ScanWebRequest(c) : ScanRequest(c)) {
        Respond(slot);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
      CloseConn(slot, false);
      return;
    }
    // End of stream: a request cut by it is complete; a slow miner's client
    // may only have half-closed, so its reply is still sent when due.
    if (c.state == Conn::State::kReading && c.started) {
      c.request_end = c.in.size();
      Respond(slot);
    } else if (c.state == Conn::State::kWaiting) {
      epoll_event ev{};
      ev.data.u64 = EventData(kConn, c.gen, slot);
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    } else {
      if (c.state == Conn::State::kSilent) ++served_[static_cast<size_t>(Fault::kSilent)];
      CloseConn(slot, false);
    }
    return;
  }
}

bool FarmServer::ScanRequest(Conn& c) {
  for (; c.scanned < c.in.size(); ++c.scanned) {
    const char ch = c.in[c.scanned];
    if (!c.started) {
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
      c.started = true;
      c.json = ch == '{';
    }
    if (!c.json) {
      if (ch == '\0' || ch == '\n') break;
    } else if (c.in_string) {
      if (c.escape) {
        c.escape = false;
      } else if (ch == '\\') {
        c.escape = true;
      } else if (ch == '"') {
        c.in_string = false;
      }
    } else if (ch == '"') {
      c.in_string = true;
    } else if (ch == '{') {
      ++c.depth;
    } else if ((ch == '}' && --c.depth <= 0) || ch == '\0') {
      break;
    }
  }
  if (c.scanned < c.in.size()) {
    c.request_end = c.scanned + 1;
  } else if (c.started && !c.json) {
    c.request_end = c.in.size();  // text: what one read brought, as cgminer's single recv()
  }
  return c.request_end > 0;
}

bool FarmServer::ScanWebRequest(Conn& c) {
  const HttpParseResult parsed = ParseHttpRequest(c.in, http_request_);
  switch (parsed.state) {
    case HttpParseState::kComplete:
      c.request_end = parsed.length;
      return true;
    case HttpParseState::kError:
      c.web_error = parsed.error_status;
      return true;
    case HttpParseState::kNeedBody:
      if (http_request_.expect_continue && !c.continue_sent) {
        // The interim answer fits any fresh socket buffer; were it cut short,
        // the client sends its body after its own wait anyway.
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
        c.continue_sent = true;
      }
      return false;
    case HttpParseState::kNeedHeaders:
      return false;
  }
  return false;
}

void FarmServer::RespondWeb(uint32_t slot) {
  Conn& c = conns_[slot];
  const uint32_t miner = c.miner;
  Miner& m = miners_[miner];
  ++web_requests_;
  reply_.clear();
  WebEffect effect = WebEffect::kNone;
  if (c.web_error != 0) {
    AppendHttpError(reply_, c.web_error);
  } else {
    actions_.clear();
    effect = HandleWebRequest(http_request_, *web_auth_, m.fake, UnixNow(), reply_, actions_);
    if (!actions_.empty()) LogActions(m, m.plan.http_port);
  }
  // Down before the client can read the answer and try again; closing the
  // listeners leaves this accepted connection alone.
  if (effect == WebEffect::kReboot) Reboot(miner);
  if (effect == WebEffect::kRestart) RestartSoftware(miner);
  if (options_.conf_write_s > 0 && c.web_error == 0 && !actions_.empty() &&
      http_request_.path == "/cgi-bin/set_miner_conf.cgi") {
    // The firmware's script answers once it has rewritten the config and
    // restarted the miner (the web server's Digest challenge comes before
    // the script, at once): the same wait as a slow API reply.
    c.out.assign(reply_.data(), reply_.size());
    c.state = Conn::State::kWaiting;
    timers_.push_back({MonotonicMs() + std::llround(options_.conf_write_s * 1000),
                       Timer::Kind::kSlowReply, slot, c.gen});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
    return;
  }
  c.pending = std::string_view(reply_.data(), reply_.size());
  StartWriting(slot);
}

void FarmServer::Reboot(uint32_t index) {
  Miner& m = miners_[index];
  if (m.rebooting) return;
  m.rebooting = true;
  Unlisten(index);
  const auto down_ms = static_cast<int64_t>(std::llround(options_.reboot_s * 1000));
  timers_.push_back({MonotonicMs() + down_ms, Timer::Kind::kRebootDone, index, 0});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  spdlog::info("miner {} rebooting: down for {} s", m.plan.ip_text, options_.reboot_s);
}

void FarmServer::FinishReboot(uint32_t index) {
  Miner& m = miners_[index];
  m.rebooting = false;
  m.restarting = false;  // the reboot restarted everything
  m.fake.Restart(UnixNow());
  if (m.listen_fd >= 0) return;
  if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("miner {} stays down after its reboot: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::info("miner {} is back from its reboot", m.plan.ip_text);
  }
}

void FarmServer::RestartSoftware(uint32_t index) {
  Miner& m = miners_[index];
  // Down already: it comes back with the configuration just applied.
  if (m.rebooting || m.restarting) return;
  m.restarting = true;
  if (m.listen_fd >= 0) close(m.listen_fd);
  m.listen_fd = -1;
  const auto down_ms = static_cast<int64_t>(std::llround(options_.restart_s * 1000));
  timers_.push_back({MonotonicMs() + down_ms, Timer::Kind::kRestartDone, index, 0});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  spdlog::info("miner {} restarting its mining software: API down for {} s", m.plan.ip_text,
               options_.restart_s);
}

void FarmServer::FinishRestart(uint32_t index) {
  Miner& m = miners_[index];
  if (!m.restarting) return;
  m.restarting = false;
  if (m.rebooting) return;  // its reboot decides when it comes back
  m.fake.Restart(UnixNow());
  if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("miner {} stays down after its restart: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::info("miner {} is back from its restart", m.plan.ip_text);
  }
}

void FarmServer::Respond(uint32_t slot) {
  Conn& c = conns_[slot];
  if (c.web) {
    RespondWeb(slot);
    return;
  }
  Miner& m = miners_[c.miner];
  const Fault fault = m.plan.fault;
  ++served_[static_cast<size_t>(fault)];
  const std::string_view request(c.in.data(), c.request_end);
  reply_.clear();
  switch (fault) {
    case Fault::kReset:
      CloseConn(slot, true);
      return;
    case Fault::kGarbage: {
      // Bytes that cannot begin any JSON value, so no repair finds one.
      static constexpr std::string_view kAlphabet =
          "!#$%&'()*./;<=>?@ABCDEFGHIJKLMOPQRSUVWXYZ^_`ghijklmopqrsuvwxyz|~";
      const uint64_t length = 200 + SplitMix64(m.rng) % 300;
      for (uint64_t i = 0; i < length; ++i) {
        const uint64_t r = SplitMix64(m.rng);
        reply_.push_back(r & 1 ? static_cast<char>(0x80 | ((r >> 8) & 0x7F))
                               : kAlphabet[(r >> 8) % kAlphabet.size()]);
      }
      break;
    }
    case Fault::kHuge:
      c.pending = huge_reply_;
      StartWriting(slot);
      return;
    default: {
      actions_.clear();
      m.fake.Handle(request, UnixNow(), reply_, &actions_);
      if (!actions_.empty()) LogActions(m, m.plan.port);
      if (fault == Fault::kBroken) reply_.resize(reply_.size() / 2);
      if (fault == Fault::kSlow) {
        // Keep reading meanwhile, so a client that gives up is noticed.
        c.out.assign(reply_.data(), reply_.size());
        c.state = Conn::State::kWaiting;
        timers_.push_back({MonotonicMs() + options_.slow_ms, Timer::Kind::kSlowReply, slot, c.gen});
        std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
        return;
      }
      break;
    }
  }
  c.pending = std::string_view(reply_.data(), reply_.size());
  StartWriting(slot);
}

void FarmServer::StartWriting(uint32_t slot) {
  Conn& c = conns_[slot];
  const bool transient = c.pending.data() == reply_.data();
  c.state = Conn::State::kWriting;
  OnWritable(slot);
  if (c.state != Conn::State::kWriting) return;
  // The rest waits for EPOLLOUT; a reply in the shared build buffer moves
  // into the connection first.
  if (transient) {
    c.out.assign(c.pending.data(), c.pending.size());
    c.pending = c.out;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = EventData(kConn, c.gen, slot);
  if (epoll_ctl(epoll_fd_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    spdlog::warn("epoll_ctl(out): {}", std::strerror(errno));
    CloseConn(slot, false);
    return;
  }
  c.registered = true;
}

void FarmServer::OnWritable(uint32_t slot) {
  Conn& c = conns_[slot];
  while (!c.pending.empty()) {
    const ssize_t n = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.pending.remove_prefix(static_cast<size_t>(n));
      c.idle_deadline_ms = MonotonicMs() + kIdleTimeoutMs;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    CloseConn(slot, false);  // the client left
    return;
  }
  Finish(slot);
}

void FarmServer::Finish(uint32_t slot) {
  // Unread bytes at close() make the kernel send RST instead of FIN, which
  // can destroy the reply in flight: read what the client sent after its request.
  Conn& c = conns_[slot];
  char buf[4096];
  while (recv(c.fd, buf, sizeof buf, 0) > 0) {
  }
  CloseConn(slot, false);
}

void FarmServer::CloseConn(uint32_t slot, bool reset) {
  Conn& c = conns_[slot];
  if (reset) {
    const linger abortive{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  }
  close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.state = Conn::State::kFree;
  c.registered = false;
  c.started = c.json = c.in_string = c.escape = false;
  c.depth = 0;
  c.scanned = c.request_end = 0;
  c.in.clear();
  c.out.clear();
  // Keep small buffers for the slot's next connection, not a hostile one's 64 KiB.
  if (c.in.capacity() > 4096) std::string().swap(c.in);
  if (c.out.capacity() > 65536) std::string().swap(c.out);
  c.pending = {};
  c.web = c.continue_sent = false;
  c.web_error = 0;
  ++c.gen;
  free_conns_.push_back(slot);
}

void FarmServer::FireTimers(int64_t now_ms) {
  while (!timers_.empty() && timers_.front().at_ms <= now_ms) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    const Timer t = timers_.back();
    timers_.pop_back();
    switch (t.kind) {
      case Timer::Kind::kSlowReply: {
        Conn& c = conns_[t.index];
        if (c.gen != t.gen || c.state != Conn::State::kWaiting) break;
        c.pending = c.out;
        StartWriting(t.index);
        break;
      }
      case Timer::Kind::kFlap:
        Flap(t.index, t.gen, now_ms);
        break;
      case Timer::Kind::kRebootDone:
        FinishReboot(t.index);
        break;
      case Timer::Kind::kRestartDone:
        FinishRestart(t.index);
        break;
      case Timer::Kind::kScenario:
        PlayScenario(now_ms);
        break;
      case Timer::Kind::kSweep:
        for (uint32_t slot = 0; slot < conns_.size(); ++slot) {
          const Conn& c = conns_[slot];
          if ((c.state == Conn::State::kReading || c.state == Conn::State::kWriting) &&
              c.idle_deadline_ms <= now_ms) {
            CloseConn(slot, false);
          }
        }
        timers_.push_back({now_ms + kSweepPeriodMs, Timer::Kind::kSweep, 0, 0});
        std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
        break;
    }
  }
}

void FarmServer::Flap(uint32_t index, uint32_t cycle, int64_t now_ms) {
  Miner& m = miners_[index];
  // A scenario switched it to another fault, and brought it up then (or
  // started a new cycle since).
  if (m.plan.fault != Fault::kFlapping || cycle != m.flap_cycle) return;
  if (m.rebooting || m.restarting) {
    // Its reboot or restart decides when it comes back.
  } else if (m.listen_fd >= 0) {
    Unlisten(index);
    spdlog::debug("flapping miner {} down", m.plan.ip_text);
  } else if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("flapping miner {} stays down: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::debug("flapping miner {} up", m.plan.ip_text);
  }
  const auto period_ms = static_cast<int64_t>(std::llround(options_.flap_period_s * 1000));
  timers_.push_back(
      {now_ms + std::max<int64_t>(1, period_ms), Timer::Kind::kFlap, index, m.flap_cycle});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void FarmServer::PlayScenario(int64_t now_ms) {
  const std::vector<ScenarioStep>& steps = options_.scenario;
  for (; scenario_next_ < steps.size(); ++scenario_next_) {
    const ScenarioStep& step = steps[scenario_next_];
    const int64_t due_ms = scenario_start_ms_ + StepMs(step);
    if (due_ms > now_ms) {
      timers_.push_back({due_ms, Timer::Kind::kScenario, 0, 0});
      std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
      return;
    }
    Miner& m = miners_[step.miner];
    if (step.fault) {
      // Exchanges already under way finish under the fault they began with,
      // and are counted under it.
      const Fault before = m.plan.fault;
      m.plan.fault = *step.fault;
      if (before == Fault::kFlapping && m.listen_fd < 0 && !m.rebooting && !m.restarting) {
        if (Status status = Listen(step.miner); !status.ok()) {
          spdlog::warn("scenario: {} stays down: {}", m.plan.ip_text, status.message());
        }
      }
      if (*step.fault == Fault::kHuge && huge_reply_.empty()) BuildHugeReply();
      if (*step.fault == Fault::kFlapping && before != Fault::kFlapping) {
        // Down at once, then up and down every --flap-period-s.
        timers_.push_back({now_ms, Timer::Kind::kFlap, step.miner, ++m.flap_cycle});
        std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
      }
    }
    if (step.temp_offset) m.fake.SetTempOffset(*step.temp_offset);
    if (step.dead_board) m.fake.SetDeadBoard(*step.dead_board);
    if (step.fans_stopped) m.fake.SetFansStopped(*step.fans_stopped);
    if (step.sleeping) m.fake.SetSleeping(*step.sleeping, UnixNow());
    spdlog::info("scenario: {} {}", m.plan.ip_text, Describe(step));
  }
}

void FarmServer::LogActions(const Miner& m, uint16_t port) {
  const double ts = UnixNow();
  for (const PrivilegedAction& a : actions_) {
    spdlog::info("privileged command {} '{}' on {}:{}: {}", SafeForLog(a.command),
                 SafeForLog(a.parameter), m.plan.ip_text, port, ToString(a.result));
    if (!action_log_) continue;
    std::string line = fmt::format("{{\"ts\":{:.6f},\"ip\":\"{}\",\"port\":{},\"command\":", ts,
                                   m.plan.ip_text, port);
    AppendJsonString(line, a.command);
    line += ",\"parameter\":";
    AppendJsonString(line, a.parameter);
    fmt::format_to(std::back_inserter(line), ",\"result\":\"{}\"}}\n", ToString(a.result));
    std::fwrite(line.data(), 1, line.size(), action_log_);
    std::fflush(action_log_);
  }
}

}  // namespace asicmon::fakefarm
