// LuxOS (LUXminer) on Antminers: its cgminer-style API on 4028, where every
// command that changes the miner takes a session id as its first parameter
// (docs.luxor.tech/firmware/api/sessions; which commands: LuxorLabs/
// luxos-tooling src/luxos/api.json "logon_required"). Each action opens the
// session (logon), sends its command and closes it (logoff): "create a
// session only when you need it ... then drop the session so the next actor
// can act" (the sessions page). LuxOS allows one session at a time and has no
// password on its API: the session is not a login, so an open session of
// someone else is a conflict (409), and a refused session id names the step.
//
// Commands: curtail "<id>,sleep|wakeup" (/luxminer/curtail), profileset
// "<id>,<profile>" (/luxminer/profileset), ledset "<id>,red,blink|off",
// resetminer "<id>", rebootdevice "<id>" (as UpstreamData/pyasic @ e2b9d357
// pyasic/rpc/luxminer.py and miners/backends/luxminer.py send them: fault
// light, restart, reboot), and addpool / switchpool / removepool, which need
// no session (api.json). Read back from config (luxos-s19kpro-config.json):
// Profile, the profile in use, CurtailMode and RedLed; and the profiles' list
// (luxos-s19kpro-profiles.json: "Profile Name", Watts).
//
// Power modes are profiles. Every LuxOS miner has the built-in "default"
// (its nameplate) with 16 steps under and 8 over it of 25 MHz / 0.1 V
// (docs.luxor.tech/firmware/features); asicmon maps, from the miner's own
// list: normal = "default"; low = the profile below it whose watts are
// nearest 80 % of the default's (about a fifth less power: a meaningful cut
// for curtailment, where one step saves ~4 %); high = the least overclock,
// the profile with the fewest watts above the default (Luxor warns that
// heavier overclocking risks the hardware). LuxOS has no power limit as
// such: a profile's watts are an estimate, not a cap.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cgminer_api.h"
#include "drivers.h"

namespace asicmon::driver {
namespace {

constexpr double kLowShareOfDefault = 0.8;

struct Profile {
  std::string name;
  double watts = 0;
};

// The name each mode maps to in `profiles`, "" when the list has none.
std::string ProfileFor(PowerMode mode, const std::vector<Profile>& profiles) {
  const auto def = std::find_if(profiles.begin(), profiles.end(),
                                [](const Profile& p) { return p.name == "default"; });
  if (def == profiles.end()) return {};
  if (mode == PowerMode::kNormal) return def->name;
  const Profile* best = nullptr;
  for (const Profile& p : profiles) {
    if (mode == PowerMode::kLow && p.watts < def->watts) {
      const double target = def->watts * kLowShareOfDefault;
      if (!best || std::abs(p.watts - target) < std::abs(best->watts - target)) best = &p;
    } else if (mode == PowerMode::kHigh && p.watts > def->watts) {
      if (!best || p.watts < best->watts) best = &p;
    }
  }
  return best ? best->name : std::string();
}

// The sections of a reply, or nullopt when it is not a JSON object.
std::optional<nlohmann::json> ParseReply(const CommandResult& r) {
  nlohmann::json doc = nlohmann::json::parse(r.reply_json, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  return doc;
}

// The first object of section `key`, or an empty object.
nlohmann::json FirstOf(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_array() || it->empty() || !(*it)[0].is_object()) return {};
  return (*it)[0];
}

class Luxos final : public MinerDriver {
 public:
  std::string_view family() const override { return "luxos"; }
  // The API has no login; this is the web UI's stock login, unused here.
  Credentials StockCredentials() const override { return {"root", "root"}; }

  Capabilities Describe(const Record&) const override {
    Capabilities caps;
    caps.power_modes = {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh};
    caps.unsupported[Action::kPowerLimit] =
        "LuxOS has no power limit: its profiles' watts are estimates; set a power mode "
        "(a profile) instead";
    return caps;
  }

