// bus::Outbox: what a producer keeps until store acknowledges it, and when it
// sends it again. Over an inproc PUSH/PULL pair; time is passed in, so no
// test waits.
#include "asicmon/outbox.h"

#include <gtest/gtest.h>

#include "asicmon/bus.h"
#include "testlib.h"

namespace asicmon::bus {
namespace {

using namespace std::chrono_literals;
using Clock = Outbox::Clock;

class OutboxTest : public ::testing::Test {
 protected:
  OutboxTest() : pull_(context_, zmq::socket_type::pull), push_(context_, zmq::socket_type::push) {
    pull_.bind("inproc://outbox");
    push_.set(zmq::sockopt::sndhwm, 1000);
    push_.connect("inproc://outbox");
  }

  // The bodies that arrived, in order.
  std::vector<std::string> Received() {
    std::vector<std::string> out;
    for (;;) {
      Result<std::optional<Message>> m = TryReceive(pull_);
      EXPECT_OK(m);
      if (!m.ok() || !m->has_value()) return out;
      EXPECT_EQ((*m)->topic, kTopicRecord);
      out.push_back((*m)->body);
    }
  }

  static StoreAck Ack(const std::string& store, std::vector<uint64_t> ranges,
                      const std::string& producer = "collect-a") {
    return StoreAck{1, store, {AckedSeqs{std::string(kTopicRecord), producer, std::move(ranges)}}};
  }

