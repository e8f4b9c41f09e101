// Bulk actions: one action over the miners a selector picks from the
// store's latest state, run with bounded parallelism as a job that can be
// watched and cancelled. Each miner goes through the CommandGate like a
// single command (per-miner lock, reboot cooldown, audit), at most once per
// job.
//
// Jobs live in memory: a restart of control forgets them, while the audit
// keeps what each did to every miner.
//
// Thread-safety: BulkJobs is called from request threads; each job runs on
// its own threads (max_parallel of them while it runs).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/record.h"
#include "asicmon/status.h"
#include "asicmon/store_db.h"
#include "fleet.h"
#include "validate.h"

namespace asicmon::control {

struct JobTarget {
  std::string ip;
  std::string worker;
  std::string model;
};

// A miner whose last poll failed has no worker or model in its record; the
// inventory (discover's identification) still has them: filled in `latest`
// so such a miner can be selected and its worker checked.
void FillIdentity(std::vector<Record>& latest, const std::vector<InventoryRow>& inventory);

// The miners `select` picks from `latest`, one per address, ordered by
// address; addresses listed in `select.ips` that the store does not know
// go to `unknown`.
std::vector<JobTarget> SelectTargets(const MinerSelector& select, const std::vector<Record>& latest,
                                     std::vector<std::string>& unknown);

class BulkJobs {
 public:
  // At most `max_running` jobs at once; the newest `keep` finished ones are remembered.
  BulkJobs(CommandGate& gate, size_t max_running = 4, size_t keep = 100)
      : gate_(gate), max_running_(max_running), keep_(keep) {}
  ~BulkJobs() { Stop(); }

  // Cancels every job, waits for the miners they are running, and refuses
  // new jobs from then on (control is shutting down).
  void Stop();

  // Starts a job: its JSON, or Unavailable when max_running run already.
  Result<nlohmann::json> Start(const BulkRequest& request, std::vector<JobTarget> targets,
                               std::vector<std::string> unknown, std::string actor);
  std::optional<nlohmann::json> Get(const std::string& id) const;
  // Stops handing out miners (running ones finish): the job's JSON, or
  // nullopt when there is no such job. `already_finished` tells a no-op.
  std::optional<nlohmann::json> Cancel(const std::string& id, bool& already_finished);
  // Newest first, without the per-miner lists.
  nlohmann::json List() const;

 private:
  struct Job;
  void Run(const std::shared_ptr<Job>& job);
  void Forget();  // finished jobs beyond keep_ (joined); mutex_ held

  CommandGate& gate_;
  const size_t max_running_;
  const size_t keep_;
  mutable std::mutex mutex_;
  std::map<uint64_t, std::shared_ptr<Job>> jobs_;  // by sequence, oldest first
  uint64_t next_seq_ = 1;
  bool stopped_ = false;
};

}  // namespace asicmon::control
