#include "service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "asicmon/clock.h"
#include "asicmon/log.h"
#include "asicmon/record.h"
#include "asicmon/targets.h"
#include "known_state.h"

namespace asicmon::discover {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::chrono::seconds kProgressLogEvery{5};
// Records taken per loop turn, so a flood cannot starve the scheduler.
constexpr int kMaxRecordsPerTurn = 10000;

double Seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

std::string Identity(const KnownMiner& m) {
  return "model=\"" + SafeForLog(m.model) + "\" firmware=\"" + SafeForLog(m.firmware) +
         "\" worker=\"" + SafeForLog(m.worker) + "\" mac=\"" + SafeForLog(m.mac) + "\"";
}

}  // namespace

Result<std::unique_ptr<DiscoverService>> DiscoverService::Create(const ServiceOptions& options) {
  std::unique_ptr<DiscoverService> service(new DiscoverService(options));
  DiscoverService* self = service.get();
  Result<std::unique_ptr<Scanner>> scanner =
      Scanner::Create(options.scanner, options.addresses,
                      [self](ProbeOutcome&& outcome) { self->OnOutcome(std::move(outcome)); });
  if (!scanner.ok()) return scanner.status();
  service->scanner_ = std::move(*scanner);

  // jobs: a worker's share waits here up to the mark; past it TrySend fails
  // and the scheduler counts the miner as behind rather than queueing more.
  Result<std::unique_ptr<bus::ZapHandler>> zap =
      bus::StartZapHandler(service->context_, options.endpoints.curve);
  if (!zap.ok()) return zap.status();
  service->zap_ = std::move(*zap);
  bus::SocketOptions jobs_options;
  jobs_options.sndhwm = 1000;
  jobs_options.curve = &options.endpoints.curve;
  jobs_options.zap = service->zap_.get();
  Result<zmq::socket_t> jobs =
      bus::Bind(service->context_, zmq::socket_type::push, options.endpoints.jobs, jobs_options);
  if (!jobs.ok()) return jobs.status();
  service->jobs_ = std::move(*jobs);

  // ingest: entries wait for store up to the mark, then in backlog_ (bounded).
  bus::SocketOptions ingest_options;
  ingest_options.sndhwm = 10000;
  ingest_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> ingest = bus::Connect(service->context_, zmq::socket_type::push,
                                              options.endpoints.ingest, ingest_options);
  if (!ingest.ok()) return ingest.status();
  service->ingest_ = std::move(*ingest);

  // publish: records, to match them with the jobs that asked for them, and
  // store's acknowledgements of the inventory.
  bus::SocketOptions publish_options;
  publish_options.rcvhwm = 20000;
  publish_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> publish = bus::Connect(service->context_, zmq::socket_type::sub,
                                               options.endpoints.publish, publish_options);
  if (!publish.ok()) return publish.status();
  if (Status s = bus::Subscribe(*publish, {bus::kTopicRecord, bus::kTopicAck}); !s.ok()) return s;
  service->publish_ = std::move(*publish);
  return service;
}

DiscoverService::DiscoverService(const ServiceOptions& options)
    : options_(options),
      inventory_(options.gone_after_sweeps),
      scheduler_(options.scan_interval, Clock::now()),
      context_(1),
      inventory_seq_(options.producer_id),
      job_seq_(options.producer_id),
      outbox_({.topic = std::string(bus::kTopicInventory),
               .producer_id = options.producer_id,
               .max_kept = options.backlog_max}) {}

void DiscoverService::ResumeKnownMiners() {
  if (options_.state_path.empty()) return;
  Result<std::optional<KnownState>> state =
      LoadKnownState(options_.state_path, [&](uint32_t address, uint16_t port) {
        return port == options_.scanner.port &&
               std::binary_search(options_.addresses.begin(), options_.addresses.end(), address);
      });
  if (!state.ok()) {
    // Someone else's file, or a path given by mistake: never written over.
    spdlog::error(
        "state file not used and not written: {}; every miner waits for the sweep to find it "
        "(remove the file or set DISCOVER_STATE elsewhere)",
        state.status().message());
    options_.state_path.clear();
    return;
  }
  if (!state->has_value()) {
    spdlog::info("no state file {} yet: miners are polled as the first sweep finds them",
                 options_.state_path);
    return;
  }
  const KnownState& known = **state;
  const auto now = Clock::now();
  for (const KnownMiner& m : known.miners) {
    const MinerKey key = KeyOf(m.address, m.port);
    if (inventory_.Restore(m)) {
      scheduler_.Add(key, now);
      ++counters_.resumed;
    }
  }
  spdlog::info(
      "resumed {} known miners from {} (saved {:.0f} s ago): polling them now; {} outside the "
      "targets left out, {} bad lines skipped",
      counters_.resumed, options_.state_path, UnixNow() - known.saved_ts, known.outside_targets,
      known.bad_lines);
}