  zmq::context_t context_{1};
  zmq::socket_t pull_;
  zmq::socket_t push_;
  Outbox outbox_{{.topic = std::string(kTopicRecord),
                  .producer_id = "collect-a",
                  .max_kept = 5,
                  .resend_after = 10s}};
  Clock::time_point t0_ = Clock::now();
};

TEST_F(OutboxTest, KeepsWhatItSentUntilStoreAcknowledgesIt) {
  for (uint64_t seq = 1; seq <= 3; ++seq) outbox_.Add(seq, std::to_string(seq));
  outbox_.Flush(push_, t0_);
  EXPECT_EQ(Received(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(outbox_.kept(), 3u);
  EXPECT_EQ(outbox_.unsent(), 0u);

  // Another producer's ack, and another topic's, change nothing.
  outbox_.OnAck(Ack("store-1", {1, 3}, "collect-b"), t0_);
  outbox_.OnAck(StoreAck{1, "store-1", {AckedSeqs{"inventory", "collect-a", {1, 3}}}}, t0_);
  EXPECT_EQ(outbox_.kept(), 3u);

  outbox_.OnAck(Ack("store-1", {2, 2}), t0_);
  EXPECT_EQ(outbox_.kept(), 3u);  // 1 still waits, so 2 stays behind it
  outbox_.OnAck(Ack("store-1", {1, 1, 3, 3}), t0_);
  EXPECT_EQ(outbox_.kept(), 0u);
  EXPECT_EQ(outbox_.counters().sent, 3u);
  EXPECT_EQ(outbox_.counters().acked, 3u);
  EXPECT_EQ(outbox_.counters().resent, 0u);
}

TEST_F(OutboxTest, AStoreRestartSendsEverythingUnacknowledgedAgainInOrder) {
  for (uint64_t seq = 1; seq <= 4; ++seq) outbox_.Add(seq, std::to_string(seq));
  outbox_.Flush(push_, t0_);
  outbox_.OnAck(Ack("store-1", {1, 1}), t0_);
  Received();
  // The new store acknowledges 4 (sent to it); 2 and 3 went down with the old one.
  outbox_.OnAck(Ack("store-2", {4, 4}), t0_ + 1s);
  EXPECT_EQ(outbox_.counters().store_restarts, 1u);
  outbox_.Flush(push_, t0_ + 1s);
  EXPECT_EQ(Received(), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(outbox_.counters().resent, 2u);
  outbox_.OnAck(Ack("store-2", {2, 3}), t0_ + 1s);
  EXPECT_EQ(outbox_.kept(), 0u);
}

TEST_F(OutboxTest, ALostAckIsResentOnlyOnceStoreAcknowledgedLaterOnes) {
  outbox_.Add(1, "1");
  outbox_.Flush(push_, t0_);
  Received();
  // No ack at all (store down, or no ack path): nothing is resent.
  outbox_.Flush(push_, t0_ + 60s);
  EXPECT_TRUE(Received().empty());

  outbox_.Add(2, "2");
  outbox_.Flush(push_, t0_ + 61s);
  outbox_.OnAck(Ack("store-1", {2, 2}), t0_ + 61s);
  Received();
  outbox_.Flush(push_, t0_ + 62s);  // acknowledged after it, sent long ago: its ack was lost
  EXPECT_EQ(Received(), (std::vector<std::string>{"1"}));
  outbox_.Flush(push_, t0_ + 63s);  // resent just now: not again before resend_after
  EXPECT_TRUE(Received().empty());
  EXPECT_EQ(outbox_.counters().resent, 1u);
}

TEST_F(OutboxTest, PastItsBoundItDropsTheOldestAndCountsWhatKind) {
  outbox_.Add(1, "1");
  outbox_.Add(2, "2");
  outbox_.Flush(push_, t0_);  // 1 and 2 sent, not acknowledged
  for (uint64_t seq = 3; seq <= 8; ++seq) outbox_.Add(seq, std::to_string(seq));
  EXPECT_EQ(outbox_.kept(), 5u);
  EXPECT_EQ(outbox_.counters().unacked_dropped, 2u);  // 1, 2: sent, maybe stored
  EXPECT_EQ(outbox_.counters().dropped, 1u);          // 3: never sent
  outbox_.Flush(push_, t0_);
  Received();
  EXPECT_EQ(outbox_.counters().sent, 2u + 5u);
  outbox_.DropAll();
  EXPECT_EQ(outbox_.counters().unacked_dropped, 2u + 5u);
  EXPECT_EQ(outbox_.kept(), 0u);
}

TEST(StoreAckTest, RoundTripsAndRefusesHostileBytes) {
  StoreAck ack{1, "store-h-1-17", {AckedSeqs{"record", "collect-a", {}}}};
  AppendRanges({5, 3, 4, 9, 9, 1}, ack.acked[0].ranges);
  EXPECT_EQ(ack.acked[0].ranges, (std::vector<uint64_t>{1, 1, 3, 5, 9, 9}));
  Result<StoreAck> back = DecodeStoreAck(EncodeStoreAck(ack));
  ASSERT_OK(back);
  EXPECT_EQ(*back, ack);

  EXPECT_FALSE(DecodeStoreAck("").ok());
  EXPECT_FALSE(DecodeStoreAck(std::string_view("\x93\x00\xa1s\x90", 5)).ok());  // version 0
  ack.acked[0].ranges.push_back(11);  // an odd number of ends
  EXPECT_FALSE(DecodeStoreAck(EncodeStoreAck(ack)).ok());
}

// Records resent to a restarted store arrive after later ones: they fill
// the gap counted before and open none.
TEST(SeqTrackerTest, LateMessagesOpenNoGapAndARestartFarBelowIsFollowed) {
  SeqTracker tracker;
  EXPECT_EQ(tracker.Observe("c", 1), 0u);
  EXPECT_EQ(tracker.Observe("c", 5), 3u);  // 2..4 not (yet) here
  EXPECT_EQ(tracker.Observe("c", 2), 0u);  // late
  EXPECT_EQ(tracker.Observe("c", 6), 0u);  // not a second gap
  EXPECT_EQ(tracker.missed(), 3u);

  tracker.Observe("d", kResendWindow + 10);
  EXPECT_EQ(tracker.Observe("d", 1), 0u);  // restarted with its PRODUCER_ID
  EXPECT_EQ(tracker.Observe("d", 3), 1u);
}

// A collector on another host that sends to the central store but awaits
// its acknowledgements on the local default is told so at start.
TEST(AckPathWarningTest, ARemoteStoreWithALocalPublishEndpointIsWarned) {
  Endpoints local{"run", "ipc://run/jobs.sock", "ipc://run/ingest.sock", "ipc://run/publish.sock",
                  {}};
  EXPECT_FALSE(AckPathWarning(local).has_value());
  Endpoints remote = local;
  remote.ingest = "tcp://127.0.0.5:5602";
  const std::optional<std::string> warning = AckPathWarning(remote);
  ASSERT_TRUE(warning.has_value());
  EXPECT_NE(warning->find("ASICMON_PUBLISH"), std::string::npos) << *warning;
  remote.publish = "tcp://127.0.0.5:5603";
  EXPECT_FALSE(AckPathWarning(remote).has_value());
}

}  // namespace
}  // namespace asicmon::bus
