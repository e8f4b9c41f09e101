#include "metrics.h"

#include <prometheus/text_serializer.h>

#include "asicmon/clock.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <iterator>
#include <optional>

namespace asicmon::control {
namespace {

// Label values escaped as the text format wants: backslash, quote, newline.
void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
}

// Writes the samples of one family for one miner.
struct Sampler {
  std::string& out;
  std::string_view name;
  std::string_view labels;  // `{ip="…",model="…",worker="…"`, still open
  void operator()(std::string_view extra, double value) const {
    out.append(name);
    out.append(labels);
    out.append(extra);
    out.append("} ");
    fmt::format_to(std::back_inserter(out), "{}", value);
    out.push_back('\n');
  }
  template <typename T>
  void If(const std::optional<T>& value, std::string_view extra = {}) const {
    if (value) (*this)(extra, static_cast<double>(*value));  // not reported: no sample, never 0
  }
};

struct GaugeFamily {
  const char* name;
  const char* help;
  void (*emit)(const Record&, const Sampler&);
};

void PerBoard(const Record& r, const Sampler& sample,
              std::optional<double> (*field)(const BoardStats&)) {
  for (const BoardStats& b : r.boards) sample.If(field(b), fmt::format(",board=\"{}\"", b.index));
}

constexpr GaugeFamily kFamilies[] = {
    {"asicmon_miner_up", "1 when the miner's last poll was ok, else 0",
     [](const Record& r, const Sampler& s) { s({}, r.status == MinerStatus::kOk ? 1 : 0); }},
    {"asicmon_miner_sleeping", "1 when the miner is asleep on purpose (not a fault), else 0",
     [](const Record& r, const Sampler& s) { s({}, r.sleeping ? 1 : 0); }},
    {"asicmon_miner_last_poll_timestamp_seconds", "Unix time of the miner's last stored poll",
     [](const Record& r, const Sampler& s) { s({}, r.ts); }},
    {"asicmon_miner_hashrate_hashes_per_second", "Hashrate, short window (H/s for every algorithm)",
     [](const Record& r, const Sampler& s) { s.If(r.hashrate); }},
    {"asicmon_miner_hashrate_avg_hashes_per_second",
     "Hashrate since start or the longest window reported",
     [](const Record& r, const Sampler& s) { s.If(r.hashrate_avg); }},
    {"asicmon_miner_hashrate_expected_hashes_per_second", "The miner's own nominal hashrate",
     [](const Record& r, const Sampler& s) { s.If(r.hashrate_expected); }},
    {"asicmon_miner_temperature_max_celsius", "Hottest chip sensor",
     [](const Record& r, const Sampler& s) { s.If(r.temp_max); }},
    {"asicmon_miner_uptime_seconds", "Seconds since the miner started",
     [](const Record& r, const Sampler& s) { s.If(r.uptime_s); }},
    {"asicmon_miner_power_watts", "Power draw as the miner reports it",
     [](const Record& r, const Sampler& s) { s.If(r.power_w); }},
    {"asicmon_miner_fan_rpm", "Fan speed; 0 is a stopped fan",
     [](const Record& r, const Sampler& s) {
       for (size_t f = 0; f < r.fans.size(); ++f) s(fmt::format(",fan=\"{}\"", f), r.fans[f]);
     }},
    {"asicmon_miner_board_hashrate_hashes_per_second", "Hashrate of one hash board",
     [](const Record& r, const Sampler& s) {
       PerBoard(r, s, [](const BoardStats& b) { return b.hashrate; });
     }},
    {"asicmon_miner_board_temperature_celsius", "Hottest chip sensor of one hash board",
     [](const Record& r, const Sampler& s) {
       PerBoard(r, s, [](const BoardStats& b) { return b.temp_chip ? b.temp_chip : b.temp_board; });
     }},
    {"asicmon_miner_board_chips_failed", "Chips the board marks failed ('x')",
     [](const Record& r, const Sampler& s) {
       PerBoard(r, s, [](const BoardStats& b) {
         return b.chips_failed ? std::optional<double>(*b.chips_failed) : std::nullopt;
       });
     }},
};
static_assert(std::size(kFamilies) == MinerGauges::kFamilyCount);

// Numeric address order, as /miners lists them.
uint64_t AddressKey(const Record& r) {
  uint32_t ip = 0;
  if (inet_pton(AF_INET, r.ip.c_str(), &ip) != 1) return 0;
  return (static_cast<uint64_t>(ntohl(ip)) << 16) | r.port;
}

}  // namespace

