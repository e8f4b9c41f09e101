#include "service.h"

#include <curl/curl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "asicmon/clock.h"
#include "asicmon/record.h"
#include "farm.h"
#include "fleet.h"
#include "http_guard.h"
#include "jobs.h"
#include "live_polls.h"
#include "metrics.h"
#include "remediation.h"
#include "validate.h"

namespace asicmon::control {
namespace {

using namespace Pistache;
using Clock = std::chrono::steady_clock;

// How often the miners' gauges are rebuilt from the store, healing records
// the bus did not bring (each rebuild reads every miner: ~60 ms at 10,000).
constexpr auto kGaugeResync = std::chrono::minutes(5);

// Enough audit rows to cover a day of automatic actions on a large farm.
constexpr size_t kRestoredAuditRows = 100000;

// Store connections for the request threads: SQLite handles are not shared
// between threads, and opening one per request would cost a migration check.
class DbPool {
 public:
  explicit DbPool(StoreOptions options) : options_(std::move(options)) {}

  template <typename Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<StoreDb&>())) {
    std::unique_ptr<StoreDb> db;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        db = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!db) {
      Result<std::unique_ptr<StoreDb>> opened = StoreDb::Open(options_);
      if (!opened.ok()) return opened.status();
      db = std::move(*opened);
    }
    auto result = fn(*db);
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(db));
    return result;
  }

 private:
  StoreOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<StoreDb>> free_;
};

// Threads that run write commands; each blocks on one miner.
class ActionPool {
 public:
  explicit ActionPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~ActionPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stop_, and everything posted has run
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Large bodies go chunked, a megabyte at a time: ResponseWriter::send grows
// its buffer from 512 bytes by copying, which cost ~300 ms for the 23 MB of
// /metrics at 10,000 miners (chunked: ~50 ms).
void SendBody(Http::ResponseWriter& response, int status, const std::string& body) {
  constexpr size_t kChunk = 1 << 20;
  if (body.size() <= kChunk) {
    response.send(static_cast<Http::Code>(status), body);
    return;
  }
  Http::ResponseStream stream = response.stream(static_cast<Http::Code>(status), kChunk + 4096);
  for (size_t at = 0; at < body.size(); at += kChunk) {
    stream.write(body.data() + at, static_cast<std::streamsize>(std::min(kChunk, body.size() - at)));
    stream.flush();
  }
  stream.ends();
}

// A JSON array's elements, one record each.
void AppendRecords(const std::vector<Record>& records, std::string& out) {
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) out += ',';
    AppendRecordJson(records[i], out);
  }
}

Http::Mime::MediaType MediaTypeOf(const std::string& file_name) {
  const std::string ext = std::filesystem::path(file_name).extension().string();
  return ext == ".html"  ? MIME(Text, Html)
         : ext == ".css" ? MIME(Text, Css)
         : ext == ".js"  ? MIME(Application, Javascript)
         : ext == ".png" ? MIME(Image, Png)
                         : MIME(Application, OctetStream);
}

// The names of the regular files in `dir`; empty when it is missing.
std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) names.insert(entry.path().filename().string());
  }
  return names;
}

// `raw` with its %XX sequences decoded (others left as they are); nullopt
// only when memory runs out.
std::optional<std::string> PercentDecoded(std::string_view raw) {
  int length = 0;
  char* decoded = curl_easy_unescape(nullptr, raw.data(), static_cast<int>(raw.size()), &length);
  if (!decoded) return std::nullopt;
  std::string out(decoded, static_cast<size_t>(length));
  curl_free(decoded);
  return out;
}

// A query parameter, percent- and '+'-decoded (Pistache hands them over raw).
std::optional<std::string> Query(const Rest::Request& request, const std::string& name) {
  std::optional<std::string> raw = request.query().get(name);
  if (!raw) return raw;
  std::replace(raw->begin(), raw->end(), '+', ' ');
  return PercentDecoded(*raw);
}

// A path parameter, percent-decoded once (Pistache routes on the raw path
// and hands the segment over raw): validation then judges what the client
// meant, so "w%0d%0a" is refused as a control byte and "%40" matches '@'.
// "" when it cannot be decoded, which no validation accepts.
std::string PathParam(const Rest::Request& request, const std::string& name) {
  return PercentDecoded(request.param(name).as<std::string>()).value_or("");
}

std::optional<double> QueryDouble(const Rest::Request& request, const std::string& name,
                                  std::string& error) {
  const std::optional<std::string> text = Query(request, name);
  if (!text) return std::nullopt;
  try {
    size_t used = 0;
    const double value = std::stod(*text, &used);
    if (used == text->size() && std::isfinite(value)) return value;
  } catch (const std::exception&) {
  }
  error = "query parameter '" + name + "' must be a number";
  return std::nullopt;
}

// How long a connection may wait for its answer (see AnswerLater): a sleep's
// bound, the command with the most steps each at its bound, and a margin;
// never below Pistache's keep-alive default of 300 s.
std::chrono::milliseconds LongestAnswer(const ActionOptions& a) {
  return std::max<std::chrono::milliseconds>(SleepCommandBound(a) + std::chrono::seconds(60),
                                             std::chrono::seconds(300));
}

