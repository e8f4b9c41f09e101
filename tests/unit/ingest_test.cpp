// Ingest (store/ingest.h) against a FakeStoreDb and an in-process bus: what
// only the pipeline tests reached before, with the counts and contents
// checked exactly: a refused batch is retried whole (nothing lost, nothing
// written twice), resends are dropped, seq gaps counted, even across a
// restart from what the store holds.
#include "ingest.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "asicmon/clock.h"
#include "asicmon/outbox.h"
#include "fake_store_db.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using testing::FakeStoreDb;
using testing::SampleRecord;

// Polls of now: none of their miners is silent long enough to be offline
// while a test runs, so the health rules make only the events a test asks for.
const double kTs = UnixNow();

// Poll `seq` of miner `miner`, finished at kTs + seq.
Record Poll(const std::string& producer, uint64_t seq, int miner) {
  return SampleRecord(producer, seq, miner, kTs + static_cast<double>(seq));
}

// inproc:// names are per context, but each test has its own anyway.
std::string Endpoint(const std::string& what) {
  static std::atomic<int> n{0};
  return "inproc://ingest-test-" + what + "-" + std::to_string(n++);
}

class IngestTest : public ::testing::Test {
 protected:
  // A store with a fake database (kept by `db_`; the ingest owns it), a
  // producer's PUSH and a subscriber of records and acks on its sockets.
  void Start(std::unique_ptr<FakeStoreDb> db = std::make_unique<FakeStoreDb>()) {
    IngestOptions options;
    options.endpoints.ingest = Endpoint("in");
    options.endpoints.publish = Endpoint("out");
    options.batch_wait = 0ms;  // a batch is due as soon as something arrived
    db_ = db.get();
    Result<std::unique_ptr<Ingest>> ingest = Ingest::Create(options, std::move(db));
    ASSERT_OK(ingest);
    ingest_ = std::move(*ingest);
    push_ = testing::IngestPusher(ingest_->context(), options.endpoints.ingest);
    sub_ = zmq::socket_t(ingest_->context(), zmq::socket_type::sub);
    // Subscribed before connecting: the first publish finds the subscription.
    sub_.set(zmq::sockopt::subscribe, bus::kTopicRecord);
    sub_.set(zmq::sockopt::subscribe, bus::kTopicAck);
    sub_.set(zmq::sockopt::linger, 0);
    sub_.connect(options.endpoints.publish);
  }

  void Send(const Record& r) { ASSERT_TRUE(bus::TrySend(push_, bus::kTopicRecord, EncodeRecord(r))); }

  // Turns the ingest's loop until `done`; false if that takes longer than
  // any machine should (the retry backoffs of a test add up to < 1 s).
  bool TurnUntil(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      if (!ingest_->Turn(-1, 10ms).ok()) return false;
    }
    return true;
  }

  // What the publish socket has sent so far: records' seqs, and acked
  // record seqs (ranges expanded).
  void ReadPublished() {
    while (true) {
      Result<std::optional<bus::Message>> m = bus::TryReceive(sub_);
      if (!m.ok() || !m->has_value()) return;
      if ((*m)->topic == bus::kTopicRecord) {
        Result<Record> r = DecodeRecord((*m)->body);
        ASSERT_OK(r);
        published_.push_back(r->seq);
      } else {
        Result<bus::StoreAck> ack = bus::DecodeStoreAck((*m)->body);
        ASSERT_OK(ack);
        for (const auto& a : ack->acked) {
          if (a.topic != bus::kTopicRecord) continue;
          for (size_t i = 0; i + 1 < a.ranges.size(); i += 2) {
            for (uint64_t s = a.ranges[i]; s <= a.ranges[i + 1]; ++s) acked_.push_back(s);
          }
        }
      }
    }
  }

  static std::vector<uint64_t> Seqs(const std::vector<Record>& records) {
    std::vector<uint64_t> out;
    for (const Record& r : records) out.push_back(r.seq);
    return out;
  }

  FakeStoreDb* db_ = nullptr;
  std::unique_ptr<Ingest> ingest_;
  zmq::socket_t push_;
  zmq::socket_t sub_;
  std::vector<uint64_t> published_;
  std::vector<uint64_t> acked_;
};

