#include "worker.h"

#include <thread>

#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/log.h"

namespace asicmon {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Result<std::unique_ptr<CollectWorker>> CollectWorker::Create(const WorkerOptions& options) {
  Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(options.exchange);
  if (!client.ok()) return client.status();
  std::unique_ptr<CollectWorker> worker(new CollectWorker(options, std::move(*client)));

  // jobs: a small receive queue, so a worker that dies holds few jobs; discover
  // counts the jobs that never came back as records.
  bus::SocketOptions jobs_options;
  jobs_options.rcvhwm = 100;
  const bus::CurveSettings jobs_curve = options.endpoints.curve.ForJobs();
  jobs_options.curve = &jobs_curve;
  Result<zmq::socket_t> jobs =
      bus::Connect(worker->context_, zmq::socket_type::pull, options.endpoints.jobs, jobs_options);
  if (!jobs.ok()) return jobs.status();
  worker->jobs_ = std::move(*jobs);

  // ingest: records wait here while store restarts, up to the mark; past it
  // TrySend fails and they wait in backlog_ instead (bounded, counted).
  bus::SocketOptions ingest_options;
  ingest_options.sndhwm = 20000;
  ingest_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> ingest =
      bus::Connect(worker->context_, zmq::socket_type::push, options.endpoints.ingest, ingest_options);
  if (!ingest.ok()) return ingest.status();
  worker->ingest_ = std::move(*ingest);

  // publish: store's acknowledgements only (a few per second). Past the mark
  // SUB drops acks; the records they covered are sent again after
  // resend_after and store drops them as duplicates.
  bus::SocketOptions acks_options;
  acks_options.rcvhwm = 1000;
  acks_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> acks = bus::Connect(worker->context_, zmq::socket_type::sub,
                                            options.endpoints.publish, acks_options);
  if (!acks.ok()) return acks.status();
  if (Status s = bus::Subscribe(*acks, {bus::kTopicAck}); !s.ok()) return s;
  worker->acks_ = std::move(*acks);
  return worker;
}

CollectWorker::CollectWorker(const WorkerOptions& options, std::unique_ptr<MinerClient> client)
    : options_(options),
      client_(std::move(client)),
      context_(1),
      sequencer_(options.producer_id),
      outbox_({.topic = std::string(bus::kTopicRecord),
               .producer_id = options.producer_id,
               .max_kept = options.backlog_max,
               .resend_after = options.resend_after}),
      poller_(*client_, options.poller),
      next_stats_(Clock::now() + options.stats_interval) {}

void CollectWorker::TakeJobs() {
  while (client_->in_flight() < options_.max_in_flight) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(jobs_);
    if (!message.ok()) {
      ++counters_.bad_messages;
      spdlog::warn("bad message on jobs socket: {}", message.status().message());
      continue;
    }
    if (!message->has_value()) return;
    Result<PollJob> job = DecodePollJob((*message)->body);
    if ((*message)->topic != bus::kTopicJob || !job.ok()) {
      ++counters_.bad_messages;
      spdlog::warn("undecodable poll job: {}", job.ok() ? "wrong topic" : job.status().message());
      continue;
    }
    ++counters_.jobs_received;
    if (job->expires_ts > 0 && UnixNow() > job->expires_ts) {
      ++counters_.jobs_expired;  // the next interval's job for this miner is already on its way
      continue;
    }
    // The family discover fingerprinted: the right questions the first time.
    poller_.Poll(MinerEndpoint{job->ip, job->port}, job->family,
                 [this](PollResult&& r) { OnPolled(std::move(r.record)); });
  }
}

void CollectWorker::OnPolled(Record&& record) {
  ++counters_.polls[static_cast<size_t>(record.status)];
  record.producer_id = sequencer_.producer_id();
  record.seq = sequencer_.Next();
  std::string body;
  body.reserve(512);
  EncodeRecord(record, body);
  const bool full = outbox_.kept() >= options_.backlog_max;
  outbox_.Add(record.seq, std::move(body));
  if (full && !dropping_logged_) {
    spdlog::error(
        "store is not taking or not acknowledging records: {} kept, dropping the oldest "
        "(counted: dropped, unacked_dropped)",
        options_.backlog_max);
    dropping_logged_ = true;
  }
}

