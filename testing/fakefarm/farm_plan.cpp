// Planning a farm: addresses, models, faults and read-only APIs from the
// options, the manifest line of each miner, and the open files it needs.
#include "farm_plan.h"

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bitaxe_models.h"
#include "epic_models.h"
#include "braiins_models.h"
#include "random.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kFaultNames[kFaultCount] = {
    "none", "slow", "silent", "reset", "garbage", "broken", "huge", "flapping", "deadboard"};

// Files besides the listening sockets: epoll, stdio, the action log, the
// spare, the stop pipe, and room for a few hundred exchanges at once.
constexpr uint64_t kFilesBesidesListeners = 512;

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

}  // namespace

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
  if (text == "default") return DefaultModels();
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view key = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const ModelSpec* model = FindModel(key);
    if (!model) {
      return Status::InvalidArgument(fmt::format(
          "--models: unknown model '{}' (s9, s17pro, s19pro, s19jpro, l3plus, s21, ks7, z15, "
          "avalon1246, avalonq, m31s, m60s, bos-s19xp, luxos-s19, epic-s19xp, bitaxe-supra, "
          "vnish-s21pro, default or all)",
          key));
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
  std::vector<int> machines = options.machines;
  if (machines.empty()) {
    for (int i = 0; i < options.count; ++i) machines.push_back(i);
  } else if (std::ssize(machines) != options.count) {
    return Status::InvalidArgument(fmt::format(
        "--machines names {} machines for --count {}: one per miner", machines.size(),
        options.count));
  } else {
    std::vector<int> sorted = machines;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.front() < 0 || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return Status::InvalidArgument("--machines: each a distinct number from 0");
    }
  }
  std::vector<ModelId> models = options.models;
  if (models.empty()) models = DefaultModels();

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
    const int machine = machines[i];
    p.spec.model = models[static_cast<size_t>(machine) % models.size()];
    if (ApiOnWebPortOnly(p.spec.model)) {
      // AxeOS: its API is its web server's, and nothing listens on the API port.
      p.port = options.http_port != 0 ? options.http_port : kAxeOsPort;
      p.http_port = 0;
    } else if (HasHttpApi(p.spec.model)) {
      p.http_port = 0;  // ePIC: its HTTP API on the API port, no stock firmware CGI
    }
    p.spec.index = machine;
    p.spec.ip = p.ip;
    p.spec.seed = options.seed;
    p.spec.deny_privileged = deny[i];
    p.spec.restart_reply = options.restart_reply;
    p.spec.dead_board = p.fault == Fault::kDeadBoard;
    p.spec.wake_idle_s = options.wake_idle_s;
    p.spec.wake_ramp_s = options.wake_ramp_s;
    p.spec.power_ramp_s = options.power_ramp_s;
    p.spec.halt_s = options.halt_s;
    // Units have been up between an hour and a month.
    uint64_t state = options.seed * 0x100000001B3ULL + static_cast<uint64_t>(machine);
    p.spec.uptime_s = 3600 + static_cast<double>(SplitMix64(state) % (30 * 86400));
  }
  return plans;
}

std::string ManifestLine(const MinerPlan& plan) {
  const ModelSpec& model = GetModel(plan.spec.model);
  const FakeMiner probe(plan.spec, 0);
  nlohmann::ordered_json line;  // keys in the documented order
  line["ip"] = plan.ip_text;
  line["port"] = plan.port;
  if (plan.http_port != 0) line["http_port"] = plan.http_port;
  if (HasWhatsminerV3(plan.spec.model)) line["v3_port"] = kWhatsminerV3Port;
  line["model"] = model.name;
  // The worker the firmware reports: ePIC's carries the address suffix.
  line["worker"] = EpicFactsOf(plan.spec.model) != nullptr ? EpicWorker(probe.worker(), plan.ip)
                                                           : std::string(probe.worker());
  line["mac"] = probe.mac();
  line["fault"] = ToString(plan.fault);
  // An integer, as before: "13500000000000", not nlohmann's "13500000000000.0".
  line["hashrate_nominal"] = std::llround(model.hashrate_nominal);
  line["boards"] = model.boards;
  line["deny_privileged"] = plan.spec.deny_privileged;
  line["dead_board"] = probe.dead_chain() >= 0 ? nlohmann::ordered_json(probe.dead_chain())
                                               : nlohmann::ordered_json(nullptr);
  return line.dump();
}

uint64_t FilesNeeded(const FarmOptions& options) {
  // A Whatsminer with API v3 listens on its port too.
  const bool v3 = options.models.empty() ||
                  std::any_of(options.models.begin(), options.models.end(), HasWhatsminerV3);
  // So does a Braiins OS miner's public API (gRPC), unless it is off.
  const bool bos = options.bos_grpc_port != 0 &&
                   (options.models.empty() ||
                    std::any_of(options.models.begin(), options.models.end(),
                                [](ModelId id) { return BraiinsFactsOf(id) != nullptr; }));
  const uint64_t listeners_per_miner =
      (options.http_port != 0 ? 2 : 1) + (v3 ? 1 : 0) + (bos ? 1 : 0);
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

}  // namespace asicmon::fakefarm
