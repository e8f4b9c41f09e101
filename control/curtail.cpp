#include "curtail.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "asicmon/clock.h"
#include "asicmon/events.h"

namespace asicmon::control {
namespace {

constexpr double kHour = 3600;
constexpr std::string_view kActorPrefix = "curtail:";

std::string WindowName(const CurtailWindow& w) {
  return fmt::format("window {:02}:{:02}-{:02}:{:02}", w.when.from_minute / 60,
                     w.when.from_minute % 60, w.when.to_minute / 60, w.when.to_minute % 60);
}

// Runs fn(0..n-1) on up to `parallel` threads; stops handing out work once
// `cancel` is set.
template <typename Fn>
void ForEachParallel(size_t n, int parallel, const std::atomic<bool>& cancel, Fn fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    while (!cancel) {
      const size_t i = next++;
      if (i >= n) return;
      fn(i);
    }
  };
  std::vector<std::thread> threads;
  const size_t count = std::min<size_t>(static_cast<size_t>(std::max(parallel, 1)), n);
  threads.reserve(count);
  for (size_t i = 0; i < count; ++i) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
}

std::string Detail(const ActionOutcome& outcome) {
  if (outcome.body.is_object()) {
    for (const char* key : {"detail", "error"}) {
      const auto it = outcome.body.find(key);
      if (it != outcome.body.end() && it->is_string()) return it->get<std::string>();
    }
  }
  return outcome.result;
}

}  // namespace

Curtailment::Curtailment(CommandGate& gate, const MinerActions& actions, CurtailOptions options,
                         LatestFn latest, AuditFn audit)
    : gate_(gate),
      actions_(actions),
      options_(std::move(options)),
      latest_(std::move(latest)),
      audit_(std::move(audit)) {}

Curtailment::~Curtailment() { Shutdown(); }

void Curtailment::Run() {
  loop_ = std::thread([this] { Loop(); });
}

void Curtailment::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  if (loop_.joinable()) loop_.join();
  std::lock_guard lock(mutex_);
  if (!held_.empty()) {
    spdlog::warn("curtail: control stops with {} miners held curtailed; they stay so until woken",
                 held_.size());
  }
}

void Curtailment::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    Tick(UnixNow());
    lock.lock();
    wake_.wait_for(lock, options_.interval, [&] { return stopping_ || restore_asked_; });
  }
}

std::vector<PlanMiner> Curtailment::Assess(const std::vector<Record>& records) const {
  std::vector<PlanMiner> miners;
  miners.reserve(records.size());
  for (const Record& r : records) miners.push_back(AssessMiner(r, MinerActions::Describe(r)));
  return miners;
}

double Curtailment::Allowance(const Active& active, double held_shed_w, double now) const {
  if (!active.request.ramp_w_per_min) return std::numeric_limits<double>::infinity();
  // What the ramp allows by the end of this round, less what is shed already.
  const double minutes =
      (now - active.started + std::chrono::duration<double>(options_.interval).count()) / 60;
  return *active.request.ramp_w_per_min * minutes - (held_shed_w - active.shed_started_w);
}

