// Stock Bitmain firmware: the cgminer API where it allows privileged
// commands (restart, addpool/switchpool/removepool), else the web UI's CGI
// scripts behind Digest auth (reboot, pools, fault light, work mode).
//
// Work modes ("miner-mode" written, "bitmain-work-mode" read back): 0 normal,
// 1 sleep, 3 low power, as pyasic writes them (UpstreamData/pyasic,
// pyasic/config/mining/__init__.py, MiningModeNormal/Sleep/LPM.as_am_modern).
// pyasic maps "high" to 0 as well: no public source gives the high
// performance mode a number of its own, so asicmon offers none.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

#include "asicmon/web_client.h"
#include "cgminer_api.h"
#include "drivers.h"

namespace asicmon::driver {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kConfPath = "/cgi-bin/get_miner_conf.cgi";
constexpr std::string_view kSetConfPath = "/cgi-bin/set_miner_conf.cgi";

// The models whose stock firmware has a low power work mode: the S21 family
// and the S19k Pro (Bitmain's product pages name their "low power" /
// "efficiency" mode). Other models keep normal and sleep.
bool HasLowPowerMode(const std::string& model) {
  constexpr std::array<std::string_view, 4> kPrefixes = {"Antminer S21", "Antminer T21",
                                                         "Antminer S19k Pro", "Antminer S23"};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](std::string_view p) { return model.starts_with(p); });
}

WebRequest Cgi(const Context& ctx, std::string_view path, std::string body = {},
               std::string_view content_type = {}) {
  WebRequest r;
  r.method = body.empty() ? "GET" : "POST";
  r.path = std::string(path);
  r.write = !body.empty();
  r.body = std::move(body);
  r.content_type = std::string(content_type);
  r.auth = WebAuth::kDigest;
  r.user = ctx.credentials.user;
  r.secret = ctx.credentials.password;
  return r;
}

std::string Step(const WebRequest& r) { return r.method + " " + r.path; }

// A field of the miner's JSON when it has the expected type, else `fallback`:
// what a miner sends is never trusted to be well-typed.
std::string StringOr(const nlohmann::json& object, const char* key, std::string fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return fallback;
}

// The miner's whole web config (get_miner_conf.cgi), or why there is none.
std::variant<nlohmann::json, Outcome> ReadMinerConf(const Context& ctx) {
  const WebRequest request = Cgi(ctx, kConfPath);
  const WebReply conf = WebCall(ctx.options, ctx.ip, request);
  if (!conf.ok()) return WebFailed(Step(request), conf);
  nlohmann::json current = nlohmann::json::parse(conf.body, nullptr, false);
  if (!current.is_object()) {
    return Outcome::Fail(Failure::kBadReply, Step(request), "not a JSON object");
  }
  return current;
}

// Writes the X19-style JSON config with `miner-mode`, carrying what it does
// not change: the form replaces the whole config.
Outcome WriteWorkMode(const Context& ctx, int miner_mode) {
  auto read = ReadMinerConf(ctx);
  if (auto* failed = std::get_if<Outcome>(&read)) return *failed;
  const nlohmann::json& current = std::get<nlohmann::json>(read);
  if (!current.contains("bitmain-work-mode")) {
    return Outcome::Fail(Failure::kUnsupported, std::string("GET ") + std::string(kConfPath),
                         "its configuration has no bitmain-work-mode (stock S9 and L3+ firmware "
                         "cannot stop hashing without stopping the miner)");
  }
  auto carried = [&](const char* key, nlohmann::json fallback) {
    const auto it = current.find(key);
    return it != current.end() ? *it : fallback;
  };
  nlohmann::json form = {{"bitmain-fan-ctrl", carried("bitmain-fan-ctrl", false)},
                         {"bitmain-fan-pwm", carried("bitmain-fan-pwm", "100")},
                         {"freq-level", carried("bitmain-freq-level", "100")},
                         {"miner-mode", miner_mode}};
  if (auto pools = current.find("pools"); pools != current.end()) form["pools"] = *pools;
  const WebRequest set = Cgi(ctx, kSetConfPath, form.dump(), kJson);
  const WebReply reply = WebCall(ctx.options, ctx.ip, set);
  if (!reply.ok()) return WebFailed(Step(set), reply);
  return Outcome::Done("set_miner_conf.cgi miner-mode");
}

// 0 normal, 1 sleep, 3 low power (see the file comment).
constexpr int kModeNormal = 0;
constexpr int kModeSleep = 1;
constexpr int kModeLow = 3;

class Antminer final : public MinerDriver {
 public:
  std::string_view family() const override { return "antminer"; }
  Credentials StockCredentials() const override { return {"root", "root"}; }

  Capabilities Describe(const Record& record) const override {
    Capabilities caps;
    caps.power_modes = {PowerMode::kNormal};
    if (HasLowPowerMode(record.model)) caps.power_modes.push_back(PowerMode::kLow);
    caps.unsupported[Action::kPowerLimit] =
        "stock Bitmain firmware has no power limit; set a power mode instead";
    return caps;
  }

  Outcome Restart(const Context& ctx) const override { return RestartByApi(ctx); }

  Outcome Reboot(const Context& ctx) const override {
    const WebRequest request = Cgi(ctx, "/cgi-bin/reboot.cgi");
    const WebReply reply = WebCall(ctx.options, ctx.ip, request);
    if (!reply.ok()) return WebFailed(Step(request), reply);
    return Outcome::Done("reboot.cgi");
  }

