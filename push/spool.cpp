#include "spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace asicmon::push {
namespace {

namespace fs = std::filesystem;

constexpr size_t kCursorSlotBytes = 64;
constexpr size_t kCursorFieldBytes = 32;  // four u64 before the crc
// Reads from a segment come in chunks of this much, so a batch costs a few
// syscalls rather than two per entry.
constexpr size_t kReadChunkBytes = 256 * 1024;
// Appends are written once this much is buffered, or on Flush.
constexpr size_t kWriteBufferBytes = 1 << 20;
constexpr uint64_t kMinSegmentBytes = 64 * 1024;
constexpr uint64_t kMaxSegmentBytes = 64 << 20;

// Integers are stored in host byte order: a spool is local to its machine.
void Put64(char* at, uint64_t v) { std::memcpy(at, &v, 8); }
void Put32(char* at, uint32_t v) { std::memcpy(at, &v, 4); }
uint64_t Get64(const char* at) {
  uint64_t v;
  std::memcpy(&v, at, 8);
  return v;
}
uint32_t Get32(const char* at) {
  uint32_t v;
  std::memcpy(&v, at, 4);
  return v;
}

uint32_t Crc(std::string_view a, std::string_view b = {}) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(a.data()), static_cast<uInt>(a.size()));
  // zlib reads a null buffer as "give me the initial value": skip empty parts.
  if (!b.empty()) {
    crc = crc32(crc, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
  }
  return static_cast<uint32_t>(crc);
}

// The checksum of an entry covers its seq and payload.
uint32_t EntryCrc(uint64_t seq, std::string_view payload) {
  char seq_bytes[8];
  Put64(seq_bytes, seq);
  return Crc(std::string_view(seq_bytes, 8), payload);
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(what + " " + path + ": " + std::strerror(errno));
}

std::string SegmentName(uint64_t first) {
  char name[64];
  std::snprintf(name, sizeof name, "seg-%020" PRIu64 ".log", first);
  return name;
}

std::optional<uint64_t> ParseSegmentName(const std::string& name) {
  uint64_t first = 0;
  int consumed = 0;
  if (name.size() != 28 ||
      std::sscanf(name.c_str(), "seg-%20" SCNu64 ".log%n", &first, &consumed) != 1 ||
      consumed != 28 || first == 0) {
    return std::nullopt;
  }
  return first;
}

Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync", dir);
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path, size_t& written) {
  written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    written += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string NewProducerId() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", random());
  return std::string("push-") + host + "-" + suffix;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options) {
  std::unique_ptr<Spool> spool(new Spool(options));
  Status s = spool->Load();
  if (!s.ok()) return s;
  return spool;
}

Spool::Spool(SpoolOptions options)
    : options_(std::move(options)),
      segment_bytes_(options_.segment_bytes != 0
                         ? options_.segment_bytes
                         : std::clamp(options_.max_bytes / 8, kMinSegmentBytes, kMaxSegmentBytes)) {}

Spool::~Spool() {
  {
    std::lock_guard lock(mu_);
    if (FlushLocked().ok()) SyncLocked();
  }
  if (append_fd_ >= 0) close(append_fd_);
  if (read_fd_ >= 0) close(read_fd_);
  if (cursor_fd_ >= 0) close(cursor_fd_);
}

Status Spool::Load() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return Status::IoError("cannot create spool directory " + options_.dir + ": " + ec.message());
  if (Status s = LoadProducerId(); !s.ok()) return s;
  if (Status s = LoadCursor(); !s.ok()) return s;

  for (const fs::directory_entry& file : fs::directory_iterator(options_.dir, ec)) {
    const std::optional<uint64_t> first = ParseSegmentName(file.path().filename().string());
    if (!first) continue;
    const uint64_t size = file.file_size(ec);
    if (ec) return Status::IoError("cannot stat " + file.path().string() + ": " + ec.message());
    if (size == 0) {
      fs::remove(file.path(), ec);  // started but never written: nothing to keep
      continue;
    }
    segments_[*first] = Segment{*first, file.path().string(), size};
  }
  if (ec) return Status::IoError("cannot list spool directory " + options_.dir + ": " + ec.message());

  if (!segments_.empty()) {
    auto newest = std::prev(segments_.end());
    uint64_t entries = 0;
    if (Status s = ScanNewest(newest->second, entries); !s.ok()) return s;
    last_seq_ = newest->first + entries - 1;
    if (entries == 0) {
      fs::remove(newest->second.path, ec);
      segments_.erase(newest);
    }
  }
  for (const auto& [first, segment] : segments_) total_bytes_ += segment.bytes;
  // The cursor is ahead of the data only after a power loss took unsynced
  // appends: never hand out those seqs again.
  last_seq_ = std::max({last_seq_, cursor_.acked, cursor_.batch_last});
  flushed_seq_ = last_seq_;
  return Seek(cursor_.acked + 1, read_);
}

