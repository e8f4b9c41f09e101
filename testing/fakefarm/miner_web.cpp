#include "miner_web.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "asicmon/log.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kRebootPath = "/cgi-bin/reboot.cgi";
constexpr std::string_view kGetConfPath = "/cgi-bin/get_miner_conf.cgi";
constexpr std::string_view kSetConfPath = "/cgi-bin/set_miner_conf.cgi";
constexpr std::string_view kBlinkPath = "/cgi-bin/blink.cgi";
constexpr std::string_view kBlinkStatusPath = "/cgi-bin/get_blink_status.cgi";
constexpr std::string_view kSystemInfoPath = "/cgi-bin/get_system_info.cgi";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded";
constexpr std::string_view kJsonType = "application/json";
// The X19 firmware's answer to a configuration it took.
constexpr std::string_view kX19ConfOk = R"({"stats":"success","code":"M000","msg":"OK!"})";
// The firmware's forms have three pool slots.
constexpr size_t kPoolSlots = 3;

constexpr std::string_view kRebootPage =
    "<html><head><title>Reboot</title></head><body>Rebooting, please wait...</body></html>\n";

// The value of the last field called `name`, as the firmware's CGI reads a form.
std::string_view FormValue(const std::vector<std::pair<std::string, std::string>>& form,
                           std::string_view name) {
  for (auto it = form.rbegin(); it != form.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return {};
}

std::string JoinPools(const std::vector<PoolConfig>& pools) {
  std::string joined;
  for (const PoolConfig& p : pools) {
    fmt::format_to(std::back_inserter(joined), "{}{},{},{}", joined.empty() ? "" : ";", p.url,
                   p.user, p.pass);
  }
  return joined;
}

void GetMinerConf(const FakeMiner& miner, fmt::memory_buffer& out) {
  // Keys in stock S9 firmware's order, hence ordered_json.
  nlohmann::ordered_json conf;
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (const PoolConfig& p : miner.PoolsByPriority()) {
    if (pools.size() == kPoolSlots) break;
    pools.push_back({{"url", p.url}, {"user", p.user}, {"pass", p.pass}});
  }
  conf["pools"] = std::move(pools);
  conf["api-listen"] = true;
  conf["api-network"] = true;
  conf["api-groups"] = "A:stats:pools:devs:summary:version";
  conf["api-allow"] = "A:0/0,W:*";
  conf["bitmain-use-vil"] = true;
  conf["bitmain-freq"] = "550";
  conf["bitmain-voltage"] = "0706";
  conf["bitmain-fan-ctrl"] = false;
  conf["bitmain-fan-pwm"] = "100";
  // antminer-s19-get_miner_conf.cgi.json: "1" asleep, "0" hashing; firmware
  // without sleep has no such key.
  // (and "3" in low power mode, as pyasic reads it back: MiningModeConfig.from_am_modern).
  if (CanSleep(miner.spec().model)) {
    conf["bitmain-work-mode"] = miner.sleeping() ? "1" : std::to_string(miner.work_mode());
  }
  AppendHttpResponse(out, 200, "application/json", conf.dump());
}

// antminer-s21-2024-get_system_info.cgi.json's keys in its order; the
// filesystem version is the firmware's build date, as there.
void GetSystemInfo(const FakeMiner& miner, std::string_view address, fmt::memory_buffer& out) {
  nlohmann::ordered_json info;
  info["minertype"] = miner.model().name;
  info["nettype"] = "DHCP";
  info["netdevice"] = "eth0";
  info["macaddr"] = miner.mac();
  info["hostname"] = miner.hostname();
  info["ipaddress"] = address;
  info["netmask"] = "255.0.0.0";  // the fake farm's 127.0.0.0/8
  info["gateway"] = "";
  info["dnsservers"] = "";
  info["system_mode"] = "GNU/Linux";
  info["system_kernel_version"] = "Linux 4.9.113 #1 SMP PREEMPT Thu Jul 11 17:01:13 CST 2024";
  info["system_filesystem_version"] = miner.model().firmware.compile_time;
  info["firmware_type"] = "Release";
  info["serinum"] = miner.serial();
  AppendHttpResponse(out, 200, "application/json", info.dump());
}

std::string_view MediaType(const HttpRequest& request) {
  const std::string_view type = request.Header("Content-Type").value_or("");
  return type.substr(0, type.find(';'));
}

// The X19 web UI posts JSON; some clients send it without the content type.
bool IsJsonBody(const HttpRequest& request) {
  const size_t first = request.body.find_first_not_of(" \t\r\n");
  return MediaType(request) == kJsonType ||
         (first != std::string_view::npos && request.body[first] == '{');
}

// Applies a configuration the firmware took: `pools` (when given) replace the
// pools, the mining software restarts, and `miner_mode` (when given) puts the
// miner to sleep (1) or wakes it (0). Logs "set_miner_conf" and, with a mode,
// "sleep" or "wake". True when it was applied.
bool ApplyMinerConf(const std::optional<std::vector<PoolConfig>>& pools,
                    std::optional<int> miner_mode, const std::string& invalid, FakeMiner& miner,
                    double now, std::vector<PrivilegedAction>& actions) {
  // Stock firmware's CGI writes whatever it is given and answers the same;
  // here a bad configuration is not applied, so the miner keeps mining, and
  // the action log says "error".
  const std::vector<PoolConfig> applied = pools ? *pools : miner.PoolsByPriority();
  if (!invalid.empty()) {
    spdlog::warn("set_miner_conf.cgi refused: {}", invalid);
    actions.push_back({"set_miner_conf", JoinPools(applied), ActionResult::kError});
    return false;
  }
  miner.Reconfigure(applied, now);
  actions.push_back({"set_miner_conf", JoinPools(applied), ActionResult::kOk});
  if (miner_mode) {
    miner.SetSleeping(*miner_mode == 1, now);
    if (*miner_mode != 1) miner.SetWorkMode(*miner_mode, now);
    actions.push_back({*miner_mode == 1   ? "sleep"
                       : *miner_mode == 3 ? "low_power"
                                          : "wake",
                       "", ActionResult::kOk});
  }
  return true;
}

// Why `pool` cannot be used (slot counts from 1), empty when it can.
std::string CheckPool(const PoolConfig& pool, size_t slot) {
  if (IsStratumUrl(pool.url)) return {};
  return fmt::format("pool {} url '{}' is not stratum+tcp://host:port", slot, SafeForLog(pool.url));
}

// The X19 form: {"bitmain-fan-ctrl":false,...,"miner-mode":1,"pools":[{"url":..,
// "user":..,"pass":..},...]}. Keys other than pools and miner-mode are taken
// and ignored, as the fake has no fan or frequency settings. miner-mode: 0
// normal, 1 sleep, 3 low power (pyasic MiningModeNormal/Sleep/LPM
// .as_am_modern) on the models that have it. No capture shows how the
// firmware of a model without it takes a 3: the fake applies nothing and
// answers as it answers every write (the CGI's answer does not tell).
WebEffect SetMinerConfJson(const HttpRequest& request, FakeMiner& miner, double now,
                           fmt::memory_buffer& out, std::vector<PrivilegedAction>& actions) {
  const nlohmann::json conf = nlohmann::json::parse(request.body, nullptr, false);
  if (conf.is_discarded() || !conf.is_object()) {
    AppendHttpError(out, 400);
    return WebEffect::kNone;
  }
  std::string invalid;
  std::optional<std::vector<PoolConfig>> pools;
  if (const auto it = conf.find("pools"); it != conf.end()) {
    pools.emplace();
    if (!it->is_array()) invalid = "pools is not a list";
    for (size_t slot = 1; invalid.empty() && slot <= std::min<size_t>(it->size(), kPoolSlots);
         ++slot) {
      const nlohmann::json& p = (*it)[slot - 1];
      auto text = [&](const char* key) {
        const auto field = p.is_object() ? p.find(key) : p.end();
        return field != p.end() && field->is_string() ? field->get<std::string>() : std::string();
      };
      PoolConfig pool{text("url"), text("user"), text("pass")};
      if (pool.url.empty()) continue;
      invalid = CheckPool(pool, slot);
      pools->push_back(std::move(pool));
    }
    if (invalid.empty() && pools->empty()) invalid = "no pool has a url";
  }
  std::optional<int> miner_mode;
  if (const auto it = conf.find("miner-mode"); it != conf.end()) {
    // The web UI sends a number; other clients a string. 3, low power, only
    // where the model has it (its web UI offers no such mode otherwise).
    const bool low = miner.model().firmware.low_power_mode;
    if (*it == 0 || *it == "0") {
      miner_mode = 0;
    } else if (*it == 1 || *it == "1") {
      miner_mode = 1;
    } else if (low && (*it == 3 || *it == "3")) {
      miner_mode = 3;
    } else if (invalid.empty()) {
      invalid = fmt::format("miner-mode {} is not one of {}", SafeForLog(it->dump()),
                            low ? "0, 1, 3" : "0, 1");
    }
  }
  const bool applied = ApplyMinerConf(pools, miner_mode, invalid, miner, now, actions);
  AppendHttpResponse(out, 200, "application/json", kX19ConfOk);
  return applied ? WebEffect::kRestart : WebEffect::kNone;
}

// The older firmware's form (S9 and every model): _ant_pool{1,2,3}{url,user,pw}.
WebEffect SetMinerConf(const HttpRequest& request, FakeMiner& miner, double now,
                       fmt::memory_buffer& out, std::vector<PrivilegedAction>& actions) {
  if (CanSleep(miner.spec().model) && IsJsonBody(request)) {
    return SetMinerConfJson(request, miner, now, out, actions);
  }
  const auto form = ParseForm(request.body);
  if (MediaType(request) != kFormType || !form) {
    AppendHttpError(out, 400);
    return WebEffect::kNone;
  }
  std::vector<PoolConfig> pools;
  std::string invalid;
  for (size_t slot = 1; slot <= kPoolSlots; ++slot) {
    PoolConfig pool{std::string(FormValue(*form, fmt::format("_ant_pool{}url", slot))),
                    std::string(FormValue(*form, fmt::format("_ant_pool{}user", slot))),
                    std::string(FormValue(*form, fmt::format("_ant_pool{}pw", slot)))};
    if (pool.url.empty()) continue;
    if (invalid.empty()) invalid = CheckPool(pool, slot);
    pools.push_back(std::move(pool));
  }
  if (pools.empty()) invalid = "no pool has a url";
  const bool applied = ApplyMinerConf(pools, std::nullopt, invalid, miner, now, actions);
  AppendHttpResponse(out, 200, "text/html", "ok");
  return applied ? WebEffect::kRestart : WebEffect::kNone;
}

// blink.cgi: the X19 JSON form {"blink":bool}, answered {"code":"B000"} (on)
// or {"code":"B100"} (off); the older form action=startBlink|stopBlink|
// onPageLoaded, answered {"isBlinking":bool} with the state after it.
void Blink(const HttpRequest& request, FakeMiner& miner, fmt::memory_buffer& out,
           std::vector<PrivilegedAction>& actions) {
  std::optional<bool> turn;
  if (BlinkApiOf(miner.spec().model) == BlinkApi::kJson) {
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    const auto blink = body.is_object() ? body.find("blink") : body.end();
    if (!IsJsonBody(request) || blink == body.end() || !blink->is_boolean()) {
      AppendHttpError(out, 400);
      return;
    }
    turn = blink->get<bool>();
  } else {
    const auto form = ParseForm(request.body);
    const std::string_view action = form ? FormValue(*form, "action") : std::string_view();
    if (MediaType(request) != kFormType ||
        (action != "startBlink" && action != "stopBlink" && action != "onPageLoaded")) {
      AppendHttpError(out, 400);
      return;
    }
    if (action != "onPageLoaded") turn = action == "startBlink";
  }
  if (turn) {
    miner.SetBlinking(*turn);
    actions.push_back({"locate", *turn ? "on" : "off", ActionResult::kOk});
  }
  nlohmann::json answer;
  if (BlinkApiOf(miner.spec().model) == BlinkApi::kJson) {
    answer = {{"code", miner.blinking() ? "B000" : "B100"}};
  } else {
    answer = {{"isBlinking", miner.blinking()}};
  }
  AppendHttpResponse(out, 200, "application/json", answer.dump());
}

}  // namespace