void Curtailment::Tick(double now) {
  Result<std::vector<Record>> records = latest_();
  if (!records.ok()) {
    spdlog::warn("curtail: no plan this round, the store's latest state is unreadable: {}",
                 records.status().ToString());
    return;
  }
  const std::vector<PlanMiner> miners = Assess(*records);

  std::optional<Active> active;
  bool restore = false;
  std::string restore_actor;
  {
    std::lock_guard lock(mutex_);
    // A window's curtailment starts and ends with it; one asked for by the
    // API is left alone.
    const CurtailWindow* window = nullptr;
    for (const CurtailWindow& w : options_.windows) {
      if (w.when.Contains(now)) window = &w;
    }
    if (active_ && active_->source.starts_with("window") &&
        (!window || WindowName(*window) != active_->source) && !restore_asked_) {
      restore_asked_ = true;
      restore_actor_ = active_->source;
    }
    if (active_ && active_->request.until && now >= *active_->request.until && !restore_asked_) {
      restore_asked_ = true;
      restore_actor_ = "until";
    }
    if (!active_ && !restore_asked_ && window && !dismissed_.contains(WindowName(*window))) {
      const std::string name = WindowName(*window);
      if (options_.auto_actions) {
        CurtailRequest request{.target_w = window->target_w,
                               .strategy = CurtailStrategy::kLeastEfficientFirst,
                               .ramp_w_per_min = window->ramp_w_per_min,
                               .until = std::nullopt,
                               .dry_run = false,
                               .max_parallel = 50,
                               .replace = false};
        active_ = Active{.request = request,
                         .actor = name,
                         .source = name,
                         .started = now,
                         .farm_at_start_w = -1,
                         .shed_started_w = 0};
        miners_.clear();
        failed_.clear();
        spdlog::info("curtail: {} begins, target {:.1f} kW", name, window->target_w / 1000);
        AuditSelf(name, fmt::format("start target_kw={:.3f}", window->target_w / 1000), 202,
                  "started");
      } else if (said_window_.insert(name).second) {
        spdlog::warn("curtail: {} would hold {:.1f} kW, but AUTO_ACTIONS is off", name,
                     window->target_w / 1000);
      }
    }
    if (!window) {
      said_window_.clear();
      dismissed_.clear();
    }
    restore = restore_asked_;
    restore_actor = restore_actor_;
    if (restore) restoring_ = true;
    active = active_;
  }
  if (restore) {
    RestoreAll(restore_actor);
    return;
  }
  PlanInput input{.target_w = 0,
                  .strategy = CurtailStrategy::kLeastEfficientFirst,
                  .max_shed_w = 0,
                  .release_margin = 0.03};
  std::map<std::string, Touch> held;
  std::set<std::string> skip;
  {
    std::lock_guard lock(mutex_);
    held = held_;
    skip = failed_;
    for (const PlanMiner& m : miners) {
      if (Capped(m.ip, now)) skip.insert(m.ip);
    }
  }
  if (active) {
    input.target_w = active->request.target_w;
    input.strategy = active->request.strategy;
  } else {
    input.target_w = std::numeric_limits<double>::infinity();  // only the farm's draw, for /metrics
  }
  Plan plan = PlanCurtailment(miners, held, skip, input);
  if (active) {
    input.max_shed_w = Allowance(*active, plan.held_shed_w, now);
    plan = PlanCurtailment(miners, held, skip, input);
  }
  {
    std::lock_guard lock(mutex_);
    last_plan_ = plan;
    last_plan_at_ = now;
    if (active_ && active_->farm_at_start_w < 0) active_->farm_at_start_w = plan.farm_w;
  }
  if (!active || plan.steps.empty()) return;
  spdlog::info("curtail: farm {:.1f} kW, target {:.1f} kW: {} steps ({:.1f} kW){}",
               plan.farm_w / 1000, input.target_w / 1000, plan.steps.size(),
               plan.planned_shed_w / 1000, plan.note.empty() ? "" : "; " + plan.note);
  Execute(plan.steps, active->actor, active->request.max_parallel);
}

bool Curtailment::Capped(const std::string& ip, double now) {
  auto it = per_miner_.find(ip);
  if (it == per_miner_.end()) return false;
  std::erase_if(it->second, [&](double t) { return t <= now - kHour; });
  return it->second.size() >= static_cast<size_t>(options_.max_per_miner_per_hour);
}

void Curtailment::Execute(const std::vector<PlannedStep>& steps, const std::string& actor,
                          int max_parallel) {
  double target_w = 0;
  {
    std::lock_guard lock(mutex_);
    if (active_) target_w = active_->request.target_w;
  }
  ForEachParallel(steps.size(), max_parallel, cancel_, [&](size_t i) {
    const PlannedStep& step = steps[i];
    {
      std::lock_guard lock(mutex_);
      if (restore_asked_ || stopping_) return;
      per_miner_[step.ip].push_back(UnixNow());
    }
    if (step.release) {
      Touch touch;
      {
        std::lock_guard lock(mutex_);
        const auto it = held_.find(step.ip);
        if (it == held_.end()) return;
        touch = it->second;
      }
      if (GiveBack(step.ip, touch, actor)) {
        std::lock_guard lock(mutex_);
        held_.erase(step.ip);
      }
      return;
    }
    if (std::optional<Touch> touch = Shed(step, actor, target_w)) {
      std::lock_guard lock(mutex_);
      held_[step.ip] = *touch;
    }
  });
}

