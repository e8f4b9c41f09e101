#include "jobs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <thread>

#include "asicmon/clock.h"
#include "asicmon/targets.h"

namespace asicmon::control {
namespace {

// Per-miner states of a job, as GET /actions/{id} shows them.
constexpr std::string_view kPending = "pending";
constexpr std::string_view kRunning = "running";
constexpr std::string_view kOk = "ok";
constexpr std::string_view kFailed = "failed";
constexpr std::string_view kSkipped = "skipped";  // the gate refused: busy or cooldown
constexpr std::string_view kCancelled = "cancelled";

}  // namespace

void FillIdentity(std::vector<Record>& latest, const std::vector<InventoryRow>& inventory) {
  std::map<std::string, const InventoryRow*> by_ip;
  for (const InventoryRow& row : inventory) {
    if (row.identified) by_ip[row.ip] = &row;
  }
  for (Record& r : latest) {
    if (!r.worker.empty() && !r.model.empty()) continue;
    const auto it = by_ip.find(r.ip);
    if (it == by_ip.end()) continue;
    if (r.worker.empty()) r.worker = it->second->worker;
    if (r.model.empty()) r.model = it->second->model;
  }
}

std::vector<JobTarget> SelectTargets(const MinerSelector& select, const std::vector<Record>& latest,
                                     std::vector<std::string>& unknown) {
  std::map<uint32_t, const Record*> by_address;  // one per address, the newest record
  std::set<std::string> known;
  for (const Record& r : latest) {
    known.insert(r.ip);
    if (!select.Matches(r)) continue;
    Result<uint32_t> address = ParseIpv4(r.ip);
    if (!address.ok()) continue;
    const Record*& kept = by_address[*address];
    if (!kept || kept->ts < r.ts) kept = &r;
  }
  for (const std::string& ip : select.ips) {
    if (!known.contains(ip)) unknown.push_back(ip);
  }
  std::sort(unknown.begin(), unknown.end());
  unknown.erase(std::unique(unknown.begin(), unknown.end()), unknown.end());
  std::vector<JobTarget> targets;
  targets.reserve(by_address.size());
  for (const auto& [address, r] : by_address) targets.push_back({r->ip, r->worker, r->model});
  return targets;
}

struct BulkJobs::Job {
  struct Miner {
    JobTarget target;
    std::string_view state = kPending;
    int http_status = 0;
    std::string result;
    nlohmann::json answer;  // the miner's outcome body
  };

  std::string id;
  BulkRequest request;
  std::string actor;
  std::vector<std::string> unknown;
  double created = 0;
  std::atomic<bool> cancel{false};
  std::thread runner;

  mutable std::mutex mutex;  // guards what follows
  std::vector<Miner> miners;
  std::string state = "running";
  double finished = 0;

  bool Done() const {
    std::lock_guard lock(mutex);
    return state != "running";
  }

  nlohmann::json ToJson(bool with_miners) const {
    std::lock_guard lock(mutex);
    nlohmann::json counts = {{"total", miners.size()}};
    for (std::string_view s : {kPending, kRunning, kOk, kFailed, kSkipped, kCancelled}) {
      counts[std::string(s)] = 0;
    }
    for (const Miner& m : miners) counts[std::string(m.state)] = counts[std::string(m.state)].get<int>() + 1;
    nlohmann::json out = {{"id", id},
                          {"action", ToString(request.kind)},
                          {"state", state},
                          {"actor", actor},
                          {"created", created},
                          {"finished", finished > 0 ? nlohmann::json(finished) : nlohmann::json()},
                          {"max_parallel", request.max_parallel},
                          {"select", request.select.ToJson()},
                          {"params", request.ParamsJson(/*with_password=*/false)},
                          {"counts", std::move(counts)},
                          {"unknown", unknown}};
    if (with_miners) {
      nlohmann::json list = nlohmann::json::array();
      for (const Miner& m : miners) {
        nlohmann::json entry = {{"ip", m.target.ip},
                                {"worker", m.target.worker},
                                {"model", m.target.model},
                                {"state", m.state}};
        if (m.http_status) {
          entry["http_status"] = m.http_status;
          entry["result"] = m.result;
          if (m.state != kOk && m.answer.is_object()) {
            for (const char* key : {"detail", "error"}) {
              auto it = m.answer.find(key);
              if (it != m.answer.end() && it->is_string()) {
                entry["detail"] = *it;
                break;
              }
            }
          }
        }
        list.push_back(std::move(entry));
      }
      out["miners"] = std::move(list);
    }
    return out;
  }
};

void BulkJobs::Stop() {
  std::map<uint64_t, std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    jobs = jobs_;
  }
  for (auto& [seq, job] : jobs) {
    if (!job->Done()) spdlog::warn("job {}: cancelled, control is shutting down", job->id);
    job->cancel = true;
  }
  for (auto& [seq, job] : jobs) {
    if (job->runner.joinable()) job->runner.join();
  }
}

