#include "vnish_web.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <cmath>
#include <optional>
#include <string>

#include "asicmon/log.h"
#include "vnish_models.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kRoot = "/api/v1/";
constexpr std::string_view kJson = "application/json";
constexpr size_t kPoolSlots = 3;  // GET /settings's miner.pools

void Json(fmt::memory_buffer& out, int status, const nlohmann::ordered_json& body) {
  AppendHttpResponse(out, status, kJson, body.dump());
}

// 200 with no body: what the documents give mining stop/start/restart.
void Empty(fmt::memory_buffer& out) { AppendHttpResponse(out, 200, kJson, ""); }

std::string_view Shown(std::string_view url) {
  constexpr std::string_view kScheme = "stratum+tcp://";
  if (url.starts_with(kScheme)) url.remove_prefix(kScheme.size());
  return url;
}

bool Authorized(const HttpRequest& request, const FakeMiner& miner) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view value = request.Header("Authorization").value_or("");
  return value.starts_with(kBearer) && miner.VnishTokenValid(value.substr(kBearer.size()));
}

void Unlock(const HttpRequest& request, FakeMiner& miner, double now, fmt::memory_buffer& out,
            std::vector<PrivilegedAction>& actions) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  const auto pw = body.is_object() ? body.find("pw") : body.end();
  if (pw == body.end() || !pw->is_string()) {
    AppendHttpError(out, 400);
    return;
  }
  // Locked after wrong passwords: refused whatever the password (429).
  if (const double locked = miner.VnishUnlockLockedFor(now); locked > 0) {
    actions.push_back({"unlock", "", ActionResult::kDenied});
    Json(out, 429, {{"unlock_timeout", static_cast<int64_t>(std::ceil(locked))}});
    return;
  }
  if (pw->get<std::string>() != kVnishPassword) {
    actions.push_back({"unlock", "", ActionResult::kDenied});
    miner.VnishUnlockFailed(now);
    Json(out, 403, {{"unlock_timeout", nullptr}});
    return;
  }
  Json(out, 200, {{"token", miner.VnishUnlock()}});
}

void Status(const HttpRequest& request, FakeMiner& miner, double now, fmt::memory_buffer& out) {
  nlohmann::ordered_json status;
  const std::string_view state = miner.VnishState(now);
  status["miner_state"] = state;
  // The documents: "For now implemented for `mining` state only".
  status["miner_state_time"] =
      state == "mining" ? static_cast<int64_t>(now - miner.started_at()) : 0;
  status["reboot_required"] = false;
  status["restart_required"] = false;
  status["find_miner"] = miner.blinking();
  status["unlocked"] = Authorized(request, miner);
  Json(out, 200, status);
}

void GetSettings(FakeMiner& miner, std::string_view address, fmt::memory_buffer& out) {
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (const PoolConfig& p : miner.PoolsByPriority()) {
    if (pools.size() == kPoolSlots) break;
    pools.push_back({{"url", Shown(p.url)}, {"user", p.user}, {"pass", p.pass}});
  }
  while (pools.size() < kPoolSlots) pools.push_back({{"url", ""}, {"user", ""}, {"pass", ""}});
  nlohmann::ordered_json settings;
  nlohmann::ordered_json& m = settings["miner"];
  m["cooling"] = {{"mode", {{"name", "auto"}, {"param", 65}}},
                  {"fan_min_count", 4},
                  {"fan_min_duty", 10},
                  {"fan_max_duty", 100}};
  m["overclock"] = {{"modded_psu", false},
                    {"preset", miner.VnishPresetName()},
                    {"globals", {{"volt", 1270}, {"freq", 555}}}};
  m["pools"] = std::move(pools);
  settings["network"] = {
      {"hostname", miner.hostname()}, {"dhcp", true},  {"ipaddress", address},
      {"netmask", "255.0.0.0"},       {"gateway", ""}, {"dnsservers", nlohmann::json::array()}};
  settings["password"] = nullptr;
  settings["layout"] = nullptr;
  Json(out, 200, settings);
}

void Presets(const FakeMiner& miner, fmt::memory_buffer& out) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  list.push_back({{"name", "disabled"},
                  {"pretty", "Disabled"},
                  {"status", "untuned"},
                  {"modded_psu_required", false}});
  if (const VnishFacts* v = VnishFactsOf(miner.spec().model)) {
    for (const VnishPreset& p : v->presets) {
      list.push_back({{"name", std::to_string(p.watts)},
                      {"pretty", fmt::format("{} watt ~ {} TH", p.watts, p.th)},
                      {"status", "untuned"},
                      {"modded_psu_required", false}});
    }
  }
  Json(out, 200, list);
}