std::optional<Touch> Curtailment::Shed(const PlannedStep& step, const std::string& actor,
                                       double target_w) {
  Touch touch{.worker = step.worker,
              .model = step.model,
              .step = step.step,
              .limit_w = step.limit_w,
              .previous_mode = std::nullopt,
              .previous_limit_w = std::nullopt,
              .draw_before_w = step.draw_before_w,
              .expected_draw_w = step.expected_draw_w,
              .done_at = 0};
  ActionRequest request{.kind = ActionKind::kSleep,
                        .ip = step.ip,
                        .worker = step.worker,
                        .pool = {},
                        .power = {},
                        .on = true,
                        .wait = false,
                        .force = false,
                        .actor = std::string(kActorPrefix) + actor,
                        .detail = fmt::format("curtailment to {:.3f} kW", target_w / 1000)};
  MinerLog log{.worker = step.worker,
               .model = step.model,
               .step = std::string(ToString(step.step)),
               .state = "failed",
               .http_status = 0,
               .detail = "",
               .at = 0};
  if (step.step != CurtailStep::kSleep) {
    // What to give back at the end: the firmware's own word, read first.
    auto settings = actions_.ReadSettings(step.ip, step.worker);
    if (auto* failed = std::get_if<ActionOutcome>(&settings)) {
      log.http_status = failed->http_status;
      log.detail = Detail(*failed);
      Log(step.ip, std::move(log));
      std::lock_guard lock(mutex_);
      failed_.insert(step.ip);
      return std::nullopt;
    }
    const driver::Settings& before = std::get<driver::Settings>(settings);
    touch.previous_mode = before.power_mode;
    touch.previous_limit_w = before.power_limit_w;
    request.kind = ActionKind::kPower;
    if (step.step == CurtailStep::kLowMode) {
      request.power.mode = driver::PowerMode::kLow;
    } else {
      request.power.limit_w = step.limit_w;
    }
  }
  const ActionOutcome outcome = gate_.Run(request);
  log.http_status = outcome.http_status;
  log.at = UnixNow();
  if (outcome.http_status / 100 != 2) {
    log.detail = Detail(outcome);
    Log(step.ip, std::move(log));
    // A busy miner (another command on it) is tried again next round.
    if (outcome.result != kControlBusy) {
      std::lock_guard lock(mutex_);
      failed_.insert(step.ip);
    }
    return std::nullopt;
  }
  touch.done_at = log.at;
  log.state = "held";
  Log(step.ip, std::move(log));
  return touch;
}

bool Curtailment::GiveBack(const std::string& ip, const Touch& touch, const std::string& actor) {
  ActionRequest request{.kind = ActionKind::kWake,
                        .ip = ip,
                        .worker = touch.worker,
                        .pool = {},
                        .power = {},
                        .on = true,
                        .wait = false,
                        .force = false,
                        .actor = std::string(kActorPrefix) + actor,
                        .detail = "curtailment: back to its previous state"};
  if (touch.step == CurtailStep::kLowMode ||
      (touch.step == CurtailStep::kPowerLimit && !touch.previous_limit_w)) {
    // Back to the mode it reported; normal where it reported none.
    request.kind = ActionKind::kPower;
    request.power.mode = touch.previous_mode.value_or(driver::PowerMode::kNormal);
  } else if (touch.step == CurtailStep::kPowerLimit) {
    request.kind = ActionKind::kPower;
    request.power.limit_w = touch.previous_limit_w;
  }
  const ActionOutcome outcome = gate_.Run(request);
  const bool ok = outcome.http_status / 100 == 2;
  std::lock_guard lock(mutex_);
  MinerLog& log = miners_[ip];
  log.state = ok ? (restoring_ ? "restored" : "released") : "restore_failed";
  log.http_status = outcome.http_status;
  log.detail = ok ? "" : Detail(outcome);
  log.at = UnixNow();
  return ok;
}