Result<nlohmann::json> BulkJobs::Start(const BulkRequest& request, std::vector<JobTarget> targets,
                                       std::vector<std::string> unknown, std::string actor) {
  std::lock_guard lock(mutex_);
  if (stopped_) return Status::Unavailable("asicmon-control is shutting down");
  const size_t running = std::count_if(jobs_.begin(), jobs_.end(),
                                       [](const auto& j) { return !j.second->Done(); });
  if (running >= max_running_) {
    return Status::Unavailable(fmt::format(
        "{} bulk jobs are running already; wait for one to finish or cancel one", running));
  }
  auto job = std::make_shared<Job>();
  const uint64_t seq = next_seq_++;
  job->created = UnixNow();
  job->id = fmt::format("{}-{}", static_cast<int64_t>(job->created), seq);
  job->request = request;
  job->actor = std::move(actor);
  job->unknown = std::move(unknown);
  for (JobTarget& t : targets) {
    job->miners.push_back({.target = std::move(t), .state = kPending, .http_status = 0,
                           .result = "", .answer = nullptr});
  }
  spdlog::info("job {}: {} on {} miners by {}, {} at a time", job->id, ToString(request.kind),
               job->miners.size(), job->actor, request.max_parallel);
  jobs_[seq] = job;
  job->runner = std::thread([this, job] { Run(job); });
  Forget();
  return job->ToJson(false);
}

void BulkJobs::Run(const std::shared_ptr<Job>& job) {
  std::atomic<size_t> next{0};
  const size_t total = job->miners.size();
  auto work = [&] {
    while (!job->cancel) {
      const size_t i = next++;
      if (i >= total) return;
      ActionRequest request{.kind = job->request.kind,
                            .ip = job->miners[i].target.ip,
                            .worker = job->miners[i].target.worker,
                            .pool = job->request.pool,
                            .power = job->request.power,
                            .on = job->request.on,
                            .wait = job->request.wait,
                            .force = false,
                            .actor = job->actor,
                            .detail = "job " + job->id};
      {
        std::lock_guard lock(job->mutex);
        job->miners[i].state = kRunning;
      }
      ActionOutcome outcome = gate_.Run(request);
      std::lock_guard lock(job->mutex);
      Job::Miner& m = job->miners[i];
      m.http_status = outcome.http_status;
      m.result = outcome.result;
      m.answer = std::move(outcome.body);
      m.state = outcome.http_status / 100 == 2                                  ? kOk
                : (outcome.result == "busy" || outcome.result == "cooldown") ? kSkipped
                                                                               : kFailed;
    }
  };
  const size_t workers = std::min<size_t>(job->request.max_parallel, total);
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (size_t i = 0; i < workers; ++i) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();

  std::lock_guard lock(job->mutex);
  size_t ok = 0, failed = 0, cancelled = 0;
  for (Job::Miner& m : job->miners) {
    if (m.state == kPending) {
      m.state = kCancelled;
      ++cancelled;
    }
    ok += m.state == kOk;
    failed += m.state == kFailed;
  }
  job->state = job->cancel ? "cancelled" : "done";
  job->finished = UnixNow();
  spdlog::info("job {} {}: {} ok, {} failed, {} skipped, {} cancelled, in {:.1f} s", job->id,
               job->state, ok, failed, total - ok - failed - cancelled, cancelled,
               job->finished - job->created);
}

std::optional<nlohmann::json> BulkJobs::Get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [seq, job] : jobs_) {
    if (job->id == id) return job->ToJson(true);
  }
  return std::nullopt;
}

std::optional<nlohmann::json> BulkJobs::Cancel(const std::string& id, bool& already_finished) {
  std::lock_guard lock(mutex_);
  for (const auto& [seq, job] : jobs_) {
    if (job->id != id) continue;
    already_finished = job->Done();
    if (!already_finished) {
      job->cancel = true;
      spdlog::info("job {}: cancel asked; the miners in progress finish", id);
    }
    return job->ToJson(false);
  }
  return std::nullopt;
}

nlohmann::json BulkJobs::List() const {
  std::lock_guard lock(mutex_);
  nlohmann::json list = nlohmann::json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) list.push_back(it->second->ToJson(false));
  return list;
}

void BulkJobs::Forget() {
  size_t finished = std::count_if(jobs_.begin(), jobs_.end(),
                                  [](const auto& j) { return j.second->Done(); });
  for (auto it = jobs_.begin(); it != jobs_.end() && finished > keep_;) {
    if (!it->second->Done()) {
      ++it;
      continue;
    }
    if (it->second->runner.joinable()) it->second->runner.join();  // done: returns at once
    it = jobs_.erase(it);
    --finished;
  }
}

}  // namespace asicmon::control
