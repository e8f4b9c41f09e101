#include "actions.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <thread>

namespace asicmon::control {
namespace {

using Clock = std::chrono::steady_clock;

// The miner's web UI answers in a few KB; more is not a miner.
constexpr size_t kMaxWebReplyBytes = 256 << 10;

struct WebReply {
  long http_status = 0;
  std::string body;
  CURLcode error = CURLE_OK;
  std::string error_text;
};

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

size_t AppendCapped(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (body->size() + bytes > kMaxWebReplyBytes) return 0;  // curl ends with a write error
  body->append(data, bytes);
  return bytes;
}

// One request to the miner's web UI with Digest auth, as stock Antminer
// firmware wants. `form` non-empty makes it a POST of that urlencoded body.
WebReply WebRequest(const ActionOptions& o, const std::string& ip, const std::string& path,
                    const std::string& form = "") {
  WebReply reply;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    reply.error = CURLE_FAILED_INIT;
    reply.error_text = "libcurl could not start";
    return reply;
  }
  const std::string url = "http://" + ip + ":" + std::to_string(o.http_port) + path;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_DIGEST);
  curl_easy_setopt(c, CURLOPT_USERNAME, o.http_user.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, o.http_password.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.http_timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.api.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are threaded
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendCapped);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  if (!form.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
  }
  reply.error = curl_easy_perform(c);
  if (reply.error != CURLE_OK) {
    reply.error_text = error_buffer[0] ? error_buffer : curl_easy_strerror(reply.error);
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.http_status);
  return reply;
}

// The HTTP answer for a web request that did not give 2xx.
ActionOutcome WebFailed(const std::string& what, const WebReply& reply) {
  if (reply.error == CURLE_OPERATION_TIMEDOUT) {
    return {504, ErrorBody("miner web UI timed out", what + ": " + reply.error_text), "timeout"};
  }
  if (reply.error != CURLE_OK) {
    return {502, ErrorBody("miner web UI unreachable", what + ": " + reply.error_text),
            "web unreachable"};
  }
  if (reply.http_status == 401) {
    return {502,
            ErrorBody("miner web UI refused the credentials",
                      what + ": HTTP 401; set MINER_HTTP_USER and MINER_HTTP_PASSWORD"),
            "web auth refused"};
  }
  return {502,
          ErrorBody("miner web UI failed",
                    what + ": HTTP " + std::to_string(reply.http_status)),
          "web error " + std::to_string(reply.http_status)};
}

std::string FormEscape(CURL* curl, const std::string& value) {
  char* escaped = curl_easy_escape(curl, value.data(), static_cast<int>(value.size()));
  std::string out = escaped ? escaped : "";
  curl_free(escaped);
  return out;
}

bool HasOnlyPool(const Record& r, const PoolChange& pool) {
  return r.status == MinerStatus::kOk && r.pools.size() == 1 && r.pools[0].url == pool.url &&
         r.pools[0].user == pool.user;
}

nlohmann::json PoolsJson(const Record& r) { return RecordToJson(r)["pools"]; }

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
  const MinerEndpoint endpoint{ip, options_.api_port};
  return RecordFromExchange(endpoint,
                            ExchangeOnce(endpoint, BuildRequest(kPollCommand),
                                         options_.api));
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
  const CommandResult r = RunCommand({ip, options_.api_port}, "restart", "", options_.api);
  if (r.status == MinerStatus::kAuthError) {
    return {409,
            ErrorBody("the miner's API is read-only",
                      "it refused 'restart' (" + r.error +
                          "); stock firmware ships that way: use POST .../reboot instead"),
            "api read-only"};
  }
  // cgminer answers before it goes down, or goes down before it answers:
  // a cut-off reply to restart is the restart happening.
  if (r.status != MinerStatus::kOk && r.status != MinerStatus::kParseError &&
      r.status != MinerStatus::kReset) {
    return MinerFailed(r.status, r.error);
  }
  return {200, {{"result", "restarting"}, {"ip", ip}, {"worker", worker}}, "ok"};
}

std::optional<Record> MinerActions::WaitFor(
    const std::string& ip, const std::function<bool(const Record&)>& done) const {
  const auto until = Clock::now() + options_.back_timeout;
  std::optional<Record> last;
  while (Clock::now() < until) {
    last = Poll(ip);
    if (done(*last)) return last;
    std::this_thread::sleep_for(options_.back_poll_interval);
  }
  return std::nullopt;
}