void Curtailment::RestoreAll(const std::string& actor) {
  std::vector<std::pair<std::string, Touch>> held;
  {
    std::lock_guard lock(mutex_);
    held.assign(held_.begin(), held_.end());
  }
  spdlog::info("curtail: giving back {} miners ({})", held.size(), actor);
  int parallel = 50;
  {
    std::lock_guard lock(mutex_);
    if (active_) parallel = active_->request.max_parallel;
  }
  // Not cancelled by a shutdown's cancel_: a restore is what ends a curtailment.
  const std::atomic<bool> never{false};
  std::atomic<size_t> failed{0};
  ForEachParallel(held.size(), parallel, never, [&](size_t i) {
    if (GiveBack(held[i].first, held[i].second, actor)) {
      std::lock_guard lock(mutex_);
      held_.erase(held[i].first);
    } else {
      ++failed;
    }
  });
  {
    std::lock_guard lock(mutex_);
    // Miners not given back stay listed as restore_failed; none is held.
    held_.clear();
    active_.reset();
    restore_asked_ = false;
    restoring_ = false;
    failed_.clear();
  }
  AuditSelf(actor, fmt::format("restore {} miners", held.size()), failed ? 502 : 200,
            failed ? fmt::format("{} not given back", failed.load()) : "ok");
}

void Curtailment::Log(const std::string& ip, MinerLog entry) {
  std::lock_guard lock(mutex_);
  miners_[ip] = std::move(entry);
}

void Curtailment::AuditSelf(const std::string& actor, const std::string& what, int status,
                            const std::string& result) {
  audit_(AuditEntry{.ts = 0,
                    .actor = std::string(kActorPrefix) + actor,
                    .action = "curtail",
                    .ip = "",
                    .worker = "",
                    .detail = what,
                    .http_status = status,
                    .result = result});
}

Curtailment::Answer Curtailment::Post(const CurtailRequest& request, const std::string& actor) {
  if (request.dry_run) {
    Result<std::vector<Record>> records = latest_();
    if (!records.ok()) {
      return {503, ErrorBody("the store's latest state is unreadable", records.status().message())};
    }
    std::map<std::string, Touch> held;
    {
      std::lock_guard lock(mutex_);
      held = held_;
    }
    PlanInput input{
        .target_w = request.target_w,
        .strategy = request.strategy,
        .max_shed_w = request.ramp_w_per_min
                          ? *request.ramp_w_per_min *
                                std::chrono::duration<double>(options_.interval).count() / 60
                          : std::numeric_limits<double>::infinity(),
        .release_margin = 0.03};
    nlohmann::json body = PlanJson(PlanCurtailment(Assess(*records), held, {}, input));
    body["dry_run"] = true;
    return {200, std::move(body)};
  }
  if (!options_.auto_actions) {
    return {409, ErrorBody("automatic actions are off",
                           "curtailment holds the target on its own: start control with "
                           "AUTO_ACTIONS=true (dry_run works without)")};
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return {503, ErrorBody("asicmon-control is shutting down", "")};
    if (restore_asked_ || restoring_) {
      return {409,
              ErrorBody("a curtailment is being lifted", "wait until GET /curtail shows it done")};
    }
    const double now = UnixNow();
    if (active_ && !request.replace) {
      return {409, ErrorBody("a curtailment is active",
                             "send \"replace\": true to change it in place, or DELETE /curtail")};
    }
    if (active_) {
      const double shed = last_plan_ ? last_plan_->held_shed_w : 0;
      active_->request = request;
      active_->actor = actor;
      active_->source = "api";
      active_->started = now;
      active_->shed_started_w = shed;
    } else {
      active_ = Active{.request = request,
                       .actor = actor,
                       .source = "api",
                       .started = now,
                       .farm_at_start_w = -1,
                       .shed_started_w = 0};
      miners_.clear();
      failed_.clear();
    }
  }
  AuditSelf(actor,
            fmt::format("{} target_kw={:.3f}{}", request.replace ? "replace" : "start",
                        request.target_w / 1000,
                        request.ramp_w_per_min
                            ? fmt::format(" ramp_kw_per_min={:.3f}", *request.ramp_w_per_min / 1000)
                            : ""),
            202, "started");
  wake_.notify_all();
  return {202, StatusJson()};
}

