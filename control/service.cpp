// The service's parts and their wiring: each concern lives in its own file
// (request_pipeline: auth, answers and the audit trail; read_handlers;
// command_handlers; web; bus_watch; the pools), and the route table here
// shows the whole API in one place.
#include "service.h"

#include <fmt/format.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "action_pool.h"
#include "asicmon/clock.h"
#include "bus_watch.h"
#include "command_handlers.h"
#include "curtail.h"
#include "db_pool.h"
#include "farm.h"
#include "fleet.h"
#include "http_guard.h"
#include "jobs.h"
#include "key_handlers.h"
#include "live_polls.h"
#include "metrics.h"
#include "read_handlers.h"
#include "remediation.h"
#include "request_pipeline.h"
#include "web.h"

namespace asicmon::control {
namespace {

using namespace Pistache;

// Enough audit rows to cover a day of automatic actions on a large farm.
constexpr size_t kRestoredAuditRows = 100000;

// How long a connection may wait for its answer (see AnswerLater): a sleep's
// bound, the command with the most steps each at its bound, and a margin;
// never below Pistache's keep-alive default of 300 s.
std::chrono::milliseconds LongestAnswer(const ActionOptions& a) {
  return std::max<std::chrono::milliseconds>(SleepCommandBound(a) + std::chrono::seconds(60),
                                             std::chrono::seconds(300));
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
  FarmHistory farm_history;

  zmq::context_t context{1};  // before the sockets, which must close before it ends
  RequestPipeline pipeline{options.token, options.auth_read, metrics, db};
  std::atomic<bool> stopping{false};
  std::thread bus_thread;

  // Every command on a miner, whoever asked, passes the gate.
  CommandGate gate{actions, options.reboot_cooldown,
                   [this](AuditEntry e) { pipeline.Audit(std::move(e)); },
                   [this](AuditEntry e, std::chrono::seconds bound) {
                     e.ts = UnixNow();
                     pipeline.PublishEvent(e, bound);
                   }};
  BulkJobs jobs{gate};
  Remediation remediation{
      gate, options.auto_actions, [this](std::function<void()> task) { action_pool->Post(std::move(task)); },
      [this](const HealthEvent& e) { pipeline.PublishHealth(e); }};
  std::mutex rules_mutex;  // one reload at a time
  Curtailment curtail{gate, actions,
                      CurtailOptions{.interval = options.curtail_interval,
                                     .max_per_miner_per_hour = 4,
                                     .windows = options.curtail_windows,
                                     .auto_actions = options.auto_actions},
                      [this] { return LatestWithIdentity(); },
                      [this](AuditEntry e) { pipeline.Audit(std::move(e)); }};

  ReadHandlers reads{pipeline,    db,   metrics, gauges, farm_history, live, options.actions.api_port,
                     PlainTextWarning(options)};
  CommandHandlers commands{pipeline, db, gate, jobs, remediation, action_pool};
  KeyHandlers keys{pipeline, db};
  std::unique_ptr<WebFiles> web;  // once the web directory is found
  BusWatch watch{options.endpoints, db, metrics, gauges, remediation, farm_history};

  explicit Impl(ServiceOptions o)
      : options(std::move(o)), actions(options.actions), db(options.db) {}

  // Every miner's newest record, the worker of one whose last poll failed
  // filled in from the inventory (as bulk jobs select them).
  Result<std::vector<Record>> LatestWithIdentity() {
    LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    Result<std::vector<Record>> latest = db.With([&](StoreDb& store) { return store.Latest(all); });
    if (!latest.ok()) return latest.status();
    Result<std::vector<InventoryRow>> inventory =
        db.With([](StoreDb& store) { return store.Inventory(); });
    if (!inventory.ok()) return inventory.status();
    FillIdentity(*latest, *inventory);
    return latest;
  }

  // POST, GET and DELETE /curtail.
  void CurtailRoute(const Rest::Request& request, Http::ResponseWriter response) {
    const auto method = request.method();
    const std::optional<Caller> caller = pipeline.Authorize(
        request, response, "curtail", method == Http::Method::Get ? Role::kViewer : Role::kAdmin);
    if (!caller) return;
    if (method == Http::Method::Get) {
      return pipeline.Answer(response, "curtail", 200, curtail.StatusJson());
    }
    Curtailment::Answer answer;
    if (method == Http::Method::Delete) {
      answer = curtail.Delete(caller->Actor());
    } else {
      Result<CurtailRequest> parsed = ParseCurtailRequest(request.body(), UnixNow());
      if (!parsed.ok()) {
        return pipeline.Error(response, "curtail", 400, "bad request", parsed.status().message());
      }
      answer = curtail.Post(*parsed, caller->Actor());
    }
    pipeline.Answer(response, "curtail", answer.http_status, answer.body);
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

  void Routes() {
    using Rest::Routes::bind;
    Rest::Routes::Get(router, "/healthz", bind(&ReadHandlers::Healthz, &reads));
    Rest::Routes::Get(router, "/metrics", bind(&ReadHandlers::MetricsPage, &reads));
    Rest::Routes::Get(router, "/openapi.json", bind(&WebFiles::OpenApi, web.get()));
    Rest::Routes::Get(router, "/", bind(&WebFiles::Dashboard, web.get()));
    Rest::Routes::Get(router, "/static/:file", bind(&WebFiles::Static, web.get()));
    Rest::Routes::Get(router, "/farm", bind(&ReadHandlers::Farm, &reads));
    Rest::Routes::Get(router, "/farm/history", bind(&ReadHandlers::FarmHistoryPage, &reads));
    Rest::Routes::Get(router, "/docs", bind(&WebFiles::Docs, web.get()));
    Rest::Routes::Get(router, "/docs/:file", bind(&WebFiles::Docs, web.get()));
    Rest::Routes::Get(router, "/audit", bind(&ReadHandlers::AuditLog, &reads));
    Rest::Routes::Get(router, "/events", bind(&ReadHandlers::EventsLog, &reads));
    Rest::Routes::Get(router, "/miners", bind(&ReadHandlers::ListMiners, &reads));
    Rest::Routes::Get(router, "/miners/:ip", bind(&ReadHandlers::Miner, &reads));
    Rest::Routes::Get(router, "/miners/:ip/history", bind(&ReadHandlers::History, &reads));
    Rest::Routes::Get(router, "/miners/:ip/:worker/summary", bind(&ReadHandlers::Summary, &reads));
    for (ActionKind kind : {ActionKind::kReset, ActionKind::kReboot, ActionKind::kPool,
                            ActionKind::kSleep, ActionKind::kWake, ActionKind::kLocate,
                            ActionKind::kPower}) {
      Rest::Routes::Post(router, fmt::format("/miners/:ip/:worker/{}", ToString(kind)),
                         [this, kind](const Rest::Request& request, Http::ResponseWriter response) {
                           commands.MinerCommand(kind, request, std::move(response));
                           return Rest::Route::Result::Ok;
                         });
    }
    Rest::Routes::Post(router, "/actions", bind(&CommandHandlers::StartJob, &commands));
    Rest::Routes::Get(router, "/actions", bind(&CommandHandlers::ListJobs, &commands));
    Rest::Routes::Get(router, "/actions/:id", bind(&CommandHandlers::GetJob, &commands));
    Rest::Routes::Delete(router, "/actions/:id", bind(&CommandHandlers::CancelJob, &commands));
    Rest::Routes::Post(router, "/curtail", bind(&Impl::CurtailRoute, this));
    Rest::Routes::Get(router, "/curtail", bind(&Impl::CurtailRoute, this));
    Rest::Routes::Delete(router, "/curtail", bind(&Impl::CurtailRoute, this));
    Rest::Routes::Get(router, "/remediation", bind(&CommandHandlers::RemediationPage, &commands));
    Rest::Routes::Get(router, "/keys", bind(&KeyHandlers::List, &keys));
    Rest::Routes::Post(router, "/keys", bind(&KeyHandlers::Add, &keys));
    Rest::Routes::Delete(router, "/keys/:name", bind(&KeyHandlers::Revoke, &keys));
    Rest::Routes::Get(router, "/whoami", bind(&KeyHandlers::WhoAmI, &keys));
    router.addNotFoundHandler(bind(&RequestPipeline::NotFound, &pipeline));
  }
};

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  ServiceOptions& o = impl->options;
  // Control runs on its own: it makes (or migrates) the schema it reads.
  if (Status db = ResyncGauges(impl->db, impl->gauges); !db.ok()) return db;
  o.web_dir = FindWebDir(o.web_dir);
  if (o.web_dir.empty()) {
    spdlog::warn(
        "web assets not found: /, /openapi.json and /docs answer 404 (set ASICMON_WEB_DIR)");
  }
  impl->web = std::make_unique<WebFiles>(impl->pipeline, impl->metrics, o.web_dir);
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
  impl->pipeline.SetEvents(std::move(*push));
  impl->bus_thread = std::thread([p = impl.get()] { p->watch.Run(p->context, p->stopping); });
  impl->metrics.AddSection([p = impl.get()](std::string& out) { p->curtail.RenderMetrics(out); });
  impl->curtail.Run();

  try {
    impl->endpoint = std::make_shared<Http::Endpoint>(Address(o.bind));
    impl->endpoint->init(Http::Endpoint::options()
                             .threads(o.threads)
                             .flags(Tcp::Options::ReuseAddr)
                             .maxRequestSize(o.max_request_bytes)
                             .headerTimeout(std::chrono::seconds(10))
                             .bodyTimeout(std::chrono::seconds(10))
                             .keepaliveTimeout(LongestAnswer(o.actions)));
    if (!o.tls_cert.empty()) impl->endpoint->useSSL(o.tls_cert, o.tls_key);
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

std::string PlainTextWarning(const ServiceOptions& options) {
  if (!options.tls_cert.empty()) return "";
  const std::string host = options.bind.substr(0, options.bind.rfind(':'));
  if (host.starts_with("127.") || host == "localhost" || host == "[::1]" || host == "::1") {
    return "";
  }
  return "serving on " + options.bind +
         " without TLS: API keys cross the network in clear text (set CONTROL_TLS_CERT and "
         "CONTROL_TLS_KEY, or bind to loopback behind a TLS proxy)";
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
  impl_->curtail.Shutdown();  // nor curtailment
  // Commands already sent to miners finish; none waits out MINER_BACK_TIMEOUT
  // (a supervisor kills a stop that takes longer), and no job starts another miner.
  impl_->actions.StopWaiting();
  impl_->jobs.Stop();
  impl_->action_pool.reset();  // runs what was accepted to its end
  impl_->live.reset();
  impl_->pipeline.CloseEvents();
}

}  // namespace asicmon::control