// Takes `response` to be answered later from another thread. Pistache 0.0.5
// answers 408 and drops a connection whose answer is not sent within the
// header timeout (10 s) of the request's end: its idle check takes a peer
// with a request in hand, whose parser waits for the next request line, for
// a slow client. A command on a miner takes longer (set_miner_conf.cgi alone
// ~21 s on some firmware, a reboot minutes), so the peer is marked idle and
// the keep-alive bound, which outlasts the longest command, applies instead.
// Called on the transport thread that runs the handler: the peer's state is
// that thread's.
std::shared_ptr<Http::ResponseWriter> AnswerLater(Http::ResponseWriter&& response) {
  try {
    response.peer()->setIdle(true);
  } catch (const std::runtime_error&) {
    // The client is gone: the answer will go nowhere, which Pistache handles.
  }
  return std::make_shared<Http::ResponseWriter>(std::move(response));
}

}  // namespace

struct Service::Impl {
  ServiceOptions options;
  Metrics metrics;
  MinerGauges gauges;
  MinerActions actions;
  DbPool db;
  std::unique_ptr<LivePolls> live;
  std::unique_ptr<ActionPool> action_pool;
  std::shared_ptr<Http::Endpoint> endpoint;
  Rest::Router router;
  std::set<std::string> swagger_files;
  std::set<std::string> dashboard_files;
  FarmHistory farm_history;

  zmq::context_t context{1};
  std::mutex events_mutex;  // the PUSH socket is used from action threads
  std::optional<zmq::socket_t> events;
  bus::Sequencer sequencer{bus::DefaultProducerId("control")};
  std::atomic<bool> stopping{false};
  std::thread bus_thread;

  // Every command on a miner, whoever asked, passes the gate.
  CommandGate gate{actions, options.reboot_cooldown, [this](AuditEntry e) { Audit(std::move(e)); },
                   [this](AuditEntry e, std::chrono::seconds bound) {
                     e.ts = UnixNow();
                     PublishEvent(e, bound);
                   }};
  BulkJobs jobs{gate};
  Remediation remediation{
      gate, options.auto_actions, [this](std::function<void()> task) { action_pool->Post(std::move(task)); },
      [this](const HealthEvent& e) { PublishHealth(e); }};
  std::mutex rules_mutex;  // one reload at a time

  explicit Impl(ServiceOptions o)
      : options(std::move(o)), actions(options.actions), db(options.db) {}

  // --- plumbing -----------------------------------------------------------