  Outcome Restart(const Context& ctx) const override {
    return WithSession(ctx, "resetminer", "", /*logoff=*/false);
  }
  Outcome Reboot(const Context& ctx) const override {
    return WithSession(ctx, "rebootdevice", "", /*logoff=*/false);
  }
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    return SetPoolsByApi(ctx, family(), pools);
  }
  Outcome Locate(const Context& ctx, bool on) const override {
    return WithSession(ctx, "ledset", on ? "red,blink" : "red,off", true);
  }
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    return WithSession(ctx, "curtail", sleep ? "sleep" : "wakeup", true);
  }

  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    auto profiles = ReadProfiles(ctx);
    if (auto* failed = std::get_if<Outcome>(&profiles)) return *failed;
    const std::string name = ProfileFor(mode, std::get<std::vector<Profile>>(profiles));
    if (name.empty()) {
      return Outcome::Fail(
          Failure::kUnsupported, "profiles",
          fmt::format("the miner lists no profile for the {} power mode", ToString(mode)));
    }
    return WithSession(ctx, "profileset", name, true);
  }

  Result<Settings> ReadSettings(const Context& ctx) const override {
    Settings settings;
    const CommandResult config = Run(ctx, "config", "");
    if (config.status != MinerStatus::kOk) {
      const Outcome o = ApiFailed("config", config);
      return Status::Unavailable(o.step + ": " + o.detail);
    }
    const auto doc = ParseReply(config);
    const nlohmann::json conf = doc ? FirstOf(*doc, "CONFIG") : nlohmann::json();
    // CurtailMode "None" while hashing (luxos-s19kpro-config.json), "Sleep"
    // curtailed; RedLed "auto" as captured, the ledset state once set.
    if (const auto mode = conf.find("CurtailMode"); mode != conf.end() && mode->is_string()) {
      if (*mode == "None") settings.sleeping = false;
      if (*mode == "Sleep") settings.sleeping = true;
    }
    if (const auto red = conf.find("RedLed"); red != conf.end() && red->is_string()) {
      settings.locate_on = *red == "blink" || *red == "on";
    }
    const auto active = conf.find("Profile");
    if (active == conf.end() || !active->is_string()) return settings;
    auto profiles = ReadProfiles(ctx);
    if (auto* failed = std::get_if<Outcome>(&profiles)) {
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    for (PowerMode mode : {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh}) {
      if (ProfileFor(mode, std::get<std::vector<Profile>>(profiles)) ==
          active->get<std::string>()) {
        settings.power_mode = mode;
      }
    }
    return settings;
  }

 private:
  static CommandResult Run(const Context& ctx, std::string_view command,
                           const std::string& parameter) {
    return RunCommand({ctx.ip, ctx.options.api_port}, command, parameter, ctx.options.api);
  }

  // The miner's profiles with their watts; a profile without a name is skipped.
  static std::variant<std::vector<Profile>, Outcome> ReadProfiles(const Context& ctx) {
    const CommandResult r = Run(ctx, "profiles", "");
    if (r.status != MinerStatus::kOk) return ApiFailed("profiles", r);
    const auto doc = ParseReply(r);
    const auto list = doc ? doc->find("PROFILES") : nlohmann::json::const_iterator();
    if (!doc || list == doc->end() || !list->is_array()) {
      return Outcome::Fail(Failure::kBadReply, "profiles", "no PROFILES list");
    }
    std::vector<Profile> profiles;
    for (const nlohmann::json& p : *list) {
      if (!p.is_object()) continue;
      const auto name = p.find("Profile Name");
      const auto watts = p.find("Watts");
      if (name == p.end() || !name->is_string() || watts == p.end() || !watts->is_number()) {
        continue;
      }
      profiles.push_back({name->get<std::string>(), watts->get<double>()});
    }
    return profiles;
  }

  // logon, then `command` with the session id before `args`, then logoff
  // when asked (a reboot or reset ends the session itself).
  static Outcome WithSession(const Context& ctx, std::string_view command, const std::string& args,
                             bool logoff) {
    const CommandResult logon = Run(ctx, "logon", "");
    if (logon.status == MinerStatus::kApiError) {
      return Outcome::Fail(Failure::kConflict, "logon",
                           "the miner refused a session (" + logon.error +
                               "): LuxOS allows one at a time and another is open; it lapses a "
                               "minute after its last use");
    }
    if (logon.status != MinerStatus::kOk) return ApiFailed("logon", logon);
    const auto doc = ParseReply(logon);
    const nlohmann::json session = doc ? FirstOf(*doc, "SESSION") : nlohmann::json();
    const auto id = session.find("SessionID");
    if (id == session.end() || !id->is_string() || id->get<std::string>().empty() ||
        id->get<std::string>().find(',') != std::string::npos) {
      return Outcome::Fail(Failure::kBadReply, "logon", "no SESSION[0].SessionID");
    }
    const std::string sid = id->get<std::string>();
    const CommandResult r = Run(ctx, command, args.empty() ? sid : sid + "," + args);
    if (logoff) Run(ctx, "logoff", sid);  // else it lapses within a minute
    if (r.status == MinerStatus::kAuthError) {
      return Outcome::Fail(Failure::kCredentials, std::string(command),
                           "the miner refused the session it had just opened: " + r.error);
    }
    if (r.status != MinerStatus::kOk) return ApiFailed(std::string(command), r);
    return Outcome::Done(std::string(command));
  }
};

}  // namespace

const MinerDriver& LuxosDriver() {
  static const Luxos driver;
  return driver;
}

}  // namespace asicmon::driver
