// Farm curtailment: bring the farm's draw down to a target and hold it
// there (POST /curtail, or a time-of-use window from CURTAIL_WINDOWS), then
// give every miner back (DELETE /curtail, `until`, or the window's end).
//
// A loop re-plans every CURTAIL_INTERVAL_S from the store's newest records
// (curtail_plan.h), so the target holds as miners drift, fail or come back,
// and acts on at most max_parallel miners at once. Every command passes the
// CommandGate like any other (one per miner, audited, published; a sleep or
// wake announced first, so no fault is raised for it), under the actor
// "curtail:<who asked>". It acts only with AUTO_ACTIONS on, the kill switch
// remediation obeys, since it goes on acting on its own after the request;
// and it touches a miner at most max_per_miner_per_hour times, so a miner
// that flaps between over and under is not toggled without end. A miner
// whose command failed is skipped for the rest of the curtailment and
// another is picked. A miner is given back to the state its firmware
// reported before (awake; its power mode or limit as read back).
//
// One curtailment at a time: a POST while one is active answers 409 unless
// it says "replace": true, which changes the target, ramp and end in place
// and keeps the miners held (none is woken only to be put back to sleep).
//
// Thread-safety: every public method may be called from any thread; the
// loop runs on its own thread, its commands on max_parallel threads it
// starts for each round. One mutex guards the state; no miner I/O under it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asicmon/status.h"
#include "asicmon/store_db.h"
#include "curtail_config.h"
#include "curtail_plan.h"
#include "fleet.h"
#include "fleet_requests.h"

namespace asicmon::control {

struct CurtailOptions {
  // Between plans. Default: 15 s (CURTAIL_INTERVAL_S).
  std::chrono::milliseconds interval{15000};
  // Commands curtailment may send one miner in an hour. Default: 4.
  int max_per_miner_per_hour = 4;
  std::vector<CurtailWindow> windows;  // CURTAIL_WINDOWS
  bool auto_actions = false;           // AUTO_ACTIONS: the kill switch
};

class Curtailment {
 public:
  // The newest record of every miner (the store's Latest).
  using LatestFn = std::function<Result<std::vector<Record>>()>;
  // An audit row plus a bus event for curtailment's own start and end.
  using AuditFn = std::function<void(AuditEntry)>;

  struct Answer {
    int http_status = 200;
    nlohmann::json body;
  };

  Curtailment(CommandGate& gate, const MinerActions& actions, CurtailOptions options,
              LatestFn latest, AuditFn audit);
  ~Curtailment();  // Shutdown()

  // Starts the loop.
  void Run();
  // Ends the loop once its round is done. Held miners stay as they are,
  // logged: giving back a large farm can take minutes, beyond a stop's bound.
  void Shutdown();

  // 202 with the state (409 when one is active and not replaced, or
  // AUTO_ACTIONS is off); dry_run: 200 with the plan now, nothing changed.
  Answer Post(const CurtailRequest& request, const std::string& actor);
  // 202: every held miner is being given back; 404 when none is active.
  Answer Delete(const std::string& actor);
  // {"active", "state", "target_kw", "farm_kw", "shed_kw", "progress",
  //  "plan", "miners": [{ip, worker, model, step, state, ...}], ...}
  nlohmann::json StatusJson() const;
  // Prometheus gauges: farm power, active, kW shed, miners held.
  void RenderMetrics(std::string& out) const;

 private:
  struct MinerLog {
    std::string worker;
    std::string model;
    std::string step;   // what was done: sleep, low_mode, power_limit
    std::string state;  // held, released, restored, failed, restore_failed
    int http_status = 0;
    std::string detail;
    double at = 0;
  };
  struct Active {
    CurtailRequest request;
    std::string actor;
    std::string source;  // "api" or "window HH:MM-HH:MM"
    double started = 0;
    double farm_at_start_w = -1;  // the first plan's
    double shed_started_w = 0;    // held shed when the ramp clock started
  };

  void Loop();
  void Tick(double now);
  // Acts on `steps`, max_parallel at once, until done or cancelled.
  void Execute(const std::vector<PlannedStep>& steps, const std::string& actor, int max_parallel);
  // One shed step on one miner; the touch when it took.
  std::optional<Touch> Shed(const PlannedStep& step, const std::string& actor, double target_w);
  // Gives one held miner back; true when it took.
  bool GiveBack(const std::string& ip, const Touch& touch, const std::string& actor);
  void RestoreAll(const std::string& actor);
  std::vector<PlanMiner> Assess(const std::vector<Record>& records) const;
  bool Capped(const std::string& ip, double now);  // mutex_ held
  double Allowance(const Active& active, double held_shed_w, double now) const;
  void Log(const std::string& ip, MinerLog entry);
  void AuditSelf(const std::string& actor, const std::string& what, int status,
                 const std::string& result);

  CommandGate& gate_;
  const MinerActions& actions_;
  const CurtailOptions options_;
  LatestFn latest_;
  AuditFn audit_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Active> active_;
  bool restore_asked_ = false;  // DELETE, until or a window's end: give back next round
  std::string restore_actor_;
  bool restoring_ = false;                  // giving back now
  std::map<std::string, Touch> held_;       // by ip
  std::set<std::string> failed_;            // skipped for the rest of this curtailment
  std::map<std::string, MinerLog> miners_;  // every miner this curtailment touched
  std::map<std::string, std::vector<double>> per_miner_;  // command times, last hour
  std::optional<Plan> last_plan_;
  double last_plan_at_ = 0;
  std::set<std::string> said_window_;  // windows already logged as "would act"
  std::set<std::string> dismissed_;    // windows lifted by DELETE while they last
  std::atomic<bool> cancel_{false};    // ends a round's commands early
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace asicmon::control
