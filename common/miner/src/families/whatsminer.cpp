// MicroBT Whatsminers (btminer): summary carries fans, power and the build
// ("Firmware Version"); older firmware writes one STATS entry per board
// ("ID":"SM0"); "status" says whether the mining software is off.
#include <charconv>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"btminer", "btminer"}};

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
  if (s.status_msg &&
      (MemberOf(*s.status_msg, "btmineroff") || MemberOf(*s.status_msg, "Firmware Version"))) {
    return true;
  }
  for (element e : Objects(s.stats)) {
    if (IsBoard(e)) return true;
  }
  for (element e : Objects(s.devs)) {
    if (MemberOf(e, "PCB SN")) return true;
  }
  return false;
}

// Whatsminer writes its build as "'20200917.22.REL'", quotes included.
std::string Build(const Sections& s) {
  for (const Node& obj : {s.summary, s.status_msg}) {
    if (!obj) continue;
    const std::string text = OptString(*obj, "Firmware Version");
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

// One fan in, one out.
std::vector<int32_t> ReadFans(const Sections& s) {
  if (!s.summary) return {};
  std::vector<double> readings;
  for (std::string_view key : {"Fan Speed In", "Fan Speed Out"}) {
    if (std::optional<double> rpm = OptNumber(*s.summary, key)) readings.push_back(*rpm);
  }
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

void State(const Sections& s, Record& out) {
  if (s.status_msg && IsTrue(*s.status_msg, "btmineroff")) {
    Fill(out.hashrate, std::optional<double>(0));  // mining software off: hashing at 0, known
    out.sleeping = true;
  }
}

}  // namespace

extern const Family kWhatsminer = {
    .name = "whatsminer",
    .poll = {},
    .software = kSoftware,
    .recognise = Recognise,
    .build = Build,
    .model = Model,
    .stats_boards = StatsBoards,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = State,
    .extras = nullptr,
    .read_documents = nullptr,
};

}  // namespace asicmon