  // Through the API when it allows privileged commands and one pool is
  // asked; otherwise the web config, whose three pool slots give priority.
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    if (pools.size() == 1) {
      Outcome by_api = SetPoolsByApi(ctx, family(), pools);
      if (by_api.failure != Failure::kConflict) return by_api;
    }
    return SetPoolsByWeb(ctx, pools);
  }

  // X19 firmware reports the light's state; older firmware only has the page's actions.
  Outcome Locate(const Context& ctx, bool on) const override {
    const WebRequest status = Cgi(ctx, "/cgi-bin/get_blink_status.cgi");
    const WebReply state = WebCall(ctx.options, ctx.ip, status);
    if (state.ok()) {
      const WebRequest set = Cgi(ctx, "/cgi-bin/blink.cgi", nlohmann::json{{"blink", on}}.dump(),
                                 kJson);
      const WebReply reply = WebCall(ctx.options, ctx.ip, set);
      if (!reply.ok()) return WebFailed(Step(set), reply);
      return Outcome::Done("blink.cgi json");
    }
    if (!state.answered() || state.http_status != 404) return WebFailed(Step(status), state);
    const WebRequest set =
        Cgi(ctx, "/cgi-bin/blink.cgi", on ? "action=startBlink" : "action=stopBlink");
    const WebReply reply = WebCall(ctx.options, ctx.ip, set);
    if (reply.answered() && reply.http_status == 404) {
      return Outcome::Fail(Failure::kUnsupported, Step(set),
                           "this miner's firmware has neither get_blink_status.cgi nor blink.cgi; "
                           "find it by its address instead");
    }
    if (!reply.ok()) return WebFailed(Step(set), reply);
    return Outcome::Done("blink.cgi form");
  }

  Outcome Sleep(const Context& ctx, bool sleep) const override {
    return WriteWorkMode(ctx, sleep ? kModeSleep : kModeNormal);
  }

  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    const Capabilities caps = Describe(ctx.record);
    if (std::find(caps.power_modes.begin(), caps.power_modes.end(), mode) ==
        caps.power_modes.end()) {
      return Outcome::Fail(Failure::kUnsupported, "power_mode",
                           fmt::format("{} has no {} power mode", ctx.record.model,
                                       ToString(mode)));
    }
    return WriteWorkMode(ctx, mode == PowerMode::kLow ? kModeLow : kModeNormal);
  }

  Result<Settings> ReadSettings(const Context& ctx) const override {
    Settings settings;
    auto read = ReadMinerConf(ctx);
    if (auto* failed = std::get_if<Outcome>(&read)) {
      // Firmware without a web config (or with it off) still has a record.
      if (failed->failure == Failure::kRefused) return settings;
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    const nlohmann::json& conf = std::get<nlohmann::json>(read);
    const std::string mode = StringOr(conf, "bitmain-work-mode", "");
    if (mode == std::to_string(kModeSleep)) {
      settings.sleeping = true;
    } else if (mode == std::to_string(kModeNormal)) {
      settings.sleeping = false;
      settings.power_mode = PowerMode::kNormal;
    } else if (mode == std::to_string(kModeLow)) {
      settings.sleeping = false;
      settings.power_mode = PowerMode::kLow;
    }
    const WebReply blink = WebCall(ctx.options, ctx.ip, Cgi(ctx, "/cgi-bin/get_blink_status.cgi"));
    if (blink.ok()) {
      const nlohmann::json state = nlohmann::json::parse(blink.body, nullptr, false);
      if (state.is_object() && state.contains("blink") && state["blink"].is_boolean()) {
        settings.locate_on = state["blink"].get<bool>();
      }
    } else if (blink.answered() && blink.http_status == 404) {
      // Older firmware: the page's own query says whether it blinks.
      const WebReply page = WebCall(ctx.options, ctx.ip,
                                    Cgi(ctx, "/cgi-bin/blink.cgi", "action=onPageLoaded"));
      const nlohmann::json state = nlohmann::json::parse(page.body, nullptr, false);
      if (page.ok() && state.is_object() && state.contains("isBlinking") &&
          state["isBlinking"].is_boolean()) {
        settings.locate_on = state["isBlinking"].get<bool>();
      }
    }
    return settings;
  }

 private:
  Outcome SetPoolsByWeb(const Context& ctx, std::span<const PoolSetting> pools) const {
    auto read = ReadMinerConf(ctx);
    if (auto* failed = std::get_if<Outcome>(&read)) return *failed;
    const nlohmann::json& current = std::get<nlohmann::json>(read);
    std::string form;
    auto field = [&](const std::string& name, const std::string& value) {
      if (!form.empty()) form += '&';
      form += name + "=" + FormEscape(value);
    };
    for (size_t i = 0; i < kMaxPools; ++i) {
      const std::string slot = "_ant_pool" + std::to_string(i + 1);
      const PoolSetting empty;
      const PoolSetting& p = i < pools.size() ? pools[i] : empty;
      field(slot + "url", p.url);
      field(slot + "user", p.user);
      field(slot + "pw", p.password);
    }
    // The form replaces the whole config: carry the settings we do not change.
    const std::pair<const char*, const char*> kept[] = {
        {"bitmain-freq", "_ant_freq"},
        {"bitmain-voltage", "_ant_voltage"},
        {"bitmain-fan-ctrl", "_ant_fan_customize_switch"},
        {"bitmain-fan-pwm", "_ant_fan_customize_value"}};
    for (const auto& [json_key, form_key] : kept) {
      const auto it = current.find(json_key);
      if (it == current.end()) continue;
      field(form_key, it->is_string() ? it->get<std::string>() : it->dump());
    }
    const WebRequest set = Cgi(ctx, kSetConfPath, form);
    const WebReply reply = WebCall(ctx.options, ctx.ip, set);
    if (!reply.ok()) return WebFailed(Step(set), reply);
    return Outcome::Done("web");
  }
};

}  // namespace

const MinerDriver& AntminerDriver() {
  static const Antminer driver;
  return driver;
}

}  // namespace asicmon::driver
