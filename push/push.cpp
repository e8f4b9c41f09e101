#include "push.h"

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

namespace asicmon::push {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Each spool entry is one origin byte, then the record's msgpack as it came.
// The origin tells, when the per-producer state is rebuilt from the spool
// after a crash, a record from the bus from one fetched back from the store.
constexpr uint8_t kFromBus = 0;
constexpr uint8_t kBackfilled = 1;
// Messages taken off the bus per turn of the loop, so housekeeping and
// shutdown are never starved.
constexpr int kBurst = 1000;
// Backfill per turn of the loop (records), and per database query.
constexpr uint64_t kBackfillPerTurn = 5000;
constexpr uint64_t kBackfillPerQuery = 1000;
// After a failed database open or query, backfill tries again this much later.
constexpr auto kBackfillRetry = 5s;
// A new gap waits this long before it is fetched back (see Observe).
constexpr auto kGapGrace = 3s;
// Open gaps remembered at most; past it a gap is counted as backfill_missing
// (a store that stays unreachable must not grow push's memory).
constexpr size_t kMaxGaps = 100000;
// The spool is synced, the state saved and the spool reclaimed this often.
constexpr auto kHousekeepingEvery = 1s;
// Producers not heard from for this long are forgotten (collectors take a
// new id per start, so old ids would pile up).
constexpr double kForgetProducerS = 30 * 86400.0;
// The database connection push reads with: a small page cache, reads only.
constexpr int64_t kDbCacheKib = 4096;
// A batch holds at most this much msgpack (~3x as much body), whatever
// PUSH_BATCH says: records are usually ~500 bytes, but the bus allows 1 MiB.
constexpr size_t kMaxBatchBytes = 8 << 20;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Result<std::unique_ptr<Push>> Push::Create(const PushOptions& options) {
  if (options.batch_max == 0) return Status::InvalidArgument("batch size must be at least 1");
  std::unique_ptr<Push> push(new Push(options));
  Result<std::unique_ptr<http::HttpSender>> http = http::HttpSender::Create(options.http);
  if (!http.ok()) return http.status();
  push->http_ = std::move(*http);
  Result<std::unique_ptr<Spool>> spool = Spool::Open(options.spool);
  if (!spool.ok()) return spool.status();
  push->spool_ = std::move(*spool);
  if (Status s = push->LoadState(); !s.ok()) return s;

  bus::SocketOptions sub_options;
  sub_options.rcvhwm = options.bus_rcvhwm;
  sub_options.linger_ms = 0;  // a subscriber sends nothing that could wait
  sub_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> sub =
      bus::Connect(push->context_, zmq::socket_type::sub, options.endpoints.publish, sub_options);
  if (!sub.ok()) return sub.status();
  if (Status s = bus::Subscribe(*sub, {bus::kTopicRecord}); !s.ok()) return s;
  push->sub_ = std::move(*sub);
  bus::SocketOptions out_options;
  out_options.sndhwm = 10;
  out_options.linger_ms = 0;  // counters are replaced by the next; never worth a wait
  out_options.immediate = true;
  out_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> out =
      bus::Connect(push->context_, zmq::socket_type::push, options.endpoints.ingest, out_options);
  if (!out.ok()) return out.status();
  push->stats_out_ = std::move(*out);
  return push;
}

Push::Push(const PushOptions& options) : options_(options) {}

Push::~Push() {
  if (sender_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      deadline_ = Clock::now();
    }
    abort_ = true;
    wake_.notify_all();
    sender_.join();
  }
}