void CollectWorker::TakeAcks() {
  const auto now = Clock::now();
  for (;;) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(acks_);
    if (message.ok() && !message->has_value()) return;
    Result<bus::StoreAck> ack = message.ok() ? bus::DecodeStoreAck((*message)->body)
                                             : Result<bus::StoreAck>(message.status());
    if (!ack.ok()) {
      ++counters_.bad_acks;
      spdlog::warn("bad acknowledgement on publish socket: {}", ack.status().message());
      // A bad message was consumed whole; a socket error would repeat.
      if (ack.status().code() == Status::Code::kParseError) continue;
      return;
    }
    const uint64_t restarts = outbox_.counters().store_restarts;
    outbox_.OnAck(*ack, now);
    if (outbox_.counters().store_restarts != restarts) {
      spdlog::info("store restarted ({}): sending the {} records it has not acknowledged again",
                   SafeForLog(ack->store_id), outbox_.unsent());
    }
  }
}

void CollectWorker::LogCounters() {
  bus::StageStats stats{"collect", sequencer_.producer_id(), UnixNow(), {}};
  auto& v = stats.values;
  v = {{"jobs", counters_.jobs_received},
       {"expired", counters_.jobs_expired},
       {"in_flight", client_->in_flight()}};
  for (int s = 0; s < kMinerStatusCount; ++s) {
    v.emplace_back(ToString(static_cast<MinerStatus>(s)), counters_.polls[s]);
  }
  const bus::OutboxCounters& o = outbox_.counters();
  const size_t unsent = outbox_.unsent();
  v.insert(v.end(), {{"sent", o.sent},
                     {"resent", o.resent},
                     {"acked", o.acked},
                     {"backlog", unsent},
                     {"unacked", outbox_.kept() - unsent},
                     {"dropped", o.dropped},
                     {"unacked_dropped", o.unacked_dropped},
                     {"store_restarts", o.store_restarts},
                     {"bad_messages", counters_.bad_messages},
                     {"bad_acks", counters_.bad_acks}});
  spdlog::info("counters {}", stats.ToLogFields());
  bus::TrySendStageStats(ingest_, stats);  // best effort: the next one replaces it
}

Status CollectWorker::Turn(int wake_fd) {
  const bool has_room = client_->in_flight() < options_.max_in_flight;
  // Records waiting for store: try again soon rather than sleep a whole poll.
  const auto cap =
      outbox_.kept() == 0 ? std::chrono::milliseconds(500) : std::chrono::milliseconds(20);
  std::vector<zmq::pollitem_t> items = {
      {nullptr, client_->fd(), ZMQ_POLLIN, 0},
      {jobs_.handle(), 0, static_cast<short>(has_room ? ZMQ_POLLIN : 0), 0},
      {acks_.handle(), 0, ZMQ_POLLIN, 0},
  };
  if (wake_fd >= 0) items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, client_->NextDeadlineIn(cap));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
  }
  client_->Poll(std::chrono::milliseconds(0));
  TakeJobs();
  TakeAcks();
  outbox_.Flush(ingest_, Clock::now());
  if (outbox_.kept() < options_.backlog_max / 2) dropping_logged_ = false;  // episode over
  if (Clock::now() >= next_stats_) {
    LogCounters();
    next_stats_ = Clock::now() + options_.stats_interval;
  }
  return Status::Ok();
}

Status CollectWorker::Run(const ShutdownSignal& shutdown) {
  spdlog::info("collect worker {} pulling jobs from {}, pushing records to {}, {} in flight at most",
               sequencer_.producer_id(), options_.endpoints.jobs, options_.endpoints.ingest,
               options_.max_in_flight);
  while (!shutdown.requested()) {
    if (Status s = Turn(shutdown.fd()); !s.ok()) return s;
  }
  // Stop intake, finish what is in flight (each exchange is bounded by its
  // deadline), hand the records on and wait for store's acknowledgement, bounded.
  spdlog::info("shutting down: finishing {} exchanges in flight", client_->in_flight());
  jobs_.close();
  client_->RunUntilIdle();
  const auto flush_until = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    TakeAcks();
    outbox_.Flush(ingest_, Clock::now());
    if (outbox_.kept() == 0 || Clock::now() >= flush_until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (outbox_.kept() > 0) {
    const size_t unsent = outbox_.unsent();
    spdlog::error(
        "store did not take {} records before exit (dropped, counted) and did not acknowledge {} "
        "(unacked_dropped: lost only if it did not commit them)",
        unsent, outbox_.kept() - unsent);
    outbox_.DropAll();
  }
  LogCounters();
  return Status::Ok();
}

}  // namespace asicmon