MinerGauges::Lines MinerGauges::RenderLines(const Record& record) {
  std::string labels = "{ip=\"";
  AppendEscaped(labels, record.ip);
  labels.append("\",model=\"");
  AppendEscaped(labels, record.model);
  labels.append("\",worker=\"");
  AppendEscaped(labels, record.worker);
  labels.push_back('"');
  // The machine's identity where known: its series go on under the same mac
  // when DHCP moves it to another ip (query by mac to follow it).
  if (!record.mac.empty()) {
    labels.append(",mac=\"");
    AppendEscaped(labels, record.mac);
    labels.push_back('"');
  }
  Lines lines;
  for (size_t f = 0; f < kFamilyCount; ++f) {
    kFamilies[f].emit(record, Sampler{lines.text[f], kFamilies[f].name, labels});
  }
  lines.ts = record.ts;
  lines.status = record.status;
  lines.sleeping = record.sleeping;
  lines.hashrate = record.hashrate;
  lines.hashrate_expected = record.hashrate_expected;
  lines.power_w = record.power_w;
  lines.algorithm = record.algorithm;
  return lines;
}

void MinerGauges::CarryOver(Lines& lines, const Lines& before) {
  // A failed poll reports no nominal rate and no algorithm, yet the farm
  // still expects the miner's rate, in its algorithm.
  if (!lines.hashrate_expected) lines.hashrate_expected = before.hashrate_expected;
  if (lines.algorithm.empty()) lines.algorithm = before.algorithm;
}

void MinerGauges::Keep(std::map<uint64_t, Lines>& miners, const Record& record) {
  Lines& current = miners[AddressKey(record)];
  if (record.ts < current.ts) return;  // an older record changes nothing
  Lines lines = RenderLines(record);
  CarryOver(lines, current);
  current = std::move(lines);
}

void MinerGauges::Update(const Record& record) {
  std::lock_guard lock(mutex_);
  Keep(miners_, record);
}

void MinerGauges::Reset(const std::vector<Record>& latest) {
  // Built aside and swapped in, so a scrape meanwhile sees the old set whole.
  std::map<uint64_t, Lines> miners;
  for (const Record& r : latest) Keep(miners, r);
  std::lock_guard lock(mutex_);
  for (auto& [key, lines] : miners) {
    if (auto held = miners_.find(key); held != miners_.end()) CarryOver(lines, held->second);
  }
  miners_.swap(miners);
}

size_t MinerGauges::size() const {
  std::lock_guard lock(mutex_);
  return miners_.size();
}

FarmTotals MinerGauges::Totals() const {
  FarmTotals totals;
  totals.ts = UnixNow();
  std::lock_guard lock(mutex_);
  totals.miners = miners_.size();
  for (const auto& [key, lines] : miners_) {
    ++totals.by_status[static_cast<size_t>(lines.status)];
    if (lines.sleeping) ++totals.sleeping;
    totals.hashrate += lines.hashrate.value_or(0);
    totals.hashrate_expected += lines.hashrate_expected.value_or(0);
    AlgorithmTotals& algorithm =
        totals.algorithms[lines.algorithm.empty() ? "unknown" : lines.algorithm];
    ++algorithm.miners;
    algorithm.hashrate += lines.hashrate.value_or(0);
    algorithm.hashrate_expected += lines.hashrate_expected.value_or(0);
    if (lines.power_w) totals.power_w = totals.power_w.value_or(0) + *lines.power_w;
  }
  return totals;
}

