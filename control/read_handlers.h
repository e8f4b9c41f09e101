// The REST API's reads: the store's view of the farm (miners, a miner's
// history, health events, the audit trail), control's own gauges (farm
// totals and their history, /metrics), the liveness check, and the live
// summary of one miner. None of them changes anything.
//
// Thread-safety: handlers run on Pistache's request threads; a summary is
// answered from the live-poll thread.
#pragma once

#include <pistache/http.h>
#include <pistache/router.h>

#include "db_pool.h"
#include "farm.h"
#include "live_polls.h"
#include "metrics.h"
#include "request_pipeline.h"

namespace asicmon::control {

class ReadHandlers {
 public:
  // `live` and `miner_api_port` serve the summary; `live` is set before any
  // request arrives.
  ReadHandlers(RequestPipeline& pipeline, DbPool& db, Metrics& metrics, const MinerGauges& gauges,
               const FarmHistory& farm_history, const std::unique_ptr<LivePolls>& live,
               uint16_t miner_api_port, std::string plain_text_warning)
      : pipeline_(pipeline),
        db_(db),
        metrics_(metrics),
        gauges_(gauges),
        farm_history_(farm_history),
        live_(live),
        miner_api_port_(miner_api_port),
        plain_text_warning_(std::move(plain_text_warning)) {}

  using Request = Pistache::Rest::Request;
  using Writer = Pistache::Http::ResponseWriter;

  void Healthz(const Request& request, Writer response);
  void ListMiners(const Request& request, Writer response);
  void History(const Request& request, Writer response);
  void EventsLog(const Request& request, Writer response);
  void Farm(const Request& request, Writer response);
  void FarmHistoryPage(const Request& request, Writer response);
  void AuditLog(const Request& request, Writer response);
  void MetricsPage(const Request& request, Writer response);
  // A live poll of the miner, answered once it ends.
  void Summary(const Request& request, Writer response);
  // GET /miners/:ip: a live poll, with the actions its driver supports.
  void Miner(const Request& request, Writer response);

 private:
  RequestPipeline& pipeline_;
  DbPool& db_;
  Metrics& metrics_;
  const MinerGauges& gauges_;
  const FarmHistory& farm_history_;
  const std::unique_ptr<LivePolls>& live_;
  const uint16_t miner_api_port_;
  const std::string plain_text_warning_;  // shown on /healthz when not ""
};

}  // namespace asicmon::control