// producers.json: {"covered": spool seq, "producers": {id: [last_seq, last_seen]},
//                  "gaps": [[id, first, last], ...]}
Status Push::LoadState() {
  const std::string path = options_.spool.dir + "/producers.json";
  uint64_t covered = 0;
  std::ifstream in(path);
  if (in) {
    json state = json::parse(in, nullptr, /*allow_exceptions=*/false);
    try {
      if (state.is_discarded() || !state.is_object()) throw std::runtime_error("not a JSON object");
      covered = state.at("covered").get<uint64_t>();
      for (const auto& [producer, v] : state.at("producers").items()) {
        producers_[producer] = ProducerState{v.at(0).get<uint64_t>(), v.at(1).get<double>()};
      }
      for (const json& g : state.at("gaps")) {
        gaps_.push_back(Gap{g.at(0).get<std::string>(), g.at(1).get<uint64_t>(),
                            g.at(2).get<uint64_t>()});
      }
      restarted_ = true;
    } catch (const std::exception& e) {
      // Unreadable (a torn write after a power loss): start afresh. Gaps
      // across this restart go unnoticed, and the log says so.
      spdlog::warn("{} is unreadable ({}): per-producer seqs start afresh", path, e.what());
      producers_.clear();
      gaps_.clear();
      covered = 0;
    }
  }
  // What was spooled after the state was saved (a crash): replay it.
  const double now = UnixNow();
  return spool_->Scan(covered, [&](const SpoolEntry& entry) {
    if (entry.payload.size() < 2) return;
    Result<Record> record = DecodeRecord(std::string_view(entry.payload).substr(1));
    if (!record.ok()) return;
    if (static_cast<uint8_t>(entry.payload[0]) == kFromBus) {
      Observe(record->producer_id, record->seq, now, /*from_rebuild=*/true);
      return;
    }
    // Fetched back already: no longer part of its gap.
    CloseInGap(record->producer_id, record->seq);
  });
}

void Push::CloseInGap(const std::string& producer, uint64_t seq) {
  for (auto it = gaps_.begin(); it != gaps_.end(); ++it) {
    if (it->producer != producer || seq < it->first || seq > it->last) continue;
    if (seq == it->first) {
      ++it->first;
    } else if (seq == it->last) {
      --it->last;
    } else {
      Gap tail{it->producer, seq + 1, it->last, it->due};
      it->last = seq - 1;
      gaps_.insert(std::next(it), tail);
    }
    break;
  }
  gaps_.erase(std::remove_if(gaps_.begin(), gaps_.end(), [](const Gap& g) { return g.first > g.last; }),
              gaps_.end());
}

Status Push::SaveState() {
  // The spool must hold (in the page cache at least) what the state covers.
  if (Status s = spool_->Flush(); !s.ok()) return s;
  const double now = UnixNow();
  json producers = json::object();
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (now - it->second.last_seen > kForgetProducerS) {
      it = producers_.erase(it);
      continue;
    }
    producers[it->first] = json::array({it->second.last_seq, it->second.last_seen});
    ++it;
  }
  json gaps = json::array();
  for (const Gap& g : gaps_) gaps.push_back(json::array({g.producer, g.first, g.last}));
  const json state = {{"covered", spool_->last_seq()}, {"producers", producers}, {"gaps", gaps}};
  const std::string path = options_.spool.dir + "/producers.json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << Dump(state) << '\n';
    if (!out.flush()) return Status::IoError("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot rename " + tmp + ": " + ec.message());
  state_dirty_ = false;
  return Status::Ok();
}

