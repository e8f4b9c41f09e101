// MicroBT Whatsminers through btminer's API v2 on the API port (4028):
// privileged commands signed with a token from get_token and sent AES-256-ECB
// encrypted ("Whatsminer API V2.0.5", MicroBT, buywhatsminer.com/download/
// whatsminer-api-v2-0-5: sections 3.1 update_pools, 3.2 restart_btminer,
// 3.3/3.4 power_off/power_on, 3.5 set_led, 3.6 set_low/normal/high_power,
// 3.8 reboot, 3.24 adjust_power_limit; message codes 131 command OK, 132
// command error, 134 token OK, 135 check token error, 136 token over max
// times, 23 invalid JSON, 45 permission denied). The crypto is
// whatsminer_crypto.h's. Reads (summary, status, get_miner_info) need no token.
//
// The write API is off until WhatsMinerTool turns it on and the admin
// password is changed (the document's summary): a miner that answers 45 is
// a conflict to fix at the miner, not a wrong password.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>

#include "asicmon/whatsminer_crypto.h"
#include "drivers.h"

namespace asicmon::driver {
namespace {

using nlohmann::json;
namespace wm = whatsminer;

// What a command that gets no answer means.
enum class Unanswered {
  kFails,
  // reboot goes down at once: a miner that closes without an answer took it.
  kClosedIsTaken,
  // set_low/normal/high_power: btminer applies a mining mode without
  // answering, so the exchange runs out its deadline (asic-rs @ fdcd101,
  // asic-rs-firmwares/whatsminer/src/backends/v2/mod.rs, set_tuning_config:
  // "fire-and-forget ... doesn't respond, causing a timeout"); closing counts too.
  kSilenceIsTaken,
};

// A reply's JSON object, or why there is none; an ok Outcome for a command
// that got no answer where `unanswered` says that means it was taken (the
// control stage confirms it by reading back either way).
std::variant<json, Outcome> Exchange(const Context& ctx, std::string_view step,
                                     const std::string& request,
                                     Unanswered unanswered = Unanswered::kFails) {
  const ExchangeResult r =
      ExchangeOnce({ctx.ip, ctx.options.api_port}, request, ctx.options.api, Framing::kCgminer);
  if (unanswered != Unanswered::kFails && r.connected && r.reply.empty()) {
    if (r.status == MinerStatus::kReset || r.status == MinerStatus::kOk) {
      return Outcome::Done(fmt::format("api v2 {} (the miner closed without an answer)", step));
    }
    if (unanswered == Unanswered::kSilenceIsTaken && r.status == MinerStatus::kTimeout) {
      return Outcome::Done(fmt::format("api v2 {} (no answer, as btminer gives none)", step));
    }
  }
  if (r.status != MinerStatus::kOk) return ExchangeFailed(std::string(step), r);
  std::string_view text = r.reply;
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.remove_suffix(1);
  json reply = json::parse(text, nullptr, false);
  if (!reply.is_object()) {
    return Outcome::Fail(Failure::kBadReply, std::string(step), "the reply is not a JSON object");
  }
  return reply;
}

// JSON text of a request: pool settings and logins come from operators and
// may hold bytes that are not UTF-8, which dump() would throw on.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string TextOf(const json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

// btminer's own error form: {"STATUS":"E","Code":135,"Msg":"...",...}.
Outcome Refusal(std::string_view step, const json& reply) {
  const std::string code = TextOf(reply, "Code");
  const std::string detail =
      fmt::format("Code {}: {}", code.empty() ? "?" : code, TextOf(reply, "Msg"));
  // 135 check token error; 23 a request its key could not decrypt into JSON.
  if (code == "135" || code == "23") {
    return Outcome::Fail(Failure::kCredentials, std::string(step),
                         "the miner refused the admin password's token (" + detail + ")");
  }
  if (code == "45") {
    return Outcome::Fail(
        Failure::kConflict, std::string(step),
        "the miner's write API is off (" + detail + "): turn it on with WhatsMinerTool");
  }
  return Outcome::Fail(Failure::kRefused, std::string(step), detail);
}

// Sends `command` with `fields` through the encrypted, signed channel; no
// answer counts as taken where `unanswered` says so.
Outcome Privileged(const Context& ctx, std::string_view command, json fields,
                   Unanswered unanswered = Unanswered::kFails) {
  auto token_reply = Exchange(ctx, "get_token", json{{"cmd", "get_token"}}.dump());
  if (auto* failed = std::get_if<Outcome>(&token_reply)) return *failed;
  const json& token_json = std::get<json>(token_reply);
  if (TextOf(token_json, "STATUS") != "S") return Refusal("get_token", token_json);
  const json msg = token_json.value("Msg", json());
  const std::string time = TextOf(msg, "time");
  const std::string salt = TextOf(msg, "salt");
  const std::string newsalt = TextOf(msg, "newsalt");
  if (time.empty() || salt.empty() || newsalt.empty()) {
    return Outcome::Fail(Failure::kBadReply, "get_token", "no time, salt and newsalt in Msg");
  }
  const wm::V2Token token = wm::MakeV2Token(ctx.credentials.password, salt, newsalt, time);
  fields["cmd"] = command;
  fields["token"] = token.sign;
  const std::string request = json{{"enc", 1}, {"data", wm::V2Seal(token, Dump(fields))}}.dump();

  const std::string step(command);
  auto answer = Exchange(ctx, step, request, unanswered);
  if (auto* done = std::get_if<Outcome>(&answer)) return *done;
  json reply = std::move(std::get<json>(answer));
  // The answer comes encrypted with the same key ({"enc":"<base64>"});
  // refusals of a token it could not check come in clear.
  if (const std::string sealed = TextOf(reply, "enc"); !sealed.empty()) {
    const std::optional<std::string> opened = wm::V2Open(token, sealed);
    json inner = opened ? json::parse(*opened, nullptr, false) : json();
    if (!inner.is_object()) {
      return Outcome::Fail(Failure::kCredentials, step,
                           "the answer does not decrypt with the admin password's key");
    }
    reply = std::move(inner);
  }
  if (TextOf(reply, "STATUS") != "S") return Refusal(step, reply);
  return Outcome::Done(fmt::format("api v2 {}", command));
}

}  // namespace

Capabilities WhatsminerCapabilities() {
  Capabilities caps;
  // v2 set_low_power / set_normal_power / set_high_power (section 3.6); v3
  // set.miner.power_mode.
  caps.power_modes = {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh};
  // adjust_power_limit (API 2.0.5, pyasic's api_min_version) and v3
  // set.miner.power_limit: "cannot be higher than the ordinary power of the
  // machine", which the miner checks; no public source gives a floor, so
  // asicmon asks at least 1 W.
  caps.power_limit = PowerLimitRange{1, 99999};
  return caps;
}

namespace {

std::optional<PowerMode> ModeFromText(const std::string& text) {
  if (text == "Low" || text == "low") return PowerMode::kLow;
  if (text == "Normal" || text == "normal") return PowerMode::kNormal;
  if (text == "High" || text == "high") return PowerMode::kHigh;
  return std::nullopt;
}

class WhatsminerV2 final : public MinerDriver {
 public:
  std::string_view family() const override { return "whatsminer"; }
  // The document: "Change the default password (admin)".
  Credentials StockCredentials() const override { return {"admin", "admin"}; }