Status Spool::LoadProducerId() {
  const std::string path = options_.dir + "/id";
  std::ifstream in(path);
  std::getline(in, producer_id_);
  const bool printable = std::all_of(producer_id_.begin(), producer_id_.end(),
                                     [](char c) { return c > 0x20 && c < 0x7F; });
  if (!producer_id_.empty() && producer_id_.size() <= 200 && printable) return Status::Ok();
  producer_id_ = NewProducerId();
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", tmp);
  size_t written = 0;
  Status s = WriteAll(fd, producer_id_ + "\n", tmp, written);
  if (s.ok() && fsync(fd) != 0) s = Errno("fsync", tmp);
  close(fd);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Errno("rename", tmp);
  return s.ok() ? SyncDir(options_.dir) : s;
}

Status Spool::LoadCursor() {
  const std::string path = options_.dir + "/cursor";
  cursor_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (cursor_fd_ < 0) return Errno("open", path);
  std::array<char, 2 * kCursorSlotBytes> slots{};
  const ssize_t n = pread(cursor_fd_, slots.data(), slots.size(), 0);
  if (n < 0) return Errno("read", path);
  for (size_t slot = 0; slot < 2; ++slot) {
    if (static_cast<size_t>(n) < (slot + 1) * kCursorSlotBytes) break;
    const char* at = slots.data() + slot * kCursorSlotBytes;
    if (Crc(std::string_view(at, kCursorFieldBytes)) != Get32(at + kCursorFieldBytes)) continue;
    CursorState state{Get64(at), Get64(at + 8), Get64(at + 16), Get64(at + 24)};
    if (state.generation > cursor_.generation) cursor_ = state;
  }
  return Status::Ok();
}

Status Spool::WriteCursor(bool sync) {
  ++cursor_.generation;
  char slot[kCursorSlotBytes] = {};
  Put64(slot, cursor_.generation);
  Put64(slot + 8, cursor_.acked);
  Put64(slot + 16, cursor_.batch_first);
  Put64(slot + 24, cursor_.batch_last);
  Put32(slot + kCursorFieldBytes, Crc(std::string_view(slot, kCursorFieldBytes)));
  const auto offset = static_cast<off_t>((cursor_.generation % 2) * kCursorSlotBytes);
  const std::string path = options_.dir + "/cursor";
  if (pwrite(cursor_fd_, slot, sizeof slot, offset) != static_cast<ssize_t>(sizeof slot)) {
    return Errno("write", path);
  }
  if (sync && fdatasync(cursor_fd_) != 0) return Errno("fdatasync", path);
  return Status::Ok();
}

Status Spool::ScanNewest(Segment& segment, uint64_t& entries) {
  uint64_t offset = 0;
  entries = 0;
  while (offset + kHeaderBytes <= segment.bytes) {
    Result<std::string_view> header = Bytes(segment, offset, kHeaderBytes);
    if (!header.ok()) return header.status();
    const uint32_t length = Get32(header->data());
    const uint32_t crc = Get32(header->data() + 4);
    const uint64_t seq = Get64(header->data() + 8);
    if (length > kMaxPayloadBytes || offset + kHeaderBytes + length > segment.bytes ||
        seq != segment.first + entries) {
      break;
    }
    Result<std::string_view> payload = Bytes(segment, offset + kHeaderBytes, length);
    if (!payload.ok()) return payload.status();
    if (EntryCrc(seq, *payload) != crc) break;
    offset += kHeaderBytes + length;
    ++entries;
  }
  if (offset == segment.bytes) return Status::Ok();
  // A torn last write (crash mid-append) or garbage after it: cut it off so
  // the segment ends at its last whole entry.
  if (truncate(segment.path.c_str(), static_cast<off_t>(offset)) != 0) {
    return Errno("truncate", segment.path);
  }
  counters_.truncated_bytes += segment.bytes - offset;
  segment.bytes = offset;
  buffer_segment_ = 0;  // the buffer may hold the cut bytes
  return Status::Ok();
}