void DiscoverService::SaveKnownMiners() {
  if (options_.state_path.empty()) return;
  const std::vector<KnownMiner> miners = inventory_.Snapshot();
  if (Status s = SaveKnownState(options_.state_path, miners); !s.ok()) {
    ++counters_.state_errors;
    if (s.message() != last_state_error_) {
      spdlog::warn("cannot keep the known miners for a restart: {} (counted in state_errors)",
                   s.message());
      last_state_error_ = s.message();
    }
    return;
  }
  last_state_error_.clear();
}

void DiscoverService::StartSweep() {
  sweep_started_ = Clock::now();
  inventory_.BeginSweep();
  scanner_->Begin();
  spdlog::debug("sweep {} started over {} addresses", counters_.sweeps + 1,
                options_.addresses.size());
}

void DiscoverService::OnOutcome(ProbeOutcome&& outcome) {
  const MinerKey key = KeyOf(outcome.address, outcome.port);
  const std::string where = Ipv4ToString(outcome.address) + ":" + std::to_string(outcome.port);
  if (outcome.kind == ProbeOutcome::Kind::kForeign) {
    ++counters_.foreign;
    // Logged once at info: a web server does not turn into a miner between sweeps.
    const auto level =
        foreign_logged_.insert(key).second ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "{} speaks another protocol (\"{}\"): not a miner, skipped", where,
                outcome.detail);
    return;
  }
  for (InventoryUpdate& update : inventory_.Observe(outcome)) {
    const KnownMiner& miner = update.miner;
    switch (update.change) {
      case InventoryChange::kFound:
        scheduler_.Add(key, Clock::now());
        if (miner.identified) {
          spdlog::debug("found {} {}", where, Identity(miner));
        } else {
          spdlog::info("found {}: accepts but gives no valid reply ({}); listed unidentified",
                       where, SafeForLog(outcome.detail));
        }
        break;
      case InventoryChange::kChanged:
        if (!update.shared_mac.empty()) {
          // Once per MAC: the inventory knows both by address from now on.
          ++counters_.shared_macs;
          spdlog::warn(
              "{}:{} and {} both answer with MAC {} (cloned control boards?): each is known by "
              "its address from now on, and a move of either is seen as gone + found",
              miner.ip, miner.port, where, SafeForLog(update.shared_mac));
          break;
        }
        spdlog::info("{} changed identity: now {}", where, Identity(miner));
        break;
      case InventoryChange::kMoved:
        if (update.vacated && inventory_.Find(*update.vacated) == nullptr) {
          scheduler_.Remove(*update.vacated);
        }
        scheduler_.Add(key, Clock::now());
        spdlog::info("{} moved here from {}: {}", where, update.previous_ip, Identity(miner));
        break;
      case InventoryChange::kGone:
        // Another machine answers at its address (the key stays scheduled for it).
        spdlog::info("{}:{} gone: another machine (MAC {}) answers there", miner.ip, miner.port,
                     SafeForLog(outcome.mac));
        break;
    }
    Publish(EntryFor(update));
  }
}

void DiscoverService::OnSweepDone() {
  ++counters_.sweeps;
  const std::vector<KnownMiner> gone = inventory_.EndSweep();
  for (const KnownMiner& m : gone) {
    if (inventory_.Find(KeyOf(m.address, m.port)) == nullptr) {
      scheduler_.Remove(KeyOf(m.address, m.port));
      spdlog::info("{}:{} gone: missing from {} consecutive sweeps, no longer polled", m.ip,
                   m.port, options_.gone_after_sweeps);
    } else {
      // Its address stays scheduled for the machine that answers there now.
      spdlog::info("{}:{} gone: MAC {} gave its address to another machine and answered nowhere "
                   "else",
                   m.ip, m.port, SafeForLog(m.mac));
    }
    Publish(EntryFor(m, InventoryChange::kGone));
  }
  const SweepProgress& p = scanner_->progress();
  spdlog::info(
      "sweep {} done in {:.2f} s: {} addresses, {} miners answered ({} unidentified), {} other "
      "services; inventory {} miners ({} unidentified), {} gone",
      counters_.sweeps, scanner_->elapsed_s(), p.total, p.found(), p.unidentified, p.foreign,
      inventory_.size(), inventory_.unidentified(), gone.size());
  SaveKnownMiners();
}

