// Push's sender thread: spooled records POSTed in batches, retried,
// dead-lettered when the receiver refuses them.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/log.h"
#include "asicmon/outbox.h"
#include "push.h"

namespace asicmon::push {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A batch holds at most this much msgpack (~3x as much body), whatever
// PUSH_BATCH says: records are usually ~500 bytes, but the bus allows 1 MiB.
constexpr size_t kMaxBatchBytes = 8 << 20;

}  // namespace

bool Push::SleepUntil(Clock::time_point until) {
  std::unique_lock lock(mu_);
  while (true) {
    if (stopping_ && until >= deadline_) return false;
    if (Clock::now() >= until) return true;
    wake_.wait_until(lock, stopping_ ? std::min(until, deadline_) : until);
  }
}

void Push::SenderLoop() {
  std::optional<SpoolBatch> resend = spool_->pending_batch();
  std::vector<SpoolEntry> entries;
  std::vector<Record> records;
  std::string body;
  std::optional<Clock::time_point> waiting_since;
  auto finish = [this] {
    std::lock_guard lock(mu_);
    sender_done_ = true;
    wake_.notify_all();
  };
  while (true) {
    {
      std::unique_lock lock(mu_);
      while (true) {
        const uint64_t unread = spool_->unread();
        const auto now = Clock::now();
        if (stopping_) break;
        if (unread == 0) {
          waiting_since.reset();
          wake_.wait(lock);
          continue;
        }
        if (resend || unread >= options_.batch_max) break;
        if (!waiting_since) waiting_since = now;
        const auto due = *waiting_since + options_.flush_interval;
        if (now >= due) break;
        wake_.wait_until(lock, due);
      }
      if (stopping_ && (spool_->unread() == 0 || Clock::now() >= deadline_)) {
        lock.unlock();
        finish();
        return;
      }
    }
    const size_t max_entries =
        resend ? static_cast<size_t>(resend->last - resend->first + 1) : options_.batch_max;
    const uint64_t max_seq = resend ? resend->last : std::numeric_limits<uint64_t>::max();
    // A resent range is read whole, so its key names exactly what it carries.
    const size_t max_bytes = resend ? SIZE_MAX : kMaxBatchBytes;
    resend.reset();
    if (Status s = spool_->Read(max_entries, max_seq, entries, max_bytes); !s.ok()) {
      ++counters_.spool_errors;
      spdlog::error("spool read failed: {}", s.ToString());
      if (!SleepUntil(Clock::now() + options_.flush_interval)) break;
      continue;
    }
    if (entries.empty()) {
      // Counted unread, yet nothing readable (lost to damage): wait for more.
      if (!SleepUntil(Clock::now() + options_.flush_interval)) break;
      continue;
    }
    if (spool_->unread() == 0) waiting_since.reset();
    records.clear();
    for (const SpoolEntry& entry : entries) {
      Result<Record> record = entry.payload.size() < 2
                                  ? Result<Record>(Status::ParseError("empty spool entry"))
                                  : DecodeRecord(std::string_view(entry.payload).substr(1));
      if (!record.ok()) {
        ++counters_.spool_corrupt;
        continue;
      }
      records.push_back(std::move(*record));
    }
    const SpoolBatch batch{entries.front().seq, entries.back().seq};
    if (records.empty()) {
      if (Status s = spool_->Ack(batch.last); !s.ok()) ++counters_.spool_errors;
      continue;
    }
    FormatBatch(options_.format, records, body);
    if (Status s = spool_->BeginBatch(batch); !s.ok()) {
      ++counters_.spool_errors;
      spdlog::error("cannot persist the batch range (sending anyway): {}", s.ToString());
    }
    if (!Deliver(batch, body, records)) break;
  }
  finish();
}

bool Push::Deliver(const SpoolBatch& batch, const std::string& body,
                   const std::vector<Record>& records) {
  const std::string key =
      producer_id() + ":" + std::to_string(batch.first) + "-" + std::to_string(batch.last);
  int failures = 0;
  while (true) {
    http::HttpReply reply = http_->Post(body, ContentType(options_.format), key, &abort_);
    switch (http::Classify(reply.status)) {
      case http::Outcome::kAccepted:
        counters_.sent += records.size();
        ++counters_.batches_sent;
        if (Status s = spool_->Ack(batch.last); !s.ok()) ++counters_.spool_errors;
        if (failures > 0) {
          spdlog::info("receiver accepts again: batch {} delivered after {} failed attempts", key,
                       failures);
        }
        return true;
      case http::Outcome::kRejected:
        DeadLetter(key, reply, records);
        counters_.dead_lettered += records.size();
        if (Status s = spool_->Ack(batch.last); !s.ok()) ++counters_.spool_errors;
        return true;
      case http::Outcome::kRetry:
        break;
    }
    ++failures;
    ++counters_.retried;
    const auto delay = http::RetryDelay(options_.retry, failures, reply.status, reply.retry_after,
                                  std::uniform_real_distribution<double>(0, 1)(rng_));
    uint64_t report = 0;
    if (retry_log_.Allow(report)) {
      const std::string why = reply.status == 0 ? reply.error
                                                : "HTTP " + std::to_string(reply.status) + " " +
                                                      SafeForLog(reply.body, 200);
      spdlog::warn("receiver did not take batch {} ({} records): {}; retry {} in {} ms, {} "
                   "records wait in the spool{}",
                   key, records.size(), why, failures, delay.count(), spool_->pending(),
                   HeldBackNote(report));
    }
    if (!SleepUntil(Clock::now() + delay)) return false;
  }
}

void Push::DeadLetter(const std::string& key, const http::HttpReply& reply,
                      const std::vector<Record>& records) {
  const std::filesystem::path path = std::filesystem::path(options_.spool.dir) / "dead-letter.jsonl";
  // Bounded like the spool: past a quarter of its size, the file starts over
  // (the previous one kept as .1).
  std::error_code ec;
  if (std::filesystem::exists(path, ec) &&
      std::filesystem::file_size(path, ec) > options_.spool.max_bytes / 4) {
    std::filesystem::rename(path, path.string() + ".1", ec);
  }
  json line = {{"time", UnixNow()},
               {"idempotency_key", key},
               {"url", options_.http.url},
               {"http_status", reply.status},
               {"response", reply.body},
               {"records", json::array()}};
  for (const Record& r : records) line["records"].push_back(RecordToJson(r));
  std::ofstream out(path, std::ios::app);
  out << DumpJson(line) << '\n';
  const bool written = static_cast<bool>(out.flush());
  uint64_t report = 0;
  if (dead_letter_log_.Allow(report)) {
    spdlog::error(
        "receiver rejected batch {} ({} records) with HTTP {}: {}; not retried, {} in {}{}", key,
        records.size(), reply.status, SafeForLog(reply.body, 500),
        written ? "written to the dead-letter file" : "and it could not be written to the dead-letter file",
        path.string(), HeldBackNote(report));
  }
}

}  // namespace asicmon::push