Result<std::string_view> Spool::Bytes(const Segment& segment, uint64_t offset, size_t n) {
  if (buffer_segment_ == segment.first && offset >= buffer_offset_ &&
      offset + n <= buffer_offset_ + read_buffer_.size()) {
    return std::string_view(read_buffer_).substr(offset - buffer_offset_, n);
  }
  if (buffer_segment_ != segment.first || read_fd_ < 0) {
    if (read_fd_ >= 0) close(read_fd_);
    read_fd_ = open(segment.path.c_str(), O_RDONLY | O_CLOEXEC);
    buffer_segment_ = 0;
    if (read_fd_ < 0) return Errno("open", segment.path);
  }
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(std::max(n, kReadChunkBytes), segment.bytes - offset));
  read_buffer_.resize(want);
  size_t got = 0;
  while (got < want) {
    const ssize_t r = pread(read_fd_, read_buffer_.data() + got, want - got,
                            static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("read", segment.path);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  read_buffer_.resize(got);
  buffer_segment_ = segment.first;
  buffer_offset_ = offset;
  if (got < n) return Status::IoError("short read in " + segment.path);
  return std::string_view(read_buffer_).substr(0, n);
}

Status Spool::Seek(uint64_t seq, ReadPos& pos) {
  if (segments_.empty()) {
    pos = ReadPos{0, 0, seq};
    return Status::Ok();
  }
  auto it = segments_.upper_bound(seq);
  if (it == segments_.begin()) {  // before everything kept: start at the oldest
    pos = ReadPos{it->first, 0, it->first};
    return Status::Ok();
  }
  --it;
  pos = ReadPos{it->first, 0, it->first};
  // Walk the headers to `seq`; a bad header stops the walk and ReadAt
  // deals with it.
  while (pos.seq < seq && pos.offset + kHeaderBytes <= it->second.bytes) {
    Result<std::string_view> header = Bytes(it->second, pos.offset, kHeaderBytes);
    if (!header.ok()) return header.status();
    const uint32_t length = Get32(header->data());
    if (length > kMaxPayloadBytes || Get64(header->data() + 8) != pos.seq) break;
    pos.offset += kHeaderBytes + length;
    ++pos.seq;
  }
  return Status::Ok();
}

uint64_t Spool::EntriesAfter(std::map<uint64_t, Segment>::const_iterator it, uint64_t seq) const {
  const auto next = std::next(it);
  const uint64_t end = next != segments_.end() ? next->first : last_seq_ + 1;
  const uint64_t from = std::max(seq + 1, it->first);
  return end > from ? end - from : 0;
}

uint64_t Spool::EntriesOf(std::map<uint64_t, Segment>::const_iterator it) const {
  return EntriesAfter(it, it->first - 1);
}

Result<bool> Spool::ReadAt(ReadPos& pos, SpoolEntry& entry, bool count_loss) {
  while (true) {
    if (segments_.empty()) return false;
    auto it = segments_.find(pos.segment_first);
    if (it == segments_.end()) {
      // Not started yet when positioned, or dropped since: go on at the
      // next segment there is.
      it = segments_.lower_bound(pos.segment_first);
      if (it == segments_.end()) return false;
      pos = ReadPos{it->first, 0, it->first};
    }
    const Segment& segment = it->second;
    const auto next = std::next(it);
    if (pos.offset >= segment.bytes) {
      if (next == segments_.end()) return false;
      pos = ReadPos{next->first, 0, next->first};
      continue;
    }
    bool good = pos.offset + kHeaderBytes <= segment.bytes;
    uint32_t length = 0;
    uint32_t crc = 0;
    if (good) {
      Result<std::string_view> header = Bytes(segment, pos.offset, kHeaderBytes);
      if (!header.ok()) return header.status();
      length = Get32(header->data());
      crc = Get32(header->data() + 4);
      good = length <= kMaxPayloadBytes && Get64(header->data() + 8) == pos.seq &&
             pos.offset + kHeaderBytes + length <= segment.bytes;
    }
    if (good) {
      Result<std::string_view> payload = Bytes(segment, pos.offset + kHeaderBytes, length);
      if (!payload.ok()) return payload.status();
      if (EntryCrc(pos.seq, *payload) == crc) {
        entry.seq = pos.seq;
        entry.payload.assign(payload->data(), payload->size());
        pos.offset += kHeaderBytes + length;
        ++pos.seq;
        return true;
      }
    }
    // A damaged entry: its length cannot be trusted, so the rest of the
    // segment is lost.
    if (count_loss) counters_.corrupt += EntriesAfter(it, pos.seq - 1);
    if (next == segments_.end()) {
      pos = ReadPos{it->first, segment.bytes, flushed_seq_ + 1};
      return false;
    }
    pos = ReadPos{next->first, 0, next->first};
  }
}

Status Spool::StartSegment(uint64_t first) {
  const std::string path = options_.dir + "/" + SegmentName(first);
  append_fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (append_fd_ < 0) return Errno("create", path);
  segments_[first] = Segment{first, path, 0};
  return SyncDir(options_.dir);  // the new name survives a power loss
}

Result<uint64_t> Spool::Append(std::string_view payload) {
  assert(payload.size() <= kMaxPayloadBytes);
  std::lock_guard lock(mu_);
  const bool full = append_fd_ >= 0 && !segments_.empty() &&
                    segments_.rbegin()->second.bytes + write_buffer_.size() + kHeaderBytes +
                            payload.size() >
                        segment_bytes_;
  if (append_fd_ < 0 || full) {
    if (Status s = FlushLocked(); !s.ok()) return s;
    if (append_fd_ >= 0) {
      if (Status s = SyncLocked(); !s.ok()) return s;
      close(append_fd_);
      append_fd_ = -1;
    }
    if (Status s = StartSegment(last_seq_ + 1); !s.ok()) return s;
  }
  const uint64_t seq = last_seq_ + 1;
  char header[kHeaderBytes];
  Put32(header, static_cast<uint32_t>(payload.size()));
  Put32(header + 4, EntryCrc(seq, payload));
  Put64(header + 8, seq);
  write_buffer_.append(header, kHeaderBytes);
  write_buffer_.append(payload);
  total_bytes_ += kHeaderBytes + payload.size();
  last_seq_ = seq;
  if (write_buffer_.size() >= kWriteBufferBytes) {
    if (Status s = FlushLocked(); !s.ok()) return s;
  }
  return seq;
}

Status Spool::Flush() {
  std::lock_guard lock(mu_);
  return FlushLocked();
}

Status Spool::FlushLocked() {
  if (write_buffer_.empty()) return Status::Ok();
  Segment& newest = segments_.rbegin()->second;
  size_t written = 0;
  Status s = WriteAll(append_fd_, write_buffer_, newest.path, written);
  newest.bytes += written;
  write_buffer_.erase(0, written);
  if (!s.ok()) return s;  // kept: the next Flush writes the rest
  flushed_seq_ = last_seq_;
  unsynced_ = true;
  return Status::Ok();
}

Status Spool::Sync() {
  std::lock_guard lock(mu_);
  return SyncLocked();
}

Status Spool::SyncLocked() {
  if (!unsynced_ || append_fd_ < 0) return Status::Ok();
  if (fdatasync(append_fd_) != 0) return Errno("fdatasync", segments_.rbegin()->second.path);
  unsynced_ = false;
  return Status::Ok();
}

Status Spool::Read(size_t max_entries, uint64_t max_seq, std::vector<SpoolEntry>& out,
                   size_t max_bytes) {
  std::lock_guard lock(mu_);
  out.clear();
  if (read_.seq > flushed_seq_ && last_seq_ > flushed_seq_) {
    if (Status s = FlushLocked(); !s.ok()) return s;
  }
  size_t bytes = 0;
  while (out.size() < max_entries && read_.seq <= max_seq && bytes < max_bytes) {
    SpoolEntry entry;
    Result<bool> got = ReadAt(read_, entry, /*count_loss=*/true);
    if (!got.ok()) return got.status();
    if (!*got) break;
    bytes += entry.payload.size();
    out.push_back(std::move(entry));
  }
  return Status::Ok();
}

Status Spool::BeginBatch(SpoolBatch batch) {
  std::lock_guard lock(mu_);
  cursor_.batch_first = batch.first;
  cursor_.batch_last = batch.last;
  return WriteCursor(/*sync=*/true);
}

Status Spool::Ack(uint64_t last) {
  std::lock_guard lock(mu_);
  cursor_.acked = std::max(cursor_.acked, last);
  cursor_.batch_first = cursor_.batch_last = 0;
  // Not synced: a crash of push keeps it (page cache); after a power loss the
  // synced batch range is resent with its key, and the receiver drops it.
  return WriteCursor(/*sync=*/false);
}

std::optional<SpoolBatch> Spool::pending_batch() const {
  std::lock_guard lock(mu_);
  if (cursor_.batch_first == 0 || cursor_.batch_first <= cursor_.acked ||
      cursor_.batch_last < cursor_.batch_first) {
    return std::nullopt;
  }
  return SpoolBatch{cursor_.batch_first, cursor_.batch_last};
}

Status Spool::Scan(uint64_t after, const std::function<void(const SpoolEntry&)>& fn) {
  std::lock_guard lock(mu_);
  if (Status s = FlushLocked(); !s.ok()) return s;
  ReadPos pos;
  if (Status s = Seek(after + 1, pos); !s.ok()) return s;
  SpoolEntry entry;
  while (true) {
    Result<bool> got = ReadAt(pos, entry, /*count_loss=*/false);
    if (!got.ok()) return got.status();
    if (!*got) return Status::Ok();
    fn(entry);
  }
}

bool Spool::NeedsReclaim() const {
  std::lock_guard lock(mu_);
  if (segments_.size() < 2) return false;
  return total_bytes_ > options_.max_bytes ||
         std::next(segments_.begin())->first - 1 <= cursor_.acked;
}

Status Spool::DeleteSegment(std::map<uint64_t, Segment>::iterator it) {
  if (buffer_segment_ == it->first) {
    buffer_segment_ = 0;
    if (read_fd_ >= 0) close(read_fd_);
    read_fd_ = -1;
  }
  total_bytes_ -= it->second.bytes;
  const std::string path = it->second.path;
  segments_.erase(it);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("delete", path);
  return Status::Ok();
}

Status Spool::Reclaim() {
  std::lock_guard lock(mu_);
  while (segments_.size() > 1) {
    auto oldest = segments_.begin();
    const auto next = std::next(oldest);
    const bool acked = next->first - 1 <= cursor_.acked;
    if (!acked && total_bytes_ <= options_.max_bytes) break;
    if (!acked) {
      // Full: the oldest goes. What the sender already read is in its hands
      // (and will be sent); what it never read is lost here.
      counters_.dropped += EntriesAfter(oldest, std::max(cursor_.acked, read_.seq - 1));
      if (read_.segment_first == oldest->first) read_ = ReadPos{next->first, 0, next->first};
    }
    if (Status s = DeleteSegment(oldest); !s.ok()) return s;
  }
  return Status::Ok();
}

uint64_t Spool::last_seq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

uint64_t Spool::acked() const {
  std::lock_guard lock(mu_);
  return cursor_.acked;
}

uint64_t Spool::unread() const {
  std::lock_guard lock(mu_);
  return last_seq_ >= read_.seq ? last_seq_ - read_.seq + 1 : 0;
}

uint64_t Spool::pending() const {
  std::lock_guard lock(mu_);
  return last_seq_ - std::min(last_seq_, cursor_.acked);
}

uint64_t Spool::bytes() const {
  std::lock_guard lock(mu_);
  return total_bytes_;
}

SpoolCounters Spool::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace asicmon::push
