#include "read_handlers.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actions.h"
#include "asicmon/clock.h"
#include "asicmon/record.h"
#include "validate.h"

namespace asicmon::control {
namespace {

using namespace Pistache;

// A JSON array's elements, one record each.
void AppendRecords(const std::vector<Record>& records, std::string& out) {
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) out += ',';
    AppendRecordJson(records[i], out);
  }
}

}  // namespace

void ReadHandlers::Healthz(const Request&, Writer response) {
  Result<int64_t> count = db_.With([](StoreDb& store) { return store.CountRecords(); });
  nlohmann::json body = {{"status", count.ok() ? "ok" : "degraded"},
                         {"db", count.ok() ? "ok" : count.status().ToString()}};
  if (!plain_text_warning_.empty()) body["warnings"] = {plain_text_warning_};
  pipeline_.Answer(response, "healthz", count.ok() ? 200 : 503, body);
}

void ReadHandlers::ListMiners(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "miners", Role::kViewer)) return;
  LatestFilter filter;
  if (auto s = Query(request, "status")) {
    filter.status = ParseMinerStatus(*s);
    if (!filter.status) {
      return pipeline_.Error(response, "miners", 400, "bad query",
                             "status must be one of ok, timeout, refused, reset, parse_error, "
                             "too_large, auth_error, api_error");
    }
  }
  if (auto m = Query(request, "model")) filter.model = *m;
  if (auto w = Query(request, "worker")) filter.worker = *w;
  if (auto sort = Query(request, "sort")) {
    std::optional<MinerSort> key = ParseMinerSort(*sort);
    if (!key) {
      return pipeline_.Error(response, "miners", 400, "bad query",
                             "sort must be one of address, ts, status, model, worker, hashrate, "
                             "hashrate_avg, temp_max, uptime_s");
    }
    filter.sort = *key;
  }
  const std::string order = Query(request, "order").value_or("asc");
  if (order != "asc" && order != "desc") {
    return pipeline_.Error(response, "miners", 400, "bad query", "order must be asc or desc");
  }
  filter.descending = order == "desc";
  std::string error;
  const auto limit = QueryDouble(request, "limit", error);
  const auto offset = QueryDouble(request, "offset", error);
  if (!error.empty() || (limit && (*limit < 1 || *limit > 100000)) || (offset && *offset < 0)) {
    return pipeline_.Error(response, "miners", 400, "bad query",
                           error.empty() ? "limit must be 1..100000 and offset >= 0" : error);
  }
  filter.limit = limit ? static_cast<size_t>(*limit) : 1000;
  filter.offset = offset ? static_cast<size_t>(*offset) : 0;
  Result<std::vector<Record>> miners =
      db_.With([&](StoreDb& store) { return store.Latest(filter); });
  if (!miners.ok()) {
    return pipeline_.Error(response, "miners", 503, "store unavailable", miners.status().ToString());
  }
  // Written record by record: a DOM of 10,000 records took over a second.
  std::string body = fmt::format("{{\"count\":{},\"miners\":[", miners->size());
  AppendRecords(*miners, body);
  body += "]}";
  pipeline_.AnswerText(response, "miners", 200, body);
}

void ReadHandlers::History(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "history", Role::kViewer)) return;
  const std::string ip = PathParam(request, ":ip");
  if (Status s = ValidateIp(ip); !s.ok()) {
    return pipeline_.Error(response, "history", 400, "bad address", s.message());
  }
  std::string error;
  const double now = UnixNow();
  const double to = QueryDouble(request, "to", error).value_or(now);
  const double from = QueryDouble(request, "from", error).value_or(to - 3600);
  const double limit = QueryDouble(request, "limit", error).value_or(10000);
  if (!error.empty() || from > to || limit < 1 || limit > 100000) {
    return pipeline_.Error(response, "history", 400, "bad query",
                           error.empty() ? "need from <= to (unix seconds) and limit 1..100000"
                                         : error);
  }
  Result<std::vector<Record>> records = db_.With([&](StoreDb& store) {
    return store.History(ip, from, to, static_cast<size_t>(limit));
  });
  if (!records.ok()) {
    return pipeline_.Error(response, "history", 503, "store unavailable",
                           records.status().ToString());
  }
  std::string body = fmt::format("{{\"ip\":\"{}\",\"from\":{},\"to\":{},\"count\":{},\"records\":[",
                                 ip, from, to, records->size());  // ip: validated dotted quad
  AppendRecords(*records, body);
  body += "]}";
  pipeline_.AnswerText(response, "history", 200, body);
}

