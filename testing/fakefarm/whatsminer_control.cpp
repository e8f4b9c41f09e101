// btminer's privileged API v2 on the fake Whatsminers: get_token, then
// commands AES-256-ECB encrypted with the admin password's key and signed
// with the token ("Whatsminer API V2.0.5", MicroBT; the scheme in
// common/driver's whatsminer_crypto.h, shared so both sides read the
// document the same way). No capture of a privileged exchange was found:
// the codes are the document's (131 command OK, 134 token OK, 135 check
// token error, 23 invalid JSON), the messages and the clear-text refusal of
// a request its key cannot read are as Tether's firmware mock
// (tetherto/miningos-wrk-miner-whatsminer 030f0b34 mock/server.js:
// "json cmd err", "check token err"; mock/utils.js: "API command OK").
//
// API v3's set.* commands on 4433: token = the first 8 characters of
// base64(sha256(cmd + password + salt + ts)), account "super" (its stock
// password too), set.miner.pools' param AES-encrypted with the digest
// (256foundation/asic-rs fdcd1018 asic-rs-firmwares/whatsminer/src/backends/
// v3/rpc.rs and mod.rs; UpstreamData/pyasic e2b9d357 pyasic/rpc/btminer.py
// BTMinerV3RPCAPI). Replies {"code","msg","desc","when"}: 0 done, -1 failed,
// -2 invalid command, -4 no permission (Tether's mock/utils.js code table;
// the v3 document's overview names the "no permission" error). No capture
// of a v3 write or of its refusal was found: the msg texts are the mock's.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "asicmon/whatsminer_crypto.h"
#include "fake_miner.h"
#include "reply_writer.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

namespace wm = asicmon::driver::whatsminer;
using nlohmann::json;

// The document: "Miner supports max 16 IP clients, one IP can get 32 tokens".
constexpr size_t kMaxTokens = 32;

// Power mode factors on watts and hashrate: no public source gives how far
// btminer's low and high power modes move a machine, so these are round
// figures (low 85 %, high 110 % of normal), said so in PROVENANCE.md.
double ModeFactor(int mode) { return mode == 0 ? 0.85 : mode == 2 ? 1.10 : 1.0; }

}  // namespace

int FakeMiner::WhatsminerInitialMode(const WhatsminerFacts& f) {
  // The 2021 capture reports "Power Mode":"High", the 2023+ ones "Normal".
  return f.form_2023 ? 1 : 2;
}

double FakeMiner::WhatsminerPowerShare() const {
  const WhatsminerFacts* f = WhatsminerFactsOf(model_->id);
  if (f == nullptr) return 1;
  auto share = [&](int mode, int limit) {
    const double watts = f->watts * ModeFactor(mode) / ModeFactor(WhatsminerInitialMode(*f));
    return std::min(watts, static_cast<double>(limit)) / f->watts;
  };
  // A new mode or limit shows after wake_idle_s: btminer retunes its
  // boards first (its summary keeps the old figures meanwhile).
  if (now_ < wm_.changed_at + spec_.wake_idle_s) return share(wm_.old_mode, wm_.old_limit);
  return share(wm_.mode, wm_.limit);
}

void FakeMiner::WhatsminerState::Init(const WhatsminerFacts& f) {
  if (ready) return;
  ready = true;
  mode = old_mode = WhatsminerInitialMode(f);
  limit = old_limit = f.power_limit;
}

std::string_view FakeMiner::WhatsminerModeName(bool lower) const {
  switch (wm_.mode) {
    case 0:
      return lower ? "low" : "Low";
    case 2:
      return lower ? "high" : "High";
    default:
      return lower ? "normal" : "Normal";
  }
}

void FakeMiner::WriteBtminerToken(ReplyWriter& w) {
  // time: the miner's clock's last four digits, as the document's example;
  // salt: the miner's own; newsalt: fresh for each token.
  const auto when = Snap().when;
  char time[8];
  const auto t = fmt::format_to_n(time, sizeof time, "{:04d}", when % 10000);
  std::string newsalt;
  constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 8; ++i) newsalt += kChars[static_cast<size_t>(Uniform() * 62) % 62];
  const std::string key = wm::Md5CryptHash(kWhatsminerAdminPassword, WhatsminerSalt());
  if (wm_.signs.size() >= kMaxTokens) wm_.signs.erase(wm_.signs.begin());
  wm_.signs.push_back(wm::Md5CryptHash(key + std::string(time, t.size), newsalt));
  w.Open('{');
  w.Str("STATUS", "S");
  w.Int("When", when);
  w.Int("Code", 134);
  w.Key("Msg");
  w.Open('{');
  w.Str("time", std::string_view(time, t.size));
  w.Str("salt", WhatsminerSalt());
  w.Str("newsalt", newsalt);
  w.Close('}');
  w.Str("Description", "");
  w.Close('}');
}

std::string FakeMiner::WhatsminerV3Salt() const {
  return fmt::format("{:08x}", static_cast<uint32_t>(spec_.seed * 2654435761u +
                                                     static_cast<uint64_t>(spec_.index + 1)));
}