TEST_F(IngestTest, RefusedBatchIsCommittedWholeOnceTheDatabaseTakesIt) {
  auto db = std::make_unique<FakeStoreDb>();
  db->FailCommits(2);
  Start(std::move(db));
  Record hot = Poll("collect-a", 1, 0);
  hot.temp_max = 120;  // makes one health event, which must be stored once
  Send(hot);
  for (uint64_t seq = 2; seq <= 5; ++seq) Send(Poll("collect-a", seq, 1));
  InventoryEntry found;
  found.producer_id = "discover-a";
  found.seq = 1;
  found.ts = kTs;
  found.ip = testing::DataOnlyIp(7);
  std::string body;
  EncodeInventory(found, body);
  ASSERT_TRUE(bus::TrySend(push_, bus::kTopicInventory, body));

  ASSERT_TRUE(TurnUntil([&] { return db_->commits() == 1; }));
  EXPECT_EQ(db_->failed_commits(), 2);
  EXPECT_EQ(Seqs(db_->records()), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_EQ(db_->inventory().size(), 1u);
  EXPECT_EQ(db_->inventory()[0], found);
  ASSERT_EQ(db_->events().size(), 1u);
  EXPECT_EQ(db_->events()[0].kind, "overheat");
  const IngestCounters& c = ingest_->counters();
  EXPECT_EQ(c.db_errors, 2u);
  EXPECT_EQ(c.stored, 5u);
  EXPECT_EQ(c.inventory_stored, 1u);
  EXPECT_EQ(c.health_events, 1u);
  EXPECT_EQ(c.batches, 1u);
  // Published and acknowledged once, after the commit only.
  ReadPublished();
  EXPECT_EQ(published_, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(IngestTest, FailedLookUpOfResendsIsRetriedWithoutLosingOrDoublingAny) {
  Start();
  for (uint64_t seq = 1; seq <= 3; ++seq) Send(Poll("collect-a", seq, 0));
  ASSERT_TRUE(TurnUntil([&] { return db_->commits() == 1; }));
  // A producer that saw no ack sends 2 and 3 again; the database cannot be
  // read once while the batch is checked for them.
  db_->FailRecordsBySeq(1);
  for (uint64_t seq = 2; seq <= 4; ++seq) Send(Poll("collect-a", seq, 0));
  ASSERT_TRUE(TurnUntil([&] { return db_->commits() == 2; }));
  EXPECT_EQ(Seqs(db_->records()), (std::vector<uint64_t>{1, 2, 3, 4}));
  const IngestCounters& c = ingest_->counters();
  EXPECT_EQ(c.duplicates_dropped, 2u);
  EXPECT_EQ(c.db_errors, 1u);
  EXPECT_EQ(c.stored, 4u);
  EXPECT_EQ(c.seq_gaps, 0u);
  ReadPublished();
  EXPECT_EQ(published_, (std::vector<uint64_t>{1, 2, 3, 4}));
  // The resends are acknowledged again: the producer stops holding them.
  EXPECT_EQ(acked_, (std::vector<uint64_t>{1, 2, 3, 2, 3, 4}));
}

TEST_F(IngestTest, SeqGapsAreCountedPerProducer) {
  Start();
  for (uint64_t seq : {1, 2, 5, 6, 10}) Send(Poll("collect-a", seq, 0));
  for (uint64_t seq : {1, 3}) Send(Poll("collect-b", seq, 1));
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 7; }));
  const IngestCounters& c = ingest_->counters();
  EXPECT_EQ(c.seq_gaps, 2u + 3u + 1u);
  EXPECT_EQ(c.records_in, 7u);
  EXPECT_EQ(c.late_stored, 0u);
}

TEST_F(IngestTest, RestartCountsTheGapFromWhatTheStoreHoldsAndStoresItsResendAsLate) {
  auto db = std::make_unique<FakeStoreDb>();
  std::vector<Record> before;
  for (uint64_t seq = 1; seq <= 3; ++seq) before.push_back(Poll("collect-a", seq, 0));
  ASSERT_OK(db->WriteBatch(before));
  Start(std::move(db));
  // 4 and 5 were in flight when the store stopped; 6 comes first, then the resends.
  Send(Poll("collect-a", 6, 0));
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 4; }));
  EXPECT_EQ(ingest_->counters().seq_gaps, 2u);
  Send(Poll("collect-a", 4, 0));
  Send(Poll("collect-a", 5, 0));
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 6; }));
  EXPECT_EQ(Seqs(db_->records()), (std::vector<uint64_t>{1, 2, 3, 6, 4, 5}));
  EXPECT_EQ(ingest_->counters().late_stored, 2u);
  EXPECT_EQ(ingest_->counters().duplicates_dropped, 0u);
}