  void Answer(Http::ResponseWriter& response, std::string_view route, int status,
              const nlohmann::json& body) {
    AnswerText(response, route, status,
               body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  // `body` is JSON text already.
  void AnswerText(Http::ResponseWriter& response, std::string_view route, int status,
                  const std::string& body) {
    metrics.CountRequest(route, status);
    response.headers().add<Http::Header::ContentType>(MIME(Application, Json));
    SendBody(response, status, body);
  }
  void Error(Http::ResponseWriter& response, std::string_view route, int status,
             std::string_view error, std::string_view detail) {
    Answer(response, route, status, ErrorBody(error, detail));
  }

  // Whether the request carries the token; the 401 is answered when not.
  bool Authorized(const Rest::Request& request, Http::ResponseWriter& response,
                  std::string_view route, bool write) {
    if (!write && !options.auth_read) return true;
    if (options.token.empty()) {
      Error(response, route, 401, "writes are disabled",
            "no CONTROL_TOKEN is configured, so control refuses every command that changes a "
            "miner; set one and send it as 'Authorization: Bearer <token>'");
      return false;
    }
    std::string presented;
    if (auto auth = request.headers().tryGet<Http::Header::Authorization>()) {
      const std::string value = auth->value();
      if (value.starts_with("Bearer ")) presented = value.substr(7);
    }
    if (!ConstantTimeEquals(presented, options.token)) {
      response.headers().add<WwwAuthenticateBearer>();
      Error(response, route, 401, "unauthorized",
            "send 'Authorization: Bearer <CONTROL_TOKEN>'");
      return false;
    }
    return true;
  }

  std::string Actor(const Rest::Request& request) const {
    // One token today, so the caller is named by it and where it came from.
    return (options.token.empty() ? "peer:" : "token@") + request.address().host();
  }

  // `bound`, for an announcement: the longest the command can take (timeout_s).
  void PublishEvent(const AuditEntry& entry,
                    std::optional<std::chrono::seconds> bound = std::nullopt) {
    nlohmann::json event = {{"producer_id", sequencer.producer_id()},
                            {"ts", entry.ts},
                            {"kind", "control"},
                            {"action", entry.action},
                            {"ip", entry.ip},
                            {"worker", entry.worker},
                            {"actor", entry.actor},
                            {"detail", entry.detail},
                            {"http_status", entry.http_status},
                            {"result", entry.result}};
    if (bound) event["timeout_s"] = bound->count();
    std::lock_guard lock(events_mutex);
    event["seq"] = sequencer.Next();
    const std::vector<uint8_t> body = nlohmann::json::to_msgpack(event);
    if (!events || !bus::TrySend(*events, bus::kTopicEvent,
                                 std::string_view(reinterpret_cast<const char*>(body.data()),
                                                  body.size()))) {
      spdlog::warn("event for {} {} not sent: the store's ingest is not taking messages",
                   entry.action, entry.ip);
    }
  }

  // A remediation_failed event, to the store, which stores and relays it.
  void PublishHealth(const HealthEvent& event) {
    std::lock_guard lock(events_mutex);
    if (!events || !bus::TrySend(*events, bus::kTopicEvent, EncodeHealthEvent(event))) {
      spdlog::warn("{} event for {} not sent: the store's ingest is not taking messages",
                   event.kind, event.ip);
    }
  }

  void Audit(AuditEntry entry) {
    entry.ts = UnixNow();
    metrics.CountAction(entry.action, entry.result);
    spdlog::info("audit: {} {} {} worker={} {} -> {} {}", entry.actor, entry.action, entry.ip,
                 entry.worker, entry.detail, entry.http_status, entry.result);
    Status s = db.With([&](StoreDb& store) { return store.AppendAudit(entry); });
    if (!s.ok()) spdlog::error("audit row not written: {}", s.ToString());
    PublishEvent(entry);
  }

  // --- reads --------------------------------------------------------------

  void Healthz(const Rest::Request&, Http::ResponseWriter response) {
    Result<int64_t> count = db.With([](StoreDb& store) { return store.CountRecords(); });
    nlohmann::json body = {{"status", count.ok() ? "ok" : "degraded"},
                           {"db", count.ok() ? "ok" : count.status().ToString()}};
    Answer(response, "healthz", count.ok() ? 200 : 503, body);
  }

  void ListMiners(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "miners", false)) return;
    LatestFilter filter;
    if (auto s = Query(request, "status")) {
      filter.status = ParseMinerStatus(*s);
      if (!filter.status) {
        return Error(response, "miners", 400, "bad query",
                     "status must be one of ok, timeout, refused, reset, parse_error, "
                     "too_large, auth_error, api_error");
      }
    }
    if (auto m = Query(request, "model")) filter.model = *m;
    if (auto w = Query(request, "worker")) filter.worker = *w;
    if (auto sort = Query(request, "sort")) {
      std::optional<MinerSort> key = ParseMinerSort(*sort);
      if (!key) {
        return Error(response, "miners", 400, "bad query",
                     "sort must be one of address, ts, status, model, worker, hashrate, "
                     "hashrate_avg, temp_max, uptime_s");
      }
      filter.sort = *key;
    }
    const std::string order = Query(request, "order").value_or("asc");
    if (order != "asc" && order != "desc") {
      return Error(response, "miners", 400, "bad query", "order must be asc or desc");
    }
    filter.descending = order == "desc";
    std::string error;
    const auto limit = QueryDouble(request, "limit", error);
    const auto offset = QueryDouble(request, "offset", error);
    if (!error.empty() || (limit && (*limit < 1 || *limit > 100000)) || (offset && *offset < 0)) {
      return Error(response, "miners", 400, "bad query",
                   error.empty() ? "limit must be 1..100000 and offset >= 0" : error);
    }
    filter.limit = limit ? static_cast<size_t>(*limit) : 1000;
    filter.offset = offset ? static_cast<size_t>(*offset) : 0;
    Result<std::vector<Record>> miners =
        db.With([&](StoreDb& store) { return store.Latest(filter); });
    if (!miners.ok()) return Error(response, "miners", 503, "store unavailable", miners.status().ToString());
    // Written record by record: a DOM of 10,000 records took over a second.
    std::string body = fmt::format("{{\"count\":{},\"miners\":[", miners->size());
    AppendRecords(*miners, body);
    body += "]}";
    AnswerText(response, "miners", 200, body);
  }

