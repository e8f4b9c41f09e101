#include "alert.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asicmon/events.h"
#include "asicmon/health.h"

namespace asicmon::alert {
namespace {

using namespace std::chrono_literals;

// What the SUB socket queues while the loop is busy: events are few (one per
// change of state), so this is a farm-wide outage or more.
constexpr int kSubRcvHwm = 100000;

}  // namespace

Result<std::unique_ptr<AlertStage>> AlertStage::Create(const AlertOptions& options) {
  if (options.destinations.empty()) return Status::InvalidArgument("no alert destination");
  std::unique_ptr<AlertStage> stage(new AlertStage(options));
  for (const DestinationConfig& config : options.destinations) {
    Result<std::unique_ptr<Destination>> d = Destination::Create(config, options.destination);
    if (!d.ok()) return d.status();
    stage->destinations_.push_back(std::move(*d));
  }
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
    Result<Severity> severity =
        health.ok() ? ParseSeverity(health->severity) : Result<Severity>(health.status());
    if (!severity.ok()) {
      ++counters_.bad_messages;
      continue;
    }
    ++counters_.events_in;
    for (const auto& d : destinations_) d->Offer(*health, *severity);
  }
}

void AlertStage::LogStats() {
  DestinationCounters total;
  std::string each;
  for (const auto& d : destinations_) {
    const DestinationCounters c = d->counters();
    total.sent += c.sent;
    total.retries += c.retries;
    total.rejected += c.rejected;
    total.dropped += c.dropped;
    total.held += c.held;
    total.queued += c.queued;
    each += fmt::format(
        " {0}.events_in={1} {0}.below_min={2} {0}.sent={3} {0}.retries={4} {0}.rejected={5} "
        "{0}.dropped={6} {0}.held={7} {0}.queued={8}",
        d->config().name, c.events_in, c.below_min, c.sent, c.retries, c.rejected, c.dropped,
        c.held, c.queued);
  }
  spdlog::info(
      "stats events_in={} sent={} retries={} rejected={} dropped={} held={} queued={} "
      "bad_messages={}{}",
      counters_.events_in, total.sent, total.retries, total.rejected, total.dropped, total.held,
      total.queued, counters_.bad_messages, each);
}

Status AlertStage::Run(const ShutdownSignal& shutdown) {
  std::string where;
  for (const auto& d : destinations_) {
    const DestinationConfig& c = d->config();
    where += fmt::format("{}{} ({}, {}, min {})", where.empty() ? "" : ", ", c.name,
                         FormatName(c.format), UrlForLog(c.url),
                         c.min_severity == Severity::kCritical  ? "critical"
                         : c.min_severity == Severity::kWarning ? "warning"
                                                                : "info");
    d->Start();
  }
  spdlog::info("subscribed to events on {}; posting health events to {}",
               options_.endpoints.publish, where);
  auto next_stats = std::chrono::steady_clock::now() + options_.stats_interval;
  Status status = Status::Ok();
  while (!shutdown.requested()) {
    zmq::pollitem_t items[] = {{sub_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown.fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, 1000ms);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        status = Status::IoError(std::string("poll: ") + e.what());
        break;
      }
    }
    Take();
    if (std::chrono::steady_clock::now() >= next_stats) {
      LogStats();
      next_stats = std::chrono::steady_clock::now() + options_.stats_interval;
    }
  }
  LogStats();
  for (const auto& d : destinations_) {
    if (const size_t unsent = d->Stop(); unsent > 0) {
      spdlog::warn("destination {}: {} event(s) not sent at shutdown", d->config().name, unsent);
    }
  }
  return status;
}

}  // namespace asicmon::alert