void ReadHandlers::EventsLog(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "events", Role::kViewer)) return;
  EventFilter filter;
  filter.ip = Query(request, "miner").value_or("");
  if (!filter.ip.empty()) {
    if (Status s = ValidateIp(filter.ip); !s.ok()) {
      return pipeline_.Error(response, "events", 400, "bad address", s.message());
    }
  }
  filter.kind = Query(request, "kind").value_or("");
  if (!filter.kind.empty() && !IsHealthKind(filter.kind)) {
    return pipeline_.Error(response, "events", 400, "bad query",
                           fmt::format("kind must be one of {}", fmt::join(HealthKinds(), ", ")));
  }
  std::string error;
  const auto since = QueryDouble(request, "since", error);
  const auto limit = QueryDouble(request, "limit", error);
  if (!error.empty() || (since && *since < 0) || (limit && (*limit < 1 || *limit > 10000))) {
    return pipeline_.Error(response, "events", 400, "bad query",
                           error.empty() ? "since must be >= 0 (unix s) and limit 1..10000" : error);
  }
  filter.since = since.value_or(0);
  filter.limit = limit ? static_cast<size_t>(*limit) : 100;
  Result<std::vector<HealthEvent>> rows =
      db_.With([&](StoreDb& store) { return store.Events(filter); });
  if (!rows.ok()) {
    return pipeline_.Error(response, "events", 503, "store unavailable", rows.status().ToString());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const HealthEvent& e : *rows) list.push_back(HealthEventToJson(e));
  pipeline_.Answer(response, "events", 200, {{"count", list.size()}, {"events", std::move(list)}});
}

void ReadHandlers::Farm(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "farm", Role::kViewer)) return;
  pipeline_.AnswerText(response, "farm", 200, FarmTotalsJson(gauges_.Totals()));
}

void ReadHandlers::FarmHistoryPage(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "farm_history", Role::kViewer)) return;
  std::string error;
  const double seconds = QueryDouble(request, "seconds", error).value_or(3600);
  if (!error.empty() || seconds < 1 || seconds > 86400) {
    return pipeline_.Error(response, "farm_history", 400, "bad query",
                           error.empty() ? "seconds must be 1..86400" : error);
  }
  const FarmTotals now = gauges_.Totals();
  std::vector<FarmTotals> samples = farm_history_.Since(now.ts - seconds);
  samples.push_back(now);  // the chart ends at this moment, not at the last sample
  std::string body = fmt::format(R"({{"interval_s":{},"count":{},"samples":[)",
                                 kFarmSampleEvery.count(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    if (i > 0) body += ',';
    body += FarmTotalsJson(samples[i]);
  }
  body += "]}";
  pipeline_.AnswerText(response, "farm_history", 200, body);
}

void ReadHandlers::AuditLog(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "audit", Role::kViewer)) return;
  AuditFilter filter{.ip = Query(request, "ip").value_or(""),
                     .key = Query(request, "key").value_or(""),
                     .limit = 1000};
  if (!filter.ip.empty()) {
    if (Status s = ValidateIp(filter.ip); !s.ok()) {
      return pipeline_.Error(response, "audit", 400, "bad address", s.message());
    }
  }
  // A key's name, or "token" for CONTROL_TOKEN's rows.
  if (!filter.key.empty() && filter.key != kBootstrapKeyName) {
    if (Status s = ValidateKeyName(filter.key); !s.ok()) {
      return pipeline_.Error(response, "audit", 400, "bad key name", s.message());
    }
  }
  Result<std::vector<AuditEntry>> rows =
      db_.With([&](StoreDb& store) { return store.Audit(filter); });
  if (!rows.ok()) {
    return pipeline_.Error(response, "audit", 503, "store unavailable", rows.status().ToString());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const AuditEntry& e : *rows) {
    list.push_back({{"ts", e.ts}, {"actor", e.actor}, {"action", e.action}, {"ip", e.ip},
                    {"worker", e.worker}, {"detail", e.detail},
                    {"http_status", e.http_status}, {"result", e.result}});
  }
  pipeline_.Answer(response, "audit", 200, {{"count", list.size()}, {"audit", std::move(list)}});
}

