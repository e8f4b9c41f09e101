// MinerActions: every command through the miner's family driver, and the
// polls and settings reads that confirm it, the same for every family.
#include "actions.h"

#include "asicmon/poller.h"

#include <fmt/format.h>

#include <algorithm>

namespace asicmon::control {
namespace {

using driver::Action;
using driver::Failure;
using Clock = std::chrono::steady_clock;

// A driver step that is a request to the web UI or an HTTP API ("GET /...").
bool IsWebStep(std::string_view step) {
  return step.starts_with("GET ") || step.starts_with("POST ") || step.starts_with("PUT ") ||
         step.starts_with("DELETE ") || step.starts_with("PATCH ");
}

std::string_view WithoutScheme(std::string_view url) {
  const size_t scheme = url.find("://");
  return scheme == std::string_view::npos ? url : url.substr(scheme + 3);
}

// The record's pools equal `want`, in order (passwords are never read back).
// Vnish lists a pool as "host:port", without its scheme, and its own dev-fee
// pool ("DevFee", captures in tests/data/vnish-s21pro-pools.json) after the
// operator's: both are compared as the operator's pools.
bool HasPools(const Record& r, const std::vector<driver::PoolSetting>& want) {
  if (r.status != MinerStatus::kOk) return false;
  std::vector<const PoolInfo*> listed;
  for (const PoolInfo& pool : r.pools) {
    if (pool.url != "DevFee") listed.push_back(&pool);
  }
  if (listed.size() != want.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (WithoutScheme(listed[i]->url) != WithoutScheme(want[i].url) ||
        listed[i]->user != want[i].user) {
      return false;
    }
  }
  return true;
}

// "low, normal": for error messages.
std::string ModeList(const std::vector<driver::PowerMode>& modes) {
  std::string out;
  for (driver::PowerMode m : modes) {
    if (!out.empty()) out += ", ";
    out += driver::ToString(m);
  }
  return out.empty() ? "no power modes" : out;
}

}  // namespace

nlohmann::json ErrorBody(std::string_view error, std::string_view detail) {
  return {{"error", error}, {"detail", detail}};
}

MinerActions::MinerActions(ActionOptions options) : options_(std::move(options)) {
  // The legacy web login serves stock Antminers wherever the file names none.
  options_.credentials.AddDefault("antminer", {options_.http_user, options_.http_password});
}

ActionOutcome MinerActions::MinerFailed(MinerStatus status, const std::string& error) {
  const std::string word(ToString(status));
  if (status == MinerStatus::kTimeout) {
    return {504, ErrorBody("miner did not answer in time", error), word};
  }
  return {502, ErrorBody("miner gave no usable answer (" + word + ")", error), word};
}

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

driver::Capabilities MinerActions::Describe(const Record& record) {
  if (const driver::MinerDriver* d = driver::FindDriver(record.family)) {
    return d->Describe(record);
  }
  driver::Capabilities none;
  const std::string why =
      record.family.empty()
          ? std::string("the miner's firmware family is not known")
          : "asicmon has no control driver for " + record.family + " firmware";
  for (Action action : driver::kAllActions) none.unsupported[action] = why;
  return none;
}

Record MinerActions::Poll(const std::string& ip, std::string_view family) const {
  return PollOnce(MinerEndpoint{ip, options_.api_port}, family, options_.api).record;
}

std::variant<MinerActions::Target, ActionOutcome> MinerActions::Identify(
    const std::string& ip, const std::string& worker, Action action) const {
  Record record = Poll(ip);
  if (record.status != MinerStatus::kOk) return MinerFailed(record.status, record.error);
  if (auto mismatch = CheckWorker(record, worker)) return *mismatch;
  const driver::Capabilities caps = Describe(record);
  if (const auto why = caps.unsupported.find(action); why != caps.unsupported.end()) {
    return ActionOutcome{501,
                         ErrorBody(fmt::format("this miner cannot {}", driver::ToString(action)),
                                   why->second + "; nothing was sent"),
                         "not supported"};
  }
  const driver::MinerDriver* d = driver::FindDriver(record.family);
  driver::Credentials login = options_.credentials.For(*d, ip);
  return Target{std::move(record), d, std::move(login), options_};
}

std::variant<driver::Settings, ActionOutcome> MinerActions::ReadSettings(
    const std::string& ip, const std::string& worker) const {
  Record record = Poll(ip);
  if (record.status != MinerStatus::kOk) return MinerFailed(record.status, record.error);
  if (auto mismatch = CheckWorker(record, worker)) return *mismatch;
  const driver::MinerDriver* d = driver::FindDriver(record.family);
  if (!d) {
    return ActionOutcome{501, ErrorBody("asicmon cannot act on this miner's firmware",
                                        "no driver for family '" + record.family + "'"),
                         "not supported"};
  }
  const driver::Credentials login = options_.credentials.For(*d, ip);
  Result<driver::Settings> settings = d->ReadSettings({ip, record, options_, login});
  if (!settings.ok()) {
    return ActionOutcome{502, ErrorBody("the miner's settings could not be read",
                                        settings.status().message()),
                         "settings unread"};
  }
  return *settings;
}

ActionOutcome MinerActions::Failed(Action action, const driver::Outcome& o,
                                   const std::string& family) {
  const bool web = IsWebStep(o.step);
  nlohmann::json body =
      ErrorBody("", o.step.empty() ? o.detail : o.step + ": " + o.detail);
  body["step"] = o.step;
  auto answer = [&](int status, std::string error, std::string result) {
    body["error"] = std::move(error);
    return ActionOutcome{status, body, std::move(result)};
  };
  switch (o.failure) {
    case Failure::kNone:
      break;
    case Failure::kUnsupported:
      return answer(501, fmt::format("this miner cannot {}", driver::ToString(action)),
                    "not supported");
    case Failure::kConflict:
      return answer(409, "the miner will not take this command now", "conflict");
    case Failure::kCredentials:
      body["detail"] = body["detail"].get<std::string>() +
                       (family == "antminer"
                            ? "; set MINER_HTTP_USER and MINER_HTTP_PASSWORD, or an antminer row "
                              "in MINER_CREDENTIALS_FILE"
                            : "; set a " + family + " row in MINER_CREDENTIALS_FILE");
      return answer(502, "the miner refused the credentials", "credentials refused");
    case Failure::kTimeout:
      return answer(504, "miner did not answer in time", "timeout");
    case Failure::kUnreachable:
      return answer(502, web ? "miner web UI unreachable" : "miner unreachable",
                    web ? "web unreachable" : "unreachable");
    case Failure::kRefused:
      return answer(502, "the miner refused the command", web ? "web error" : "refused");
    case Failure::kBadReply:
      return answer(502, "the miner's answer was not understood", "bad reply");
  }
  return {500, ErrorBody("internal error", "a failed outcome without a failure"),
          "internal error"};
}

ActionOutcome MinerActions::Summary(const std::string& ip, const std::string& worker) const {
  Record record = Poll(ip);
  if (record.status != MinerStatus::kOk) return MinerFailed(record.status, record.error);
  if (auto mismatch = CheckWorker(record, worker)) return *mismatch;
  return {200, RecordToJson(record), "ok"};
}

ActionOutcome MinerActions::Reset(const std::string& ip, const std::string& worker) const {
  auto identified = Identify(ip, worker, Action::kReset);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const Record& before = target.record;
  // A restart so soon after the last start could not be told from it.
  if (before.uptime_s && *before.uptime_s < kMinUptimeForResetS) {
    return {409,
            ErrorBody("the miner's mining software is starting",
                      fmt::format("it started {} s ago; a restart can be confirmed from {} s on",
                                  *before.uptime_s, kMinUptimeForResetS)),
            "starting"};
  }
  const driver::Outcome sent = target.driver->Restart(target.Context());
  if (!sent.ok()) return Failed(Action::kReset, sent, target.record.family);
  return AwaitRestart(ip, before, "the miner took the restart but does not show it yet",
                      "restarted", "not confirmed");
}

ActionOutcome MinerActions::Reboot(const std::string& ip, const std::string& worker,
                                   bool wait) const {
  auto identified = Identify(ip, worker, Action::kReboot);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const driver::Outcome sent = target.driver->Reboot(target.Context());
  if (!sent.ok()) return Failed(Action::kReboot, sent, target.record.family);
  if (!wait) {
    return {202, {{"result", "rebooting"}, {"ip", ip}, {"worker", worker}, {"via", sent.step}},
            "ok"};
  }
  return AwaitRestart(ip, target.record, "the miner took the reboot but is not back yet",
                      "rebooted", "not back in time");
}

ActionOutcome MinerActions::ChangePool(const std::string& ip, const std::string& worker,
                                       const PoolChange& change) const {
  auto identified = Identify(ip, worker, Action::kPools);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const driver::Outcome sent = target.driver->SetPools(target.Context(), change.pools);
  if (!sent.ok()) return Failed(Action::kPools, sent, target.record.family);
  // The firmware may restart its miner with the new config: confirm from the API.
  const auto confirmed = WaitFor(ip, [&](const Record& r) { return HasPools(r, change.pools); });
  if (!confirmed) {
    return Unconfirmed("the miner took the new pools but does not show them yet",
                       fmt::format("sent by {}; the API did not list the {} pool(s) in order "
                                   "within {} s",
                                   sent.step, change.pools.size(),
                                   options_.back_timeout.count() / 1000),
                       "not confirmed");
  }
  nlohmann::json body = {{"result", change.pools.size() == 1 ? "pool replaced" : "pools replaced"},
                         {"via", sent.step},
                         {"ip", ip}};
  body["pools"] = RecordToJson(*confirmed)["pools"];
  return {200, std::move(body), "ok"};
}

ActionOutcome MinerActions::Locate(const std::string& ip, const std::string& worker,
                                   bool on) const {
  auto identified = Identify(ip, worker, Action::kLocate);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const driver::Outcome sent = target.driver->Locate(target.Context(), on);
  if (!sent.ok()) return Failed(Action::kLocate, sent, target.record.family);
  nlohmann::json body = {{"result", on ? "light on" : "light off"},
                         {"ip", ip},
                         {"worker", worker},
                         {"via", sent.step}};
  Result<driver::Settings> first = target.driver->ReadSettings(target.Context());
  if (first.ok() && !first->locate_on) {
    body["read_back"] = false;  // this firmware cannot report its light
    return {200, std::move(body), "ok"};
  }
  if (!WaitForState(target, [&](const Record&, const driver::Settings& s) {
        return s.locate_on == on;
      })) {
    return Unconfirmed("the miner did not confirm its fault light",
                       fmt::format("sent by {}; its light did not read back {} within {} s",
                                   sent.step, on ? "on" : "off",
                                   options_.back_timeout.count() / 1000),
                       "not confirmed");
  }
  body["read_back"] = true;
  return {200, std::move(body), "ok"};
}

ActionOutcome MinerActions::SetSleep(const std::string& ip, const std::string& worker,
                                     bool sleep) const {
  const Action action = sleep ? Action::kSleep : Action::kWake;
  auto identified = Identify(ip, worker, action);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const driver::Outcome sent = target.driver->Sleep(target.Context(), sleep);
  if (!sent.ok()) return Failed(action, sent, target.record.family);
  // Asleep: the firmware says so where it can, and no hashrate. Awake: the
  // firmware says so where it can, and the API answers.
  const auto confirmed = WaitForState(target, [&](const Record& r, const driver::Settings& s) {
    if (s.sleeping && *s.sleeping != sleep) return false;
    if (r.status != MinerStatus::kOk) return false;
    return !sleep || !r.hashrate || *r.hashrate <= 0;
  });
  if (!confirmed) {
    return Unconfirmed(sleep ? "the miner took the sleep command but is still hashing"
                             : "the miner took the wake command but does not show it yet",
                       fmt::format("sent by {}; not {} with the API answering{} within {} s",
                                   sent.step, sleep ? "asleep" : "awake",
                                   sleep ? " and no hashrate" : "",
                                   options_.back_timeout.count() / 1000),
                       "not confirmed");
  }
  nlohmann::json body = {{"result", sleep ? "sleeping" : "awake"},
                         {"ip", ip},
                         {"worker", worker},
                         {"via", sent.step}};
  body["record"] = RecordToJson(*confirmed);
  return {200, std::move(body), "ok"};
}

ActionOutcome MinerActions::SetPower(const std::string& ip, const std::string& worker,
                                     const PowerChange& power) const {
  const Action action = power.mode ? Action::kPowerMode : Action::kPowerLimit;
  auto identified = Identify(ip, worker, action);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Target& target = std::get<Target>(identified);
  const driver::Capabilities caps = target.driver->Describe(target.record);
  if (power.mode &&
      std::find(caps.power_modes.begin(), caps.power_modes.end(), *power.mode) ==
          caps.power_modes.end()) {
    return {501,
            ErrorBody("this miner has no such power mode",
                      fmt::format("{} offers {}; nothing was sent", target.record.model,
                                  ModeList(caps.power_modes))),
            "not supported"};
  }
  if (power.limit_w && caps.power_limit &&
      (*power.limit_w < caps.power_limit->min_w || *power.limit_w > caps.power_limit->max_w)) {
    return {400,
            ErrorBody("power limit out of this miner's range",
                      fmt::format("{} takes {}..{} W; nothing was sent", target.record.model,
                                  caps.power_limit->min_w, caps.power_limit->max_w)),
            "out of range"};
  }
  const driver::Outcome sent = power.mode
                                   ? target.driver->SetPowerMode(target.Context(), *power.mode)
                                   : target.driver->SetPowerLimit(target.Context(), *power.limit_w);
  if (!sent.ok()) return Failed(action, sent, target.record.family);
  const auto confirmed = WaitForState(target, [&](const Record& r, const driver::Settings& s) {
    if (r.status != MinerStatus::kOk) return false;
    return power.mode ? s.power_mode == power.mode : s.power_limit_w == power.limit_w;
  });
  const std::string asked = power.mode ? fmt::format("mode {}", driver::ToString(*power.mode))
                                       : fmt::format("limit {} W", *power.limit_w);
  if (!confirmed) {
    return Unconfirmed("the miner took the power change but does not report it yet",
                       fmt::format("sent by {}; the firmware did not report {} within {} s",
                                   sent.step, asked, options_.back_timeout.count() / 1000),
                       "not confirmed");
  }
  nlohmann::json body = {{"result", "power set"}, {"ip", ip}, {"worker", worker},
                         {"via", sent.step}};
  if (power.mode) body["mode"] = driver::ToString(*power.mode);
  if (power.limit_w) body["limit_w"] = *power.limit_w;
  body["record"] = RecordToJson(*confirmed);
  return {200, std::move(body), "ok"};
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

std::optional<Record> MinerActions::WaitForState(
    const Target& target,
    const std::function<bool(const Record&, const driver::Settings&)>& done) const {
  std::optional<Record> last;
  if (!Until([&] {
        last = Poll(target.record.ip, target.record.family);
        if (last->status != MinerStatus::kOk) return false;
        Result<driver::Settings> settings = target.driver->ReadSettings(target.Context());
        return settings.ok() && done(*last, *settings);
      })) {
    return std::nullopt;
  }
  return last;
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

}  // namespace asicmon::control
