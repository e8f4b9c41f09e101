// CollectWorker (collect/worker.h) on an in-process bus: the test is
// discover (jobs) and store (ingest, acks). Its jobs go to a loopback port
// nothing listens on, so each exchange ends at once with a record that says
// so: every job yields one record, numbered in order, kept until store
// acknowledges it, and past the backlog bound the oldest are dropped and
// counted.
#include "worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "asicmon/clock.h"
#include "asicmon/outbox.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kIp = "127.0.0.1";

std::string Endpoint(const std::string& what) {
  static std::atomic<int> n{0};
  return "inproc://collect-test-" + what + "-" + std::to_string(n++);
}

class CollectWorkerTest : public ::testing::Test {
 protected:
  void Start(size_t backlog_max) {
    WorkerOptions options;
    options.endpoints.jobs = Endpoint("jobs");
    options.endpoints.ingest = Endpoint("ingest");
    options.endpoints.publish = Endpoint("publish");
    options.backlog_max = backlog_max;
    options.producer_id = "collect-test";
    Result<std::unique_ptr<CollectWorker>> worker = CollectWorker::Create(options);
    ASSERT_OK(worker);
    worker_ = std::move(*worker);
    // inproc allows connecting first: the worker's sockets attach on bind.
    jobs_ = zmq::socket_t(worker_->context(), zmq::socket_type::push);
    jobs_.bind(options.endpoints.jobs);
    ingest_ = zmq::socket_t(worker_->context(), zmq::socket_type::pull);
    ingest_.bind(options.endpoints.ingest);
    acks_ = zmq::socket_t(worker_->context(), zmq::socket_type::pub);
    acks_.bind(options.endpoints.publish);
    port_ = testing::FreeTcpPort(kIp);
  }

  void SendJobs(int n) {
    for (int i = 0; i < n; ++i) {
      PollJob job;
      job.producer_id = "discover-test";
      job.seq = static_cast<uint64_t>(i + 1);
      job.ts = UnixNow();
      job.ip = kIp;
      job.port = port_;
      std::string body;
      EncodePollJob(job, body);
      ASSERT_TRUE(bus::TrySend(jobs_, bus::kTopicJob, body));
    }
  }

  uint64_t Polls() const {
    uint64_t n = 0;
    for (uint64_t p : worker_->counters().polls) n += p;
    return n;
  }

  // Turns the worker until `done`, taking what it pushes to store; false if
  // that takes longer than any machine should.
  bool TurnUntil(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      if (!worker_->Turn(-1).ok()) return false;
      TakeRecords();
    }
    return true;
  }

  void TakeRecords() {
    while (true) {
      Result<std::optional<bus::Message>> m = bus::TryReceive(ingest_);
      ASSERT_OK(m);
      if (!m->has_value()) return;
      if ((*m)->topic != bus::kTopicRecord) continue;  // its stats
      Result<Record> r = DecodeRecord((*m)->body);
      ASSERT_OK(r);
      records_.push_back(std::move(*r));
    }
  }

  std::vector<uint64_t> Seqs() const {
    std::vector<uint64_t> out;
    for (const Record& r : records_) out.push_back(r.seq);
    return out;
  }

  std::unique_ptr<CollectWorker> worker_;
  zmq::socket_t jobs_;
  zmq::socket_t ingest_;
  zmq::socket_t acks_;
  uint16_t port_ = 0;
  std::vector<Record> records_;
};

TEST_F(CollectWorkerTest, EveryJobYieldsOneRecordKeptUntilStoreAcknowledgesIt) {
  Start(100);
  SendJobs(3);
  ASSERT_TRUE(TurnUntil([&] { return records_.size() == 3; }));
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{1, 2, 3}));
  for (const Record& r : records_) {
    EXPECT_EQ(r.ip, kIp);
    EXPECT_EQ(r.port, port_);
    EXPECT_EQ(r.producer_id, "collect-test");
    EXPECT_NE(r.status, MinerStatus::kOk);
  }
  EXPECT_EQ(worker_->counters().jobs_received, 3u);
  EXPECT_EQ(worker_->kept(), 3u);

  bus::StoreAck ack;
  ack.store_id = "store-test";
  ack.acked.push_back({std::string(bus::kTopicRecord), "collect-test", {1, 2}});
  ASSERT_TRUE(bus::TrySend(acks_, bus::kTopicAck, bus::EncodeStoreAck(ack)));
  ASSERT_TRUE(TurnUntil([&] { return worker_->kept() == 1; }));
  EXPECT_EQ(worker_->outbox_counters().acked, 2u);
  EXPECT_EQ(worker_->outbox_counters().resent, 0u);
}

TEST_F(CollectWorkerTest, BacklogPastItsBoundDropsTheOldestCounted) {
  Start(2);
  SendJobs(5);
  ASSERT_TRUE(TurnUntil([&] { return Polls() == 5; }));
  const bus::OutboxCounters& o = worker_->outbox_counters();
  EXPECT_EQ(worker_->kept(), 2u);
  EXPECT_EQ(o.dropped + o.unacked_dropped, 3u);
  EXPECT_EQ(o.acked, 0u);
}

TEST_F(CollectWorkerTest, UndecodableJobsAreCountedAndYieldNoRecord) {
  Start(100);
  ASSERT_TRUE(bus::TrySend(jobs_, bus::kTopicJob, "not msgpack"));
  SendJobs(1);
  ASSERT_TRUE(TurnUntil([&] { return records_.size() == 1; }));
  EXPECT_EQ(worker_->counters().bad_messages, 1u);
  EXPECT_EQ(worker_->counters().jobs_received, 1u);
}

}  // namespace
}  // namespace asicmon
