// asicmon-tap: subscribes to store's publish socket and prints what passes
// as JSON lines on stdout, one object per message with its "topic" first:
//   {"topic":"record","schema_version":2,"producer_id":...}
// Records as RecordToJsonLine, inventory as InventoryToJson, events as the
// JSON form of their msgpack. Seq gaps per producer (messages PUB dropped
// for this subscriber, or lost before store) are reported on stderr.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "asicmon/bus.h"
#include "asicmon/events.h"
#include "asicmon/log.h"
#include "asicmon/record.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"

namespace {

using asicmon::Status;
using Clock = std::chrono::steady_clock;

// Messages queued for this subscriber in tap itself; with store's PUB mark
// (100,000) that is how far tap may fall behind (a slow terminal, a paused
// pager) before PUB drops and the gap shows on stderr.
constexpr int kSubRcvHwm = 100000;
// Gap warnings: at most one line per second, the rest summed into the next.
constexpr std::chrono::seconds kGapLogEvery{1};
// Messages printed between flushes at most.
constexpr int kBurst = 1000;

struct TapConfig {
  std::vector<std::string> topics;
  std::string endpoint;            // default: store's publish endpoint
  asicmon::bus::CurveSettings curve;  // ASICMON_CURVE_*
  int64_t count = 0;               // 0: until stopped
  asicmon::StageFlags stage;  // LOG_LEVEL
};

// `object` (a JSON object's text) with "topic" as its first key.
std::string WithTopic(std::string_view topic, std::string_view object) {
  std::string line = "{\"topic\":\"" + std::string(topic) + "\"";
  if (object.size() > 2) line += ",";
  line.append(object.substr(1));
  return line;
}

std::string Dump(const nlohmann::json& j) {
  // Miner-supplied text may hold invalid UTF-8; replace it rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class Tap {
 public:
  // The message as a line, or a ParseError; tracks its producer's seq.
  asicmon::Result<std::string> Format(const asicmon::bus::Message& m) {
    if (m.topic == asicmon::bus::kTopicRecord) {
      asicmon::Result<asicmon::Record> r = asicmon::DecodeRecord(m.body);
      if (!r.ok()) return r.status();
      Observe(m.topic, r->producer_id, r->seq);
      return WithTopic(m.topic, asicmon::RecordToJsonLine(*r));
    }
    if (m.topic == asicmon::bus::kTopicInventory) {
      asicmon::Result<asicmon::InventoryEntry> e = asicmon::DecodeInventory(m.body);
      if (!e.ok()) return e.status();
      Observe(m.topic, e->producer_id, e->seq);
      return WithTopic(m.topic, Dump(asicmon::InventoryToJson(*e)));
    }
    // Events are shown whole, of any kind (or none: tap is where a stray
    // body gets seen), so as their msgpack as JSON rather than DecodeEvent.
    nlohmann::json event = asicmon::DecodeEventBody(m.body);
    if (event.is_discarded()) return Status::ParseError("event body is not msgpack");
    if (!event.is_object()) return WithTopic(m.topic, Dump({{"event", event}}));
    if (event.contains("producer_id") && event["producer_id"].is_string() &&
        event.contains("seq") && event["seq"].is_number_unsigned()) {
      Observe(m.topic, event["producer_id"].get<std::string>(), event["seq"].get<uint64_t>());
    }
    return WithTopic(m.topic, Dump(event));
  }

  void Observe(std::string_view topic, const std::string& producer, uint64_t seq) {
    const uint64_t missed = trackers_[std::string(topic)].Observe(producer, seq);
    if (missed == 0) return;
    missed_ += missed;
    unreported_ += missed;
    const auto now = Clock::now();
    if (now - last_gap_log_ < kGapLogEvery) return;
    spdlog::warn(
        "seq gap: {} {} messages of producer {} missed before seq {}; {} missed since "
        "the last report, {} in all",
        missed, topic, asicmon::SafeForLog(producer), seq, unreported_, missed_);
    unreported_ = 0;
    last_gap_log_ = now;
  }

  uint64_t missed() const { return missed_; }
  size_t producers() const {
    size_t n = 0;
    for (const auto& [topic, tracker] : trackers_) n += tracker.producers();
    return n;
  }

 private:
  std::map<std::string, asicmon::bus::SeqTracker> trackers_;  // per topic
  uint64_t missed_ = 0;
  uint64_t unreported_ = 0;
  Clock::time_point last_gap_log_;
};

int Run(const TapConfig& c) {
  auto shutdown = asicmon::ShutdownSignal::Install();  // also turns SIGPIPE into EPIPE
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  zmq::context_t context(1);
  asicmon::bus::SocketOptions options;
  options.rcvhwm = kSubRcvHwm;
  options.linger_ms = 0;  // a subscriber sends nothing that could wait
  options.curve = &c.curve;
  asicmon::Result<zmq::socket_t> sub =
      asicmon::bus::Connect(context, zmq::socket_type::sub, c.endpoint, options);
  if (!sub.ok()) {
    spdlog::error("{}", sub.status().ToString());
    return 1;
  }
  if (Status s = asicmon::bus::Subscribe(*sub, c.topics); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  std::string topics;
  for (const std::string& topic : c.topics) topics += (topics.empty() ? "" : ",") + topic;
  spdlog::info("subscribed to {} on {}", topics, c.endpoint);
  // Lines leave in bursts, one write per burst rather than per line.
  std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);

  Tap tap;
  uint64_t printed = 0;
  uint64_t bad = 0;
  int exit_code = 0;
  bool done = false;
  while (!done && !(*shutdown)->requested()) {
    std::vector<zmq::pollitem_t> items = {
        {nullptr, (*shutdown)->fd(), ZMQ_POLLIN, 0},
        {sub->handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        spdlog::error("poll: {}", e.what());
        return 1;
      }
    }
    // What is waiting (a bounded burst, so a signal is seen), then one
    // flush: as live as a flush per line, without a write per line.
    for (int i = 0; i < kBurst && !done; ++i) {
      asicmon::Result<std::optional<asicmon::bus::Message>> m = asicmon::bus::TryReceive(*sub);
      if (!m.ok() && m.status().code() != Status::Code::kParseError) {
        spdlog::error("{}", m.status().ToString());
        return 1;
      }
      if (m.ok() && !m->has_value()) break;
      asicmon::Result<std::string> line =
          m.ok() ? tap.Format(**m) : asicmon::Result<std::string>(m.status());
      if (!line.ok()) {
        if (++bad == 1 || bad % 1000 == 0) {
          spdlog::warn("undecodable message ({} so far): {}", bad, line.status().message());
        }
        continue;
      }
      line->push_back('\n');
      if (std::fwrite(line->data(), 1, line->size(), stdout) != line->size()) break;
      ++printed;
      done = c.count > 0 && printed >= static_cast<uint64_t>(c.count);
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      // The reader went away (`asicmon-tap | head`): a normal end.
      if (errno != EPIPE) {
        spdlog::error("stdout: {}", std::strerror(errno));
        exit_code = 1;
      }
      break;
    }
  }
  spdlog::info("{} messages printed, {} missed in seq gaps from {} producers, {} undecodable",
               printed, tap.missed(), tap.producers(), bad);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  TapConfig c;

  CLI::App app{
      "asicmon-tap: print what store publishes as JSON lines on stdout (one object per "
      "message, \"topic\" first); seq gaps are reported on stderr."};
  app.add_option("--topic", c.topics, "record, inventory or event; repeatable (default all)")
      ->check(CLI::IsMember({"record", "inventory", "event"}));
  app.add_option("--endpoint", c.endpoint,
                 "Publish endpoint to subscribe to (default from ASICMON_PUBLISH or "
                 "ipc://$ASICMON_RUN_DIR/publish.sock)");
  app.add_option("--count", c.count,
                 "Exit after printing this many messages (0: run until stopped)")
      ->check(CLI::NonNegativeNumber);
  asicmon::SettingsTable settings(app);
  asicmon::AddStageSettings(settings, c.stage, /*with_stats=*/false);
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "tap", c.stage, settings.env_status())) {
    return *exit_code;
  }
  if (c.topics.empty()) c.topics = {"record", "inventory", "event"};
  // Keys apply to --endpoint too; the other bus variables only without it.
  asicmon::bus::Endpoints endpoints;
  const Status bus = c.endpoint.empty() ? asicmon::bus::LoadEndpoints(endpoints)
                                        : asicmon::bus::LoadCurveSettings(endpoints.curve);
  if (!bus.ok()) {
    spdlog::error("bad configuration: {}", bus.message());
    return 2;
  }
  if (c.endpoint.empty()) c.endpoint = endpoints.publish;
  c.curve = std::move(endpoints.curve);
  return Run(c);
}
