#include "bus_watch.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <vector>

#include "asicmon/clock.h"
#include "asicmon/events.h"
#include "asicmon/health.h"
#include "asicmon/record.h"

namespace asicmon::control {
namespace {

using Clock = std::chrono::steady_clock;

// How often the miners' gauges are rebuilt from the store, healing records
// the bus did not bring (each rebuild reads every miner: ~60 ms at 10,000).
constexpr auto kGaugeResync = std::chrono::minutes(5);

}  // namespace

Status ResyncGauges(DbPool& db, MinerGauges& gauges) {
  LatestFilter all;
  all.limit = std::numeric_limits<size_t>::max();
  Result<std::vector<Record>> latest = db.With([&](StoreDb& store) { return store.Latest(all); });
  if (!latest.ok()) return latest.status();
  gauges.Reset(*latest);
  return Status::Ok();
}

void BusWatch::Run(zmq::context_t& context, const std::atomic<bool>& stopping) {
  bus::SocketOptions sub_options;
  sub_options.rcvhwm = 100000;
  sub_options.linger_ms = 0;
  sub_options.curve = &endpoints_.curve;
  Result<zmq::socket_t> sub =
      bus::Connect(context, zmq::socket_type::sub, endpoints_.publish, sub_options);
  if (!sub.ok()) {
    spdlog::error("bus counters off: {}", sub.status().ToString());
    return;
  }
  if (Status s = bus::Subscribe(*sub, {bus::kTopicRecord, bus::kTopicInventory, bus::kTopicEvent});
      !s.ok()) {
    spdlog::error("bus counters off: {}", s.ToString());
    return;
  }
  auto next_resync = Clock::now() + kGaugeResync;
  auto next_farm_sample = Clock::now();
  while (!stopping) {
    if (Clock::now() >= next_resync) {
      if (Status s = ResyncGauges(db_, gauges_); !s.ok()) {
        spdlog::warn("gauges not resynced: {}", s.ToString());
      }
      next_resync = Clock::now() + kGaugeResync;
    }
    remediation_.Tick(UnixNow());
    if (Clock::now() >= next_farm_sample) {
      farm_history_.Add(gauges_.Totals());
      next_farm_sample = Clock::now() + kFarmSampleEvery;
    }
    zmq::pollitem_t item{sub->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(200));
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      continue;
    }
    for (int i = 0; i < 1000; ++i) {
      Result<std::optional<bus::Message>> m = bus::TryReceive(*sub);
      if (!m.ok()) {
        metrics_.CountBadMessage();
        continue;
      }
      if (!m->has_value()) break;
      Observe(**m);
    }
  }
}

void BusWatch::Observe(const bus::Message& msg) {
  if (msg.topic == bus::kTopicRecord) {
    Result<Record> r = DecodeRecord(msg.body);
    if (!r.ok()) return metrics_.CountBadMessage();
    metrics_.CountRecord(r->status);
    gauges_.Update(*r);
    if (uint64_t missed = records_seq_.Observe(r->producer_id, r->seq)) {
      metrics_.CountBusGaps(bus::kTopicRecord, missed);
    }
  } else if (msg.topic == bus::kTopicEvent) {
    Result<Event> event = DecodeEvent(msg.body);
    if (!event.ok()) return metrics_.CountBadMessage();
    if (event->kind == EventKind::kHealth) {
      Result<HealthEvent> health = HealthEventFromJson(event->body);
      if (!health.ok()) return metrics_.CountBadMessage();
      remediation_.Observe(*health);
    } else if (event->kind == EventKind::kStats) {
      Result<bus::StageStats> stats = bus::StageStatsFromJson(event->body);
      if (!stats.ok()) return metrics_.CountBadMessage();
      metrics_.UpdateStage(std::move(*stats));
    }
  } else {
    Result<InventoryEntry> e = DecodeInventory(msg.body);
    if (!e.ok()) return metrics_.CountBadMessage();
    metrics_.CountInventory(e->change);
    if (uint64_t missed = inventory_seq_.Observe(e->producer_id, e->seq)) {
      metrics_.CountBusGaps(bus::kTopicInventory, missed);
    }
  }
}

}  // namespace asicmon::control
