#include "metrics.h"

#include <prometheus/text_serializer.h>

#include <optional>

namespace asicmon::control {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Gauge(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), MetricType::Gauge, {}};
}

std::vector<ClientMetric::Label> MinerLabels(const Record& r) {
  return {{"ip", r.ip}, {"model", r.model}, {"worker", r.worker}};
}

void Add(MetricFamily& family, const std::vector<ClientMetric::Label>& labels, double value) {
  ClientMetric& m = family.metric.emplace_back();
  m.label = labels;
  m.gauge.value = value;
}

void AddIf(MetricFamily& family, const std::vector<ClientMetric::Label>& labels,
           const std::optional<double>& value) {
  if (value) Add(family, labels, *value);  // "not reported" is no sample, never 0
}

template <typename T>
std::optional<double> AsDouble(const std::optional<T>& v) {
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

}  // namespace

std::vector<MetricFamily> MinerFamilies(const std::vector<Record>& latest) {
  MetricFamily up = Gauge("asicmon_miner_up", "1 when the miner's last poll was ok, else 0");
  MetricFamily last = Gauge("asicmon_miner_last_poll_timestamp_seconds",
                            "Unix time of the miner's last stored poll");
  MetricFamily hashrate = Gauge("asicmon_miner_hashrate_hashes_per_second",
                                "Hashrate, short window (H/s for every algorithm)");
  MetricFamily hashrate_avg = Gauge("asicmon_miner_hashrate_avg_hashes_per_second",
                                    "Hashrate since start or the longest window reported");
  MetricFamily expected = Gauge("asicmon_miner_hashrate_expected_hashes_per_second",
                                "The miner's own nominal hashrate");
  MetricFamily temp = Gauge("asicmon_miner_temperature_max_celsius", "Hottest chip sensor");
  MetricFamily uptime = Gauge("asicmon_miner_uptime_seconds", "Seconds since the miner started");
  MetricFamily power = Gauge("asicmon_miner_power_watts", "Power draw as the miner reports it");
  MetricFamily fan = Gauge("asicmon_miner_fan_rpm", "Fan speed; 0 is a stopped fan");
  MetricFamily board_hashrate =
      Gauge("asicmon_miner_board_hashrate_hashes_per_second", "Hashrate of one hash board");
  MetricFamily board_temp =
      Gauge("asicmon_miner_board_temperature_celsius", "Hottest chip sensor of one hash board");
  MetricFamily chips_failed =
      Gauge("asicmon_miner_board_chips_failed", "Chips the board marks failed ('x')");
  for (MetricFamily* f : {&up, &last}) f->metric.reserve(latest.size());

  for (const Record& r : latest) {
    const auto labels = MinerLabels(r);
    Add(up, labels, r.status == MinerStatus::kOk ? 1 : 0);
    Add(last, labels, r.ts);
    AddIf(hashrate, labels, r.hashrate);
    AddIf(hashrate_avg, labels, r.hashrate_avg);
    AddIf(expected, labels, r.hashrate_expected);
    AddIf(temp, labels, r.temp_max);
    AddIf(uptime, labels, AsDouble(r.uptime_s));
    AddIf(power, labels, r.power_w);
    for (size_t i = 0; i < r.fans.size(); ++i) {
      auto with_fan = labels;
      with_fan.push_back({"fan", std::to_string(i)});
      Add(fan, with_fan, r.fans[i]);
    }
    for (const BoardStats& b : r.boards) {
      auto with_board = labels;
      with_board.push_back({"board", std::to_string(b.index)});
      AddIf(board_hashrate, with_board, b.hashrate);
      AddIf(board_temp, with_board, b.temp_chip ? b.temp_chip : b.temp_board);
      AddIf(chips_failed, with_board, AsDouble(b.chips_failed));
    }
  }
  return {std::move(up),       std::move(last),           std::move(hashrate),
          std::move(hashrate_avg), std::move(expected),   std::move(temp),
          std::move(uptime),   std::move(power),          std::move(fan),
          std::move(board_hashrate), std::move(board_temp), std::move(chips_failed)};
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
                        .Add({})) {
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

std::string Metrics::Render(const std::vector<Record>& latest, double db_read_seconds) const {
  std::vector<MetricFamily> families = MinerFamilies(latest);
  MetricFamily miners = Gauge("asicmon_miners", "Miners with a stored state");
  Add(miners, {}, static_cast<double>(latest.size()));
  families.push_back(std::move(miners));
  MetricFamily read = Gauge("asicmon_control_metrics_db_read_seconds",
                            "Time this scrape spent reading the miners' state from the store");
  Add(read, {}, db_read_seconds);
  families.push_back(std::move(read));
  for (MetricFamily& f : registry_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace asicmon::control
