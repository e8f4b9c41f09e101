#include "seeds.h"

#include "asicmon/bus.h"
#include "asicmon/health.h"
#include "asicmon/outbox.h"
#include "asicmon/record.h"
#include "sample_records.h"

namespace asicmon::fuzz {

std::vector<std::pair<std::string, std::string>> BusMessageSeeds() {
  std::vector<std::pair<std::string, std::string>> seeds;
  const Record polled = testing::SampleRecord("collect-fuzz-1", 7, 3, 1.7e9);
  seeds.emplace_back("record-ok", EncodeRecord(polled));
  Record timed_out;
  timed_out.producer_id = "collect-fuzz-1";
  timed_out.seq = 8;
  timed_out.ip = testing::DataOnlyIp(4);
  timed_out.status = MinerStatus::kTimeout;
  timed_out.error = "no reply within 5 s";
  seeds.emplace_back("record-timeout", EncodeRecord(timed_out));

  InventoryEntry found{.producer_id = "discover-fuzz-1",
                       .seq = 3,
                       .ts = 1.7e9,
                       .ip = testing::DataOnlyIp(5),
                       .identified = true,
                       .model = "Antminer S9",
                       .firmware = "BMMiner 2.0.0",
                       .worker = "farm.w5",
                       .family = "antminer",
                       .mac = "02:00:7f:00:00:05",
                       .serial = "SMTTF5",
                       .hostname = "Antminer",
                       .previous_ip = ""};
  std::string inventory;
  EncodeInventory(found, inventory);
  seeds.emplace_back("inventory-found", std::move(inventory));

  const PollJob job{.producer_id = "discover-fuzz-1",
                    .seq = 9,
                    .ts = 1.7e9,
                    .ip = testing::DataOnlyIp(6),
                    .expires_ts = 1.7e9 + 30,
                    .family = "antminer"};
  std::string job_bytes;
  EncodePollJob(job, job_bytes);
  seeds.emplace_back("poll-job", std::move(job_bytes));

  const HealthEvent overheat{.ts = 1.7e9,
                             .ip = testing::DataOnlyIp(7),
                             .model = "Antminer S9",
                             .worker = "farm.w7",
                             .kind = "overheat",
                             .state = "fired",
                             .severity = "critical",
                             .message = "temp_max 96 °C over 90 °C",
                             .value = 96,
                             .threshold = 90};
  seeds.emplace_back("health-fired", EncodeHealthEvent(overheat));
  HealthEvent back = overheat;
  back.kind = "offline";
  back.state = "cleared";
  back.severity = "info";
  back.message = "back online";
  back.value.reset();
  back.threshold.reset();
  seeds.emplace_back("health-cleared", EncodeHealthEvent(back));

  const bus::StageStats stats{.stage = "collect",
                              .producer_id = "collect-fuzz-1",
                              .ts = 1.7e9,
                              .values = {{"jobs", 120}, {"ok", 118}, {"timeout", 2}}};
  seeds.emplace_back("stage-stats", bus::EncodeStageStats(stats));

  const bus::StoreAck ack{.store_id = "store-fuzz-1-1700000000.000000",
                          .acked = {{"record", "collect-fuzz-1", {1, 120, 122, 130}},
                                    {"inventory", "discover-fuzz-1", {3, 3}}}};
  seeds.emplace_back("ack", bus::EncodeStoreAck(ack));
  return seeds;
}

}  // namespace asicmon::fuzz
