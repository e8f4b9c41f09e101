// What control does to one miner: look at it, soft-restart its mining
// software, reboot it, replace its pool. Every function here blocks the
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

#include <nlohmann/json.hpp>

#include "asicmon/miner_api.h"
#include "asicmon/record.h"

namespace asicmon::control {

struct ActionOptions {
  ExchangeOptions api;                 // POLL_TIMEOUT: each API exchange
  uint16_t api_port = kMinerApiPort;   // MINER_PORT
  uint16_t http_port = 80;             // MINER_HTTP_PORT: the miner's web UI (reboot, config)
  std::string http_user = "root";      // MINER_HTTP_USER
  std::string http_password = "root";  // MINER_HTTP_PASSWORD
  // MINER_HTTP_TIMEOUT: a read of the web UI. Default: 10 s.
  std::chrono::milliseconds http_timeout{10000};
  // MINER_HTTP_WRITE_TIMEOUT: a request that sends a body (a config write,
  // the fault light). set_miner_conf.cgi answers only once the firmware has
  // rewritten its config and restarted its miner: ~21 s on some S19j Pro
  // firmware, so a read's bound would call a change that went through a
  // failure. Default: 45 s.
  std::chrono::milliseconds http_write_timeout{45000};
  // How long ?wait=true waits for a rebooted miner, and a web config change
  // waits for the restarted miner to show its new pool. Default: 180 s.
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

struct PoolChange {
  std::string url;
  std::string user;
  std::string password;
};

class MinerActions {
 public:
  explicit MinerActions(ActionOptions options) : options_(std::move(options)) {}

  // A live poll (summary+stats+pools) as a normalised record.
  ActionOutcome Summary(const std::string& ip, const std::string& worker) const;
  // Below this uptime a restart is refused (409): its confirmation could not
  // be told from the start that just happened.
  static constexpr int64_t kMinUptimeForResetS = 5;

  // cgminer's `restart`, confirmed by the uptime starting again: 200 then,
  // 409 when the API is read-only (stock firmware) or the miner has just
  // started, 502 when the miner says it is an invalid command, 504 when no
  // fresh uptime within back_timeout.
  ActionOutcome Reset(const std::string& ip, const std::string& worker) const;
  // reboot.cgi with Digest auth: 202 once the miner took it; with `wait`,
  // 200 once it answers again with a fresh uptime (504 past back_timeout).
  ActionOutcome Reboot(const std::string& ip, const std::string& worker, bool wait) const;
  // Through the API (addpool, switchpool, removepool) where it allows
  // privileged commands, else the web config; read back to confirm.
  ActionOutcome ChangePool(const std::string& ip, const std::string& worker,
                           const PoolChange& pool) const;
  // The fault light, through blink.cgi: the X19 JSON form where the firmware
  // has get_blink_status.cgi, else the older form; read back either way.
  // 501 when the firmware has no blink.cgi.
  ActionOutcome Locate(const std::string& ip, const std::string& worker, bool on) const;
  // Sleep (stop hashing, keep the API and fans up) or wake, through the web
  // config's miner-mode; confirmed from the config and the API. 501 when the
  // firmware has no work mode (stock S9, L3+).
  ActionOutcome SetSleep(const std::string& ip, const std::string& worker, bool sleep) const;

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
  // The record's pools as the API shows them, for a pool change's answer.
  static nlohmann::json PoolsJson(const Record& r);
  Record Poll(const std::string& ip) const;
  // Poll, then MinerFailed / CheckWorker: the record when both pass.
  std::variant<Record, ActionOutcome> Identify(const std::string& ip,
                                               const std::string& worker) const;
  ActionOutcome ChangePoolByApi(const std::string& ip, const PoolChange& pool) const;
  ActionOutcome ChangePoolByWeb(const std::string& ip, const PoolChange& pool) const;
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

  ActionOptions options_;
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_stopped_;
  bool stop_waiting_ = false;  // guarded by wait_mutex_
};

// {"error": error, "detail": detail}
nlohmann::json ErrorBody(std::string_view error, std::string_view detail);

}  // namespace asicmon::control
