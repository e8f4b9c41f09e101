// Push's intake (push/push.h) on an in-process bus, backfilling from a
// FakeStoreDb: records go to the spool in arrival order, records missed on
// the bus are counted and fetched back from the store once their grace is
// over, a late one closes its gap, and what the store lacks too is counted.
// Run's sender thread is not started: the spool is read back as it is.
#include "push.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fake_store_db.h"
#include "sample_records.h"
#include "spool.h"
#include "testlib.h"

namespace asicmon::push {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::FakeStoreDb;

constexpr double kTs = 1764000000;
constexpr uint8_t kFromBus = 0;  // the spool entries' origin byte (push_intake.cpp)
constexpr uint8_t kBackfilled = 1;

Record Poll(uint64_t seq) {
  return testing::SampleRecord("collect-a", seq, 0, kTs + static_cast<double>(seq));
}

std::string Endpoint(const std::string& what) {
  static std::atomic<int> n{0};
  return "inproc://push-test-" + what + "-" + std::to_string(n++);
}

class PushIntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("asicmon_push_intake_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A push whose store holds `stored` (its backfill source), and the
  // store's publish socket.
  void Start(const std::vector<uint64_t>& stored) {
    auto db = std::make_unique<FakeStoreDb>();
    std::vector<Record> records;
    for (uint64_t seq : stored) records.push_back(Poll(seq));
    ASSERT_OK(db->WriteBatch(records));
    PushOptions options;
    options.endpoints.publish = Endpoint("publish");
    options.endpoints.ingest = Endpoint("ingest");
    options.http.url = "http://127.0.0.1:9/never-sent";
    options.spool.dir = (dir_ / "spool").string();
    Result<std::unique_ptr<Push>> push = Push::Create(options, std::move(db));
    ASSERT_OK(push);
    push_ = std::move(*push);
    // inproc allows connecting first: push's subscription attaches on bind.
    pub_ = zmq::socket_t(push_->context(), zmq::socket_type::pub);
    pub_.bind(options.endpoints.publish);
  }

  void Publish(uint64_t seq) {
    ASSERT_TRUE(bus::TrySend(pub_, bus::kTopicRecord, EncodeRecord(Poll(seq))));
  }

  // Turns the intake until `done`. A gap is fetched back 3 s after it shows
  // (kGapGrace); false if it all takes longer than any machine should.
  bool TurnUntil(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      if (!push_->Turn(-1, 50ms).ok()) return false;
    }
    return true;
  }

  // The spool's entries once push is closed: (origin, record seq).
  std::vector<std::pair<uint8_t, uint64_t>> Spooled() {
    pub_.close();  // push's context ends only once every socket in it is closed
    push_.reset();
    SpoolOptions options;
    options.dir = (dir_ / "spool").string();
    Result<std::unique_ptr<Spool>> spool = Spool::Open(options);
    EXPECT_OK(spool);
    std::vector<std::pair<uint8_t, uint64_t>> out;
    if (!spool.ok()) return out;
    const Status scanned = (*spool)->Scan(0, [&](const SpoolEntry& e) {
      Result<Record> r = DecodeRecord(std::string_view(e.payload).substr(1));
      EXPECT_OK(r);
      out.emplace_back(static_cast<uint8_t>(e.payload[0]), r.ok() ? r->seq : 0);
    });
    EXPECT_OK(scanned);
    return out;
  }

  fs::path dir_;
  std::unique_ptr<Push> push_;
  zmq::socket_t pub_;
};

TEST_F(PushIntakeTest, RecordsMissedOnTheBusAreFetchedBackFromTheStore) {
  Start({1, 2, 3, 4, 5});
  for (uint64_t seq : {1, 2, 5}) Publish(seq);
  ASSERT_TRUE(TurnUntil([&] { return push_->counters().backfilled == 2; }));
  const PushCounters& c = push_->counters();
  EXPECT_EQ(c.received, 3u);
  EXPECT_EQ(c.bus_gaps, 2u);
  EXPECT_EQ(c.backfill_missing, 0u);
  EXPECT_EQ(c.spooled, 5u);
  EXPECT_EQ(Spooled(), (std::vector<std::pair<uint8_t, uint64_t>>{
                           {kFromBus, 1}, {kFromBus, 2}, {kFromBus, 5}, {kBackfilled, 3},
                           {kBackfilled, 4}}));
}

TEST_F(PushIntakeTest, ALateRecordClosesItsGapAndWhatTheStoreLacksIsCounted) {
  Start({1, 2, 6});  // 3, 4 and 5 never reached the store either
  for (uint64_t seq : {1, 2, 6}) Publish(seq);
  ASSERT_TRUE(TurnUntil([&] { return push_->counters().received == 3; }));
  EXPECT_EQ(push_->counters().bus_gaps, 3u);
  Publish(4);  // resent to a restarted store, within the gap's grace
  ASSERT_TRUE(TurnUntil([&] {
    return push_->counters().backfill_missing == 2 && push_->counters().received == 4;
  }));
  const PushCounters& c = push_->counters();
  EXPECT_EQ(c.late, 1u);
  EXPECT_EQ(c.backfilled, 0u);
  EXPECT_EQ(Spooled(), (std::vector<std::pair<uint8_t, uint64_t>>{
                           {kFromBus, 1}, {kFromBus, 2}, {kFromBus, 6}, {kFromBus, 4}}));
}

TEST_F(PushIntakeTest, UndecodableMessagesAreCountedAndNotSpooled) {
  Start({});
  ASSERT_TRUE(bus::TrySend(pub_, bus::kTopicRecord, "not msgpack"));
  Publish(1);
  ASSERT_TRUE(TurnUntil([&] { return push_->counters().received == 1; }));
  EXPECT_EQ(push_->counters().bad_messages, 1u);
  EXPECT_EQ(Spooled(), (std::vector<std::pair<uint8_t, uint64_t>>{{kFromBus, 1}}));
}

}  // namespace
}  // namespace asicmon::push
