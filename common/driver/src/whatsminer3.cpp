// MicroBT Whatsminers through API v3 (2024+ firmware, TCP 4433, a 4-byte
// little-endian length then JSON both ways): each set.* command carries
// account, ts and a token made from the salt get.device.info gives
// (whatsminer_crypto.h: the first 8 characters of base64(sha256(cmd +
// password + salt + ts))); set.miner.pools' param goes AES-encrypted with
// that digest as key. Commands and parameters as 256foundation/asic-rs
// fdcd1018 asic-rs-firmwares/whatsminer/src/backends/v3/{rpc,mod}.rs sends
// them (set.system.reboot; set.miner.service restart/stop/start;
// set.system.led "auto" or [{color, period, duration, start}];
// set.miner.pools [{pool, worker, passwd}]; set.miner.power_limit W) and
// set.miner.power_mode low/normal/high as UpstreamData/pyasic e2b9d357
// pyasic/rpc/btminer.py names it (asic-rs sends "set.miner.mode" first and
// falls back to v2: the v3 document at apidoc.whatsminer.com was not
// reachable to settle it). Read back: get.device.info's power.mode ("0" low,
// "1" normal, "2" high, as asic-rs parses it), system.ledstatus ("auto"
// unless set) and miner.working; get.miner.status summary's power-limit.
//
// Replies {"code","msg","desc","when"}: 0 done; -4 "no permission" (a token
// the password did not make, or writes not enabled: the document's overview
// says writes need the default password changed and the write switch on in
// WhatsMinerTool, and both refusals look alike).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>

#include "asicmon/clock.h"
#include "asicmon/whatsminer_crypto.h"
#include "drivers.h"

namespace asicmon::driver {
namespace {

using nlohmann::json;
namespace wm = whatsminer;

std::variant<json, Outcome> Exchange(const Context& ctx, const json& request,
                                     const std::string& step, bool may_drop = false) {
  // Logins and pools come from operators: bytes that are not UTF-8 are replaced, not thrown on.
  const std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);
  const PollStep framing{step, Framing::kLengthPrefixed, kWhatsminerV3Port, body};
  const ExchangeResult r = ExchangeOnce({ctx.ip, kWhatsminerV3Port}, FrameRequest(framing, ctx.ip),
                                        ctx.options.api, Framing::kLengthPrefixed);
  if (may_drop && r.connected && r.reply.empty() &&
      (r.status == MinerStatus::kReset || r.status == MinerStatus::kOk)) {
    return json{{"code", 0}, {"msg", "closed without an answer"}};
  }
  if (r.status != MinerStatus::kOk) return ExchangeFailed(step, r);
  const Payload payload = ReplyPayload(Framing::kLengthPrefixed, r.reply);
  if (!payload.ok) return Outcome::Fail(Failure::kBadReply, step, payload.text);
  json reply = json::parse(payload.text, nullptr, false);
  if (!reply.is_object()) return Outcome::Fail(Failure::kBadReply, step, "not a JSON object");
  return reply;
}

std::string TextAt(const json& object, std::initializer_list<const char*> path) {
  const json* at = &object;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return {};
    at = &(*at)[key];
  }
  return at->is_string() ? at->get<std::string>() : std::string();
}

bool Succeeded(const json& reply) {
  return reply.contains("code") && reply["code"].is_number_integer() &&
         reply["code"].get<int64_t>() == 0;
}

Outcome Refusal(const std::string& step, const json& reply) {
  const std::string code = reply.contains("code") && reply["code"].is_number_integer()
                               ? std::to_string(reply["code"].get<int64_t>())
                               : "?";
  const std::string msg = reply.contains("msg") && reply["msg"].is_string()
                              ? reply["msg"].get<std::string>()
                              : std::string();
  const std::string detail = fmt::format("code {}: {}", code, msg);
  if (code == "-4") {
    return Outcome::Fail(Failure::kCredentials, step,
                         "the miner refused the token of the configured password, or its write "
                         "API is off (" +
                             detail + ")");
  }
  return Outcome::Fail(Failure::kRefused, step, detail);
}