void DiscoverService::Publish(InventoryEntry entry) {
  const InventoryChange change = entry.change;
  entry.producer_id = inventory_seq_.producer_id();
  entry.seq = inventory_seq_.Next();
  entry.ts = UnixNow();
  std::string body;
  EncodeInventory(entry, body);
  const bool full = outbox_.kept() >= options_.backlog_max;
  outbox_.Add(entry.seq, std::move(body));
  switch (change) {
    case InventoryChange::kFound:
      ++counters_.found;
      break;
    case InventoryChange::kChanged:
      ++counters_.changed;
      break;
    case InventoryChange::kGone:
      ++counters_.gone;
      break;
    case InventoryChange::kMoved:
      ++counters_.moved;
      break;
  }
  if (full && !dropping_logged_) {
    spdlog::error(
        "store is not taking or not acknowledging inventory entries: {} kept, dropping the "
        "oldest (counted: inventory_dropped, inventory_unacked_dropped)",
        options_.backlog_max);
    dropping_logged_ = true;
  }
}

void DiscoverService::TakeAck(const bus::Message& message) {
  Result<bus::StoreAck> ack = bus::DecodeStoreAck(message.body);
  if (!ack.ok()) {
    ++counters_.bad_messages;
    spdlog::warn("bad acknowledgement on publish socket: {}", ack.status().message());
    return;
  }
  const uint64_t restarts = outbox_.counters().store_restarts;
  outbox_.OnAck(*ack, Clock::now());
  if (outbox_.counters().store_restarts != restarts) {
    spdlog::info("store restarted ({}): sending the {} unacknowledged inventory entries again",
                 SafeForLog(ack->store_id), outbox_.unsent());
  }
}

bool DiscoverService::SendJob(MinerKey key) {
  const KnownMiner* miner = inventory_.Find(key);
  if (miner == nullptr) return false;
  PollJob job;
  job.producer_id = job_seq_.producer_id();
  job.seq = job_seq_.last() + 1;  // taken only once sent, so workers see no false gaps
  job.ts = UnixNow();
  job.ip = miner->ip;
  job.port = miner->port;
  job.family = miner->family;
  job.expires_ts = job.ts + Seconds(options_.scan_interval);
  job_body_.clear();
  EncodePollJob(job, job_body_);
  if (!bus::TrySend(jobs_, bus::kTopicJob, job_body_)) return false;
  job_seq_.Next();
  return true;
}

void DiscoverService::TakeRecords() {
  for (int i = 0; i < kMaxRecordsPerTurn; ++i) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(publish_);
    if (!message.ok()) {
      ++counters_.bad_messages;
      spdlog::warn("bad message on publish socket: {}", message.status().message());
      continue;
    }
    if (!message->has_value()) return;
    if ((*message)->topic == bus::kTopicAck) {
      TakeAck(**message);
      continue;
    }
    if ((*message)->topic != bus::kTopicRecord) continue;
    Result<Record> record = DecodeRecord((*message)->body);
    Result<uint32_t> address = record.ok() ? ParseIpv4(record->ip) : record.status();
    if (!address.ok()) {
      ++counters_.bad_messages;
      spdlog::warn("undecodable record on publish socket: {}", address.status().message());
      continue;
    }
    ++counters_.records;
    record_seqs_.Observe(record->producer_id, record->seq);
    scheduler_.OnRecord(KeyOf(*address, record->port));
  }
}

void DiscoverService::LogProgress() {
  const SweepProgress& p = scanner_->progress();
  spdlog::info("sweep {} in progress: {}/{} addresses, {} found, {:.0f} s", counters_.sweeps + 1,
               p.done, p.total, p.found(), scanner_->elapsed_s());
}

