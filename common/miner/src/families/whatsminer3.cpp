// MicroBT Whatsminer API v3 (2024+ firmware, "Whatsminer API documentation"
// v3.0.x): TCP 4433, a 4-byte little-endian length then JSON both ways. Every
// reply is {"code":0,"when":...,"msg":{...},"desc":"<the command>"}; reads
// (get.*) need no token. Hash rates are in TH/s, power in W. Nothing here is
// cgminer-alike, so this family reads its documents whole.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr double kTera = 1e12;  // v3 reports every hash rate in TH/s

// get.miner.status takes its sections joined with '+' (the v3 document), so
// the status is one exchange.
constexpr PollStep kPoll[] = {
    {"get.device.info", Framing::kLengthPrefixed, kWhatsminerV3Port, R"({"cmd":"get.device.info"})"},
    {"get.miner.status", Framing::kLengthPrefixed, kWhatsminerV3Port,
     R"({"cmd":"get.miner.status","param":"summary+pools+edevs"})"},
};

// The v3 codes that mean the reader may not ask (the document's code table).
constexpr int64_t kNoPermission = -4;

struct Reply {
  std::string_view desc;  // the command answered: "get.device.info", "get.miner.status"
  int64_t code = 0;
  element msg;
};

// A v3 reply: an object with an integer "code", a "desc" naming a get.*
// command and a "msg"; nullopt for anything else (a cgminer reply, HTML).
std::optional<Reply> AsReply(element doc) {
  Reply r;
  const Node code = MemberOf(doc, "code");
  const Node desc = MemberOf(doc, "desc");
  const Node msg = MemberOf(doc, "msg");
  std::string_view text;
  if (!code || !desc || !msg || code->get(r.code) != simdjson::SUCCESS ||
      desc->get(text) != simdjson::SUCCESS || !text.starts_with("get.")) {
    return std::nullopt;
  }
  r.desc = text;
  r.msg = *msg;
  return r;
}

std::string MessageOf(element msg) {
  if (const std::optional<std::string_view> text = AsText(msg)) return std::string(*text);
  return simdjson::minify(msg);
}

// "M60S_VK40" -> "Whatsminer M60S": the hash board variant after '_' goes.
std::string ModelName(std::string_view type) {
  type = Trim(type.substr(0, type.find('_')));
  const bool named = type.size() >= 2 && type[0] == 'M' && IsDigit(type[1]);
  return named ? "Whatsminer " + std::string(type) : "Whatsminer";
}

std::string TextAt(element obj, std::string_view section, std::string_view key) {
  const Node inner = MemberOf(obj, section);
  return inner ? std::string(Trim(OptString(*inner, key))) : std::string();
}

// "error-code": [{"264":"2026-05-23 09:19:10","reason":"Power xfer error..."}],
// the code the key, "reason" the firmware's message; bare codes stand alone.
void ReadErrors(const Node& list, Record& out) {
  for (element entry : Objects(list)) {
    std::string message = OptString(entry, "reason");
    ForEachMember(entry, [&](std::string_view key, element) {
      const bool code = !key.empty() && key.size() <= 9 &&
                        std::all_of(key.begin(), key.end(), IsDigit);
      if (!code || out.errors.size() >= kMaxErrors) return;
      for (const MinerError& e : out.errors) {
        if (e.code == key) return;
      }
      out.errors.push_back({std::string(key), message});
    });
  }
  simdjson::dom::array bare;
  if (!list || list->get(bare) != simdjson::SUCCESS) return;
  for (element entry : bare) {
    const std::optional<double> n = AsNumber(entry);
    if (entry.is_object() || !n || *n < 0 || *n >= 1e9 || out.errors.size() >= kMaxErrors) continue;
    out.errors.push_back({std::to_string(std::llround(*n)), ""});
  }
}

void ReadDeviceInfo(element msg, Record& out) {
  if (out.mac.empty()) out.mac = MacAddress(TextAt(msg, "network", "mac"));
  if (out.hostname.empty()) out.hostname = TextAt(msg, "network", "hostname");
  if (out.serial.empty()) out.serial = TextAt(msg, "miner", "miner-sn");
  if (out.model.empty()) {
    const std::string type = TextAt(msg, "miner", "type");
    if (!type.empty()) out.model = ModelName(type);
  }
  if (out.firmware_build.empty()) out.firmware_build = TextAt(msg, "system", "fwversion");
  // "working":"false": btminer, the mining service, is stopped (set.miner.service stop).
  out.sleeping = out.sleeping || EqualsNoCase(TextAt(msg, "miner", "working"), "false");
  if (const Node power = MemberOf(msg, "power")) {
    const std::optional<double> w = OptNumber(*power, "pin");  // the PSU's output, W
    if (w && *w > 0) Fill(out.power_w, w);
  }
  ReadErrors(MemberOf(msg, "error-code"), out);
}

std::optional<double> Th(element obj, std::string_view key) {
  return Rate(OptNumber(obj, key), kTera);
}

