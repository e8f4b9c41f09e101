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
  return worker;
}

CollectWorker::CollectWorker(const WorkerOptions& options, std::unique_ptr<MinerClient> client)
    : options_(options),
      client_(std::move(client)),
      context_(1),
      sequencer_(options.producer_id),
      request_(BuildRequest(kPollCommand)) {}

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
    MinerEndpoint endpoint{job->ip, job->port};
    client_->Start(endpoint, request_, [this, endpoint](ExchangeResult&& r) {
      OnPolled(RecordFromExchange(endpoint, std::move(r)));
    });
  }
}

void CollectWorker::OnPolled(Record&& record) {
  ++counters_.polls[static_cast<size_t>(record.status)];
  record.producer_id = sequencer_.producer_id();
  record.seq = sequencer_.Next();
  std::string body;
  body.reserve(512);
  EncodeRecord(record, body);
  backlog_.push_back(std::move(body));
  if (backlog_.size() > options_.backlog_max) {
    backlog_.pop_front();
    ++counters_.records_dropped;
    if (!dropping_logged_) {
      spdlog::error("store is not taking records: backlog full at {}, dropping the oldest (counted)",
                    options_.backlog_max);
      dropping_logged_ = true;
    }
  }
}

void CollectWorker::FlushBacklog() {
  while (!backlog_.empty() && bus::TrySend(ingest_, bus::kTopicRecord, backlog_.front())) {
    backlog_.pop_front();
    ++counters_.records_sent;
  }
  if (backlog_.empty()) dropping_logged_ = false;
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
  v.insert(v.end(), {{"sent", counters_.records_sent},
                     {"backlog", backlog_.size()},
                     {"dropped", counters_.records_dropped},
                     {"bad_messages", counters_.bad_messages}});
  spdlog::info("counters {}", stats.ToLogFields());
  bus::TrySendStageStats(ingest_, stats);  // best effort: the next one replaces it
}

Status CollectWorker::Run(const ShutdownSignal& shutdown) {
  spdlog::info("collect worker {} pulling jobs from {}, pushing records to {}, {} in flight at most",
               sequencer_.producer_id(), options_.endpoints.jobs, options_.endpoints.ingest,
               options_.max_in_flight);
  auto next_stats = Clock::now() + options_.stats_interval;
  while (!shutdown.requested()) {
    const bool has_room = client_->in_flight() < options_.max_in_flight;
    // Records waiting for store: try again soon rather than sleep a whole poll.
    const auto cap = backlog_.empty() ? std::chrono::milliseconds(500) : std::chrono::milliseconds(20);
    std::vector<zmq::pollitem_t> items = {
        {nullptr, shutdown.fd(), ZMQ_POLLIN, 0},
        {nullptr, client_->fd(), ZMQ_POLLIN, 0},
        {jobs_.handle(), 0, static_cast<short>(has_room ? ZMQ_POLLIN : 0), 0},
    };
    try {
      zmq::poll(items, client_->NextDeadlineIn(cap));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
    }
    client_->Poll(std::chrono::milliseconds(0));
    TakeJobs();
    FlushBacklog();
    if (Clock::now() >= next_stats) {
      LogCounters();
      next_stats = Clock::now() + options_.stats_interval;
    }
  }

  // Stop intake, finish what is in flight (each exchange is bounded by its
  // deadline), and hand the records on within the socket's linger.
  spdlog::info("shutting down: finishing {} exchanges in flight", client_->in_flight());
  jobs_.close();
  client_->RunUntilIdle();
  const auto flush_until = Clock::now() + std::chrono::seconds(2);
  FlushBacklog();
  while (!backlog_.empty() && Clock::now() < flush_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    FlushBacklog();
  }
  if (!backlog_.empty()) {
    counters_.records_dropped += backlog_.size();
    spdlog::error("store did not take {} records before exit: dropped (counted)", backlog_.size());
  }
  LogCounters();
  return Status::Ok();
}

}  // namespace asicmon
