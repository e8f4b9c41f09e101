#include "command_handlers.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/clock.h"
#include "fleet_requests.h"
#include "validate.h"

namespace asicmon::control {

using namespace Pistache;

void CommandHandlers::MinerCommand(ActionKind kind, const Request& request, Writer response) {
  const std::string route(ToString(kind));
  ActionRequest command;
  command.kind = kind;
  const std::optional<Caller> caller =
      pipeline_.Authorize(request, response, route, RequiredRole(kind));
  if (!caller || !pipeline_.MinerPath(request, response, route, command.ip, command.worker)) {
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
      if (!pool.ok()) {
        return pipeline_.Error(response, route, 400, "bad request", pool.status().message());
      }
      command.pool = std::move(*pool);
      command.detail = PoolChangeDetail(command.pool);
      break;
    }
    case ActionKind::kPower: {
      Result<PowerChange> power =
          PowerChangeFromJson(nlohmann::json::parse(request.body(), nullptr, false));
      if (!power.ok()) {
        return pipeline_.Error(response, route, 400, "bad request", power.status().message());
      }
      command.power = *power;  // the audit names the setting (CommandGate::Entry)
      break;
    }
    case ActionKind::kLocate: {
      const nlohmann::json body = nlohmann::json::parse(request.body(), nullptr, false);
      if (!body.is_object() || body.size() != 1 || !body.contains("on") ||
          !body["on"].is_boolean()) {
        return pipeline_.Error(response, route, 400, "bad request",
                               "body must be {\"on\": true} or {\"on\": false}");
      }
      command.on = body["on"].get<bool>();
      command.detail = command.on ? "on" : "off";
      break;
    }
    default:
      break;
  }
  Command(*caller, std::move(response), std::move(command));
}

void CommandHandlers::Command(const Caller& caller, Writer response, ActionRequest command) {
  command.actor = caller.Actor();
  const std::string route(ToString(command.kind));
  if (auto refused = gate_.TryAcquire(command)) {
    return pipeline_.Answer(response, route, refused->http_status, refused->body);
  }
  auto writer = AnswerLater(std::move(response));
  action_pool_->Post([this, writer, command, route] {
    const ActionOutcome outcome = gate_.RunHeld(command);
    pipeline_.Answer(*writer, route, outcome.http_status, outcome.body);
  });
}

void CommandHandlers::StartJob(const Request& request, Writer response) {
  const std::optional<Caller> caller =
      pipeline_.Authorize(request, response, "actions", Role::kOperator);
  if (!caller) return;
  Result<BulkRequest> bulk = ParseBulkRequest(request.body());
  if (!bulk.ok()) {
    return pipeline_.Error(response, "actions", 400, "bad request", bulk.status().message());
  }
  if (!pipeline_.Permits(*caller, RequiredRole(bulk->kind), response, "actions",
                         ToString(bulk->kind))) {
    return;
  }
  LatestFilter all;
  all.limit = std::numeric_limits<size_t>::max();
  Result<std::vector<Record>> latest = db_.With([&](StoreDb& store) { return store.Latest(all); });
  if (!latest.ok()) {
    return pipeline_.Error(response, "actions", 503, "store unavailable",
                           latest.status().ToString());
  }
  Result<std::vector<InventoryRow>> inventory =
      db_.With([](StoreDb& store) { return store.Inventory(); });
  if (!inventory.ok()) {
    return pipeline_.Error(response, "actions", 503, "store unavailable",
                           inventory.status().ToString());
  }
  FillIdentity(*latest, *inventory);
  std::vector<std::string> unknown;
  std::vector<JobTarget> targets = SelectTargets(bulk->select, *latest, unknown);
  if (bulk->dry_run) {
    nlohmann::json miners = nlohmann::json::array();
    for (const JobTarget& t : targets) {
      miners.push_back({{"ip", t.ip}, {"worker", t.worker}, {"model", t.model}});
    }
    return pipeline_.Answer(response, "actions", 200,
                            {{"dry_run", true}, {"action", ToString(bulk->kind)},
                             {"select", bulk->select.ToJson()}, {"count", targets.size()},
                             {"miners", std::move(miners)}, {"unknown", std::move(unknown)}});
  }
  if (targets.empty()) {
    return pipeline_.Error(response, "actions", 400, "no miner selected",
                           "the selector matches no miner in the store's latest state (dry_run "
                           "shows what a selector picks)");
  }
  Result<nlohmann::json> job =
      jobs_.Start(*bulk, std::move(targets), std::move(unknown), caller->Actor());
  if (!job.ok()) {
    return pipeline_.Error(response, "actions", 429, "too many jobs", job.status().message());
  }
  // Typed: Pistache 0.0.5 drops headers added raw.
  response.headers().add<Http::Header::Location>("/actions/" + (*job)["id"].get<std::string>());
  pipeline_.Answer(response, "actions", 202, *job);
}

bool CommandHandlers::JobId(const Request& request, Writer& response, std::string& id) {
  id = PathParam(request, ":id");
  if (id.empty() || id.size() > 40 || id.find_first_not_of("0123456789-") != std::string::npos) {
    pipeline_.Error(response, "actions", 404, "no such job", "job ids look like 1764171234-7");
    return false;
  }
  return true;
}

void CommandHandlers::ListJobs(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "actions", Role::kViewer)) return;
  nlohmann::json list = jobs_.List();
  pipeline_.Answer(response, "actions", 200, {{"count", list.size()}, {"jobs", std::move(list)}});
}

void CommandHandlers::GetJob(const Request& request, Writer response) {
  std::string id;
  if (!pipeline_.Authorize(request, response, "actions", Role::kViewer) ||
      !JobId(request, response, id)) {
    return;
  }
  std::optional<nlohmann::json> job = jobs_.Get(id);
  if (!job) {
    return pipeline_.Error(response, "actions", 404, "no such job",
                           "it may have been forgotten: control keeps the last 100");
  }
  pipeline_.Answer(response, "actions", 200, *job);
}

void CommandHandlers::CancelJob(const Request& request, Writer response) {
  std::string id;
  const std::optional<Caller> caller =
      pipeline_.Authorize(request, response, "actions", Role::kOperator);
  if (!caller || !JobId(request, response, id)) return;
  bool finished = false;
  std::optional<nlohmann::json> job = jobs_.Cancel(id, finished);
  if (!job) {
    return pipeline_.Error(response, "actions", 404, "no such job",
                           "it may have been forgotten: control keeps the last 100");
  }
  if (finished) {
    return pipeline_.Error(response, "actions", 409, "job already finished",
                           "state " + (*job)["state"].get<std::string>());
  }
  spdlog::info("job {} cancelled by {}", id, caller->Actor());
  pipeline_.Answer(response, "actions", 202, *job);
}

void CommandHandlers::RemediationPage(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "remediation", Role::kViewer)) return;
  pipeline_.Answer(response, "remediation", 200, remediation_.StatusJson(UnixNow()));
}

}  // namespace asicmon::control
