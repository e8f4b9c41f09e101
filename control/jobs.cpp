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

Status Bad(std::string message) { return Status::InvalidArgument(std::move(message)); }

Result<std::string> OptionalString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return Bad(fmt::format("select.{} must be a string", key));
  return it->get<std::string>();
}

Result<MinerSelector> ParseSelector(const nlohmann::json& select) {
  if (!select.is_object() || select.empty()) {
    return Bad("'select' must be an object with at least one of ips, cidr, model, "
               "worker_prefix, status (cidr 0.0.0.0/0 selects every miner)");
  }
  static const std::set<std::string> kKeys = {"ips", "cidr", "model", "worker_prefix", "status"};
  for (const auto& [key, value] : select.items()) {
    if (!kKeys.contains(key)) {
      return Bad(fmt::format("select has no criterion '{}' (ips, cidr, model, worker_prefix, "
                             "status)", key.substr(0, 64)));
    }
  }
  MinerSelector s;
  if (auto ips = select.find("ips"); ips != select.end()) {
    if (!ips->is_array() || ips->empty() || ips->size() > kMaxSelectIps) {
      return Bad(fmt::format("select.ips must be a list of 1..{} addresses", kMaxSelectIps));
    }
    for (const nlohmann::json& ip : *ips) {
      if (!ip.is_string()) return Bad("select.ips must hold strings");
      if (Status v = ValidateIp(ip.get<std::string>()); !v.ok()) return v;
      s.ips.push_back(ip.get<std::string>());
    }
  }
  Result<std::string> cidr = OptionalString(select, "cidr");
  if (!cidr.ok()) return cidr.status();
  if (!cidr->empty()) {
    Result<Cidr> parsed = ParseCidr(*cidr);
    if (!parsed.ok()) return parsed.status();
    s.cidr = *parsed;
    s.cidr_text = *cidr;
  }
  for (auto [key, into] : {std::pair{"model", &s.model}, std::pair{"worker_prefix", &s.worker_prefix},
                           std::pair{"status", &s.status}}) {
    Result<std::string> value = OptionalString(select, key);
    if (!value.ok()) return value.status();
    if (value->size() > kMaxFieldBytes) {
      return Bad(fmt::format("select.{} is longer than {} bytes", key, kMaxFieldBytes));
    }
    *into = std::move(*value);
  }
  if (!s.status.empty() && s.status != "sleeping" && !ParseMinerStatus(s.status)) {
    return Bad("select.status must be sleeping or a record status: ok, timeout, refused, reset, "
               "parse_error, too_large, auth_error, api_error");
  }
  return s;
}

}  // namespace

bool MinerSelector::Matches(const Record& r) const {
  if (!ips.empty() && std::find(ips.begin(), ips.end(), r.ip) == ips.end()) return false;
  if (cidr) {
    Result<uint32_t> address = ParseIpv4(r.ip);
    if (!address.ok() || !cidr->Contains(*address)) return false;
  }
  if (!model.empty() && r.model != model) return false;
  if (!worker_prefix.empty() && !r.worker.starts_with(worker_prefix)) return false;
  if (status == "sleeping") return r.sleeping;
  if (!status.empty() && ToString(r.status) != status) return false;
  return true;
}

nlohmann::json MinerSelector::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  if (!ips.empty()) out["ips"] = ips;
  if (cidr) out["cidr"] = cidr_text;
  if (!model.empty()) out["model"] = model;
  if (!worker_prefix.empty()) out["worker_prefix"] = worker_prefix;
  if (!status.empty()) out["status"] = status;
  return out;
}

Result<BulkRequest> ParseBulkRequest(std::string_view text) {
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_object()) {
    return Bad("body must be a JSON object {\"action\":…,\"select\":{…},\"params\":{…},"
               "\"max_parallel\":20,\"dry_run\":false}");
  }
  static const std::set<std::string> kKeys = {"action", "select", "params", "max_parallel",
                                              "dry_run"};
  for (const auto& [key, value] : body.items()) {
    if (!kKeys.contains(key)) return Bad(fmt::format("unknown field '{}'", key.substr(0, 64)));
  }
  BulkRequest r;
  const auto action = body.find("action");
  std::optional<ActionKind> kind;
  if (action != body.end() && action->is_string()) kind = ParseActionKind(action->get<std::string>());
  if (!kind) return Bad("'action' must be one of " + ActionKindList());
  r.kind = *kind;
  const auto select = body.find("select");
  if (select == body.end()) return Bad("'select' is required");
  Result<MinerSelector> selector = ParseSelector(*select);
  if (!selector.ok()) return selector.status();
  r.select = std::move(*selector);

  const nlohmann::json params = body.value("params", nlohmann::json::object());
  if (!params.is_object()) return Bad("'params' must be an object");
  auto flag = [&](const char* key, bool& into) -> Status {
    auto it = params.find(key);
    if (it == params.end()) return Status::Ok();
    if (!it->is_boolean()) return Bad(fmt::format("params.{} must be true or false", key));
    into = it->get<bool>();
    return Status::Ok();
  };
  switch (r.kind) {
    case ActionKind::kPool: {
      Result<PoolChange> pool = PoolChangeFromJson(params);
      if (!pool.ok()) return Bad("params: " + pool.status().message());
      r.pool = std::move(*pool);
      break;
    }
    case ActionKind::kLocate:
      if (!params.contains("on")) return Bad("params.on (true or false) is required for locate");
      if (Status s = flag("on", r.on); !s.ok()) return s;
      break;
    case ActionKind::kReboot:
      if (Status s = flag("wait", r.wait); !s.ok()) return s;
      if (params.size() > (params.contains("wait") ? 1u : 0u)) {
        return Bad("reboot takes only params.wait (a bulk job never forces past the cooldown)");
      }
      break;
    default:
      if (!params.empty()) return Bad(fmt::format("{} takes no params", ToString(r.kind)));
  }
  if (auto it = body.find("max_parallel"); it != body.end()) {
    if (!it->is_number_integer() || *it < 1 || *it > kMaxParallelLimit) {
      return Bad(fmt::format("max_parallel must be an integer 1..{}", kMaxParallelLimit));
    }
    r.max_parallel = it->get<int>();
  }
  if (auto it = body.find("dry_run"); it != body.end()) {
    if (!it->is_boolean()) return Bad("dry_run must be true or false");
    r.dry_run = it->get<bool>();
  }
  return r;
}

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
    nlohmann::json params = nlohmann::json::object();
    if (request.kind == ActionKind::kPool) {
      params = {{"url", request.pool.url}, {"user", request.pool.user}};  // never the password
    } else if (request.kind == ActionKind::kLocate) {
      params = {{"on", request.on}};
    } else if (request.kind == ActionKind::kReboot) {
      params = {{"wait", request.wait}};
    }
    nlohmann::json out = {{"id", id},
                          {"action", ToString(request.kind)},
                          {"state", state},
                          {"actor", actor},
                          {"created", created},
                          {"finished", finished > 0 ? nlohmann::json(finished) : nlohmann::json()},
                          {"max_parallel", request.max_parallel},
                          {"select", request.select.ToJson()},
                          {"params", std::move(params)},
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

BulkJobs::~BulkJobs() {
  std::map<uint64_t, std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(jobs_);
  }
  for (auto& [seq, job] : jobs) job->cancel = true;
  for (auto& [seq, job] : jobs) {
    if (job->runner.joinable()) job->runner.join();
  }
}

Result<nlohmann::json> BulkJobs::Start(const BulkRequest& request, std::vector<JobTarget> targets,
                                       std::vector<std::string> unknown, std::string actor) {
  std::lock_guard lock(mutex_);
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
