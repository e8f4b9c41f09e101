// What control does to one miner: look at it, soft-restart its mining
// software, reboot it, set its pools, light, sleep or power, through its
// family's driver (asicmon/driver.h), and confirm each command the same way
// for every family: by polling the miner and reading back its settings until
// the asked-for state shows. Every function here blocks the
// calling thread for at most its stated bound, talks to exactly one miner,
// and first checks that the miner at `ip` reports `worker`, so a command
// never lands on the wrong machine after an address moved.
//
// Outcomes are an HTTP status and a JSON body, ready for the REST layer.
//
// Thread-safety: a MinerActions is shared by the action threads; it holds
// configuration and the flag that ends waits, behind a mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/credentials.h"
#include "asicmon/driver.h"
#include "asicmon/miner_api.h"
#include "asicmon/record.h"

namespace asicmon::control {

// The drivers' ports and timeouts (POLL_TIMEOUT, MINER_PORT, MINER_HTTP_*),
// the operator's logins, and how long control waits to see a command's effect.
struct ActionOptions : driver::DriverOptions {
  // Stock Antminer firmware's web login, below MINER_CREDENTIALS_FILE's rows.
  std::string http_user = "root";      // MINER_HTTP_USER
  std::string http_password = "root";  // MINER_HTTP_PASSWORD
  // MINER_CREDENTIALS_FILE: logins per family and site (asicmon/credentials.h).
  driver::CredentialsBook credentials;
  // How long ?wait=true waits for a rebooted miner, and any other command
  // waits to see its effect (a restarted miner's new pool, sleep, power).
  // Default: 180 s.
  std::chrono::milliseconds back_timeout{180000};
  // Between checks while waiting for a miner to come back.
  std::chrono::milliseconds back_poll_interval{1000};
};

struct ActionOutcome {
  int http_status = 200;
  nlohmann::json body;
  // For the audit trail: "ok" or the error in a few words.
  std::string result = "ok";
};

// The pools a miner should have, in priority order (1..driver::kMaxPools).
struct PoolChange {
  std::vector<driver::PoolSetting> pools;
};

// A power change: a mode or a limit, never both.
struct PowerChange {
  std::optional<driver::PowerMode> mode;
  std::optional<int> limit_w;
  bool operator==(const PowerChange&) const = default;
};

class MinerActions {
 public:
  explicit MinerActions(ActionOptions options);

  // A live poll (the family's plan) as a normalised record.
  ActionOutcome Summary(const std::string& ip, const std::string& worker) const;
  // Below this uptime a restart is refused (409): its confirmation could not
  // be told from the start that just happened.
  static constexpr int64_t kMinUptimeForResetS = 5;

  // Restarts the mining software, confirmed by the uptime starting again:
  // 200 then, 409 when the miner will not take it now (a read-only API, just
  // started), 504 when no fresh uptime within back_timeout.
  ActionOutcome Reset(const std::string& ip, const std::string& worker) const;
  // 202 once the miner took it; with `wait`, 200 once it answers again with
  // a fresh uptime (504 past back_timeout).
  ActionOutcome Reboot(const std::string& ip, const std::string& worker, bool wait) const;
  // Replaces the miner's pools; 200 once its API lists them, in order.
  ActionOutcome ChangePool(const std::string& ip, const std::string& worker,
                           const PoolChange& pools) const;
  // The fault light; 200 once read back (or with "read_back": false where
  // the firmware cannot report it).
  ActionOutcome Locate(const std::string& ip, const std::string& worker, bool on) const;
  // Sleep (stop hashing, keep the API and fans up) or wake; 200 once the
  // firmware reports it and the API shows it.
  ActionOutcome SetSleep(const std::string& ip, const std::string& worker, bool sleep) const;
  // A power mode or limit; 200 once the firmware reports it set.
  ActionOutcome SetPower(const std::string& ip, const std::string& worker,
                         const PowerChange& power) const;

  // What the miner's firmware reports it is set to (its driver's
  // ReadSettings), once a live poll shows `worker` there: what a change is
  // given back to. An outcome as the commands' when it cannot be read.
  std::variant<driver::Settings, ActionOutcome> ReadSettings(const std::string& ip,
                                                             const std::string& worker) const;

  // What `record`'s miner can do: its driver's capabilities, or every action
  // unsupported when asicmon has no driver for its family.
  static driver::Capabilities Describe(const Record& record);

  // The HTTP answer for a poll that did not give a usable record: 504 for
  // timeout, 502 for everything else the miner did wrong.
  static ActionOutcome MinerFailed(MinerStatus status, const std::string& error);
  // 404 unless `record` shows `worker` as the miner's worker.
  static std::optional<ActionOutcome> CheckWorker(const Record& record, const std::string& worker);

  const ActionOptions& options() const { return options_; }

  // Ends every wait for a miner at once, for good (control is shutting
  // down): a waiting command answers 503, the miner's part done, its effect
  // not confirmed.
  void StopWaiting();

 private:
  // A miner identified by a live poll, with its driver and login.
  struct Target {
    Record record;
    const driver::MinerDriver* driver = nullptr;
    driver::Credentials credentials;
    driver::Context Context() const { return {record.ip, record, options, credentials}; }
    const ActionOptions& options;
  };

  Record Poll(const std::string& ip, std::string_view family = {}) const;
  // Poll, MinerFailed, CheckWorker, then the family's driver and whether it
  // can do `action` (501 with why, nothing sent): the target when all pass.
  std::variant<Target, ActionOutcome> Identify(const std::string& ip, const std::string& worker,
                                               driver::Action action) const;
  // The answer for a driver's failure to get its command taken.
  static ActionOutcome Failed(driver::Action action, const driver::Outcome& outcome,
                              const std::string& family);
  // Calls `done` every back_poll_interval until it is true (true) or
  // back_timeout passes or StopWaiting is called (false).
  bool Until(const std::function<bool()>& done) const;
  // The answer for a command the miner took whose effect Until did not see:
  // 504 after back_timeout, 503 after StopWaiting.
  ActionOutcome Unconfirmed(std::string_view error, std::string detail,
                            std::string_view result) const;
  // Polls until the miner answers with a start (ts - uptime) clearly later
  // than `before`'s (or answers again after a miss, when it reports no
  // uptime); that record, or nullopt after back_timeout.
  std::optional<Record> WaitForRestart(const std::string& ip, const Record& before) const;
  // WaitForRestart's answer: 200 {"result": done, ..., "record"}, or
  // Unconfirmed(late_error, ..., late_result).
  ActionOutcome AwaitRestart(const std::string& ip, const Record& before,
                             std::string_view late_error, std::string_view done,
                             std::string_view late_result) const;
  // Polls until `done(record)` or back_timeout; the last record seen.
  std::optional<Record> WaitFor(const std::string& ip,
                                const std::function<bool(const Record&)>& done) const;
  // Polls and reads the settings until `done(record, settings)` or
  // back_timeout; the last record seen when it held.
  std::optional<Record> WaitForState(
      const Target& target,
      const std::function<bool(const Record&, const driver::Settings&)>& done) const;

  ActionOptions options_;
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_stopped_;
  bool stop_waiting_ = false;  // guarded by wait_mutex_
};

// {"error": error, "detail": detail}
nlohmann::json ErrorBody(std::string_view error, std::string_view detail);

}  // namespace asicmon::control
