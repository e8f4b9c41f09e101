#include "destination.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/log.h"

namespace asicmon::alert {
namespace {

using namespace std::chrono_literals;

// A refused message is logged at most this often (a misconfigured receiver
// refuses them all).
constexpr auto kRefusalLogEvery = 10s;
// The longest the thread sleeps: quiet hours that end are noticed this soon.
constexpr auto kLongestWait = 1s;

}  // namespace

Result<std::unique_ptr<Destination>> Destination::Create(DestinationConfig config,
                                                         const DestinationOptions& options) {
  std::unique_ptr<Destination> d(new Destination(std::move(config), options));
  http::HttpOptions http = options.http;
  http.url = d->config_.PostUrl();
  // Only the generic JSON takes a Bearer token; the others carry their keys
  // in the URL (slack, telegram) or the body (pagerduty).
  http.api_key = d->config_.format == Format::kJson ? d->config_.key : "";
  Result<std::unique_ptr<http::HttpSender>> sender = http::HttpSender::Create(http);
  if (!sender.ok()) {
    return Status::InvalidArgument(
        fmt::format("destination {}: {}", d->config_.name, sender.status().message()));
  }
  d->sender_ = std::move(*sender);
  return d;
}

Destination::Destination(DestinationConfig config, const DestinationOptions& options)
    : config_(std::move(config)), options_(options), grouper_([&options] {
        GroupingOptions g = options.grouping;
        g.max_held = options.queue_max;
        return g;
      }()) {}

Destination::~Destination() {
  if (thread_.joinable()) Stop();
}

void Destination::Offer(const HealthEvent& event, Severity severity) {
  if (severity < config_.min_severity) {
    ++below_min_;
    return;
  }
  ++events_in_;
  {
    std::lock_guard lock(mu_);
    if (inbox_.size() >= options_.queue_max) {
      inbox_.pop_front();
      ++dropped_;
    }
    inbox_.push_back(event);
  }
  wake_.notify_one();
}

void Destination::Start() {
  thread_ = std::thread([this] { Run(); });
}

size_t Destination::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  abort_ = true;
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  size_t unsent = inbox_.size() + grouper_.Clear();
  for (const Pending& p : outbox_) unsent += p.events;
  inbox_.clear();
  outbox_.clear();
  return unsent;
}

DestinationCounters Destination::counters() const {
  return {events_in_, below_min_, sent_, retries_, rejected_, dropped_, held_, queued_};
}

bool Destination::QuietNow() const {
  return config_.quiet_hours && config_.quiet_hours->Contains(LocalMinuteOfDay(UnixNow()));
}

void Destination::Enqueue(Message message, size_t events) {
  if (outbox_.size() >= options_.queue_max) {
    dropped_ += outbox_.front().events;
    outbox_.pop_front();
  }
  outbox_.push_back({std::move(message), events, 0});
}

void Destination::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const bool quiet = QuietNow();
    Clock::time_point wake_at = Clock::now() + kLongestWait;
    if (std::optional<Clock::time_point> due = grouper_.NextDue(quiet)) {
      wake_at = std::min(wake_at, *due);
    }
    if (!outbox_.empty()) wake_at = std::min(wake_at, next_attempt_);
    wake_.wait_until(lock, wake_at, [this] { return stop_ || !inbox_.empty(); });
    if (stop_) break;
    std::deque<HealthEvent> arrived;
    arrived.swap(inbox_);
    lock.unlock();

    const Clock::time_point now = Clock::now();
    const uint64_t dropped_before = grouper_.dropped();
    for (HealthEvent& e : arrived) grouper_.Add(std::move(e), now);
    dropped_ += grouper_.dropped() - dropped_before;
    for (const Group& g : grouper_.TakeDue(now, QuietNow())) {
      // One message for the whole group; none where a PagerDuty incident
      // stays open for others of its kind.
      for (Message& m : Render(config_, g, &incidents_)) Enqueue(std::move(m), g.events.size());
    }
    if (!outbox_.empty() && Clock::now() >= next_attempt_) SendOne();
    held_ = grouper_.held();
    queued_ = outbox_.size();
    lock.lock();
    held_ += inbox_.size();
  }
}

void Destination::SendOne() {
  Pending& p = outbox_.front();
  const http::HttpReply reply =
      sender_->Post(p.message.body, "application/json", p.message.idempotency_key, &abort_);
  if (abort_) return;  // shutting down: the message stays unsent, and is counted so
  switch (http::Classify(reply.status)) {
    case http::Outcome::kAccepted:
      ++sent_;
      outbox_.pop_front();
      return;
    case http::Outcome::kRejected:
      ++rejected_;
      if (Clock::now() - last_refusal_log_ >= kRefusalLogEvery) {
        last_refusal_log_ = Clock::now();
        // Only the generic JSON's body is logged: the others hold keys and chat ids.
        spdlog::error("destination {} ({}) refused a message with HTTP {} ({}), not retried{}",
                      config_.name, FormatName(config_.format), reply.status,
                      SafeForLog(reply.body),
                      config_.format == Format::kJson ? ": " + SafeForLog(p.message.body) : "");
      }
      outbox_.pop_front();
      return;
    case http::Outcome::kRetry:
      break;
  }
  ++retries_;
  ++p.failures;
  const auto delay = http::RetryDelay(options_.retry, p.failures, reply.status, reply.retry_after,
                                      std::uniform_real_distribution<double>(0, 1)(jitter_));
  next_attempt_ = Clock::now() + delay;
  if (p.failures == 1 || p.failures % 10 == 0) {
    spdlog::warn("destination {} did not take a message ({}), attempt {}; next in {} ms; {} queued",
                 config_.name,
                 reply.status ? fmt::format("HTTP {}", reply.status) : SafeForLog(reply.error),
                 p.failures, delay.count(), outbox_.size());
  }
}

}  // namespace asicmon::alert
