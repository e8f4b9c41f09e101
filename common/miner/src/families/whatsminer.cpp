// MicroBT Whatsminers (btminer), API v2 on port 4028: summary carries fans,
// power, the build ("Firmware Version"), the MAC and the error codes; older
// firmware writes one STATS entry per board ("ID":"SM0"); "status" says
// whether the mining software is off; get_miner_info names the machine and
// get_error_code dates its errors. The get_* commands and status answer
// with STATUS a string and Msg an object of facts.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"btminer", "btminer"}};

// btminer answers the cgminer commands as one "+" multi-command, but not
// status or the get_* commands, which each take an exchange of their own
// (pyasic/rpc/btminer.py, BTMinerRPCAPI.multicommand, at e2b9d357). It has
// no "stats". All of these are read without the admin token (Whatsminer
// API v2: only the set commands are encrypted).
constexpr PollStep kPoll[] = {
    {"summary+pools+edevs+devdetails", Framing::kCgminer, 0,
     R"({"command":"summary+pools+edevs+devdetails"})"},
    {"status", Framing::kCgminer, 0, R"({"command":"status"})"},
    {"get_miner_info", Framing::kCgminer, 0, R"({"command":"get_miner_info"})"},
    {"get_error_code", Framing::kCgminer, 0, R"({"command":"get_error_code"})"},
};

// Keys only btminer's Msg objects carry: status ("btmineroff" before 2022,
// "mineroff" and "FirmwareVersion" after), get_version ("fw_ver"),
// get_miner_info ("ledstat"), get_error_code ("error_code").
constexpr std::string_view kMsgKeys[] = {"btmineroff", "mineroff",   "Firmware Version",
                                         "FirmwareVersion", "fw_ver", "ledstat", "error_code"};

// The value of `key` in the first Msg object that has it.
Node MsgMember(const Sections& s, std::string_view key) {
  for (simdjson::dom::element msg : s.msgs) {
    if (Node v = MemberOf(msg, key)) return v;
  }
  return std::nullopt;
}

std::string MsgString(const Sections& s, std::string_view key) {
  const Node v = MsgMember(s, key);
  return v ? std::string(AsText(*v).value_or("")) : std::string();
}

bool IsBoard(element e) {
  const std::string id = OptString(e, "ID");
  return id.size() > 2 && id.compare(0, 2, "SM") == 0 && IsDigit(id[2]) &&
         MemberOf(e, "chip_num").has_value();
}

bool Recognise(const Sections& s, const Identity& id) {
  if (id.firmware == "btminer") return true;
  for (const std::string& d : s.descriptions) {
    if (StartsWithNoCase(d, "btminer") || StartsWithNoCase(d, "whatsminer")) return true;
  }
  if (s.summary && (MemberOf(*s.summary, "Fan Speed In") || MemberOf(*s.summary, "Fan Speed Out") ||
                    MemberOf(*s.summary, "Firmware Version"))) {
    return true;
  }
  for (std::string_view key : kMsgKeys) {
    if (MsgMember(s, key)) return true;
  }
  for (element e : Objects(s.stats)) {
    if (IsBoard(e)) return true;
  }
  for (element e : Objects(s.devs)) {
    if (MemberOf(e, "PCB SN")) return true;
  }
  return false;
}

// Whatsminer writes its build as "'20200917.22.REL'", quotes included, in
// summary and the old status; the 2022+ status says "FirmwareVersion" and
// get_version "fw_ver", unquoted.
std::string Build(const Sections& s) {
  const std::string texts[] = {s.summary ? OptString(*s.summary, "Firmware Version") : "",
                               MsgString(s, "Firmware Version"), MsgString(s, "FirmwareVersion"),
                               MsgString(s, "fw_ver")};
  for (const std::string& text : texts) {
    std::string_view build = Trim(text);
    while (!build.empty() && (build.front() == '\'' || build.front() == '"'))
      build.remove_prefix(1);
    while (!build.empty() && (build.back() == '\'' || build.back() == '"')) build.remove_suffix(1);
    if (!build.empty()) return std::string(build);
  }
  return {};
}

// devdetails "Model" is "M20S.V10" or "M31SV20": the variant after '.' or 'V' goes.
std::string Model(const Sections& s, const Identity&) {
  const std::vector<element> details = Objects(s.devdetails);
  const std::string text = details.empty() ? "" : OptString(details.front(), "Model");
  const std::string_view model = Trim(std::string_view(text).substr(0, text.find_first_of(".V")));
  const bool named = model.size() >= 2 && model[0] == 'M' && IsDigit(model[1]);
  return named ? "Whatsminer " + std::string(model) : "Whatsminer";
}

// Older firmware: one STATS entry per board, "ID":"SM0".
std::optional<double> StatsBoards(const Sections& s, double, Boards& boards) {
  for (element e : Objects(s.stats)) {
    if (!IsBoard(e)) continue;
    const std::string id = OptString(e, "ID");
    int32_t fallback = 0;
    std::from_chars(id.data() + 2, id.data() + id.size(), fallback);
    BoardStats& b = BoardAt(boards, OptInt32(e, "slot").value_or(fallback));
    Fill(b.chips, OptInt32(e, "chip_num"));
    Fill(b.chips_ok, OptInt32(e, "ok_chips"));
    Fill(b.chips_failed, OptInt32(e, "err_chips"));
    Fill(b.freq_mhz, FreqField(e, "freqs_avg"));
    Fill(b.temp_board, MaxOf(TempField(e, "temp_now_max"), TempField(e, "temp_1")));
  }
  return std::nullopt;
}

