// Issue 17, defect 7: a store killed -9 loses nothing. Producers keep what
// they sent until store acknowledges it, and send the rest again to the
// restarted store, which drops what it already has. Real processes: the fake
// farm, discover, one collect worker and store, on a private run directory
// and database. Loopback range: 127.54.0.0/16.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <thread>

#include "asicmon/bus.h"
#include "asicmon/store_db.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::StatValue;
using asicmon::testing::Subprocess;
using asicmon::testing::WaitForStat;
using namespace std::chrono_literals;

class ResendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("asicmon-resend-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_path_ = (dir_ / "asicmon.db").string();
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", db_path_.c_str(), 1);
    setenv("SUBNET", "127.54.0.1-40", 1);
    setenv("SCAN_INTERVAL", "1", 1);
    setenv("SWEEP_INTERVAL", "300", 1);
    setenv("POLL_TIMEOUT", "0.8", 1);
    setenv("STATS_INTERVAL", "1", 1);
  }
  void TearDown() override {
    for (const char* v : {"ASICMON_RUN_DIR", "ASICMON_DB", "SUBNET", "SCAN_INTERVAL",
                          "SWEEP_INTERVAL", "POLL_TIMEOUT", "STATS_INTERVAL", "BATCH_WAIT"}) {
      unsetenv(v);
    }
    std::filesystem::remove_all(dir_);
  }

  // Every stored record, by producer, then seq.
  std::map<std::string, std::vector<Record>> StoredByProducer() {
    std::map<std::string, std::vector<Record>> out;
    StoreOptions options;
    options.database = db_path_;
    auto db = StoreDb::Open(options);
    EXPECT_OK(db);
    if (!db.ok()) return out;
    auto seqs = (*db)->LastSeqs();
    EXPECT_OK(seqs);
    if (!seqs.ok()) return out;
    for (const auto& [producer, last] : *seqs) {
      auto rows = (*db)->RecordsBySeq(producer, 1, last, 1000000);
      EXPECT_OK(rows);
      if (rows.ok()) out[producer] = std::move(*rows);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::string db_path_;
};

TEST_F(ResendTest, StoreKilledWithUncommittedRecordsLosesNone) {
  asicmon::testing::FakeFarm farm =
      asicmon::testing::StartFakeFarm({"--base", "127.54.0.1", "--count", "40", "--seed", "3"});
  ASSERT_EQ(farm.miners.size(), 40u);

  // A batch waits 3 s before its commit, so the store holds records it
  // received and has not committed when it is killed.
  setenv("BATCH_WAIT", "3", 1);
  auto store =
      std::make_unique<Subprocess>(std::vector<std::string>{BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  ASSERT_TRUE(WaitForStat(*store, "stored", 40, 30s)) << store->stderr_text();
  ASSERT_TRUE(WaitForStat(*store, "pending", 20, 30s)) << store->stderr_text();
  store->Signal(SIGKILL);
  EXPECT_EQ(store->Wait(5s), 128 + SIGKILL);

  setenv("BATCH_WAIT", "0.1", 1);
  store = std::make_unique<Subprocess>(std::vector<std::string>{BinPath("asicmon-store")}, true);
  ASSERT_TRUE(WaitForStat(*store, "stored", 100, 30s)) << store->stderr_text();
  // The collector sends again what the killed store had not acknowledged
  // (late_stored counts it in); a store without that fills nothing.
  WaitForStat(*store, "late_stored", 1, 15s);

  // Stop polling, then the collector (it waits for the store's last
  // acknowledgements), then the store.
  discover.Signal(SIGTERM);
  EXPECT_EQ(discover.Wait(10s), 0) << discover.stderr_text();
  collect.Signal(SIGTERM);
  EXPECT_EQ(collect.Wait(10s), 0) << collect.stderr_text();
  store->Signal(SIGTERM);
  EXPECT_EQ(store->Wait(10s), 0) << store->stderr_text();

  // Every seq of the collector, 1 to its last, stored exactly once.
  const std::map<std::string, std::vector<Record>> stored = StoredByProducer();
  std::string producers;
  for (const auto& [producer, rows] : stored)
    producers += producer + " (" + std::to_string(rows.size()) + ") ";
  ASSERT_EQ(stored.size(), 1u) << producers;
  const std::vector<Record>& rows = stored.begin()->second;
  ASSERT_FALSE(rows.empty());
  std::vector<uint64_t> missing, twice;
  uint64_t expect = 1;
  for (const Record& r : rows) {
    if (r.seq < expect) twice.push_back(r.seq);
    for (; expect < r.seq; ++expect) missing.push_back(expect);
    expect = r.seq + 1;
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " seqs never stored, the first "
                               << missing.front() << " (of " << rows.back().seq << ")";
  EXPECT_TRUE(twice.empty()) << twice.size() << " seqs stored twice";
  EXPECT_GE(rows.back().seq, 100u);
}

// What a producer sends again is dropped when the store has it (same
// producer, seq and ts), and stored when only the seq is the same: a
// producer restarted under the same PRODUCER_ID starts again at 1.
TEST_F(ResendTest, StoreDropsWhatItHasAndKeepsARestartedProducersRecords) {
  Subprocess store({BinPath("asicmon-store")}, true);
  zmq::context_t context(1);
  zmq::socket_t ingest =
      asicmon::testing::IngestPusher(context, "ipc://" + (dir_ / "run/ingest.sock").string());
  const std::string producer = "collect-fixed-id";
  auto send = [&](const Record& r) {
    ASSERT_TRUE(bus::TrySend(ingest, bus::kTopicRecord, EncodeRecord(r)));
  };
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    send(asicmon::testing::RecentSampleRecord(producer, seq));
  }
  ASSERT_TRUE(WaitForStat(store, "stored", 3, 20s)) << store.stderr_text();
  // A resend of seq 2 (the same bytes), and seq 2 of a restarted producer.
  send(asicmon::testing::RecentSampleRecord(producer, 2));
  Record restarted = asicmon::testing::RecentSampleRecord(producer, 2);
  restarted.ts += 0.005;
  send(restarted);
  ASSERT_TRUE(WaitForStat(store, "late_stored", 1, 20s)) << store.stderr_text();
  EXPECT_EQ(StatValue(store, "duplicates_dropped"), 1u);
  EXPECT_EQ(StatValue(store, "stored"), 4u);
  store.Signal(SIGTERM);
  EXPECT_EQ(store.Wait(10s), 0) << store.stderr_text();

  const std::vector<Record> rows = StoredByProducer()[producer];
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].seq, 2u);
  EXPECT_EQ(rows[2].seq, 2u);
  EXPECT_NE(rows[1].ts, rows[2].ts);
}

}  // namespace
}  // namespace asicmon