// The pools of a POST /settings body, nullopt when it has none; `invalid`
// says why they cannot be used.
std::optional<std::vector<PoolConfig>> PostedPools(const nlohmann::json& miner_conf,
                                                   std::string& invalid) {
  const auto it = miner_conf.find("pools");
  if (it == miner_conf.end()) return std::nullopt;
  std::vector<PoolConfig> pools;
  if (!it->is_array()) {
    invalid = "pools is not a list";
    return pools;
  }
  for (size_t slot = 0; slot < std::min(it->size(), kPoolSlots); ++slot) {
    const nlohmann::json& p = (*it)[slot];
    auto text = [&](const char* key) {
      const auto field = p.is_object() ? p.find(key) : p.end();
      return field != p.end() && field->is_string() ? field->get<std::string>() : std::string();
    };
    PoolConfig pool{text("url"), text("user"), text("pass")};
    if (pool.url.empty()) continue;
    // Vnish keeps host:port; with or without the scheme it is a stratum URL.
    if (invalid.empty() && !IsStratumUrl("stratum+tcp://" + std::string(Shown(pool.url)))) {
      invalid = fmt::format("pool {} url '{}' is not host:port", slot + 1, SafeForLog(pool.url));
    }
    pools.push_back(std::move(pool));
  }
  if (invalid.empty() && pools.empty()) invalid = "no pool has a url";
  return pools;
}

void PostSettings(const HttpRequest& request, FakeMiner& miner, double now, fmt::memory_buffer& out,
                  std::vector<PrivilegedAction>& actions) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    AppendHttpError(out, 400);
    return;
  }
  const auto conf = body.find("miner");
  if (conf != body.end() && conf->is_object()) {
    std::string invalid;
    if (const auto pools = PostedPools(*conf, invalid)) {
      std::string joined;
      for (const PoolConfig& p : *pools) {
        fmt::format_to(std::back_inserter(joined), "{}{},{},{}", joined.empty() ? "" : ";", p.url,
                       p.user, p.pass);
      }
      if (invalid.empty()) miner.Reconfigure(*pools, now);
      if (!invalid.empty()) spdlog::warn("vnish settings refused: {}", invalid);
      actions.push_back({"settings", "pools " + joined,
                         invalid.empty() ? ActionResult::kOk : ActionResult::kError});
    }
    const auto overclock = conf->find("overclock");
    if (overclock != conf->end() && overclock->is_object() && overclock->contains("preset")) {
      const nlohmann::json& preset = (*overclock)["preset"];
      const std::string name = preset.is_string() ? preset.get<std::string>() : preset.dump();
      const bool taken = preset.is_string() && miner.VnishSetPreset(name, now);
      actions.push_back(
          {"settings", "preset " + name, taken ? ActionResult::kOk : ActionResult::kError});
    }
  }
  Json(out, 200, {{"restart_required", false}, {"reboot_required", false}});
}

}  // namespace

WebEffect HandleVnishWebRequest(const HttpRequest& request, FakeMiner& miner,
                                std::string_view address, double now, fmt::memory_buffer& out,
                                std::vector<PrivilegedAction>& actions) {
  if (!request.path.starts_with(kRoot)) {
    AppendHttpError(out, 404);
    return WebEffect::kNone;
  }
  const std::string_view route = request.path.substr(kRoot.size());
  std::string_view allowed;
  if (route == "status" || route == "autotune/presets") {
    allowed = "GET";
  } else if (route == "unlock" || route == "mining/stop" || route == "mining/start" ||
             route == "mining/restart" || route == "system/reboot" || route == "find-miner") {
    allowed = "POST";
  } else if (route == "settings") {
    allowed = request.method == "POST" ? "POST" : "GET";
  } else {
    AppendHttpError(out, 404);
    return WebEffect::kNone;
  }
  if (request.method != allowed) {
    AppendHttpError(out, 405,
                    fmt::format("Allow: {}\r\n", route == "settings" ? "GET, POST" : allowed));
    return WebEffect::kNone;
  }
  if (route == "unlock") {
    Unlock(request, miner, now, out, actions);
    return WebEffect::kNone;
  }
  if (route == "status") {
    Status(request, miner, now, out);
    return WebEffect::kNone;
  }
  if (!Authorized(request, miner)) {
    AppendHttpResponse(out, 401, kJson, "");
    return WebEffect::kNone;
  }
  if (route == "autotune/presets") {
    Presets(miner, out);
  } else if (route == "settings" && request.method == "GET") {
    GetSettings(miner, address, out);
  } else if (route == "settings") {
    PostSettings(request, miner, now, out, actions);
  } else if (route == "find-miner") {
    miner.SetBlinking(!miner.blinking());
    actions.push_back({"find-miner", miner.blinking() ? "on" : "off", ActionResult::kOk});
    Json(out, 200, {{"on", miner.blinking()}});
  } else if (route == "system/reboot") {
    actions.push_back({"system/reboot", "", ActionResult::kOk});
    Json(out, 200, {{"after", 3}});
    return WebEffect::kReboot;
  } else {
    actions.push_back({std::string(route), "", ActionResult::kOk});
    Empty(out);
    if (route == "mining/restart") return WebEffect::kRestart;
    if (route == "mining/stop") miner.VnishStop(now);
    if (route == "mining/start") miner.VnishStart(now);
  }
  return WebEffect::kNone;
}

}  // namespace asicmon::fakefarm
