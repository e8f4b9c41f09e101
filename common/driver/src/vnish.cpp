// Vnish (AnthillOS) on Antminers: its HTTP API on the web port (vnish_api.h
// has the documents it follows). Each action unlocks with the password for a
// token, then sends its command with "Authorization: Bearer <token>":
//   restart   POST /mining/restart        (pyasic restart_vnish; asic-rs restart)
//   reboot    POST /system/reboot         (both; answers {"after": s})
//   sleep     POST /mining/stop           (pyasic stop_mining; asic-rs pause)
//   wake      POST /mining/start          (pyasic start_mining; asic-rs resume)
//   locate    POST /find-miner            a toggle answering {"on": bool}: read
//             GET /status's find_miner first and send only to change it
//             (pyasic fault_light_on/off toggle; asic-rs sends {"on": on},
//             which the documents do not describe and a toggle ignores)
//   pools     POST /settings {"miner":{"pools":[...]}} (asic-rs set_pools_config)
//   power     POST /settings {"miner":{"overclock":{...,"preset":name}}}
//             (pyasic and asic-rs set_power_limit)
// Sources: UpstreamData/pyasic @ e2b9d357 pyasic/web/vnish.py and
// pyasic/miners/backends/vnish.py; 256foundation/asic-rs @ fdcd1018
// asic-rs-firmwares/vnish/src/backends/v1_2_0/{web.rs,mod.rs}.
//
// Power modes are autotune presets (vnish_api.h PresetFor): normal the stock
// clocks ("disabled"), low the preset of fewest watts, high the preset of
// most watts a stock PSU carries. A preset's watts are the tuner's aim, not a
// cap, and only the listed ones exist: no power limit.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <variant>

#include "asicmon/web_client.h"
#include "drivers.h"
#include "vnish_api.h"

namespace asicmon::driver {
namespace vnish {
namespace {

constexpr std::string_view kJson = "application/json";

nlohmann::json Parse(std::string_view body) { return nlohmann::json::parse(body, nullptr, false); }

std::optional<std::string> StringAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<bool> BoolAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

// The watts a preset's name is ("3160"), 0 when it is not a whole number.
int WattsOf(std::string_view name) {
  int watts = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), watts);
  return ec == std::errc() && end == name.data() + name.size() && watts > 0 ? watts : 0;
}

}  // namespace

bool HasApi(std::string_view firmware) {
  constexpr std::string_view kName = "Vnish ";
  if (!firmware.starts_with(kName)) return false;
  return firmware.substr(kName.size()).starts_with("1.");
}