  Capabilities Describe(const Record&) const override { return WhatsminerCapabilities(); }

  Outcome Restart(const Context& ctx) const override {
    return Privileged(ctx, "restart_btminer", json::object());
  }
  Outcome Reboot(const Context& ctx) const override {
    return Privileged(ctx, "reboot", json::object(), Unanswered::kClosedIsTaken);
  }

  // update_pools always writes three slots: an unused one is empty.
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    if (pools.empty() || pools.size() > kMaxPools) {
      return Outcome::Fail(Failure::kRefused, "update_pools", "1 to 3 pools");
    }
    json fields = json::object();
    for (size_t i = 0; i < kMaxPools; ++i) {
      const PoolSetting empty;
      const PoolSetting& p = i < pools.size() ? pools[i] : empty;
      const std::string n = std::to_string(i + 1);
      fields["pool" + n] = p.url;
      fields["worker" + n] = p.user;
      fields["passwd" + n] = p.password;
    }
    return Privileged(ctx, "update_pools", std::move(fields));
  }

  // On: the red LED flashing (color, period, duration, start in ms, section
  // 3.5); off: "param":"auto" gives it back to the firmware.
  Outcome Locate(const Context& ctx, bool on) const override {
    if (!on) return Privileged(ctx, "set_led", json{{"param", "auto"}});
    return Privileged(ctx, "set_led",
                      json{{"color", "red"}, {"period", 1000}, {"duration", 500}, {"start", 0}});
  }

