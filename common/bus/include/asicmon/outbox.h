// What a producer (collect, discover) sends to store on ingest, kept until
// store says it committed it, and sent again when store may have lost it.
//
// PUSH/PULL tells a sender nothing: what a store killed -9 had received and
// not committed is gone, and so is what sat in the kernel's socket buffers.
// So store publishes an acknowledgement after each commit (topic "ack",
// StoreAck: its own id, and per producer the seqs it committed), and every
// producer keeps what it sent in an Outbox until it sees its seqs there. It
// sends everything unacknowledged again, in seq order, when the acks come
// from a new store id (store restarted) or when store acknowledged later
// messages but not these for resend_after (their ack was lost on PUB).
// Store drops what it already has (same producer, seq and ts), so a resend of
// something committed is harmless.
//
// Bounds: one limit, max_kept, on what waits to be sent and what waits for
// its ack together; past it the oldest goes, counted as `dropped` when it
// was never sent (lost) or `unacked_dropped` when it was sent and not yet
// acknowledged (lost only if store did not commit it).
//
// Thread-safety: not synchronised; the socket belongs to the caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <msgpack.hpp>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "asicmon/status.h"

namespace asicmon::bus {

// Store's acknowledgements on publish (the other topics are in bus.h).
inline constexpr std::string_view kTopicAck = "ack";

// The seqs of one producer's messages of one topic that store committed (or
// already had), as inclusive ranges: first, last, first, last, ... ascending.
struct AckedSeqs {
  std::string topic;  // "record" or "inventory"
  std::string producer_id;
  std::vector<uint64_t> ranges;

  bool operator==(const AckedSeqs&) const = default;
  MSGPACK_DEFINE(topic, producer_id, ranges)
};

// One acknowledgement on publish (topic "ack"): a msgpack array, versioned
// and appended to like a Record.
struct StoreAck {
  uint32_t schema_version = 1;
  std::string store_id;  // differs after every store start
  std::vector<AckedSeqs> acked;

  bool operator==(const StoreAck&) const = default;
  MSGPACK_DEFINE(schema_version, store_id, acked)
};

// Numbers (range ends) per ack message at most; store splits bigger acks, so
// a body stays far below the bus's cap (9 bytes a number at most).
inline constexpr size_t kMaxAckNumbers = 50000;

std::string EncodeStoreAck(const StoreAck& ack);
// ParseError for bytes that are not a StoreAck within the caps.
Result<StoreAck> DecodeStoreAck(std::string_view body);

// Appends `seqs` (any order, repeats allowed) to `ranges` as inclusive ranges.
void AppendRanges(std::vector<uint64_t> seqs, std::vector<uint64_t>& ranges);

// The highest seq below a producer's newest that an Outbox may still send:
// store checks for duplicates only within this distance of the newest seq
// it saw, so a producer that restarts with the same PRODUCER_ID (its seq
// starting again at 1) costs store no checks once far below it.
inline constexpr uint64_t kResendWindow = 1000000;

struct OutboxOptions {
  // The topic the messages go out on: "record" or "inventory".
  std::string topic;
  // Stamped on the messages; acks are matched by it.
  std::string producer_id;
  // Messages kept, unsent and unacknowledged together; ~300 bytes a record.
  // REQUIRES: 1 <= max_kept <= kResendWindow. Default: 100,000 (~30 MB).
  size_t max_kept = 100000;
  // A message store has not acknowledged this long after it was sent, while
  // it acknowledges later ones, is sent again. Store acknowledges within a
  // batch (~0.1 s); a shorter time only resends what is still queued.
  // Default: 10 s.
  std::chrono::milliseconds resend_after{10000};
};

struct OutboxCounters {
  uint64_t sent = 0;             // handed to the socket the first time
  uint64_t resent = 0;           // handed to it again
  uint64_t acked = 0;            // acknowledged by store: done
  uint64_t dropped = 0;          // never sent, dropped at max_kept or exit: lost
  uint64_t unacked_dropped = 0;  // sent, dropped unacknowledged at max_kept or exit
  uint64_t store_restarts = 0;   // acks from a new store id: everything unacknowledged resent
};

class Outbox {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}

  // Keeps `body`; REQUIRES: seq greater than the last one added.
  void Add(uint64_t seq, std::string body);
  // Hands what waits to `socket` in seq order until it refuses (at its
  // high-water mark, or no store); first starts a resend when one is due.
  void Flush(zmq::socket_t& socket, Clock::time_point now);
  // Takes store's acknowledgement: drops what it covers of this producer.
  void OnAck(const StoreAck& ack, Clock::time_point now);
  // At exit: counts everything still kept as lost (unsent) or unconfirmed.
  void DropAll();

  // Waiting to be handed to the socket (first send or resend).
  size_t unsent() const;
  // Everything kept: unsent and unacknowledged.
  size_t kept() const { return entries_.size(); }
  const OutboxCounters& counters() const { return counters_; }

 private:
  struct Entry {
    uint64_t seq = 0;
    std::string body;
    Clock::time_point sent_at;
    bool sent = false;
    bool acked = false;
  };
  void DropFront();
  void PopAcked();

  OutboxOptions options_;
  // By seq. [0, next_) were handed to the socket since the last resend
  // began; acknowledged entries stay until everything before them goes.
  std::deque<Entry> entries_;
  size_t next_ = 0;
  std::string store_id_;
  Clock::time_point last_ack_;  // when store last acknowledged any of ours
  OutboxCounters counters_;
};

}  // namespace asicmon::bus