ActionOutcome MinerActions::Reboot(const std::string& ip, const std::string& worker,
                                   bool wait) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  const Record before = std::get<Record>(identified);
  const WebReply reply = WebRequest(options_, ip, "/cgi-bin/reboot.cgi");
  if (reply.error != CURLE_OK || reply.http_status / 100 != 2) {
    return WebFailed("GET /cgi-bin/reboot.cgi", reply);
  }
  if (!wait) {
    return {202, {{"result", "rebooting"}, {"ip", ip}, {"worker", worker}}, "ok"};
  }
  // Back means answering with an uptime below the one before the reboot
  // (or, when the miner did not report one, answering at all after a miss).
  bool went_down = false;
  const auto back = WaitFor(ip, [&](const Record& r) {
    if (r.status != MinerStatus::kOk) {
      went_down = true;
      return false;
    }
    if (r.uptime_s && before.uptime_s) return *r.uptime_s < *before.uptime_s;
    return went_down;
  });
  if (!back) {
    return {504,
            ErrorBody("the miner took the reboot but is not back yet",
                      "not answering with a fresh uptime after " +
                          std::to_string(options_.back_timeout.count() / 1000) + " s"),
            "not back in time"};
  }
  nlohmann::json body = {{"result", "rebooted"}, {"ip", ip}, {"worker", back->worker}};
  body["record"] = RecordToJson(*back);
  return {200, std::move(body), "ok"};
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

ActionOutcome MinerActions::ChangePoolByWeb(const std::string& ip, const PoolChange& pool) const {
  const WebReply conf = WebRequest(options_, ip, "/cgi-bin/get_miner_conf.cgi");
  if (conf.error != CURLE_OK || conf.http_status / 100 != 2) {
    return WebFailed("GET /cgi-bin/get_miner_conf.cgi", conf);
  }
  const nlohmann::json current = nlohmann::json::parse(conf.body, nullptr, false);
  if (!current.is_object()) {
    return {502, ErrorBody("miner web UI failed", "get_miner_conf.cgi is not a JSON object"),
            "web bad config"};
  }
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  std::string form;
  auto field = [&](const std::string& name, const std::string& value) {
    if (!form.empty()) form += '&';
    form += name + "=" + FormEscape(curl.get(), value);
  };
  field("_ant_pool1url", pool.url);
  field("_ant_pool1user", pool.user);
  field("_ant_pool1pw", pool.password);
  for (const char* n : {"2", "3"}) {
    for (const char* part : {"url", "user", "pw"}) field(std::string("_ant_pool") + n + part, "");
  }
  // The form replaces the whole config: carry the settings we do not change.
  const std::pair<const char*, const char*> kept[] = {
      {"bitmain-freq", "_ant_freq"},
      {"bitmain-voltage", "_ant_voltage"},
      {"bitmain-fan-ctrl", "_ant_fan_customize_switch"},
      {"bitmain-fan-pwm", "_ant_fan_customize_value"}};
  for (const auto& [json_key, form_key] : kept) {
    const auto it = current.find(json_key);
    if (it == current.end()) continue;
    field(form_key, it->is_string() ? it->get<std::string>() : it->dump());
  }
  const WebReply set = WebRequest(options_, ip, "/cgi-bin/set_miner_conf.cgi", form);
  if (set.error != CURLE_OK || set.http_status / 100 != 2) {
    return WebFailed("POST /cgi-bin/set_miner_conf.cgi", set);
  }
  // The firmware restarts its miner with the new config; confirm from the API.
  const auto confirmed = WaitFor(ip, [&](const Record& r) { return HasOnlyPool(r, pool); });
  if (!confirmed) {
    return {504,
            ErrorBody("the miner took the new config but does not show the pool yet",
                      "set_miner_conf.cgi answered " + std::to_string(set.http_status) +
                          "; the API did not list only " + pool.url + " within " +
                          std::to_string(options_.back_timeout.count() / 1000) + " s"),
            "not confirmed"};
  }
  nlohmann::json body = {{"result", "pool replaced"}, {"via", "web"}, {"ip", ip}};
  body["pools"] = PoolsJson(*confirmed);
  return {200, std::move(body), "ok"};
}

}  // namespace asicmon::control
