// push's disk spool: every record push takes off the bus is appended here
// first, and the sender reads batches from it, so an outage of the receiver
// or a restart (or kill -9) of push loses nothing that reached the spool.
//
// Files in the spool directory (created when missing):
//   seg-<first spool seq, 20 digits>.log  append-only segments of entries
//       [u32 payload bytes][u32 crc32 of the seq and payload][u64 spool seq][payload]
//       spool seqs are consecutive across segments, starting at 1.
//   cursor   two 64-byte slots written alternately, each
//       [u64 generation][u64 acked][u64 batch_first][u64 batch_last][u32 crc32];
//       the valid slot of the higher generation wins, so a torn write falls
//       back to the previous state.
//   id       push's producer id, made once, so idempotency keys stay unique
//            across restarts.
//
// Durability: appends are write()n on Flush (a crash of push keeps them: they
// are in the page cache) and fdatasync'd by Sync (the caller's timer) and at
// every segment roll; the in-flight batch range is fdatasync'd before the
// batch is sent, so after a crash or power loss the same range is resent with
// the same idempotency key. On Open, a torn or corrupt tail of the newest
// segment is truncated (counted in `truncated_bytes`), never fatal; a corrupt
// entry in an older segment is found when read, and the rest of that segment
// is counted as `corrupt` and skipped.
//
// Bounds: at most `max_bytes` of segments (exceeded by at most what was
// appended since the last Reclaim); past it Reclaim deletes the oldest segment
// and counts its unread entries as `dropped`. Memory: one read buffer and one
// write buffer, independent of how much is spooled.
//
// Thread-safety: every method locks an internal mutex, so one thread may
// append while another reads and acks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"