std::string FakeMiner::WhatsminerSalt() const {
  // Per machine and stable, 8 characters of md5-crypt's alphabet.
  return fmt::format("{:08x}", (spec_.seed * 0x9E3779B97F4A7C15ULL + spec_.index) >> 32);
}

bool FakeMiner::WriteBtminerPrivileged(ReplyWriter& w, std::string_view request,
                                       std::vector<PrivilegedAction>* actions) {
  const WhatsminerFacts* f = WhatsminerFactsOf(model_->id);
  if (f == nullptr) return false;
  const json outer = json::parse(request, nullptr, false);
  if (!outer.is_object() || !outer.contains("enc")) return false;
  wm_.Init(*f);
  auto refuse = [&](int code, std::string_view msg) {
    w.Open('{');
    w.Str("STATUS", "E");
    w.Int("When", Snap().when);
    w.Int("Code", code);
    w.Str("Msg", msg);
    w.Str("Description", "");
    w.Close('}');
    if (actions) actions->push_back({"enc", "", ActionResult::kDenied});
    return true;
  };
  const std::string data = outer.is_object() && outer.contains("data") && outer["data"].is_string()
                               ? outer["data"].get<std::string>()
                               : std::string();
  wm::V2Token token;
  token.key = wm::Md5CryptHash(kWhatsminerAdminPassword, WhatsminerSalt());
  const std::optional<std::string> opened = wm::V2Open(token, data);
  json cmd = opened ? json::parse(*opened, nullptr, false) : json();
  if (!cmd.is_object()) return refuse(23, "json cmd err");
  const std::string sign =
      cmd.value("token", json()).is_string() ? cmd["token"].get<std::string>() : "";
  if (sign.empty() || std::find(wm_.signs.begin(), wm_.signs.end(), sign) == wm_.signs.end()) {
    return refuse(135, "check token err");
  }
  const std::string name =
      cmd.value("cmd", json()).is_string() ? cmd["cmd"].get<std::string>() : "";
  cmd.erase("token");
  cmd.erase("cmd");
  auto text = [&](const char* key) {
    const auto it = cmd.find(key);
    return it != cmd.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  int code = 131;
  std::string msg = "API command OK";
  if (name == "restart_btminer") {
    effect_ = ApiEffect::kRestart;
  } else if (name == "reboot") {
    effect_ = ApiEffect::kReboot;
  } else if (name == "update_pools") {
    std::vector<PoolConfig> pools;
    for (int i = 1; i <= 3; ++i) {
      const std::string n = std::to_string(i);
      if (!text(("pool" + n).c_str()).empty()) {
        pools.push_back({text(("pool" + n).c_str()), text(("worker" + n).c_str()),
                         text(("passwd" + n).c_str())});
      }
    }
    if (pools.empty()) {
      code = 132;
      msg = "pool1 is empty";  // no source for the wording: the document's code only
    } else {
      Reconfigure(pools, now_);
    }
  } else if (name == "set_led") {
    SetBlinking(text("param") != "auto");
  } else if (name == "power_off") {
    // The document's respbefore ("true": answer, then power off, as pyasic
    // and asic-rs send it): the reply leaves first and btminer winds the
    // boards down over the following seconds (spec().halt_s).
    HaltAt(true, now_ + spec_.halt_s);
  } else if (name == "power_on") {
    HaltAt(false, now_);
  } else if (name == "set_low_power" || name == "set_normal_power" || name == "set_high_power") {
    wm_.old_mode = wm_.mode;
    wm_.old_limit = wm_.limit;
    wm_.changed_at = now_;
    wm_.mode = name == "set_low_power" ? 0 : name == "set_normal_power" ? 1 : 2;
    // Applied without an answer: the client's exchange runs out its deadline
    // (asic-rs @ fdcd101, whatsminer/src/backends/v2/mod.rs set_tuning_config:
    // "fire-and-forget: the miner applies the change but doesn't respond").
    effect_ = ApiEffect::kSilence;
  } else if (name == "adjust_power_limit") {
    const std::string limit = text("power_limit");
    int watts = 0;
    const bool number =
        !limit.empty() && limit.size() < 7 &&
        std::all_of(limit.begin(), limit.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (number) watts = std::stoi(limit);
    if (!number || watts <= 0) {
      code = 132;
      msg = "power_limit error";  // no source for the wording: the document's code only
    } else {
      wm_.old_mode = wm_.mode;
      wm_.old_limit = wm_.limit;
      wm_.changed_at = now_;
      // "Cannot be higher than the ordinary power of the machine" (pyasic,
      // adjust_power_limit): btminer keeps the lower of the two.
      wm_.limit = std::min(watts, f->power_limit);
      // pyasic: "The miner will reboot after this is set."
      effect_ = ApiEffect::kReboot;
    }
  } else {
    code = 14;
    msg = "invalid cmd";
  }
  if (actions) {
    actions->push_back({name, cmd.dump(), code == 131 ? ActionResult::kOk : ActionResult::kError});
  }
  json reply = {{"STATUS", code == 131 ? "S" : "E"},
                {"When", Snap().when},
                {"Code", code},
                {"Msg", msg},
                {"Description", ""}};
  w.Open('{');
  w.Str("enc", wm::V2Seal(token, reply.dump()));
  w.Close('}');
  return true;
}

void FakeMiner::WriteV3Set(ReplyWriter& w, std::string_view request,
                           std::vector<PrivilegedAction>* actions) {
  const WhatsminerFacts* f = WhatsminerFactsOf(model_->id);
  const json req = json::parse(request, nullptr, false);
  auto text = [&](const char* key) {
    const auto it = req.find(key);
    return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string cmd = text("cmd");
  const int64_t ts =
      req.contains("ts") && req["ts"].is_number_integer() ? req["ts"].get<int64_t>() : 0;
  const json param = req.contains("param") ? req["param"] : json();
  const std::string digest = wm::V3Digest(cmd, kWhatsminerV3Password, WhatsminerV3Salt(), ts);
  auto answer = [&](int code, const json& msg, ActionResult result) {
    w.Open('{');
    w.Int("code", code);
    w.EscStr("desc", cmd);
    if (msg.is_string()) {
      w.EscStr("msg", msg.get<std::string>());
    } else {
      w.Key("msg");
      w.Open('{');
      for (const auto& [key, value] : msg.items()) {
        if (value.is_string()) w.EscStr(key, value.get<std::string>());
        if (value.is_number_integer()) w.Int(key, value.get<int64_t>());
      }
      w.Close('}');
    }
    w.Int("when", Snap().when);
    w.Close('}');
    if (actions) {
      actions->push_back({cmd, param.is_null() ? std::string() : param.dump(), result});
    }
  };
  if (text("account") != "super" || text("token") != wm::V3Token(digest)) {
    return answer(-4, "no permission", ActionResult::kDenied);
  }
  const std::string value = param.is_string() ? param.get<std::string>() : std::string();
  if (cmd == "set.system.reboot") {
    effect_ = ApiEffect::kReboot;
  } else if (cmd == "set.miner.service") {
    if (value == "restart") {
      effect_ = ApiEffect::kRestart;
    } else if (value == "stop" || value == "start") {
      // Stopping btminer takes the seconds power_off takes (above).
      HaltAt(value == "stop", value == "stop" ? now_ + spec_.halt_s : now_);
    } else {
      return answer(-1, "Invalid service action", ActionResult::kError);
    }
  } else if (cmd == "set.system.led") {
    // "auto", or the colours to flash (asic-rs: [{"color","period","duration","start"}]).
    if (value != "auto" && !param.is_array()) {
      return answer(-1, "Invalid LED mode", ActionResult::kError);
    }
    SetBlinking(value != "auto");
  } else if (cmd == "set.miner.pools") {
    const std::optional<std::string> cipher = wm::Base64Decode(value);
    const std::optional<std::string> plain =
        cipher ? wm::AesEcbDecrypt(digest, *cipher) : std::nullopt;
    const json list = plain ? json::parse(*plain, nullptr, false) : json();
    std::vector<PoolConfig> pools;
    for (const json& p : list.is_array() ? list : json::array()) {
      if (pools.size() == 3 || !p.is_object()) break;
      const auto field = [&](const char* key) {
        return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : std::string();
      };
      if (!field("pool").empty())
        pools.push_back({field("pool"), field("worker"), field("passwd")});
    }
    if (pools.empty()) return answer(-1, "Missing pool configuration", ActionResult::kError);
    Reconfigure(pools, now_);
  } else if (cmd == "set.miner.power_mode") {
    const int mode = value == "low" ? 0 : value == "normal" ? 1 : value == "high" ? 2 : -1;
    if (mode < 0) return answer(-1, "Invalid power mode", ActionResult::kError);
    wm_.old_mode = wm_.mode;
    wm_.old_limit = wm_.limit;
    wm_.changed_at = now_;
    wm_.mode = mode;
  } else if (cmd == "set.miner.power_limit") {
    int64_t watts = param.is_number_integer() ? param.get<int64_t>() : -1;
    if (param.is_string() && !value.empty() && value.size() < 7 &&
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      watts = std::stoll(value);
    }
    if (watts <= 0 || watts > 99999) {
      return answer(-1, "Invalid power limit", ActionResult::kError);
    }
    wm_.old_mode = wm_.mode;
    wm_.old_limit = wm_.limit;
    wm_.changed_at = now_;
    wm_.limit = std::min(static_cast<int>(watts), f->power_limit);
    // The v3 document: "The device will restart to apply the new setting."
    effect_ = ApiEffect::kReboot;
  } else {
    return answer(-2, "invalid command", ActionResult::kError);
  }
  answer(0, json::object(), ActionResult::kOk);
}

}  // namespace asicmon::fakefarm