void MinerGauges::Render(std::string& out) const {
  std::lock_guard lock(mutex_);
  size_t bytes = 0;
  for (const auto& [key, lines] : miners_) {
    for (const std::string& t : lines.text) bytes += t.size();
  }
  out.reserve(out.size() + bytes + 4096);
  for (size_t f = 0; f < kFamilyCount; ++f) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} gauge\n", kFamilies[f].name,
                   kFamilies[f].help, kFamilies[f].name);
    for (const auto& [key, lines] : miners_) out.append(lines.text[f]);
  }
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("asicmon_control_requests_total")
                    .Help("REST requests answered, by route and HTTP status")
                    .Register(*registry_)),
      actions_(prometheus::BuildCounter()
                   .Name("asicmon_control_actions_total")
                   .Help("Write commands on miners, by action and result")
                   .Register(*registry_)),
      records_(prometheus::BuildCounter()
                   .Name("asicmon_records_stored_total")
                   .Help("Records stored and published by asicmon-store, by poll status "
                         "(counted by control on the bus since it started)")
                   .Register(*registry_)),
      inventory_(prometheus::BuildCounter()
                     .Name("asicmon_inventory_changes_total")
                     .Help("Miners found, changed and gone, as discover's sweeps report them")
                     .Register(*registry_)),
      bus_gaps_(prometheus::BuildCounter()
                    .Name("asicmon_bus_gaps_total")
                    .Help("Messages control missed on the bus, from producers' sequence numbers")
                    .Register(*registry_)),
      bad_messages_(prometheus::BuildCounter()
                        .Name("asicmon_bus_bad_messages_total")
                        .Help("Bus messages control could not decode")
                        .Register(*registry_)
                        .Add({})),
      auth_refusals_(prometheus::BuildCounter()
                         .Name("asicmon_control_auth_refusals_total")
                         .Help("Requests refused for their key, by reason (a wrong key is "
                               "'unknown'; 'throttled' while its peer waits out a penalty)")
                         .Register(*registry_)) {
  // Every status and change shows from the start, at 0, so rates work.
  for (int s = 0; s < kMinerStatusCount; ++s) {
    records_.Add({{"status", std::string(ToString(static_cast<MinerStatus>(s)))}});
  }
  for (int c = 0; c < kInventoryChangeCount; ++c) {
    inventory_.Add({{"change", std::string(ToString(static_cast<InventoryChange>(c)))}});
  }
}

void Metrics::CountRequest(std::string_view route, int http_status) {
  requests_.Add({{"route", std::string(route)}, {"code", std::to_string(http_status)}}).Increment();
}

void Metrics::CountAction(std::string_view action, std::string_view result) {
  actions_.Add({{"action", std::string(action)}, {"result", std::string(result)}}).Increment();
}

void Metrics::CountRecord(MinerStatus status) {
  records_.Add({{"status", std::string(ToString(status))}}).Increment();
}

void Metrics::CountInventory(InventoryChange change) {
  inventory_.Add({{"change", std::string(ToString(change))}}).Increment();
}

void Metrics::CountBusGaps(std::string_view topic, uint64_t missed) {
  bus_gaps_.Add({{"topic", std::string(topic)}}).Increment(static_cast<double>(missed));
}

void Metrics::CountBadMessage() { bad_messages_.Increment(); }

void Metrics::CountAuthRefusal(std::string_view reason) {
  auth_refusals_.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::UpdateStage(bus::StageStats stats) {
  std::lock_guard lock(stages_mutex_);
  auto key = std::make_pair(stats.stage, stats.producer_id);
  stages_[std::move(key)] = std::move(stats);
}

std::string Metrics::Render(const MinerGauges& gauges) const {
  std::string out;
  gauges.Render(out);
  fmt::format_to(std::back_inserter(out),
                 "# HELP asicmon_miners Miners with a stored state\n# TYPE asicmon_miners gauge\n"
                 "asicmon_miners {}\n",
                 gauges.size());
  out.append(
      "# HELP asicmon_stage_counter Each pipeline process's own counters, as it last sent them "
      "(every STATS_INTERVAL)\n# TYPE asicmon_stage_counter gauge\n");
  {
    std::lock_guard lock(stages_mutex_);
    const double stale_before = UnixNow() - 600;
    std::erase_if(stages_, [&](const auto& entry) { return entry.second.ts < stale_before; });
    for (const auto& [key, stats] : stages_) {
      std::string labels = "{stage=\"" + stats.stage + "\",producer=\"";
      AppendEscaped(labels, stats.producer_id);
      labels.append("\",counter=\"");
      for (const auto& [name, value] : stats.values) {
        fmt::format_to(std::back_inserter(out), "asicmon_stage_counter{}{}\"}} {}\n", labels, name,
                       value);
      }
    }
  }
  out.append(prometheus::TextSerializer().Serialize(registry_->Collect()));
  for (const auto& section : sections_) section(out);
  return out;
}

}  // namespace asicmon::control
