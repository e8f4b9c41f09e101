#include "asicmon/outbox.h"

#include <algorithm>

#include "asicmon/bus.h"

namespace asicmon::bus {
namespace {

// Caps for hostile bytes: an ack holds at most kMaxAckNumbers range ends.
msgpack::unpack_limit AckLimits() {
  return msgpack::unpack_limit(/*array=*/kMaxAckNumbers, /*map=*/0, /*str=*/1024, /*bin=*/0,
                               /*ext=*/0, /*depth=*/4);
}

struct StringWriter {
  std::string* s;
  void write(const char* data, size_t n) { s->append(data, n); }
};

}  // namespace

std::string EncodeStoreAck(const StoreAck& ack) {
  std::string out;
  StringWriter writer{&out};
  msgpack::pack(writer, ack);
  return out;
}

Result<StoreAck> DecodeStoreAck(std::string_view body) {
  if (body.size() > kMaxBodyBytes) return Status::ParseError("ack over the bus's cap");
  try {
    msgpack::object_handle handle =
        msgpack::unpack(body.data(), body.size(), nullptr, nullptr, AckLimits());
    const msgpack::object& obj = handle.get();
    if (obj.type != msgpack::type::ARRAY || obj.via.array.size == 0 ||
        obj.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER ||
        obj.via.array.ptr[0].via.u64 == 0) {
      return Status::ParseError("ack is not a versioned msgpack array");
    }
    StoreAck ack;
    obj.convert(ack);
    for (const AckedSeqs& a : ack.acked) {
      if (a.ranges.size() % 2 != 0)
        return Status::ParseError("ack with an odd number of range ends");
    }
    return ack;
  } catch (const std::exception& e) {
    // msgpack throws on truncated input, wrong types and exceeded limits alike.
    return Status::ParseError(std::string("bad msgpack ack: ") + e.what());
  }
}

void AppendRanges(std::vector<uint64_t> seqs, std::vector<uint64_t>& ranges) {
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size();) {
    size_t j = i;
    while (j + 1 < seqs.size() && seqs[j + 1] <= seqs[j] + 1) ++j;
    ranges.push_back(seqs[i]);
    ranges.push_back(seqs[j]);
    i = j + 1;
  }
}

size_t Outbox::unsent() const {
  return static_cast<size_t>(std::count_if(entries_.begin() + static_cast<ptrdiff_t>(next_),
                                           entries_.end(),
                                           [](const Entry& e) { return !e.acked; }));
}

void Outbox::Add(uint64_t seq, std::string body) {
  entries_.push_back(Entry{seq, std::move(body), {}, false, false});
  if (entries_.size() > options_.max_kept) DropFront();
}

void Outbox::DropFront() {
  const Entry& front = entries_.front();
  if (!front.acked) ++(front.sent ? counters_.unacked_dropped : counters_.dropped);
  entries_.pop_front();
  if (next_ > 0) --next_;
}

void Outbox::PopAcked() {
  while (!entries_.empty() && entries_.front().acked) {
    entries_.pop_front();
    if (next_ > 0) --next_;
  }
}

void Outbox::Flush(zmq::socket_t& socket, Clock::time_point now) {
  // The oldest kept entry is unacknowledged (PopAcked). Store acknowledged
  // something after it was sent and not it: its ack was lost, or store
  // lost it. Everything unacknowledged goes again; store drops duplicates.
  if (next_ > 0) {
    const Entry& oldest = entries_.front();
    if (oldest.sent && last_ack_ > oldest.sent_at &&
        now - oldest.sent_at >= options_.resend_after) {
      next_ = 0;
    }
  }
  while (next_ < entries_.size()) {
    Entry& e = entries_[next_];
    if (!e.acked) {
      if (!TrySend(socket, options_.topic, e.body)) return;
      ++(e.sent ? counters_.resent : counters_.sent);
      e.sent = true;
      e.sent_at = now;
    }
    ++next_;
  }
}

void Outbox::OnAck(const StoreAck& ack, Clock::time_point now) {
  if (ack.store_id != store_id_) {
    // Store restarted: what the old one had not committed is gone with it
    // (and what it committed may not have been acknowledged).
    if (!store_id_.empty()) {
      ++counters_.store_restarts;
      next_ = 0;
    }
    store_id_ = ack.store_id;
  }
  last_ack_ = now;
  for (const AckedSeqs& a : ack.acked) {
    if (a.topic != options_.topic || a.producer_id != options_.producer_id) continue;
    for (size_t r = 0; r + 1 < a.ranges.size(); r += 2) {
      const uint64_t first = a.ranges[r], last = a.ranges[r + 1];
      auto it = std::lower_bound(entries_.begin(), entries_.end(), first,
                                 [](const Entry& e, uint64_t seq) { return e.seq < seq; });
      for (; it != entries_.end() && it->seq <= last; ++it) {
        if (it->acked) continue;
        it->acked = true;
        ++counters_.acked;
      }
    }
  }
  PopAcked();
}

void Outbox::DropAll() {
  while (!entries_.empty()) DropFront();
}

}  // namespace asicmon::bus