// Curtailment holds miner 0 at a 2000 W limit, and held miner 1 at one since
// before the store started: both hash 58 % of nominal, what 2000 W allows,
// and that is no fault. Miner 2 at full power hashing as little is one.
TEST_F(IngestTest, MinersHeldAtReducedPowerByControlAreNoLowHashrateFault) {
  const std::string limit = "limit_w=2000 (curtailment to 5.000 kW)";
  auto db = std::make_unique<FakeStoreDb>();
  ASSERT_OK(db->AppendAudit({.ts = kTs,
                             .actor = "curtail:ops",
                             .action = "power",
                             .ip = testing::DataOnlyIp(1),
                             .worker = "farm.w1",
                             .detail = limit,
                             .http_status = 200,
                             .result = "ok"}));
  Start(std::move(db));
  uint64_t seq = 0;
  for (int miner = 0; miner < 3; ++miner) Send(Poll("collect-a", ++seq, miner));  // full power
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 3; }));
  EXPECT_EQ(ingest_->power_held(), 1u);

  for (const std::string result : {"pending", "ok"}) {
    nlohmann::json event = testing::ControlEvent("power", testing::DataOnlyIp(0), kTs + 3, result);
    event["detail"] = limit;
    if (result == "pending") event["timeout_s"] = 240;
    ASSERT_TRUE(bus::TrySend(push_, bus::kTopicEvent, testing::ToMsgpack(event)));
  }
  for (int poll = 0; poll < 4; ++poll) {
    for (int miner = 0; miner < 3; ++miner) {
      Record r = Poll("collect-a", ++seq, miner);
      if (miner < 2) r.power_w = 2000;
      r.hashrate = 0.58 * *r.hashrate_expected;
      Send(r);
    }
  }
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 15; }));
  EXPECT_EQ(ingest_->power_held(), 2u);
  ASSERT_EQ(db_->events().size(), 1u);
  EXPECT_EQ(db_->events()[0].ip, testing::DataOnlyIp(2));
  EXPECT_EQ(db_->events()[0].kind, "hashrate_low");
  EXPECT_EQ(db_->events()[0].message, "hashrate at 58 % of expected");
}

// Control announced a power limit on miner 0 and died before saying how it
// ended: the hold covers it while the limit may be going on, and ends at the
// announcement's timeout_s; from then on hashing little is a fault again.
TEST_F(IngestTest, APowerChangeWithoutOutcomeHoldsOnlyUntilItsTimeout) {
  Start();
  uint64_t seq = 0;
  Send(Poll("collect-a", ++seq, 0));  // full power, at kTs + 1
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 1; }));
  nlohmann::json event = testing::ControlEvent("power", testing::DataOnlyIp(0), kTs + 1, "pending");
  event["detail"] = "limit_w=2000 (curtailment to 5.000 kW)";
  event["timeout_s"] = 10;
  ASSERT_TRUE(bus::TrySend(push_, bus::kTopicEvent, testing::ToMsgpack(event)));
  ASSERT_TRUE(TurnUntil([&] { return ingest_->power_held() == 1; }));

  // Polls at kTs + 2 .. + 5, at the limit: within the timeout, held.
  for (int poll = 0; poll < 4; ++poll) {
    Record r = Poll("collect-a", ++seq, 0);
    r.power_w = 2000;
    r.hashrate = 0.58 * *r.hashrate_expected;
    Send(r);
  }
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 5; }));
  EXPECT_TRUE(db_->events().empty());
  EXPECT_EQ(ingest_->power_held(), 1u);

  // Polls at kTs + 11 .. + 13: the announcement lapsed with no outcome, and
  // the miner is at full power, hashing as little.
  seq = 10;
  for (int poll = 0; poll < 3; ++poll) {
    Record r = Poll("collect-a", ++seq, 0);
    r.hashrate = 0.58 * *r.hashrate_expected;
    Send(r);
  }
  ASSERT_TRUE(TurnUntil([&] { return db_->records().size() == 8; }));
  EXPECT_EQ(ingest_->power_held(), 0u);
  ASSERT_EQ(db_->events().size(), 1u);
  EXPECT_EQ(db_->events()[0].kind, "hashrate_low");
  EXPECT_EQ(db_->events()[0].message, "hashrate at 58 % of expected");
}

TEST_F(IngestTest, UndecodableMessagesAreCountedAndNotStored) {
  Start();
  ASSERT_TRUE(bus::TrySend(push_, bus::kTopicRecord, "not msgpack"));
  ASSERT_TRUE(bus::TrySend(push_, "job", "wrong topic"));
  Send(Poll("collect-a", 1, 0));
  ASSERT_TRUE(TurnUntil([&] { return db_->commits() == 1; }));
  EXPECT_EQ(ingest_->counters().bad_messages, 2u);
  EXPECT_EQ(Seqs(db_->records()), (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace asicmon