// edevs on 2023+ firmware (whatsminer-v2-devs.json) gives each board only
// "MHS av" and "Factory GHS" (true GH/s), no "MHS 5s": the board's rate is
// its average there, its nominal the factory figure.
void ListedBoards(const Sections& s, bool may_add, Boards& boards) {
  const std::vector<element> devs = Objects(s.devs);
  for (size_t i = 0; i < devs.size(); ++i) {
    BoardStats* b = ListedBoard(boards, devs[i], i, "ASC", may_add);
    if (b == nullptr) continue;
    Fill(b->hashrate, Rate(OptNumber(devs[i], "MHS av"), kMega));
    Fill(b->hashrate_expected, Nominal(Rate(OptNumber(devs[i], "Factory GHS"), kGiga)));
  }
}

// One fan in, one out.
std::vector<int32_t> ReadFans(const Sections& s) {
  if (!s.summary) return {};
  std::vector<double> readings;
  for (std::string_view key : {"Fan Speed In", "Fan Speed Out"}) {
    if (std::optional<double> rpm = OptNumber(*s.summary, key)) readings.push_back(*rpm);
  }
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

// status: "btmineroff" before 2022 firmware, "mineroff" after.
void State(const Sections& s, Record& out) {
  const auto off = [&](std::string_view key) {
    return std::any_of(s.msgs.begin(), s.msgs.end(), [&](element m) { return IsTrue(m, key); });
  };
  if (off("btmineroff") || off("mineroff")) {
    Fill(out.hashrate, std::optional<double>(0));  // mining software off: hashing at 0, known
    out.sleeping = true;
  }
}

// An error code as text: digits, as get_error_code's keys write it; "" for
// anything else.
std::string CodeOf(std::string_view text) {
  text = Trim(text);
  const bool digits =
      !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), IsDigit);
  return digits ? std::string(text) : std::string();
}

// A number, as summary's "Error Code N" writes it, or a string of digits.
std::string CodeOf(simdjson::dom::element value) {
  if (const std::optional<std::string_view> text = AsText(value)) return CodeOf(*text);
  const std::optional<double> n = AsNumber(value);
  if (!n || *n < 0 || *n >= 1e9) return {};
  return std::to_string(std::llround(*n));
}

// Errors by code, in the order first reported; v2 replies give no message
// (get_error_code pairs each code with the time it was raised).
void AddError(std::string code, Record& out) {
  if (code.empty() || out.errors.size() >= kMaxErrors) return;
  for (const MinerError& e : out.errors) {
    if (e.code == code) return;
  }
  out.errors.push_back({std::move(code), ""});
}

// Identity from get_miner_info ("mac", "hostname", and "minersn" where the
// firmware gives it) or summary's "MAC"; errors from summary's "Error Code N"
// and get_error_code's [{"110":"2024-06-15 09:15:00"}, ...].
void Extras(const Sections& s, Record& out) {
  // btminer is a cgminer 4.9.2 fork and 2022+ builds say "cgminer 4.9.2" in
  // every STATUS Description (whatsminer-v2-*.json): the software is btminer
  // (as 2021 builds and API v3 say), its build get_version's "fw_ver".
  if (StartsWithNoCase(out.firmware, "cgminer")) out.firmware = "btminer";
  std::string mac = MsgString(s, "mac");
  if (mac.empty() && s.summary) mac = OptString(*s.summary, "MAC");
  if (out.mac.empty()) out.mac = MacAddress(mac);
  if (out.hostname.empty()) out.hostname = std::string(Trim(MsgString(s, "hostname")));
  if (out.serial.empty()) out.serial = std::string(Trim(MsgString(s, "minersn")));

  constexpr std::string_view kErrorKey = "Error Code ";  // "Error Code 0", not "... Count"
  if (s.summary) {
    ForEachMember(*s.summary, [&](std::string_view key, simdjson::dom::element value) {
      if (key.starts_with(kErrorKey) && !CodeOf(key.substr(kErrorKey.size())).empty()) {
        AddError(CodeOf(value), out);
      }
    });
  }
  const Node listed = MsgMember(s, "error_code");
  simdjson::dom::array list;
  if (!listed || listed->get(list) != simdjson::SUCCESS) return;
  for (simdjson::dom::element entry : list) {
    if (!entry.is_object()) {
      AddError(CodeOf(entry), out);
      continue;
    }
    ForEachMember(entry, [&](std::string_view key, simdjson::dom::element) {
      AddError(CodeOf(key), out);
    });
  }
}

// btminer before API v2.0 (2021) refuses get_miner_info and get_error_code:
// its miners are asked the first two steps only.
constexpr PollStep kLeanPoll[] = {kPoll[0], kPoll[1]};

bool RefusesApiV2(std::span<const std::optional<std::string>> payloads) {
  return payloads.size() == 4 && payloads[0] && payloads[1] && StepRefused(payloads[2]) &&
         StepRefused(payloads[3]);
}

}  // namespace

extern const Family kWhatsminer = {
    .name = "whatsminer",
    .poll = kPoll,
    .software = kSoftware,
    .recognise = Recognise,
    .build = Build,
    .model = Model,
    .stats_boards = StatsBoards,
    .listed_boards = ListedBoards,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = State,
    .extras = Extras,
    .read_documents = nullptr,
    .lean_poll = kLeanPoll,
    .lean_suffices = RefusesApiV2,
};

}  // namespace asicmon
