// Push's intake: records off the bus into the spool, seq gaps per
// producer fetched back from the store (backfill), and their state saved.
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
// Producers not heard from for this long are forgotten (collectors take a
// new id per start, so old ids would pile up).
constexpr double kForgetProducerS = 30 * 86400.0;
// The database connection push reads with: a small page cache, reads only.
constexpr int64_t kDbCacheKib = 4096;

}  // namespace

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
    out << DumpJson(state) << '\n';
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

}  // namespace asicmon::push
