// The record-building helpers every family uses: units, ranges, boards, fans.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "family.h"

namespace asicmon {
namespace {

// Sensor readings outside this range are broken sensors (the S9's temp2_7 = -83).
constexpr double kMinTempC = -40;
constexpr double kMaxTempC = 200;
constexpr double kMaxFreqMhz = 10000;

// The hottest valid reading of a sensor list: S17/S19 write "60-71-83-96", and a
// '-' right after a separator is a sign: "2--1-20-22" is 2, -1, 20, 22.
std::optional<double> MaxTempOfList(std::string_view list) {
  std::optional<double> hottest;
  size_t i = 0;
  while (i < list.size()) {
    const size_t start = i;
    if (list[i] == '-') ++i;
    while (i < list.size() && list[i] != '-') ++i;
    hottest = MaxOf(hottest, ValidTemp(ParseNumber(list.substr(start, i - start))));
    if (i < list.size()) ++i;
  }
  return hottest;
}

}  // namespace

std::optional<char> StatusForm(std::string_view reply) {
  // Near the start, as every cgminer-style firmware writes it; spaces after
  // the colon in some (S19 Pro captures: {"STATUS": [...).
  const size_t at = reply.find("\"STATUS\"");
  if (at == std::string_view::npos || at > 8) return std::nullopt;
  size_t i = at + 8;
  auto skip_spaces = [&] {
    while (i < reply.size() && (reply[i] == ' ' || reply[i] == '\t' || reply[i] == '\n' ||
                                reply[i] == '\r')) {
      ++i;
    }
  };
  skip_spaces();
  if (i >= reply.size() || reply[i] != ':') return std::nullopt;
  ++i;
  skip_spaces();
  if (i >= reply.size()) return std::nullopt;
  if (reply[i] == '"' && i + 1 < reply.size()) return reply[i + 1] == 'E' ? 'E' : '"';
  return reply[i];
}

bool StepRefused(const std::optional<std::string>& payload) {
  return !payload || StatusForm(*payload) == 'E';
}

Node FindDocument(std::span<const PolledDocument> documents, std::string_view step) {
  for (const PolledDocument& d : documents) {
    if (d.step == step) return d.doc;
  }
  return std::nullopt;
}

BoardStats& BoardAt(Boards& boards, int32_t index) {
  BoardStats& b = boards[index];
  b.index = index;
  return b;
}

BoardStats* ListedBoard(Boards& boards, simdjson::dom::element entry, size_t position,
                        std::string_view id_key, bool may_add) {
  const int32_t index = OptInt32(entry, "ID").value_or(
      OptInt32(entry, id_key).value_or(static_cast<int32_t>(position)));
  if (!may_add && boards.find(index) == boards.end()) return nullptr;
  return &BoardAt(boards, index);
}

std::optional<double> MaxOf(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

// Firmware writes 0 for a sensor it does not have or cannot read (every
// unpopulated chain, the S9's temp7 on a hashing board, bOS+'s "Chip":0.0), so a
// reading of exactly 0 is "not reported"; real readings near 0 (the cold S19's
// "2--1-20-22") and below it stay.
std::optional<double> ValidTemp(std::optional<double> t) {
  if (!t || *t == 0 || *t < kMinTempC || *t > kMaxTempC) return std::nullopt;
  return t;
}

std::optional<double> TempField(simdjson::dom::element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  if (!v) return std::nullopt;
  if (const std::optional<std::string_view> list = AsText(*v)) return MaxTempOfList(*list);
  return ValidTemp(AsNumber(*v));
}

std::optional<double> ValidFreq(std::optional<double> mhz) {
  if (!mhz || *mhz <= 0 || *mhz > kMaxFreqMhz) return std::nullopt;
  return mhz;
}

std::optional<double> FreqField(simdjson::dom::element obj, std::string_view key) {
  return ValidFreq(OptNumber(obj, key));
}

std::optional<double> Rate(std::optional<double> value, double unit) {
  if (!value || *value < 0) return std::nullopt;
  return *value * unit;
}

// Unpopulated chains, S17's chain_rateideal and sleeping units write 0.
std::optional<double> Nominal(std::optional<double> rate) {
  return rate && *rate > 0 ? rate : std::nullopt;
}

std::vector<int32_t> ChainIndices(simdjson::dom::element stats) {
  std::vector<int32_t> out;
  ForEachMember(stats, [&](std::string_view key, simdjson::dom::element) {
    for (std::string_view prefix : {"chain_acn", "chain_acs"}) {
      const std::string_view digits = key.substr(std::min(key.size(), prefix.size()));
      if (!key.starts_with(prefix) || digits.empty() || digits.size() > 9 ||
          !std::all_of(digits.begin(), digits.end(), IsDigit)) {
        continue;
      }
      int32_t n = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
      out.push_back(n);
    }
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string MacAddress(std::string_view text) {
  text = Trim(text);
  constexpr size_t kLength = 17;  // six hex pairs, five separators
  constexpr size_t kBare = 12;    // six hex pairs alone
  if (text.size() == kBare) {
    std::string separated;
    for (size_t i = 0; i < kBare; i += 2) {
      if (i > 0) separated += ':';
      separated.append(text.substr(i, 2));
    }
    return MacAddress(separated);
  }
  if (text.size() != kLength) return {};
  std::string mac(text);
  for (size_t i = 0; i < mac.size(); ++i) {
    char& c = mac[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return {};
      c = ':';
    } else if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) {
      return {};
    }
  }
  return mac;
}

// Absent fans read 0, so only nonzero readings count as fans.
std::vector<int32_t> Fans(const std::vector<double>& readings, int64_t declared) {
  std::vector<int32_t> fans;
  for (double rpm : readings) {
    if (rpm > 0 && rpm <= kMaxFanRpm && fans.size() < kMaxFans) {
      fans.push_back(static_cast<int32_t>(std::lround(rpm)));
    }
  }
  const size_t want = std::min(static_cast<size_t>(std::max<int64_t>(declared, 0)), kMaxFans);
  if (fans.size() < want) fans.resize(want, 0);
  return fans;
}

std::vector<int32_t> FansSection(const Node& fans) {
  std::vector<double> readings;
  for (simdjson::dom::element e : Objects(fans)) {
    if (std::optional<double> rpm = OptNumber(e, "RPM")) readings.push_back(*rpm);
  }
  return Fans(readings, 0);
}

}  // namespace asicmon
