// MinerActions' commands through the miner's API (reset, the pool change
// where the API allows it) and the polls and waits that confirm every
// command. The commands through the web UI are in actions_web.cpp.
#include "actions.h"

#include "asicmon/poller.h"

#include <fmt/format.h>

#include <algorithm>

namespace asicmon::control {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

nlohmann::json ErrorBody(std::string_view error, std::string_view detail) {
  return {{"error", error}, {"detail", detail}};
}

ActionOutcome MinerActions::MinerFailed(MinerStatus status, const std::string& error) {
  const std::string word(ToString(status));
  if (status == MinerStatus::kTimeout) {
    return {504, ErrorBody("miner did not answer in time", error), word};
  }
  return {502, ErrorBody("miner gave no usable answer (" + word + ")", error), word};
}

nlohmann::json MinerActions::PoolsJson(const Record& r) { return RecordToJson(r)["pools"]; }

std::optional<ActionOutcome> MinerActions::CheckWorker(const Record& record,
                                                       const std::string& worker) {
  if (record.worker == worker) return std::nullopt;
  return ActionOutcome{
      404,
      ErrorBody("no miner with that worker at that address",
                "the miner at " + record.ip + " reports worker '" + record.worker +
                    "', not '" + worker + "'; nothing was done"),
      "worker mismatch"};
}

Record MinerActions::Poll(const std::string& ip) const {
  return PollOnce(MinerEndpoint{ip, options_.api_port}, {}, options_.api).record;
}

std::variant<Record, ActionOutcome> MinerActions::Identify(const std::string& ip,
                                                           const std::string& worker) const {
  Record record = Poll(ip);
  if (record.status != MinerStatus::kOk) return MinerFailed(record.status, record.error);
  if (auto mismatch = CheckWorker(record, worker)) return *mismatch;
  return record;
}

ActionOutcome MinerActions::Summary(const std::string& ip, const std::string& worker) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  return {200, RecordToJson(std::get<Record>(identified)), "ok"};
}

ActionOutcome MinerActions::Reset(const std::string& ip, const std::string& worker) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Record before = std::get<Record>(identified);
  // A restart so soon after the last start could not be told from it.
  if (before.uptime_s && *before.uptime_s < kMinUptimeForResetS) {
    return {409,
            ErrorBody("the miner's mining software is starting",
                      fmt::format("it started {} s ago; a restart can be confirmed from {} s on",
                                  *before.uptime_s, kMinUptimeForResetS)),
            "starting"};
  }
  const CommandResult r = RunCommand({ip, options_.api_port}, "restart", "", options_.api);
  if (r.status == MinerStatus::kAuthError) {
    return {409,
            ErrorBody("the miner's API is read-only",
                      "it refused 'restart' (" + r.error +
                          "); stock firmware ships that way: use POST .../reboot instead"),
            "api read-only"};
  }
  // Stock cgminer answers restart with no STATUS block: 4.x sends
  // {"RESTART","id":1} and a NUL (not even JSON), other builds
  // {"STATUS":"RESTART"}; and it may go down before or while answering. So
  // any answer but an explicit error STATUS (E or F: an invalid command) means
  // it took the command; only the uptime says it happened.
  const bool answered = r.status == MinerStatus::kOk || r.status == MinerStatus::kParseError ||
                        r.status == MinerStatus::kReset || r.status == MinerStatus::kApiError;
  if (!answered) return MinerFailed(r.status, r.error);
  if (r.status == MinerStatus::kApiError && (r.status_letter == "E" || r.status_letter == "F")) {
    return {502, ErrorBody("the miner refused 'restart'", r.error), "api error"};
  }
  return AwaitRestart(ip, before, "the miner took the restart but does not show it yet",
                      "restarted", "not confirmed");
}

ActionOutcome MinerActions::AwaitRestart(const std::string& ip, const Record& before,
                                         std::string_view late_error, std::string_view done,
                                         std::string_view late_result) const {
  const std::optional<Record> back = WaitForRestart(ip, before);
  if (!back) {
    return Unconfirmed(late_error,
                       "not answering with a fresh uptime after " +
                           std::to_string(options_.back_timeout.count() / 1000) + " s",
                       late_result);
  }
  nlohmann::json body = {{"result", done}, {"ip", ip}, {"worker", back->worker}};
  body["record"] = RecordToJson(*back);
  return {200, std::move(body), "ok"};
}

namespace {

// When the miner's software started, by the record: poll time less uptime.
double StartedAt(const Record& r) { return r.ts - static_cast<double>(*r.uptime_s); }

// The slack of comparing two StartedAt: uptimes are whole seconds, and a
// poll's uptime is read somewhere within the poll while ts is its end.
double StartSlackS(const Record& a, const Record& b) {
  return 2.0 + (a.poll_ms.value_or(0) + b.poll_ms.value_or(0)) / 1000.0;
}

}  // namespace