// `param` null: none. `encrypt`: the param's JSON text goes AES-encrypted
// with the token's digest (set.miner.pools).
Outcome Set(const Context& ctx, const std::string& cmd, json param, bool encrypt = false,
            bool may_drop = false) {
  auto info = Exchange(ctx, {{"cmd", "get.device.info"}, {"param", "salt"}}, "get.device.info");
  if (auto* failed = std::get_if<Outcome>(&info)) return *failed;
  const std::string salt = TextAt(std::get<json>(info), {"msg", "salt"});
  if (salt.empty()) return Outcome::Fail(Failure::kBadReply, "get.device.info", "no salt");
  const auto ts = static_cast<int64_t>(UnixNow());
  const std::string digest = wm::V3Digest(cmd, ctx.credentials.password, salt, ts);
  json request = {
      {"cmd", cmd}, {"ts", ts}, {"account", ctx.credentials.user}, {"token", wm::V3Token(digest)}};
  if (!param.is_null()) {
    request["param"] =
        encrypt ? json(wm::Base64Encode(wm::AesEcbEncrypt(
                      digest, param.dump(-1, ' ', false, json::error_handler_t::replace))))
                : std::move(param);
  }
  auto reply = Exchange(ctx, request, cmd, may_drop);
  if (auto* failed = std::get_if<Outcome>(&reply)) return *failed;
  if (!Succeeded(std::get<json>(reply))) return Refusal(cmd, std::get<json>(reply));
  return Outcome::Done("api v3 " + cmd);
}

class WhatsminerV3 final : public MinerDriver {
 public:
  std::string_view family() const override { return "whatsminer3"; }
  Credentials StockCredentials() const override { return {"super", "super"}; }

  Capabilities Describe(const Record&) const override { return WhatsminerCapabilities(); }

  Outcome Restart(const Context& ctx) const override {
    return Set(ctx, "set.miner.service", "restart");
  }
  Outcome Reboot(const Context& ctx) const override {
    return Set(ctx, "set.system.reboot", json(), false, true);
  }
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    if (pools.empty() || pools.size() > kMaxPools) {
      return Outcome::Fail(Failure::kRefused, "set.miner.pools", "1 to 3 pools");
    }
    json list = json::array();
    for (const PoolSetting& p : pools) {
      list.push_back({{"pool", p.url}, {"worker", p.user}, {"passwd", p.password}});
    }
    return Set(ctx, "set.miner.pools", std::move(list), true);
  }
  Outcome Locate(const Context& ctx, bool on) const override {
    if (!on) return Set(ctx, "set.system.led", "auto");
    return Set(
        ctx, "set.system.led",
        json::array({{{"color", "red"}, {"period", 1000}, {"duration", 500}, {"start", 0}}}));
  }
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    return Set(ctx, "set.miner.service", sleep ? "stop" : "start");
  }
  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    return Set(ctx, "set.miner.power_mode", std::string(ToString(mode)));
  }
  Outcome SetPowerLimit(const Context& ctx, int watts) const override {
    const PowerLimitRange range = *Describe(ctx.record).power_limit;
    if (watts < range.min_w || watts > range.max_w) {
      return Outcome::Fail(
          Failure::kRefused, "set.miner.power_limit",
          fmt::format("{} W is outside {}..{} W", watts, range.min_w, range.max_w));
    }
    return Set(ctx, "set.miner.power_limit", watts);
  }

  Result<Settings> ReadSettings(const Context& ctx) const override {
    Settings settings;
    auto info = Exchange(ctx, {{"cmd", "get.device.info"}}, "get.device.info");
    if (auto* failed = std::get_if<Outcome>(&info)) {
      return Status::Unavailable(failed->step + ": " + failed->detail);
    }
    const json& device = std::get<json>(info);
    const std::string mode = TextAt(device, {"msg", "power", "mode"});
    if (mode == "0") settings.power_mode = PowerMode::kLow;
    if (mode == "1") settings.power_mode = PowerMode::kNormal;
    if (mode == "2") settings.power_mode = PowerMode::kHigh;
    const std::string led = TextAt(device, {"msg", "system", "ledstatus"});
    if (!led.empty()) settings.locate_on = led != "auto";
    const std::string working = TextAt(device, {"msg", "miner", "working"});
    if (working == "true") settings.sleeping = false;
    if (working == "false") settings.sleeping = true;
    auto status =
        Exchange(ctx, {{"cmd", "get.miner.status"}, {"param", "summary"}}, "get.miner.status");
    if (const json* s = std::get_if<json>(&status)) {
      const json* limit = nullptr;
      if (s->contains("msg") && (*s)["msg"].is_object() && (*s)["msg"].contains("summary") &&
          (*s)["msg"]["summary"].is_object() && (*s)["msg"]["summary"].contains("power-limit")) {
        limit = &(*s)["msg"]["summary"]["power-limit"];
      }
      if (limit && limit->is_number()) {
        settings.power_limit_w =
            static_cast<int>(std::clamp(limit->get<double>(), 0.0, double{1 << 20}));
      }
    }
    return settings;
  }
};

}  // namespace

const MinerDriver& Whatsminer3Driver() {
  static const WhatsminerV3 driver;
  return driver;
}

}  // namespace asicmon::driver