void DiscoverService::LogCounters() {
  const SchedulerCounters& s = scheduler_.counters();
  const bus::StageStats stats{"discover",
                              inventory_seq_.producer_id(),
                              UnixNow(),
                              {{"sweeps", counters_.sweeps},
                               {"miners", inventory_.size()},
                               {"unidentified", inventory_.unidentified()},
                               {"found", counters_.found},
                               {"changed", counters_.changed},
                               {"gone", counters_.gone},
                               {"moved", counters_.moved},
                               {"foreign", counters_.foreign},
                               {"shared_macs", counters_.shared_macs},
                               {"jobs_sent", s.jobs_sent},
                               {"jobs_behind", s.jobs_behind},
                               {"jobs_lost", s.jobs_lost},
                               {"records", counters_.records},
                               {"records_matched", s.records_matched},
                               {"record_gaps", record_seqs_.missed()},
                               {"inventory_sent", outbox_.counters().sent},
                               {"inventory_resent", outbox_.counters().resent},
                               {"inventory_acked", outbox_.counters().acked},
                               {"inventory_backlog", outbox_.unsent()},
                               {"inventory_unacked", outbox_.kept() - outbox_.unsent()},
                               {"inventory_dropped", outbox_.counters().dropped},
                               {"inventory_unacked_dropped", outbox_.counters().unacked_dropped},
                               {"store_restarts", outbox_.counters().store_restarts},
                               {"bad_messages", counters_.bad_messages},
                               {"resumed", counters_.resumed},
                               {"state_errors", counters_.state_errors}}};
  spdlog::info("counters {}", stats.ToLogFields());
  bus::TrySendStageStats(ingest_, stats);  // best effort: the next one replaces it
}

Status DiscoverService::Run(const ShutdownSignal& shutdown) {
  spdlog::info(
      "discover {}: sweeping {} addresses on port {} every {} s ({} probes at once); one poll "
      "job per miner every {} s on {}; inventory to {}; records from {}",
      inventory_seq_.producer_id(), options_.addresses.size(), options_.scanner.port,
      Seconds(options_.sweep_interval), options_.scanner.max_in_flight,
      Seconds(options_.scan_interval), options_.endpoints.jobs, options_.endpoints.ingest,
      options_.endpoints.publish);
  ResumeKnownMiners();
  StartSweep();
  auto next_progress = sweep_started_ + kProgressLogEvery;
  auto next_stats = Clock::now() + options_.stats_interval;
  while (!shutdown.requested()) {
    const auto now = Clock::now();
    // Entries waiting for store: try again soon rather than after a whole wait.
    milliseconds wait = outbox_.kept() == 0 ? milliseconds(500) : milliseconds(20);
    wait = scheduler_.NextDueIn(now, wait);
    if (!scanner_->active()) {
      const auto until_sweep =
          std::chrono::ceil<milliseconds>(sweep_started_ + options_.sweep_interval - now);
      wait = std::clamp(until_sweep, milliseconds(0), wait);
    }
    wait = scanner_->NextDeadlineIn(wait);
    std::vector<zmq::pollitem_t> items = {
        {nullptr, shutdown.fd(), ZMQ_POLLIN, 0},
        {nullptr, scanner_->fd(), ZMQ_POLLIN, 0},
        {publish_.handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
    }
    if (scanner_->Poll(milliseconds(0))) OnSweepDone();
    TakeRecords();
    scheduler_.IssueDue(Clock::now(), [this](MinerKey key) { return SendJob(key); });
    outbox_.Flush(ingest_, Clock::now());
    if (outbox_.kept() < options_.backlog_max / 2) dropping_logged_ = false;  // episode over

    const auto after = Clock::now();
    if (!scanner_->active() && after >= sweep_started_ + options_.sweep_interval) {
      StartSweep();
      next_progress = sweep_started_ + kProgressLogEvery;
    }
    if (scanner_->active() && after >= next_progress) {
      LogProgress();
      next_progress = after + kProgressLogEvery;
    }
    if (after >= next_stats) {
      LogCounters();
      next_stats = after + options_.stats_interval;
    }
  }

  spdlog::info("shutting down on signal {}", shutdown.signal_number());
  // Hand store what it has not taken yet and wait for its acknowledgement,
  // within a bound.
  const auto flush_until = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    TakeRecords();
    outbox_.Flush(ingest_, Clock::now());
    if (outbox_.kept() == 0 || Clock::now() >= flush_until) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (outbox_.kept() > 0) {
    const size_t unsent = outbox_.unsent();
    spdlog::error(
        "store did not take {} inventory entries before exit (dropped, counted) and did not "
        "acknowledge {} (inventory_unacked_dropped: lost only if it did not commit them)",
        unsent, outbox_.kept() - unsent);
    outbox_.DropAll();
  }
  SaveKnownMiners();
  LogCounters();
  return Status::Ok();
}

}  // namespace asicmon::discover