void ReadHandlers::MetricsPage(const Request& request, Writer response) {
  using Clock = std::chrono::steady_clock;
  if (!pipeline_.Authorize(request, response, "metrics", Role::kViewer)) return;
  metrics_.CountRequest("metrics", 200);
  response.headers().add<Http::Header::ContentType>(
      Http::Mime::MediaType::fromString("text/plain; version=0.0.4; charset=utf-8"));
  const auto t0 = Clock::now();
  const std::string text = metrics_.Render(gauges_);
  const auto t1 = Clock::now();
  SendBody(response, 200, text);
  spdlog::debug("/metrics: {} bytes rendered in {:.1f} ms, handed to the socket in {:.1f} ms",
                text.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
}

void ReadHandlers::Summary(const Request& request, Writer response) {
  std::string ip, worker;
  if (!pipeline_.Authorize(request, response, "summary", Role::kViewer) ||
      !pipeline_.MinerPath(request, response, "summary", ip, worker)) {
    return;
  }
  auto writer = AnswerLater(std::move(response));
  live_->Submit({ip, miner_api_port_}, [this, writer, worker](Record&& record) {
    if (record.status != MinerStatus::kOk) {
      const ActionOutcome failed = MinerActions::MinerFailed(record.status, record.error);
      return pipeline_.Answer(*writer, "summary", failed.http_status, failed.body);
    }
    if (auto mismatch = MinerActions::CheckWorker(record, worker)) {
      return pipeline_.Answer(*writer, "summary", mismatch->http_status, mismatch->body);
    }
    pipeline_.Answer(*writer, "summary", 200, RecordToJson(record));
  });
}

namespace {

// What the miner can do, by its family's driver: {"actions": [...],
// "unsupported": {action: why}, "power": {"modes": [...], "limit_w": {...}}}.
void AddCapabilities(const Record& record, nlohmann::json& body) {
  const driver::Capabilities caps = MinerActions::Describe(record);
  body["actions"] = caps.Names();
  nlohmann::json unsupported = nlohmann::json::object();
  for (const auto& [action, why] : caps.unsupported) unsupported[driver::ToString(action)] = why;
  body["unsupported"] = std::move(unsupported);
  nlohmann::json modes = nlohmann::json::array();
  for (driver::PowerMode mode : caps.power_modes) modes.push_back(driver::ToString(mode));
  nlohmann::json power = {{"modes", std::move(modes)}};
  if (caps.power_limit) {
    power["limit_w"] = {{"min", caps.power_limit->min_w}, {"max", caps.power_limit->max_w}};
  }
  body["power"] = std::move(power);
}

}  // namespace

void ReadHandlers::Miner(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "miner", Role::kViewer)) return;
  const std::string ip = PathParam(request, ":ip");
  if (Status s = ValidateIp(ip); !s.ok()) {
    return pipeline_.Error(response, "miner", 400, "bad address", s.message());
  }
  auto writer = AnswerLater(std::move(response));
  live_->Submit({ip, miner_api_port_}, [this, writer](Record&& record) {
    if (record.status != MinerStatus::kOk) {
      const ActionOutcome failed = MinerActions::MinerFailed(record.status, record.error);
      return pipeline_.Answer(*writer, "miner", failed.http_status, failed.body);
    }
    nlohmann::json body = RecordToJson(record);
    AddCapabilities(record, body);
    pipeline_.Answer(*writer, "miner", 200, body);
  });
}

}  // namespace asicmon::control