  void History(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "history", false)) return;
    const std::string ip = PathParam(request, ":ip");
    if (Status s = ValidateIp(ip); !s.ok()) {
      return Error(response, "history", 400, "bad address", s.message());
    }
    std::string error;
    const double now = UnixNow();
    const double to = QueryDouble(request, "to", error).value_or(now);
    const double from = QueryDouble(request, "from", error).value_or(to - 3600);
    const double limit = QueryDouble(request, "limit", error).value_or(10000);
    if (!error.empty() || from > to || limit < 1 || limit > 100000) {
      return Error(response, "history", 400, "bad query",
                   error.empty() ? "need from <= to (unix seconds) and limit 1..100000" : error);
    }
    Result<std::vector<Record>> records = db.With([&](StoreDb& store) {
      return store.History(ip, from, to, static_cast<size_t>(limit));
    });
    if (!records.ok()) return Error(response, "history", 503, "store unavailable", records.status().ToString());
    std::string body = fmt::format("{{\"ip\":\"{}\",\"from\":{},\"to\":{},\"count\":{},\"records\":[",
                                   ip, from, to, records->size());  // ip: validated dotted quad
    AppendRecords(*records, body);
    body += "]}";
    AnswerText(response, "history", 200, body);
  }

  void EventsLog(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "events", false)) return;
    EventFilter filter;
    filter.ip = Query(request, "miner").value_or("");
    if (!filter.ip.empty()) {
      if (Status s = ValidateIp(filter.ip); !s.ok()) {
        return Error(response, "events", 400, "bad address", s.message());
      }
    }
    filter.kind = Query(request, "kind").value_or("");
    if (!filter.kind.empty() && !IsHealthKind(filter.kind)) {
      return Error(response, "events", 400, "bad query",
                   fmt::format("kind must be one of {}", fmt::join(HealthKinds(), ", ")));
    }
    std::string error;
    const auto since = QueryDouble(request, "since", error);
    const auto limit = QueryDouble(request, "limit", error);
    if (!error.empty() || (since && *since < 0) || (limit && (*limit < 1 || *limit > 10000))) {
      return Error(response, "events", 400, "bad query",
                   error.empty() ? "since must be >= 0 (unix s) and limit 1..10000" : error);
    }
    filter.since = since.value_or(0);
    filter.limit = limit ? static_cast<size_t>(*limit) : 100;
    Result<std::vector<HealthEvent>> rows =
        db.With([&](StoreDb& store) { return store.Events(filter); });
    if (!rows.ok()) {
      return Error(response, "events", 503, "store unavailable", rows.status().ToString());
    }
    nlohmann::json list = nlohmann::json::array();
    for (const HealthEvent& e : *rows) list.push_back(HealthEventToJson(e));
    Answer(response, "events", 200, {{"count", list.size()}, {"events", std::move(list)}});
  }

  void Farm(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "farm", false)) return;
    AnswerText(response, "farm", 200, FarmTotalsJson(gauges.Totals()));
  }

  void FarmHistoryPage(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "farm_history", false)) return;
    std::string error;
    const double seconds = QueryDouble(request, "seconds", error).value_or(3600);
    if (!error.empty() || seconds < 1 || seconds > 86400) {
      return Error(response, "farm_history", 400, "bad query",
                   error.empty() ? "seconds must be 1..86400" : error);
    }
    const FarmTotals now = gauges.Totals();
    std::vector<FarmTotals> samples = farm_history.Since(now.ts - seconds);
    samples.push_back(now);  // the chart ends at this moment, not at the last sample
    std::string body = fmt::format(R"({{"interval_s":{},"count":{},"samples":[)",
                                   kFarmSampleEvery.count(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i > 0) body += ',';
      body += FarmTotalsJson(samples[i]);
    }
    body += "]}";
    AnswerText(response, "farm_history", 200, body);
  }

  void AuditLog(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "audit", false)) return;
    const std::string ip = Query(request, "ip").value_or("");
    if (!ip.empty()) {
      if (Status s = ValidateIp(ip); !s.ok()) return Error(response, "audit", 400, "bad address", s.message());
    }
    Result<std::vector<AuditEntry>> rows =
        db.With([&](StoreDb& store) { return store.Audit(ip, 1000); });
    if (!rows.ok()) return Error(response, "audit", 503, "store unavailable", rows.status().ToString());
    nlohmann::json list = nlohmann::json::array();
    for (const AuditEntry& e : *rows) {
      list.push_back({{"ts", e.ts}, {"actor", e.actor}, {"action", e.action}, {"ip", e.ip},
                      {"worker", e.worker}, {"detail", e.detail},
                      {"http_status", e.http_status}, {"result", e.result}});
    }
    Answer(response, "audit", 200, {{"count", list.size()}, {"audit", std::move(list)}});
  }

  void MetricsPage(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "metrics", false)) return;
    metrics.CountRequest("metrics", 200);
    response.headers().add<Http::Header::ContentType>(
        Http::Mime::MediaType::fromString("text/plain; version=0.0.4; charset=utf-8"));
    const auto t0 = Clock::now();
    const std::string text = metrics.Render(gauges);
    const auto t1 = Clock::now();
    SendBody(response, 200, text);
    spdlog::debug("/metrics: {} bytes rendered in {:.1f} ms, handed to the socket in {:.1f} ms",
                  text.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                  std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
  }

  // The gauges from the store's state of every miner: at start, then now
  // and then, to heal what the bus missed (a restart of store, a gap).
  Status ResyncGauges() {
    LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    Result<std::vector<Record>> latest = db.With([&](StoreDb& store) { return store.Latest(all); });
    if (!latest.ok()) return latest.status();
    gauges.Reset(*latest);
    return Status::Ok();
  }

  void OpenApi(const Rest::Request&, Http::ResponseWriter response) {
    ServeFile(response, "openapi", options.web_dir + "/openapi.json", MIME(Application, Json));
  }

  // The dashboard is public like /docs: its data comes from the read
  // endpoints, which apply CONTROL_AUTH_READ themselves.
  void Dashboard(const Rest::Request&, Http::ResponseWriter response) {
    ServeFile(response, "dashboard", options.web_dir + "/dashboard/index.html", MIME(Text, Html));
  }

  void Static(const Rest::Request& request, Http::ResponseWriter response) {
    const std::string name = PathParam(request, ":file");
    // Only files installed in dashboard/, by exact name: no path ever reaches the disk.
    if (!dashboard_files.contains(name)) {
      return Error(response, "static", 404, "not found",
                   dashboard_files.empty() ? "the dashboard is not installed (set ASICMON_WEB_DIR)"
                                           : "no such file under /static");
    }
    ServeFile(response, "static", options.web_dir + "/dashboard/" + name, MediaTypeOf(name));
  }

  void Docs(const Rest::Request& request, Http::ResponseWriter response) {
    std::string name = request.hasParam(":file") ? PathParam(request, ":file")
                                                 : "index.html";
    if (name == "swagger-initializer.js") {
      // Points the UI at our spec instead of the package's demo.
      response.headers().add<Http::Header::ContentType>(MIME(Application, Javascript));
      metrics.CountRequest("docs", 200);
      response.send(Http::Code::Ok,
                    "window.onload = function () {\n"
                    "  window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui'});\n"
                    "};\n");
      return;
    }
    // Only the package's own files, by exact name: no path ever reaches the disk.
    if (!swagger_files.contains(name)) {
      return Error(response, "docs", 404, "not found",
                   swagger_files.empty()
                       ? "Swagger UI is not installed: run scripts/deps.sh (npm swagger-ui-dist) "
                         "or set ASICMON_WEB_DIR"
                       : "no such file under /docs");
    }
    ServeFile(response, "docs", options.web_dir + "/swagger-ui/" + name, MediaTypeOf(name),
              name == "index.html");
  }

  // `rebase_links`: the page is served at /docs (no trailing slash), where
  // the package's "./x" and "x" links would resolve to the site root.
  void ServeFile(Http::ResponseWriter& response, std::string_view route, const std::string& path,
                 const Http::Mime::MediaType& type, bool rebase_links = false) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Error(response, route, 404, "not found",
                   "web assets are missing (" + path + "); set ASICMON_WEB_DIR");
    }
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (rebase_links) {
      for (const std::string attr : {"href=\"", "src=\""}) {
        for (size_t at = body.find(attr); at != std::string::npos; at = body.find(attr, at + 1)) {
          const size_t value = at + attr.size();
          if (body.compare(value, 2, "./") == 0) body.erase(value, 2);
          if (body.compare(value, 1, "/") != 0 && body.compare(value, 4, "http") != 0) {
            body.insert(value, "/docs/");
          }
        }
      }
    }
    metrics.CountRequest(route, 200);
    response.headers().add<Http::Header::ContentType>(type);
    response.send(Http::Code::Ok, body);
  }

  // --- miners -------------------------------------------------------------

  // ip and worker from the path, validated; false (answered 400) when bad.
  bool MinerPath(const Rest::Request& request, Http::ResponseWriter& response,
                 std::string_view route, std::string& ip, std::string& worker) {
    ip = PathParam(request, ":ip");
    worker = PathParam(request, ":worker");
    for (const Status& s : {ValidateIp(ip), ValidateWorker(worker)}) {
      if (!s.ok()) {
        Error(response, route, 400, "bad request", s.message());
        return false;
      }
    }
    return true;
  }

  void Summary(const Rest::Request& request, Http::ResponseWriter response) {
    std::string ip, worker;
    if (!Authorized(request, response, "summary", false) ||
        !MinerPath(request, response, "summary", ip, worker)) {
      return;
    }
    auto writer = AnswerLater(std::move(response));
    live->Submit({ip, options.actions.api_port}, [this, writer, worker](Record&& record) {
      if (record.status != MinerStatus::kOk) {
        const ActionOutcome failed = MinerActions::MinerFailed(record.status, record.error);
        return Answer(*writer, "summary", failed.http_status, failed.body);
      }
      if (auto mismatch = MinerActions::CheckWorker(record, worker)) {
        return Answer(*writer, "summary", mismatch->http_status, mismatch->body);
      }
      Answer(*writer, "summary", 200, RecordToJson(record));
    });
  }

  // A command on one miner: refused at once (409) when the miner is busy or
  // in its reboot cooldown, else run on an action thread and answered there.
  void Command(const Rest::Request& request, Http::ResponseWriter response, ActionRequest command) {
    command.actor = Actor(request);
    const std::string route(ToString(command.kind));
    if (auto refused = gate.TryAcquire(command)) {
      return Answer(response, route, refused->http_status, refused->body);
    }
    auto writer = AnswerLater(std::move(response));
    action_pool->Post([this, writer, command, route] {
      const ActionOutcome outcome = gate.RunHeld(command);
      Answer(*writer, route, outcome.http_status, outcome.body);
    });
  }

  // POST /miners/{ip}/{worker}/<kind>, every kind's parameters checked
  // before the command is taken.
  void MinerCommand(ActionKind kind, const Rest::Request& request, Http::ResponseWriter response) {
    const std::string route(ToString(kind));
    ActionRequest command;
    command.kind = kind;
    if (!Authorized(request, response, route, true) ||
        !MinerPath(request, response, route, command.ip, command.worker)) {
      return;
    }
    switch (kind) {
      case ActionKind::kReboot:
        command.wait = Query(request, "wait").value_or("") == "true";
        command.force = Query(request, "force").value_or("") == "true";
        command.detail = std::string(command.wait ? "wait" : "") + (command.force ? " force" : "");
        break;
      case ActionKind::kPool: {
        Result<PoolChange> pool =
            PoolChangeFromJson(nlohmann::json::parse(request.body(), nullptr, false));
        if (!pool.ok()) return Error(response, route, 400, "bad request", pool.status().message());
        command.pool = std::move(*pool);
        command.detail = "url=" + command.pool.url + " user=" + command.pool.user;
        break;
      }
      case ActionKind::kLocate: {
        const nlohmann::json body = nlohmann::json::parse(request.body(), nullptr, false);
        if (!body.is_object() || body.size() != 1 || !body.contains("on") || !body["on"].is_boolean()) {
          return Error(response, route, 400, "bad request",
                       "body must be {\"on\": true} or {\"on\": false}");
        }
        command.on = body["on"].get<bool>();
        command.detail = command.on ? "on" : "off";
        break;
      }
      default:
        break;
    }
    Command(request, std::move(response), std::move(command));
  }

  // --- bulk actions and rules -----------------------------------------------

  void StartJob(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "actions", true)) return;
    Result<BulkRequest> bulk = ParseBulkRequest(request.body());
    if (!bulk.ok()) return Error(response, "actions", 400, "bad request", bulk.status().message());
    LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    Result<std::vector<Record>> latest = db.With([&](StoreDb& store) { return store.Latest(all); });
    if (!latest.ok()) {
      return Error(response, "actions", 503, "store unavailable", latest.status().ToString());
    }
    Result<std::vector<InventoryRow>> inventory =
        db.With([](StoreDb& store) { return store.Inventory(); });
    if (!inventory.ok()) {
      return Error(response, "actions", 503, "store unavailable", inventory.status().ToString());
    }
    FillIdentity(*latest, *inventory);
    std::vector<std::string> unknown;
    std::vector<JobTarget> targets = SelectTargets(bulk->select, *latest, unknown);
    if (bulk->dry_run) {
      nlohmann::json miners = nlohmann::json::array();
      for (const JobTarget& t : targets) {
        miners.push_back({{"ip", t.ip}, {"worker", t.worker}, {"model", t.model}});
      }
      return Answer(response, "actions", 200,
                    {{"dry_run", true}, {"action", ToString(bulk->kind)},
                     {"select", bulk->select.ToJson()}, {"count", targets.size()},
                     {"miners", std::move(miners)}, {"unknown", std::move(unknown)}});
    }
    if (targets.empty()) {
      return Error(response, "actions", 400, "no miner selected",
                   "the selector matches no miner in the store's latest state (dry_run shows "
                   "what a selector picks)");
    }
    Result<nlohmann::json> job =
        jobs.Start(*bulk, std::move(targets), std::move(unknown), Actor(request));
    if (!job.ok()) return Error(response, "actions", 429, "too many jobs", job.status().message());
    // Typed: Pistache 0.0.5 drops headers added raw.
    response.headers().add<Http::Header::Location>("/actions/" + (*job)["id"].get<std::string>());
    Answer(response, "actions", 202, *job);
  }

  // The job id from the path; false (answered 404) when it cannot be one.
  bool JobId(const Rest::Request& request, Http::ResponseWriter& response, std::string& id) {
    id = PathParam(request, ":id");
    if (id.empty() || id.size() > 40 || id.find_first_not_of("0123456789-") != std::string::npos) {
      Error(response, "actions", 404, "no such job", "job ids look like 1764171234-7");
      return false;
    }
    return true;
  }

  void ListJobs(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "actions", false)) return;
    nlohmann::json list = jobs.List();
    Answer(response, "actions", 200, {{"count", list.size()}, {"jobs", std::move(list)}});
  }

  void GetJob(const Rest::Request& request, Http::ResponseWriter response) {
    std::string id;
    if (!Authorized(request, response, "actions", false) || !JobId(request, response, id)) return;
    std::optional<nlohmann::json> job = jobs.Get(id);
    if (!job) return Error(response, "actions", 404, "no such job", "it may have been forgotten: control keeps the last 100");
    Answer(response, "actions", 200, *job);
  }

  void CancelJob(const Rest::Request& request, Http::ResponseWriter response) {
    std::string id;
    if (!Authorized(request, response, "actions", true) || !JobId(request, response, id)) return;
    bool finished = false;
    std::optional<nlohmann::json> job = jobs.Cancel(id, finished);
    if (!job) return Error(response, "actions", 404, "no such job", "it may have been forgotten: control keeps the last 100");
    if (finished) return Error(response, "actions", 409, "job already finished", "state " + (*job)["state"].get<std::string>());
    spdlog::info("job {} cancelled by {}", id, Actor(request));
    Answer(response, "actions", 202, *job);
  }

  void RemediationPage(const Rest::Request& request, Http::ResponseWriter response) {
    if (!Authorized(request, response, "remediation", false)) return;
    Answer(response, "remediation", 200, remediation.StatusJson(UnixNow()));
  }

  Status LoadRules() {
    std::lock_guard lock(rules_mutex);
    if (options.rules_file.empty()) return Status::Ok();
    Result<RemediationConfig> config = LoadRemediationConfig(options.rules_file);
    if (!config.ok()) return config.status();
    remediation.Configure(std::move(*config));
    return Status::Ok();
  }

  // Conditions holding now (with the event that fired each) and the last
  // day's automatic actions, so rules resume where a restart left them.
  Status RestoreRemediation() {
    Result<std::vector<ActiveCondition>> active =
        db.With([](StoreDb& store) { return store.ActiveConditions(); });
    if (!active.ok()) return active.status();
    std::vector<HealthEvent> fired;
    for (const ActiveCondition& c : *active) {
      EventFilter newest{.since = 0, .ip = c.ip, .kind = c.kind, .limit = 1};
      Result<std::vector<HealthEvent>> e = db.With([&](StoreDb& store) { return store.Events(newest); });
      if (!e.ok()) return e.status();
      if (!e->empty()) fired.push_back(e->front());
    }
    Result<std::vector<AuditEntry>> audit =
        db.With([](StoreDb& store) { return store.Audit("", kRestoredAuditRows); });
    if (!audit.ok()) return audit.status();
    const double day_ago = UnixNow() - 86400;
    std::erase_if(*audit, [&](const AuditEntry& e) { return e.ts < day_ago; });
    remediation.Restore(fired, *audit);
    return Status::Ok();
  }

  void NotFound(const Rest::Request& request, Http::ResponseWriter response) {
    Error(response, "other", 404, "not found",
          "no route for " + std::string(Http::methodString(request.method())) + " " +
              request.resource());
  }

  // --- bus ----------------------------------------------------------------

  void WatchBus() {
    bus::SocketOptions sub_options;
    sub_options.rcvhwm = 100000;
    sub_options.linger_ms = 0;
    sub_options.curve = &options.endpoints.curve;
    Result<zmq::socket_t> sub =
        bus::Connect(context, zmq::socket_type::sub, options.endpoints.publish, sub_options);
    if (!sub.ok()) {
      spdlog::error("bus counters off: {}", sub.status().ToString());
      return;
    }
    if (Status s = bus::Subscribe(*sub, {bus::kTopicRecord, bus::kTopicInventory, bus::kTopicEvent});
        !s.ok()) {
      spdlog::error("bus counters off: {}", s.ToString());
      return;
    }
    bus::SeqTracker records_seq, inventory_seq;
    auto next_resync = Clock::now() + kGaugeResync;
    auto next_farm_sample = Clock::now();
    while (!stopping) {
      if (Clock::now() >= next_resync) {
        if (Status s = ResyncGauges(); !s.ok()) spdlog::warn("gauges not resynced: {}", s.ToString());
        next_resync = Clock::now() + kGaugeResync;
      }
      remediation.Tick(UnixNow());
      if (Clock::now() >= next_farm_sample) {
        farm_history.Add(gauges.Totals());
        next_farm_sample = Clock::now() + kFarmSampleEvery;
      }
      zmq::pollitem_t item{sub->handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, std::chrono::milliseconds(200));
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;
        continue;
      }
      for (int i = 0; i < 1000; ++i) {
        Result<std::optional<bus::Message>> m = bus::TryReceive(*sub);
        if (!m.ok()) {
          metrics.CountBadMessage();
          continue;
        }
        if (!m->has_value()) break;
        const bus::Message& msg = **m;
        if (msg.topic == bus::kTopicRecord) {
          Result<Record> r = DecodeRecord(msg.body);
          if (!r.ok()) {
            metrics.CountBadMessage();
            continue;
          }
          metrics.CountRecord(r->status);
          gauges.Update(*r);
          if (uint64_t missed = records_seq.Observe(r->producer_id, r->seq)) {
            metrics.CountBusGaps(bus::kTopicRecord, missed);
          }
        } else if (msg.topic == bus::kTopicEvent) {
          Result<std::optional<HealthEvent>> health = DecodeHealthEvent(msg.body);
          if (!health.ok()) {
            metrics.CountBadMessage();
            continue;
          }
          if (health->has_value()) {
            remediation.Observe(**health);
            continue;
          }
          Result<std::optional<bus::StageStats>> stats = bus::DecodeStageStats(msg.body);
          if (!stats.ok()) {
            metrics.CountBadMessage();
          } else if (stats->has_value()) {
            metrics.UpdateStage(std::move(**stats));
          }
        } else {
          Result<InventoryEntry> e = DecodeInventory(msg.body);
          if (!e.ok()) {
            metrics.CountBadMessage();
            continue;
          }
          metrics.CountInventory(e->change);
          if (uint64_t missed = inventory_seq.Observe(e->producer_id, e->seq)) {
            metrics.CountBusGaps(bus::kTopicInventory, missed);
          }
        }
      }
    }
  }

  void Routes() {
    using Rest::Routes::bind;
    Rest::Routes::Get(router, "/healthz", bind(&Impl::Healthz, this));
    Rest::Routes::Get(router, "/metrics", bind(&Impl::MetricsPage, this));
    Rest::Routes::Get(router, "/openapi.json", bind(&Impl::OpenApi, this));
    Rest::Routes::Get(router, "/", bind(&Impl::Dashboard, this));
    Rest::Routes::Get(router, "/static/:file", bind(&Impl::Static, this));
    Rest::Routes::Get(router, "/farm", bind(&Impl::Farm, this));
    Rest::Routes::Get(router, "/farm/history", bind(&Impl::FarmHistoryPage, this));
    Rest::Routes::Get(router, "/docs", bind(&Impl::Docs, this));
    Rest::Routes::Get(router, "/docs/:file", bind(&Impl::Docs, this));
    Rest::Routes::Get(router, "/audit", bind(&Impl::AuditLog, this));
    Rest::Routes::Get(router, "/events", bind(&Impl::EventsLog, this));
    Rest::Routes::Get(router, "/miners", bind(&Impl::ListMiners, this));
    Rest::Routes::Get(router, "/miners/:ip/history", bind(&Impl::History, this));
    Rest::Routes::Get(router, "/miners/:ip/:worker/summary", bind(&Impl::Summary, this));
    for (ActionKind kind : {ActionKind::kReset, ActionKind::kReboot, ActionKind::kPool,
                            ActionKind::kSleep, ActionKind::kWake, ActionKind::kLocate}) {
      Rest::Routes::Post(router, fmt::format("/miners/:ip/:worker/{}", ToString(kind)),
                         [this, kind](const Rest::Request& request, Http::ResponseWriter response) {
                           MinerCommand(kind, request, std::move(response));
                           return Rest::Route::Result::Ok;
                         });
    }
    Rest::Routes::Post(router, "/actions", bind(&Impl::StartJob, this));
    Rest::Routes::Get(router, "/actions", bind(&Impl::ListJobs, this));
    Rest::Routes::Get(router, "/actions/:id", bind(&Impl::GetJob, this));
    Rest::Routes::Delete(router, "/actions/:id", bind(&Impl::CancelJob, this));
    Rest::Routes::Get(router, "/remediation", bind(&Impl::RemediationPage, this));
    router.addNotFoundHandler(bind(&Impl::NotFound, this));
  }
};

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  ServiceOptions& o = impl->options;
  // Control runs on its own: it makes (or migrates) the schema it reads.
  if (Status db = impl->ResyncGauges(); !db.ok()) return db;
  o.web_dir = FindWebDir(o.web_dir);
  if (o.web_dir.empty()) {
    spdlog::warn(
        "web assets not found: /, /openapi.json and /docs answer 404 (set ASICMON_WEB_DIR)");
  } else {
    impl->swagger_files = FilesIn(o.web_dir + "/swagger-ui");
    impl->dashboard_files = FilesIn(o.web_dir + "/dashboard");
  }
  Result<std::unique_ptr<LivePolls>> live = LivePolls::Start(o.actions.api);
  if (!live.ok()) return live.status();
  impl->live = std::move(*live);
  impl->action_pool = std::make_unique<ActionPool>(o.action_threads);
  if (Status rules = impl->LoadRules(); !rules.ok()) return Status::InvalidArgument(rules.message());
  if (Status restored = impl->RestoreRemediation(); !restored.ok()) {
    spdlog::warn("remediation starts without the store's conditions and past actions: {}",
                 restored.ToString());
  }

  bus::SocketOptions push_options;
  push_options.linger_ms = 1000;
  push_options.curve = &o.endpoints.curve;
  Result<zmq::socket_t> push =
      bus::Connect(impl->context, zmq::socket_type::push, o.endpoints.ingest, push_options);
  if (!push.ok()) return push.status();
  impl->events = std::move(*push);
  impl->bus_thread = std::thread([p = impl.get()] { p->WatchBus(); });

  try {
    impl->endpoint = std::make_shared<Http::Endpoint>(Address(o.bind));
    impl->endpoint->init(Http::Endpoint::options()
                             .threads(o.threads)
                             .flags(Tcp::Options::ReuseAddr)
                             .maxRequestSize(o.max_request_bytes)
                             .headerTimeout(std::chrono::seconds(10))
                             .bodyTimeout(std::chrono::seconds(10))
                             .keepaliveTimeout(LongestAnswer(o.actions)));
    impl->Routes();
    impl->endpoint->setHandler(GuardedHandler(
        impl->router, [metrics = &impl->metrics](int status) { metrics->CountRequest("unparsed", status); }));
    impl->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    impl->stopping = true;
    impl->bus_thread.join();
    return Status::IoError("cannot serve on " + o.bind + ": " + e.what());
  }
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() { Shutdown(); }