namespace asicmon::push {

struct SpoolOptions {
  std::string dir = "data/push-spool";
  // Bytes of segment files kept at most. Default: 512 MiB ($PUSH_SPOOL_MAX_MB).
  uint64_t max_bytes = uint64_t{512} << 20;
  // A segment is closed and the next one started past this size; dropping the
  // oldest frees this much at once. 0 derives it: max_bytes / 8, within
  // [64 KiB, 64 MiB].
  uint64_t segment_bytes = 0;
};

struct SpoolEntry {
  uint64_t seq = 0;
  std::string payload;
};

// The in-flight batch as last persisted: [first, last] spool seqs.
struct SpoolBatch {
  uint64_t first = 0;
  uint64_t last = 0;
};

struct SpoolCounters {
  uint64_t dropped = 0;          // unread entries deleted because the spool was full
  uint64_t corrupt = 0;          // entries lost to a bad checksum in an older segment
  uint64_t truncated_bytes = 0;  // torn tail cut off on Open
};

class Spool {
 public:
  // Opens or creates the spool in options.dir. IoError when the directory
  // or its files cannot be made or read.
  static Result<std::unique_ptr<Spool>> Open(const SpoolOptions& options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends one entry (buffered until Flush; a full buffer flushes itself)
  // and returns its spool seq. REQUIRES: payload.size() <= kMaxPayloadBytes.
  Result<uint64_t> Append(std::string_view payload);
  // Writes what Append buffered; readers see entries only once flushed.
  Status Flush();
  // Makes flushed entries durable (fdatasync of the newest segment).
  Status Sync();

  // Reads up to `max_entries` entries that were not read yet (after Open:
  // from acked + 1), none past `max_seq`, into `out` (cleared first); stops
  // once the payloads reach `max_bytes` (always reads one, if there is one).
  Status Read(size_t max_entries, uint64_t max_seq, std::vector<SpoolEntry>& out,
              size_t max_bytes = SIZE_MAX);
  // Persists (fdatasync) [first, last] as the batch in flight, before it is sent.
  Status BeginBatch(SpoolBatch batch);
  // Everything up to `last` is delivered (or dead-lettered): never read again.
  Status Ack(uint64_t last);
  // The batch that was in flight when the spool was last closed or crashed,
  // if it is still unacked: resend exactly that range, with its key.
  std::optional<SpoolBatch> pending_batch() const;

  // Calls `fn` for every readable entry with seq > `after`, oldest first,
  // without moving the read position (for rebuilding state on start).
  Status Scan(uint64_t after, const std::function<void(const SpoolEntry&)>& fn);

  // True when Reclaim has work: a fully acked segment, or more than max_bytes.
  bool NeedsReclaim() const;
  // Deletes fully acked segments, then the oldest while over max_bytes.
  Status Reclaim();

  const std::string& producer_id() const { return producer_id_; }
  uint64_t last_seq() const;
  uint64_t acked() const;
  uint64_t unread() const;  // flushed or buffered entries not read yet
  uint64_t pending() const;  // entries not acked (read or not)
  uint64_t bytes() const;
  SpoolCounters counters() const;

  static constexpr size_t kHeaderBytes = 16;
  static constexpr size_t kMaxPayloadBytes = size_t{1} << 20;

 private:
  struct Segment {
    uint64_t first = 0;  // spool seq of its first entry
    std::string path;
    uint64_t bytes = 0;  // flushed bytes in the file
  };
  // Where the sequential reader stands: inside segment `first`, at `offset`,
  // about to read entry `seq`.
  struct ReadPos {
    uint64_t segment_first = 0;
    uint64_t offset = 0;
    uint64_t seq = 1;
  };
  struct CursorState {
    uint64_t generation = 0;
    uint64_t acked = 0;
    uint64_t batch_first = 0;
    uint64_t batch_last = 0;
  };

  explicit Spool(SpoolOptions options);
  Status Load();
  Status LoadProducerId();
  Status LoadCursor();
  Status WriteCursor(bool sync);
  Status ScanNewest(Segment& segment, uint64_t& entries);
  Status StartSegment(uint64_t first);
  Status FlushLocked();
  Status SyncLocked();
  // Positions `pos` at entry `seq` (or the first entry after it that exists).
  Status Seek(uint64_t seq, ReadPos& pos);
  // Reads the entry at `pos` into `entry` and advances `pos`. false at the
  // end of what is flushed. A bad entry skips the rest of its segment,
  // counting the loss as corrupt when `count_loss`.
  Result<bool> ReadAt(ReadPos& pos, SpoolEntry& entry, bool count_loss);
  // `n` bytes of segment `segment` at `offset`, through the read buffer.
  Result<std::string_view> Bytes(const Segment& segment, uint64_t offset, size_t n);
  // Entries in segment `it` (the newest: up to last_seq_).
  uint64_t EntriesOf(std::map<uint64_t, Segment>::const_iterator it) const;
  uint64_t EntriesAfter(std::map<uint64_t, Segment>::const_iterator it, uint64_t seq) const;
  Status DeleteSegment(std::map<uint64_t, Segment>::iterator it);

  const SpoolOptions options_;
  const uint64_t segment_bytes_;
  mutable std::mutex mu_;
  std::string producer_id_;
  std::map<uint64_t, Segment> segments_;  // by first seq; the last one is appended to
  int append_fd_ = -1;                    // the newest segment, once appended to this run
  std::string write_buffer_;
  uint64_t last_seq_ = 0;   // newest appended (buffered or flushed)
  uint64_t flushed_seq_ = 0;  // newest written to the file
  bool unsynced_ = false;
  uint64_t total_bytes_ = 0;  // segment files plus the write buffer
  int cursor_fd_ = -1;
  CursorState cursor_;
  ReadPos read_;
  // The read buffer holds file bytes [buffer_offset_, +size) of segment
  // buffer_segment_.
  std::string read_buffer_;
  int read_fd_ = -1;  // open on segment buffer_segment_
  uint64_t buffer_segment_ = 0;
  uint64_t buffer_offset_ = 0;
  SpoolCounters counters_;
};

}  // namespace asicmon::push