void Push::Observe(const std::string& producer, uint64_t seq, double now_unix,
                   bool from_rebuild) {
  auto [it, first_seen] = producers_.try_emplace(producer);
  ProducerState& state = it->second;
  uint64_t first_missed = 0;
  uint64_t last_missed = 0;
  if (first_seen) {
    // After a restart, a producer never seen before was born while push was
    // away: everything it sent before this is missed. On a first start there
    // is no telling, so nothing is.
    if (restarted_ && seq > 1) {
      first_missed = 1;
      last_missed = seq - 1;
    }
  } else if (seq > state.last_seq + 1) {
    first_missed = state.last_seq + 1;
    last_missed = seq - 1;
  } else if (seq <= state.last_seq && state.last_seq - seq < bus::kResendWindow) {
    if (!from_rebuild) ++counters_.late;
    CloseInGap(producer, seq);
  }
  // A seq at or below the last one is not a gap: a late record (resent to
  // a restarted store), or, far below, a producer restarted under the same
  // PRODUCER_ID (bus::SeqTracker::Observe).
  if (seq > state.last_seq || state.last_seq - seq >= bus::kResendWindow) state.last_seq = seq;
  state.last_seen = now_unix;
  state_dirty_ = true;
  if (last_missed == 0) return;
  const uint64_t missed = last_missed - first_missed + 1;
  if (!from_rebuild) {
    counters_.bus_gaps += missed;
    uint64_t report = 0;
    if (gap_log_.Allow(report)) {
      spdlog::warn("seq gap: {} records of producer {} missed on the bus (seq {}..{}){}{}", missed,
                   SafeForLog(producer), first_missed, last_missed,
                   options_.backfill ? ", fetching them from the store" : ", not recoverable (ENABLE_DB=false)",
                   HeldBackNote(report));
    }
  }
  if (!options_.backfill) return;
  if (gaps_.size() >= kMaxGaps) {
    counters_.backfill_missing += missed;
    return;
  }
  // Records resent to a restarted store come just after the later ones that
  // show their gap (outbox.h): give them a moment before asking the store.
  // A gap rebuilt from the spool is older than that.
  gaps_.push_back(Gap{producer, first_missed, last_missed,
                      from_rebuild ? Clock::time_point{} : Clock::now() + kGapGrace});
}

void Push::CountBad(const std::string& why) {
  ++counters_.bad_messages;
  uint64_t report = 0;
  if (bad_log_.Allow(report)) {
    spdlog::warn("bad message on the bus, skipped: {}{}", SafeForLog(why), HeldBackNote(report));
  }
}

void Push::Append(uint8_t origin, std::string_view msgpack) {
  std::string payload;
  payload.reserve(msgpack.size() + 1);
  payload.push_back(static_cast<char>(origin));
  payload.append(msgpack);
  Result<uint64_t> seq = spool_->Append(payload);
  if (seq.ok()) {
    ++counters_.spooled;
    return;
  }
  // A full or failing disk: this record is lost, and counted.
  ++counters_.spool_errors;
  ++records_lost_to_spool_errors_;
  spdlog::error("spool write failed, record lost: {}", seq.status().ToString());
}

Status Push::Take() {
  bool any = false;
  for (int i = 0; i < kBurst; ++i) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(sub_);
    if (!message.ok()) {
      if (message.status().code() != Status::Code::kParseError) return message.status();
      CountBad(message.status().message());
      continue;
    }
    if (!message->has_value()) break;
    const bus::Message& m = **message;
    if (m.topic != bus::kTopicRecord) {
      CountBad("topic " + Quoted(m.topic) + " where records were expected");
      continue;
    }
    Result<Record> record = DecodeRecord(m.body);
    if (!record.ok()) {
      CountBad(record.status().message());
      continue;
    }
    ++counters_.received;
    Observe(record->producer_id, record->seq, UnixNow(), /*from_rebuild=*/false);
    Append(kFromBus, m.body);
    any = true;
  }
  if (any) {
    if (Status s = spool_->Flush(); !s.ok()) {
      ++counters_.spool_errors;
      spdlog::error("spool flush failed (kept in memory, retried): {}", s.ToString());
    }
    std::lock_guard lock(mu_);  // held while notifying: the sender cannot miss it
    wake_.notify_all();
  }
  return Status::Ok();
}