void AppendHttpError(fmt::memory_buffer& out, int status, std::string_view extra_headers) {
  const std::string body =
      fmt::format("<html><head><title>{0} {1}</title></head><body><h1>{0} {1}</h1></body></html>\n",
                  status, ReasonPhrase(status));
  AppendHttpResponse(out, status, "text/html", body, extra_headers);
}

bool IsStratumUrl(std::string_view url) {
  constexpr std::string_view kScheme = "stratum+tcp://";
  if (!url.starts_with(kScheme)) return false;
  url.remove_prefix(kScheme.size());
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = url.substr(0, colon);
  const std::string_view port = url.substr(colon + 1);
  const bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
  });
  int number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  return host_ok && !port.empty() && port.size() <= 5 && ec == std::errc() &&
         end == port.data() + port.size() && number >= 1 && number <= 65535;
}

WebEffect HandleWebRequest(const HttpRequest& request, const DigestAuth& auth, FakeMiner& miner,
                           std::string_view address, double now, fmt::memory_buffer& out,
                           std::vector<PrivilegedAction>& actions) {
  const BlinkApi blink = BlinkApiOf(miner.spec().model);
  std::string_view allowed;
  if (request.path == kRebootPath || request.path == kGetConfPath ||
      request.path == kSystemInfoPath ||
      (request.path == kBlinkStatusPath && blink == BlinkApi::kJson)) {
    allowed = "GET";
  } else if (request.path == kSetConfPath ||
             (request.path == kBlinkPath && blink != BlinkApi::kNone)) {
    allowed = "POST";
  } else {
    AppendHttpError(out, 404);
    return WebEffect::kNone;
  }
  if (request.method != allowed) {
    AppendHttpError(out, 405, fmt::format("Allow: {}\r\n", allowed));
    return WebEffect::kNone;
  }
  const DigestAuth::Verdict verdict =
      auth.Check(request.method, request.target, request.Header("Authorization"));
  if (verdict != DigestAuth::Verdict::kOk) {
    AppendHttpError(out, 401,
                    fmt::format("WWW-Authenticate: {}\r\n",
                                auth.Challenge(verdict == DigestAuth::Verdict::kStale)));
    return WebEffect::kNone;
  }
  if (request.path == kRebootPath) {
    actions.push_back({"reboot", "", ActionResult::kOk});
    AppendHttpResponse(out, 200, "text/html", kRebootPage);
    return WebEffect::kReboot;
  }
  if (request.path == kGetConfPath) {
    GetMinerConf(miner, out);
  } else if (request.path == kSystemInfoPath) {
    GetSystemInfo(miner, address, out);
  } else if (request.path == kBlinkStatusPath) {
    AppendHttpResponse(out, 200, "application/json",
                       nlohmann::json({{"blink", miner.blinking()}}).dump());
  } else if (request.path == kBlinkPath) {
    Blink(request, miner, out, actions);
  } else {
    return SetMinerConf(request, miner, now, out, actions);
  }
  return WebEffect::kNone;
}

}  // namespace asicmon::fakefarm