  // power_off stops hashing and the hash boards' power, the control board
  // stays up (section 3.3); respbefore: answer before acting.
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    if (sleep) return Privileged(ctx, "power_off", json{{"respbefore", "true"}});
    return Privileged(ctx, "power_on", json::object());
  }

  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    const char* command = mode == PowerMode::kLow      ? "set_low_power"
                          : mode == PowerMode::kNormal ? "set_normal_power"
                                                       : "set_high_power";
    return Privileged(ctx, command, json::object(), Unanswered::kSilenceIsTaken);
  }

  Outcome SetPowerLimit(const Context& ctx, int watts) const override {
    const Capabilities caps = Describe(ctx.record);
    if (watts < caps.power_limit->min_w || watts > caps.power_limit->max_w) {
      return Outcome::Fail(Failure::kRefused, "adjust_power_limit",
                           fmt::format("{} W is outside {}..{} W", watts, caps.power_limit->min_w,
                                       caps.power_limit->max_w));
    }
    // The document's field is a string.
    return Privileged(ctx, "adjust_power_limit", json{{"power_limit", std::to_string(watts)}});
  }

  // summary's "Power Limit" and "Power Mode"; status's "btmineroff"
  // (before 2022) or "mineroff"; get_miner_info's "ledstat" ("auto" unless
  // set_led set it), which 2021 firmware does not answer.
  Result<Settings> ReadSettings(const Context& ctx) const override {
    Settings settings;
    auto summary = Exchange(ctx, "summary", json{{"command", "summary"}}.dump());
    if (auto* failed = std::get_if<Outcome>(&summary)) {
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    const json& s = std::get<json>(summary);
    if (s.contains("SUMMARY") && s["SUMMARY"].is_array() && !s["SUMMARY"].empty()) {
      const json& row = s["SUMMARY"][0];
      if (row.is_object()) {
        if (auto it = row.find("Power Limit"); it != row.end() && it->is_number_integer()) {
          settings.power_limit_w =
              static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), 0, 1 << 20));
        }
        settings.power_mode = ModeFromText(TextOf(row, "Power Mode"));
      }
    }
    auto status = Exchange(ctx, "status", json{{"cmd", "status"}}.dump());
    if (const json* st = std::get_if<json>(&status); st && TextOf(*st, "STATUS") == "S") {
      const json msg = st->value("Msg", json());
      std::string off = TextOf(msg, "btmineroff");
      if (off.empty()) off = TextOf(msg, "mineroff");
      if (off == "true") settings.sleeping = true;
      if (off == "false") settings.sleeping = false;
    }
    auto info = Exchange(ctx, "get_miner_info", json{{"cmd", "get_miner_info"}}.dump());
    if (const json* mi = std::get_if<json>(&info); mi && TextOf(*mi, "STATUS") == "S") {
      const std::string led = TextOf(mi->value("Msg", json()), "ledstat");
      if (!led.empty()) settings.locate_on = led != "auto";
    }
    return settings;
  }
};

}  // namespace

const MinerDriver& WhatsminerDriver() {
  static const WhatsminerV2 driver;
  return driver;
}

}  // namespace asicmon::driver