Curtailment::Answer Curtailment::Delete(const std::string& actor) {
  {
    std::lock_guard lock(mutex_);
    if (!active_ || restore_asked_) {
      return {404,
              ErrorBody("no curtailment is active", restore_asked_ ? "it is being lifted" : "")};
    }
    restore_asked_ = true;
    restore_actor_ = actor;
    // A window lifted by hand stays lifted until it ends.
    if (active_->source.starts_with("window")) dismissed_.insert(active_->source);
  }
  wake_.notify_all();  // the round in progress starts no further miner (Execute checks)
  return {202, StatusJson()};
}

nlohmann::json Curtailment::StatusJson() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out;
  out["active"] = active_.has_value();
  out["state"] = restoring_ || restore_asked_ ? "restoring" : active_ ? "holding" : "idle";
  out["windows"] = options_.windows.size();
  out["auto_actions"] = options_.auto_actions;
  if (last_plan_) {
    out["farm_kw"] = last_plan_->farm_w / 1000;
    out["shed_kw"] = last_plan_->held_shed_w / 1000;
    out["as_of"] = last_plan_at_;
    out["plan"] = PlanJson(*last_plan_);
  }
  if (active_) {
    const CurtailRequest& r = active_->request;
    out["target_kw"] = r.target_w / 1000;
    out["strategy"] = ToString(r.strategy);
    out["ramp_kw_per_min"] = r.ramp_w_per_min ? nlohmann::json(*r.ramp_w_per_min / 1000) : nullptr;
    out["until"] = r.until ? nlohmann::json(*r.until) : nullptr;
    out["max_parallel"] = r.max_parallel;
    out["actor"] = active_->actor;
    out["source"] = active_->source;
    out["started"] = active_->started;
    if (last_plan_ && active_->farm_at_start_w >= 0) {
      const double to_shed = active_->farm_at_start_w - r.target_w;
      out["progress"] =
          to_shed <= 0 ? 1.0 : std::clamp(last_plan_->held_shed_w / to_shed, 0.0, 1.0);
      out["at_target"] = last_plan_->farm_w <= r.target_w;
    }
  }
  nlohmann::json miners = nlohmann::json::array();
  for (const auto& [ip, m] : miners_) {
    nlohmann::json entry = {{"ip", ip},
                            {"worker", m.worker},
                            {"model", m.model},
                            {"step", m.step},
                            {"state", m.state},
                            {"at", m.at},
                            {"http_status", m.http_status}};
    if (!m.detail.empty()) entry["detail"] = m.detail;
    if (const auto h = held_.find(ip); h != held_.end()) {
      entry["draw_before_w"] = h->second.draw_before_w;
      entry["expected_draw_w"] = h->second.expected_draw_w;
      if (h->second.limit_w) entry["limit_w"] = *h->second.limit_w;
    }
    miners.push_back(std::move(entry));
  }
  out["held"] = held_.size();
  out["miners"] = std::move(miners);
  return out;
}

void Curtailment::RenderMetrics(std::string& out) const {
  std::lock_guard lock(mutex_);
  const double farm = last_plan_ ? last_plan_->farm_w : 0;
  const double shed = last_plan_ && active_ ? last_plan_->held_shed_w : 0;
  fmt::format_to(std::back_inserter(out),
                 "# HELP asicmon_farm_power_watts The farm's draw: miners' own readings, else "
                 "their model's nominal power\n# TYPE asicmon_farm_power_watts gauge\n"
                 "asicmon_farm_power_watts {}\n"
                 "# HELP asicmon_curtailment_active 1 while a curtailment holds a target\n"
                 "# TYPE asicmon_curtailment_active gauge\nasicmon_curtailment_active {}\n"
                 "# HELP asicmon_curtailment_shed_kw What the held miners shed, kW\n"
                 "# TYPE asicmon_curtailment_shed_kw gauge\nasicmon_curtailment_shed_kw {}\n"
                 "# HELP asicmon_curtailment_miners Miners held curtailed\n"
                 "# TYPE asicmon_curtailment_miners gauge\nasicmon_curtailment_miners {}\n",
                 farm, active_ ? 1 : 0, shed / 1000, held_.size());
}

}  // namespace asicmon::control