void ReadSummary(element summary, Record& out, std::vector<std::optional<double>>& board_temps) {
  Fill(out.uptime_s, OptInt(summary, "elapsed"));
  Fill(out.hashrate, Th(summary, "hash-realtime"));
  Fill(out.hashrate_avg, Th(summary, "hash-average"));
  Fill(out.hashrate_expected, Nominal(Th(summary, "factory-hash")));
  const std::optional<double> w = OptNumber(summary, "power-realtime");
  if (w && *w > 0) out.power_w = w;  // the miner's own reading beats the PSU's output
  out.temp_max = MaxOf(out.temp_max, TempField(summary, "chip-temp-max"));
  std::vector<double> fans;  // 0 is a stopped fan; a broken reading is no fan
  for (std::string_view key : {"fan-speed-in", "fan-speed-out"}) {
    const std::optional<double> rpm = OptNumber(summary, key);
    if (rpm && *rpm >= 0 && *rpm <= kMaxFanRpm) fans.push_back(*rpm);
  }
  if (out.fans.empty()) out.fans = Fans(fans, static_cast<int64_t>(fans.size()));
  const Node temps = MemberOf(summary, "board-temperature");
  simdjson::dom::array list;
  if (temps && temps->get(list) == simdjson::SUCCESS) {
    for (element t : list) {
      if (board_temps.size() >= kMaxFans) break;
      board_temps.push_back(ValidTemp(AsNumber(t)));
    }
  }
}

void ReadPools(const Node& pools, Record& out) {
  const std::vector<element> list = Objects(pools);
  for (size_t i = 0; i < list.size(); ++i) {
    const element e = list[i];
    PoolInfo p;
    p.index = OptInt32(e, "id").value_or(static_cast<int32_t>(i));
    p.url = OptString(e, "url");
    p.user = OptString(e, "account");
    p.status = OptString(e, "status");
    p.priority = OptInt32(e, "pool-priority");
    p.active = IsTrue(e, "stratum-active");
    if (p.active && out.worker.empty()) out.worker = p.user;
    out.pools.push_back(std::move(p));
  }
}

void ReadEdevs(const Node& edevs, Boards& boards) {
  const std::vector<element> list = Objects(edevs);
  for (size_t i = 0; i < list.size(); ++i) {
    const element e = list[i];
    BoardStats* b = ListedBoard(boards, e, i, "id", true);
    Fill(b->hashrate, Th(e, "hash-realtime"));
    Fill(b->hashrate, Th(e, "hash-average"));
    Fill(b->hashrate_expected, Nominal(Th(e, "factory-hash")));
    Fill(b->temp_chip, TempField(e, "chip-temp-max"));
    Fill(b->chips, OptInt32(e, "effective-chips"));
    Fill(b->freq_mhz, FreqField(e, "freq"));
  }
}

void ReadDocuments(std::span<const PolledDocument> documents, Record& record) {
  Record out;
  out.family = "whatsminer3";
  out.firmware = "btminer";  // the v3 document's name for the mining service
  Boards boards;
  std::vector<std::optional<double>> board_temps;
  std::string failures;
  const auto fail = [&](std::string_view what, std::string_view why) {
    if (!failures.empty()) failures += "; ";
    failures.append(what).append(": ").append(why);
  };
  bool usable = false;
  bool denied = false;
  for (const PolledDocument& d : documents) {
    const std::optional<Reply> reply = AsReply(d.doc);
    if (!reply) {
      fail(d.step, "not a Whatsminer API v3 reply");
      continue;
    }
    if (reply->code != 0) {
      denied = denied || reply->code == kNoPermission;
      fail(reply->desc, MessageOf(reply->msg) + " (code " + std::to_string(reply->code) + ")");
      continue;
    }
    if (!reply->msg.is_object()) continue;
    usable = true;
    if (reply->desc == "get.device.info") ReadDeviceInfo(reply->msg, out);
    if (const Node summary = MemberOf(reply->msg, "summary"); summary && summary->is_object()) {
      ReadSummary(*summary, out, board_temps);
    }
    ReadPools(MemberOf(reply->msg, "pools"), out);
    ReadEdevs(MemberOf(reply->msg, "edevs"), boards);
  }

  // "board-temperature" lists one reading per board, in slot order.
  if (board_temps.size() == boards.size()) {
    size_t i = 0;
    for (auto& entry : boards) Fill(entry.second.temp_board, board_temps[i++]);
  }
  for (const auto& entry : boards) {
    out.boards.push_back(entry.second);
    out.temp_max = MaxOf(out.temp_max, entry.second.temp_chip);
  }
  if (!out.temp_max) {
    for (const std::optional<double>& t : board_temps) out.temp_max = MaxOf(out.temp_max, t);
  }
  if (out.sleeping) Fill(out.hashrate, std::optional<double>(0));  // stopped: hashing at 0, known
  if (out.model.empty() && usable) out.model = "Whatsminer";
  out.algorithm = std::string(InfoFor(out.model).algorithm);

  if (usable) {
    out.status = MinerStatus::kOk;
  } else {
    out.status = denied ? MinerStatus::kAuthError : MinerStatus::kApiError;
    if (failures.empty()) failures = "no Whatsminer API v3 reply";
    out.family.clear();
    out.firmware.clear();
    out.algorithm.clear();
  }
  out.error = std::move(failures);
  CompleteRecord(out);
  MoveReplyFields(out, record);
}

}  // namespace

extern const Family kWhatsminer3 = {
    .name = "whatsminer3",
    .poll = kPoll,
    .software = {},
    .recognise = nullptr,  // a cgminer reply is never a v3 one
    .build = nullptr,
    .model = nullptr,
    .stats_boards = nullptr,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = nullptr,
    .state = nullptr,
    .extras = nullptr,
    .read_documents = ReadDocuments,
};

}  // namespace asicmon
