#include "alert.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "asicmon/events.h"
#include "asicmon/log.h"

namespace asicmon::alert {
namespace {

using namespace std::chrono_literals;

// What the SUB socket queues while a slow webhook holds the loop: events are
// few (one per change of state), so this is a farm-wide outage or more.
constexpr int kSubRcvHwm = 100000;
// A refused event is logged at most this often (a misconfigured webhook
// refuses them all).
constexpr auto kRefusalLogEvery = 10s;

}  // namespace

Result<std::unique_ptr<AlertStage>> AlertStage::Create(const AlertOptions& options) {
  std::unique_ptr<AlertStage> stage(new AlertStage(options));
  Result<std::unique_ptr<http::HttpSender>> sender = http::HttpSender::Create(options.http);
  if (!sender.ok()) return sender.status();
  stage->sender_ = std::move(*sender);
  bus::SocketOptions sub_options;
  sub_options.rcvhwm = kSubRcvHwm;
  sub_options.linger_ms = 0;  // a subscriber sends nothing that could wait
  sub_options.curve = &options.endpoints.curve;
  Result<zmq::socket_t> sub =
      bus::Connect(stage->context_, zmq::socket_type::sub, options.endpoints.publish, sub_options);
  if (!sub.ok()) return sub.status();
  if (Status s = bus::Subscribe(*sub, {bus::kTopicEvent}); !s.ok()) return s;
  stage->sub_ = std::move(*sub);
  return stage;
}

AlertStage::AlertStage(const AlertOptions& options) : options_(options) {}

void AlertStage::Take() {
  while (true) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(sub_);
    if (!message.ok()) {
      ++counters_.bad_messages;
      continue;
    }
    if (!message->has_value()) return;
    Result<Event> event = DecodeEvent((*message)->body);
    if (!event.ok()) {
      ++counters_.bad_messages;
      continue;
    }
    if (event->kind != EventKind::kHealth) continue;  // stats and control's events are not alerts
    Result<HealthEvent> health = HealthEventFromJson(event->body);
    if (!health.ok()) {
      ++counters_.bad_messages;
      continue;
    }
    const HealthEvent& e = *health;
    ++counters_.events_in;
    if (queue_.size() >= options_.queue_max) {
      queue_.pop_front();
      ++counters_.dropped;
    }
    queue_.push_back(
        {HealthEventToJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
         fmt::format("{}:{}:{}:{}:{:.3f}", e.ip, e.port, e.kind, e.state, e.ts), 0});
  }
}

void AlertStage::SendOne() {
  Pending& p = queue_.front();
  const http::HttpReply reply = sender_->Post(p.json, "application/json", p.key);
  switch (http::Classify(reply.status)) {
    case http::Outcome::kAccepted:
      ++counters_.sent;
      queue_.pop_front();
      return;
    case http::Outcome::kRejected:
      ++counters_.rejected;
      if (Clock::now() - last_refusal_log_ >= kRefusalLogEvery) {
        last_refusal_log_ = Clock::now();
        spdlog::error("webhook refused an event with HTTP {} ({}), not retried: {}", reply.status,
                      SafeForLog(reply.body), SafeForLog(p.json));
      }
      queue_.pop_front();
      return;
    case http::Outcome::kRetry:
      break;
  }
  ++counters_.retries;
  ++p.failures;
  const auto delay = http::RetryDelay(options_.retry, p.failures, reply.status, reply.retry_after,
                                      std::uniform_real_distribution<double>(0, 1)(jitter_));
  next_attempt_ = Clock::now() + delay;
  if (p.failures == 1 || p.failures % 10 == 0) {
    spdlog::warn("webhook did not take an event ({}), attempt {}; next in {} ms; {} queued",
                 reply.status ? fmt::format("HTTP {}", reply.status) : SafeForLog(reply.error),
                 p.failures, delay.count(), queue_.size());
  }
}

void AlertStage::LogStats() {
  const AlertCounters& c = counters_;
  spdlog::info(
      "stats events_in={} sent={} retries={} rejected={} dropped={} queued={} "
      "bad_messages={}",
      c.events_in, c.sent, c.retries, c.rejected, c.dropped, queue_.size(), c.bad_messages);
}

Status AlertStage::Run(const ShutdownSignal& shutdown) {
  spdlog::info("subscribed to events on {}; posting health events to {}",
               options_.endpoints.publish, options_.http.url);
  auto next_stats = Clock::now() + options_.stats_interval;
  while (!shutdown.requested()) {
    const auto now = Clock::now();
    const bool can_send = !queue_.empty() && now >= next_attempt_;
    auto wait = can_send ? 0ms : 1000ms;
    if (!queue_.empty() && !can_send) {
      wait = std::min(
          wait, std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now) + 1ms);
    }
    zmq::pollitem_t items[] = {{sub_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown.fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
    }
    Take();
    if (!queue_.empty() && Clock::now() >= next_attempt_) SendOne();
    if (Clock::now() >= next_stats) {
      LogStats();
      next_stats = Clock::now() + options_.stats_interval;
    }
  }
  LogStats();
  if (!queue_.empty()) spdlog::warn("{} event(s) not sent at shutdown", queue_.size());
  return Status::Ok();
}

}  // namespace asicmon::alert
