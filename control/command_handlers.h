// The REST API's commands: one on one miner (reset, reboot, pool, sleep,
// wake, locate), bulk jobs over a selection of miners (start, list, look,
// cancel), and the state of the remediation rules. Every command passes the
// CommandGate (one at a time per miner, the reboot cooldown, the audit
// trail) whoever asked.
//
// Thread-safety: handlers run on Pistache's request threads; a command on
// one miner runs on an action thread and is answered there.
#pragma once

#include <memory>
#include <string>

#include <pistache/http.h>
#include <pistache/router.h>

#include "action_pool.h"
#include "db_pool.h"
#include "fleet.h"
#include "jobs.h"
#include "remediation.h"
#include "request_pipeline.h"

namespace asicmon::control {

class CommandHandlers {
 public:
  // `action_pool` is set before any request arrives.
  CommandHandlers(RequestPipeline& pipeline, DbPool& db, CommandGate& gate, BulkJobs& jobs,
                  const Remediation& remediation, const std::unique_ptr<ActionPool>& action_pool)
      : pipeline_(pipeline),
        db_(db),
        gate_(gate),
        jobs_(jobs),
        remediation_(remediation),
        action_pool_(action_pool) {}

  using Request = Pistache::Rest::Request;
  using Writer = Pistache::Http::ResponseWriter;

  // POST /miners/{ip}/{worker}/<kind>, every kind's parameters checked
  // before the command is taken.
  void MinerCommand(ActionKind kind, const Request& request, Writer response);
  void StartJob(const Request& request, Writer response);
  void ListJobs(const Request& request, Writer response);
  void GetJob(const Request& request, Writer response);
  void CancelJob(const Request& request, Writer response);
  void RemediationPage(const Request& request, Writer response);

 private:
  // A command on one miner: refused at once (409) when the miner is busy or
  // in its reboot cooldown, else run on an action thread and answered there.
  void Command(const Caller& caller, Writer response, ActionRequest command);
  // The job id from the path; false (answered 404) when it cannot be one.
  bool JobId(const Request& request, Writer& response, std::string& id);

  RequestPipeline& pipeline_;
  DbPool& db_;
  CommandGate& gate_;
  BulkJobs& jobs_;
  const Remediation& remediation_;
  const std::unique_ptr<ActionPool>& action_pool_;
};

}  // namespace asicmon::control