uint16_t Service::port() const { return static_cast<uint16_t>(impl_->endpoint->getPort()); }

Status Service::ReloadRules() {
  Status s = impl_->LoadRules();
  if (!s.ok()) spdlog::error("rules not reloaded, the old ones stay: {}", s.message());
  return s;
}

void Service::Shutdown() {
  if (impl_->stopping.exchange(true)) return;
  impl_->endpoint->shutdown();
  impl_->bus_thread.join();  // no rule starts anything after this
  // Commands already sent to miners finish; none waits out MINER_BACK_TIMEOUT
  // (a supervisor kills a stop that takes longer), and no job starts another miner.
  impl_->actions.StopWaiting();
  impl_->jobs.Stop();
  impl_->action_pool.reset();  // runs what was accepted to its end
  impl_->live.reset();
  std::lock_guard lock(impl_->events_mutex);
  impl_->events.reset();
}

std::string FindWebDir(const std::string& configured) {
  namespace fs = std::filesystem;
  auto has_spec = [](const fs::path& dir) { return fs::exists(dir / "openapi.json"); };
  if (!configured.empty()) return has_spec(configured) ? configured : "";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  // build/bin/asicmon-control -> build/share/asicmon/web; /usr/bin -> /usr/share/asicmon/web
  for (const fs::path& dir : {exe.parent_path() / "share/asicmon/web",
                              exe.parent_path().parent_path() / "share/asicmon/web"}) {
    if (has_spec(dir)) return dir.string();
  }
  return "";
}

}  // namespace asicmon::control
