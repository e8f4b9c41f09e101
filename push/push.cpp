// Push: its sockets, state and spool opened, the loop that runs intake,
// backfill and housekeeping, its stats.
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

// The spool is synced, the state saved and the spool reclaimed this often.
constexpr auto kHousekeepingEvery = 1s;

}  // namespace

Result<std::unique_ptr<Push>> Push::Create(const PushOptions& options) {
  return Create(options, nullptr);
}

Result<std::unique_ptr<Push>> Push::Create(const PushOptions& options,
                                           std::unique_ptr<StoreDb> db) {
  if (options.batch_max == 0) return Status::InvalidArgument("batch size must be at least 1");
  std::unique_ptr<Push> push(new Push(options));
  push->db_ = std::move(db);
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

Push::Push(const PushOptions& options)
    : options_(options),
      last_stats_(Clock::now()),
      next_stats_(last_stats_ + options.stats_interval),
      next_housekeeping_(last_stats_ + kHousekeepingEvery) {}

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

Status Push::Turn(int wake_fd, std::chrono::milliseconds max_wait) {
  auto now = Clock::now();
  auto wake = std::min(next_stats_, next_housekeeping_);
  if (!gaps_.empty()) {
    wake = std::min(wake, std::max({now, backfill_retry_at_, gaps_.front().due}));
  }
  const auto timeout = std::min(
      max_wait,
      std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration(0))));
  std::vector<zmq::pollitem_t> items = {{sub_.handle(), 0, ZMQ_POLLIN, 0}};
  if (wake_fd >= 0) items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
  }
  if (Status s = Take(); !s.ok()) return s;
  now = Clock::now();
  BackfillStep(now);
  if (now >= next_housekeeping_) {
    Housekeeping();
    next_housekeeping_ = now + kHousekeepingEvery;
  }
  if (now >= next_stats_) {
    LogStats(now);
    next_stats_ = now + options_.stats_interval;
  }
  return Status::Ok();
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

  Status failure;
  while (!shutdown.requested()) {
    failure = Turn(shutdown.fd(), std::chrono::milliseconds::max());
    if (!failure.ok()) break;
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

}  // namespace asicmon::push