std::optional<Record> MinerActions::WaitForRestart(const std::string& ip,
                                                   const Record& before) const {
  // Restarted means answering with a start clearly later than before's (an
  // uptime below before's is not enough: a slow poll may come later than
  // before's uptime), or with a lower uptime after being seen down (a reboot
  // soon after a start); or, when the miner reports no uptime, answering at
  // all after a miss.
  bool went_down = false;
  return WaitFor(ip, [&](const Record& r) {
    if (r.status != MinerStatus::kOk) {
      went_down = true;
      return false;
    }
    if (r.uptime_s && before.uptime_s) {
      return StartedAt(r) > StartedAt(before) + StartSlackS(r, before) ||
             (went_down && *r.uptime_s < *before.uptime_s);
    }
    return went_down;
  });
}

bool MinerActions::Until(const std::function<bool()>& done) const {
  const auto until = Clock::now() + options_.back_timeout;
  while (Clock::now() < until) {
    if (done()) return true;
    std::unique_lock lock(wait_mutex_);
    if (wait_stopped_.wait_for(lock, options_.back_poll_interval, [&] { return stop_waiting_; })) {
      return false;
    }
  }
  return false;
}

void MinerActions::StopWaiting() {
  {
    std::lock_guard lock(wait_mutex_);
    stop_waiting_ = true;
  }
  wait_stopped_.notify_all();
}

ActionOutcome MinerActions::Unconfirmed(std::string_view error, std::string detail,
                                        std::string_view result) const {
  std::lock_guard lock(wait_mutex_);
  if (stop_waiting_) {
    return {503,
            ErrorBody(error, "asicmon-control shut down while waiting: the miner took the command, "
                             "its effect is not confirmed"),
            "shut down while waiting"};
  }
  return {504, ErrorBody(error, detail), std::string(result)};
}

std::optional<Record> MinerActions::WaitFor(
    const std::string& ip, const std::function<bool(const Record&)>& done) const {
  std::optional<Record> last;
  if (!Until([&] {
        last = Poll(ip);
        return done(*last);
      })) {
    return std::nullopt;
  }
  return last;
}


ActionOutcome MinerActions::ChangePool(const std::string& ip, const std::string& worker,
                                       const PoolChange& pool) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  ActionOutcome outcome = ChangePoolByApi(ip, pool);
  if (outcome.result == "api read-only") outcome = ChangePoolByWeb(ip, pool);
  return outcome;
}

ActionOutcome MinerActions::ChangePoolByApi(const std::string& ip, const PoolChange& pool) const {
  const MinerEndpoint endpoint{ip, options_.api_port};
  auto command = [&](std::string_view name, const std::string& parameter) {
    return RunCommand(endpoint, name, parameter, options_.api);
  };
  auto api_failed = [&](std::string_view step, const CommandResult& r) -> ActionOutcome {
    return {502,
            ErrorBody("the miner refused a pool command",
                      std::string(step) + ": " + std::string(ToString(r.status)) + ": " + r.error),
            "api error"};
  };
  const CommandResult added = command("addpool", pool.url + "," + pool.user + "," + pool.password);
  if (added.status == MinerStatus::kAuthError) return {409, {}, "api read-only"};
  if (added.status != MinerStatus::kOk) return api_failed("addpool", added);

  // The new pool is the last with its url and user; make it the one in use,
  // then remove every other, re-reading the list after each removal since
  // cgminer moves its last pool into the hole.
  for (int step = 0; step < 16; ++step) {
    Record r = Poll(ip);
    if (r.status != MinerStatus::kOk) return MinerFailed(r.status, r.error);
    auto mine = std::find_if(r.pools.rbegin(), r.pools.rend(), [&](const PoolInfo& p) {
      return p.url == pool.url && p.user == pool.user;
    });
    if (mine == r.pools.rend()) {
      return {502, ErrorBody("the added pool vanished", "the miner no longer lists " + pool.url),
              "pool vanished"};
    }
    if (r.pools.size() == 1) {
      nlohmann::json body = {{"result", "pool replaced"}, {"via", "api"}, {"ip", ip}};
      body["pools"] = PoolsJson(r);
      return {200, std::move(body), "ok"};
    }
    if (!mine->active) {
      const CommandResult switched = command("switchpool", std::to_string(mine->index));
      if (switched.status != MinerStatus::kOk) return api_failed("switchpool", switched);
      continue;
    }
    const PoolInfo* other = nullptr;
    for (const PoolInfo& p : r.pools) {
      if (p.index != mine->index && (!other || p.index > other->index)) other = &p;
    }
    const CommandResult removed = command("removepool", std::to_string(other->index));
    if (removed.status != MinerStatus::kOk) return api_failed("removepool", removed);
  }
  return {502, ErrorBody("the miner's pool list did not settle", "gave up after 16 steps"),
          "did not settle"};
}



}  // namespace asicmon::control