void Push::BackfillStep(Clock::time_point now) {
  if (gaps_.empty() || now < backfill_retry_at_) return;
  if (!db_) {
    StoreOptions db_options = options_.db;
    db_options.cache_kib = kDbCacheKib;
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(db_options);
    if (!db.ok()) {
      spdlog::warn("cannot open the store's database {} to backfill (retrying in {} s): {}",
                   RedactDatabase(db_options.database), std::chrono::seconds(kBackfillRetry).count(),
                   db.status().ToString());
      backfill_retry_at_ = now + kBackfillRetry;
      return;
    }
    db_ = std::move(*db);
  }
  uint64_t budget = kBackfillPerTurn;
  std::string body;
  bool appended = false;
  while (budget > 0 && !gaps_.empty() && gaps_.front().due <= now) {
    Gap& gap = gaps_.front();
    const uint64_t want = std::min({gap.last - gap.first + 1, budget, kBackfillPerQuery});
    const uint64_t last = gap.first + want - 1;
    Result<std::vector<Record>> records =
        db_->RecordsBySeq(gap.producer, gap.first, last, static_cast<size_t>(want));
    if (!records.ok()) {
      spdlog::warn("backfill query failed (retrying in {} s): {}",
                   std::chrono::seconds(kBackfillRetry).count(), records.status().ToString());
      backfill_retry_at_ = now + kBackfillRetry;
      break;
    }
    for (const Record& r : *records) {
      body.clear();
      EncodeRecord(r, body);
      Append(kBackfilled, body);
      appended = true;
    }
    counters_.backfilled += records->size();
    const uint64_t missing = want - records->size();
    if (missing > 0) {
      // Lost before the store (it saw the gap too), or already folded into
      // hourly aggregates by retention.
      counters_.backfill_missing += missing;
      spdlog::warn("backfill: {} records of producer {} (seq {}..{}) are not in the store either",
                   missing, SafeForLog(gap.producer), gap.first, last);
    }
    budget -= want;
    gap.first = last + 1;
    if (gap.first > gap.last) gaps_.pop_front();
    state_dirty_ = true;
  }
  if (appended) {
    if (Status s = spool_->Flush(); !s.ok()) ++counters_.spool_errors;
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
}

void Push::Housekeeping() {
  Status s = spool_->Flush();
  if (s.ok()) s = spool_->Sync();
  const bool reclaim = spool_->NeedsReclaim();
  // The state is saved before segments go, so a restart never has to replay them.
  if (s.ok() && (state_dirty_ || reclaim)) s = SaveState();
  if (s.ok() && reclaim) s = spool_->Reclaim();
  if (!s.ok()) {
    ++counters_.spool_errors;
    spdlog::error("spool housekeeping failed: {}", s.ToString());
  }
  const SpoolCounters spool = spool_->counters();
  // Losses are logged once per housekeeping pass, with how many.
  if (spool.dropped > spool_dropped_logged_) {
    spdlog::warn("spool full ({} MB): dropped the {} oldest unsent records ({} in all)",
                 options_.spool.max_bytes >> 20, spool.dropped - spool_dropped_logged_,
                 spool.dropped);
    spool_dropped_logged_ = spool.dropped;
  }
  if (spool.corrupt > spool_corrupt_logged_) {
    spdlog::error("spool damaged: {} records unreadable, skipped ({} in all)",
                  spool.corrupt - spool_corrupt_logged_, spool.corrupt);
    spool_corrupt_logged_ = spool.corrupt;
  }
  counters_.spool_corrupt = spool.corrupt;
  counters_.spool_pending = spool_->pending();
  counters_.spool_bytes = spool_->bytes();
  counters_.dropped = spool.dropped + records_lost_to_spool_errors_;
}

void Push::LogStats(Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - last_stats_).count();
  auto rate = [&](uint64_t now_count, uint64_t then) {
    return seconds > 0 ? static_cast<double>(now_count - then) / seconds : 0.0;
  };
  const PushCounters& c = counters_;
  const uint64_t received = c.received;
  const uint64_t sent = c.sent;
  const bus::StageStats stats{
      "push",
      producer_id(),
      UnixNow(),
      {{"received", received},
       {"received_per_s", std::round(rate(received, received_at_last_stats_))},
       {"sent", sent},
       {"sent_per_s", std::round(rate(sent, sent_at_last_stats_))},
       {"batches_sent", c.batches_sent.load()},
       {"retried", c.retried.load()},
       {"spooled", c.spooled.load()},
       {"spool_pending", c.spool_pending.load()},
       {"spool_mb", std::round(static_cast<double>(c.spool_bytes.load()) / (1 << 20) * 10) / 10},
       {"dropped", c.dropped.load()},
       {"dead_lettered", c.dead_lettered.load()},
       {"bus_gaps", c.bus_gaps.load()},
       {"backfilled", c.backfilled.load()},
       {"backfill_missing", c.backfill_missing.load()},
       {"late", c.late.load()},
       {"gaps_open", gaps_.size()},
       {"bad_messages", c.bad_messages.load()},
       {"spool_corrupt", c.spool_corrupt.load()},
       {"spool_errors", c.spool_errors.load()}}};
  spdlog::info("stats {}", stats.ToLogFields());
  // For /metrics; push sends nothing else on ingest.
  bus::TrySendStageStats(stats_out_, stats);
  received_at_last_stats_ = received;
  sent_at_last_stats_ = sent;
  last_stats_ = now;
}