std::string UnlockBody(std::string_view password) {
  return nlohmann::json{{"pw", password}}.dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> TokenOf(std::string_view body) {
  std::optional<std::string> token = StringAt(Parse(body), "token");
  if (token && token->empty()) return std::nullopt;
  return token;
}

std::string PoolsBody(std::span<const PoolSetting> pools) {
  nlohmann::json slots = nlohmann::json::array();
  for (size_t i = 0; i < kMaxPools; ++i) {
    const PoolSetting empty;
    const PoolSetting& p = i < pools.size() ? pools[i] : empty;
    slots.push_back({{"url", p.url}, {"user", p.user}, {"pass", p.password}});
  }
  return nlohmann::json{{"miner", {{"pools", std::move(slots)}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PresetBody(std::string_view settings_body, std::string_view preset) {
  const nlohmann::json settings = Parse(settings_body);
  if (!settings.is_object() || !settings.contains("miner") || !settings["miner"].is_object()) {
    return {};
  }
  const nlohmann::json& miner = settings["miner"];
  const auto overclock = miner.find("overclock");
  if (overclock == miner.end() || !overclock->is_object()) return {};
  nlohmann::json changed = *overclock;
  changed["preset"] = preset;
  return nlohmann::json{{"miner", {{"overclock", std::move(changed)}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool RestartRequired(std::string_view body) {
  return BoolAt(Parse(body), "restart_required").value_or(false);
}

std::optional<std::vector<Preset>> ParsePresets(std::string_view body) {
  const nlohmann::json list = Parse(body);
  if (!list.is_array()) return std::nullopt;
  std::vector<Preset> presets;
  for (const nlohmann::json& item : list) {
    std::optional<std::string> name = StringAt(item, "name");
    if (!name) continue;
    Preset p;
    p.watts = WattsOf(*name);
    p.name = std::move(*name);
    p.modded_psu = BoolAt(item, "modded_psu_required").value_or(false);
    presets.push_back(std::move(p));
  }
  return presets;
}

std::string PresetFor(PowerMode mode, const std::vector<Preset>& presets) {
  if (mode == PowerMode::kNormal) {
    const bool listed = std::any_of(presets.begin(), presets.end(),
                                    [](const Preset& p) { return p.name == kStockPreset; });
    return listed ? std::string(kStockPreset) : std::string();
  }
  const Preset* best = nullptr;
  for (const Preset& p : presets) {
    if (p.watts <= 0) continue;
    if (mode == PowerMode::kLow && (best == nullptr || p.watts < best->watts)) best = &p;
    if (mode == PowerMode::kHigh && !p.modded_psu && (best == nullptr || p.watts > best->watts)) {
      best = &p;
    }
  }
  return best != nullptr ? best->name : std::string();
}

std::optional<PowerMode> ModeOf(std::string_view preset, const std::vector<Preset>& presets) {
  for (PowerMode mode : {PowerMode::kNormal, PowerMode::kLow, PowerMode::kHigh}) {
    const std::string name = PresetFor(mode, presets);
    if (!name.empty() && name == preset) return mode;
  }
  return std::nullopt;
}

std::optional<std::string> PresetOf(std::string_view settings_body) {
  const nlohmann::json settings = Parse(settings_body);
  if (!settings.is_object()) return std::nullopt;
  const auto miner = settings.find("miner");
  if (miner == settings.end() || !miner->is_object()) return std::nullopt;
  const auto overclock = miner->find("overclock");
  if (overclock == miner->end()) return std::nullopt;
  return StringAt(*overclock, "preset");
}

void ReadStatus(std::string_view status_body, Settings& settings) {
  const nlohmann::json status = Parse(status_body);
  if (const std::optional<std::string> state = StringAt(status, "miner_state")) {
    if (*state == "stopped" || *state == "shutting-down") {
      settings.sleeping = true;
    } else if (*state == "mining" || *state == "auto-tuning" || *state == "initializing" ||
               *state == "starting" || *state == "restarting") {
      settings.sleeping = false;
    }
  }
  settings.locate_on = BoolAt(status, "find_miner");
}

std::optional<bool> FindMinerOn(std::string_view body) { return BoolAt(Parse(body), "on"); }

}  // namespace vnish

namespace {

std::string Path(std::string_view command) { return fmt::format("{}/{}", vnish::kRoot, command); }

// One request of a session: its bearer token, JSON bodies.
WebRequest Api(std::string method, std::string_view command, const std::string& token,
               std::string body = {}) {
  WebRequest r;
  r.method = std::move(method);
  r.path = Path(command);
  r.write = r.method == "POST";
  r.body = std::move(body);
  if (!r.body.empty()) r.content_type = "application/json";
  r.auth = WebAuth::kBearer;
  r.secret = token;
  return r;
}

std::string Step(const WebRequest& r) { return r.method + " " + r.path; }

// The token /unlock gives for the context's password, or why there is none:
// a wrong password is Vnish's 403 (kCredentials, step "unlock").
std::variant<std::string, Outcome> Unlock(const Context& ctx) {
  WebRequest r;
  r.method = "POST";
  r.path = Path("unlock");
  r.body = vnish::UnlockBody(ctx.credentials.password);
  r.content_type = "application/json";
  const WebReply reply = WebCall(ctx.options, ctx.ip, r);
  if (!reply.ok()) {
    Outcome failed = WebFailed("unlock", reply);
    if (reply.answered() && reply.http_status == 403) failed.detail = "HTTP 403: wrong password";
    if (reply.answered() && reply.http_status == 429) {
      failed.detail = "HTTP 429: too many unlock attempts; the miner refuses them for a while";
    }
    return failed;
  }
  std::optional<std::string> token = vnish::TokenOf(reply.body);
  if (!token) return Outcome::Fail(Failure::kBadReply, "unlock", "no token in the answer");
  return std::move(*token);
}

// Sends one request after unlocking; the reply when it was 2xx.
struct Sent {
  Outcome outcome;
  std::string body;
};
Sent Send(const Context& ctx, const WebRequest& request) {
  const WebReply reply = WebCall(ctx.options, ctx.ip, request);
  if (!reply.ok()) return {WebFailed(Step(request), reply), {}};
  return {Outcome::Done(Step(request)), reply.body};
}

class Vnish final : public MinerDriver {
 public:
  std::string_view family() const override { return "vnish"; }
  Credentials StockCredentials() const override { return {"", std::string(vnish::kStockPassword)}; }

  Capabilities Describe(const Record& record) const override {
    Capabilities caps;
    if (!record.firmware.empty() && !vnish::HasApi(record.firmware)) {
      for (Action a : kAllActions) {
        caps.unsupported[a] = fmt::format(
            "{} has no /api/v1 HTTP API (asicmon drives Vnish 1.x's); act on it from its own "
            "web page",
            record.firmware);
      }
      return caps;
    }
    caps.power_modes = {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh};
    caps.unsupported[Action::kPowerLimit] =
        "Vnish sets power only through its autotune presets; set a power mode instead";
    return caps;
  }

  Outcome Restart(const Context& ctx) const override { return Post(ctx, "mining/restart"); }
  Outcome Reboot(const Context& ctx) const override { return Post(ctx, "system/reboot"); }
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    return Post(ctx, sleep ? "mining/stop" : "mining/start");
  }

  Outcome Locate(const Context& ctx, bool on) const override {
    auto unlocked = Unlock(ctx);
    if (auto* failed = std::get_if<Outcome>(&unlocked)) return *failed;
    const std::string& token = std::get<std::string>(unlocked);
    const Sent status = Send(ctx, Api("GET", "status", token));
    if (!status.outcome.ok()) return status.outcome;
    Settings now;
    vnish::ReadStatus(status.body, now);
    if (now.locate_on == on) return Outcome::Done("find-miner (already so)");
    // A toggle: a second press when the first found it the other way
    // (someone pressed it in between); bounded at two.
    for (int press = 0; press < 2; ++press) {
      const WebRequest r = Api("POST", "find-miner", token, nlohmann::json{{"on", on}}.dump());
      const Sent sent = Send(ctx, r);
      if (!sent.outcome.ok()) return sent.outcome;
      const std::optional<bool> lit = vnish::FindMinerOn(sent.body);
      if (!lit || *lit == on) return Outcome::Done(Step(r));
    }
    return Outcome::Fail(Failure::kRefused, Path("find-miner"),
                         "the light did not turn " + std::string(on ? "on" : "off"));
  }

  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    return PostSettings(ctx, vnish::PoolsBody(pools));
  }

  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    auto unlocked = Unlock(ctx);
    if (auto* failed = std::get_if<Outcome>(&unlocked)) return *failed;
    const std::string& token = std::get<std::string>(unlocked);
    const Sent listed = Send(ctx, Api("GET", "autotune/presets", token));
    if (!listed.outcome.ok()) return listed.outcome;
    const auto presets = vnish::ParsePresets(listed.body);
    if (!presets) {
      return Outcome::Fail(Failure::kBadReply, "GET " + Path("autotune/presets"), "not a list");
    }
    const std::string preset = vnish::PresetFor(mode, *presets);
    if (preset.empty()) {
      return Outcome::Fail(
          Failure::kUnsupported, "power_mode",
          fmt::format("{} lists no preset for {}", ctx.record.model, ToString(mode)));
    }
    const Sent current = Send(ctx, Api("GET", "settings", token));
    if (!current.outcome.ok()) return current.outcome;
    std::string body = vnish::PresetBody(current.body, preset);
    if (body.empty()) {
      return Outcome::Fail(Failure::kBadReply, "GET " + Path("settings"),
                           "no miner.overclock in the settings");
    }
    Outcome saved = SaveSettings(ctx, token, std::move(body));
    if (saved.ok()) saved.step = "settings preset " + preset;
    return saved;
  }

  Result<Settings> ReadSettings(const Context& ctx) const override {
    auto unlocked = Unlock(ctx);
    if (auto* failed = std::get_if<Outcome>(&unlocked)) {
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    const std::string& token = std::get<std::string>(unlocked);
    Settings settings;
    const Sent status = Send(ctx, Api("GET", "status", token));
    if (!status.outcome.ok()) {
      return Status::Unavailable(status.outcome.step + ": " + status.outcome.detail);
    }
    vnish::ReadStatus(status.body, settings);
    const Sent current = Send(ctx, Api("GET", "settings", token));
    const Sent listed = Send(ctx, Api("GET", "autotune/presets", token));
    if (current.outcome.ok() && listed.outcome.ok()) {
      const std::optional<std::string> preset = vnish::PresetOf(current.body);
      const auto presets = vnish::ParsePresets(listed.body);
      if (preset && presets) settings.power_mode = vnish::ModeOf(*preset, *presets);
    }
    return settings;
  }

 private:
  // Unlocks, then POSTs `command` with no body.
  Outcome Post(const Context& ctx, std::string_view command) const {
    auto unlocked = Unlock(ctx);
    if (auto* failed = std::get_if<Outcome>(&unlocked)) return *failed;
    const std::string& token = std::get<std::string>(unlocked);
    return Send(ctx, Api("POST", command, token)).outcome;
  }

  Outcome PostSettings(const Context& ctx, std::string body) const {
    auto unlocked = Unlock(ctx);
    if (auto* failed = std::get_if<Outcome>(&unlocked)) return *failed;
    return SaveSettings(ctx, std::get<std::string>(unlocked), std::move(body));
  }

  // POST /settings; when the answer says the change needs the mining
  // software restarted ("Miner restart required to apply config"), restarts it.
  Outcome SaveSettings(const Context& ctx, const std::string& token, std::string body) const {
    const Sent saved = Send(ctx, Api("POST", "settings", token, std::move(body)));
    if (!saved.outcome.ok() || !vnish::RestartRequired(saved.body)) return saved.outcome;
    const Sent restarted = Send(ctx, Api("POST", "mining/restart", token));
    if (!restarted.outcome.ok()) return restarted.outcome;
    return Outcome::Done(saved.outcome.step + ", then POST " + Path("mining/restart"));
  }
};

}  // namespace

const MinerDriver& VnishDriver() {
  static const Vnish driver;
  return driver;
}

}  // namespace asicmon::driver