Status Push::Run(const ShutdownSignal& shutdown) {
  spdlog::info(
      "subscribed to records on {}; pushing to {} as {} (batch {}, flush {} ms); spool {} "
      "(max {} MB); producer id {}; backfill {}",
      options_.endpoints.publish, options_.http.url, ToString(options_.format), options_.batch_max,
      options_.flush_interval.count(), options_.spool.dir, options_.spool.max_bytes >> 20,
      producer_id(), options_.backfill ? "from " + RedactDatabase(options_.db.database) : std::string("off"));
  if (const uint64_t pending = spool_->pending(); pending > 0) {
    spdlog::info("resuming: {} records spooled before this start are sent first", pending);
  }
  if (const uint64_t cut = spool_->counters().truncated_bytes; cut > 0) {
    spdlog::warn("spool: cut off a torn last write of {} bytes (a crash mid-append)", cut);
  }
  sender_ = std::thread([this] { SenderLoop(); });

  last_stats_ = Clock::now();
  auto next_stats = last_stats_ + options_.stats_interval;
  auto next_housekeeping = last_stats_ + kHousekeepingEvery;
  Status failure;
  while (!shutdown.requested()) {
    auto now = Clock::now();
    auto wake = std::min(next_stats, next_housekeeping);
    if (!gaps_.empty()) {
      wake = std::min(wake, std::max({now, backfill_retry_at_, gaps_.front().due}));
    }
    const auto timeout =
        std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration(0)));
    std::vector<zmq::pollitem_t> items = {
        {nullptr, shutdown.fd(), ZMQ_POLLIN, 0},
        {sub_.handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        failure = Status::IoError(std::string("poll: ") + e.what());
        break;
      }
    }
    if (Status s = Take(); !s.ok()) {
      failure = s;
      break;
    }
    now = Clock::now();
    BackfillStep(now);
    if (now >= next_housekeeping) {
      Housekeeping();
      next_housekeeping = now + kHousekeepingEvery;
    }
    if (now >= next_stats) {
      LogStats(now);
      next_stats = now + options_.stats_interval;
    }
  }
  // Stop intake first, so what the sender flushes is all there will be.
  sub_.close();
  Housekeeping();
  spdlog::info("shutting down (signal {}): sending what is spooled for up to {} ms",
               shutdown.signal_number(), options_.shutdown_grace.count());
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    deadline_ = Clock::now() + options_.shutdown_grace;
    wake_.notify_all();
    if (!wake_.wait_until(lock, deadline_, [this] { return sender_done_; })) abort_ = true;
  }
  sender_.join();
  Housekeeping();
  LogStats(Clock::now());
  if (const uint64_t pending = spool_->pending(); pending > 0) {
    spdlog::info("{} records stay in the spool for the next start", pending);
  }
  return failure;
}

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
  out << Dump(line) << '\n';
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
