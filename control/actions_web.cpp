// MinerActions' commands through the miner's web UI (the CGI pages of
// stock Antminer firmware, with Digest auth): reboot, the pool change where
// the API is read-only, the fault light, sleep and wake. The commands
// through the API, and the waits that confirm every command, are in
// actions.cpp.
#include <curl/curl.h>
#include <fmt/format.h>

#include <memory>
#include <variant>

#include "actions.h"

namespace asicmon::control {
namespace {

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

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

constexpr std::string_view kJson = "application/json";

// One request to the miner's web UI with Digest auth, as stock Antminer
// firmware wants. `body` non-empty makes it a POST, urlencoded unless
// `content_type` says otherwise.
WebReply WebRequest(const ActionOptions& o, const std::string& ip, const std::string& path,
                    const std::string& body = "", std::string_view content_type = {}) {
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
  const std::chrono::milliseconds timeout = body.empty() ? o.http_timeout : o.http_write_timeout;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.api.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are threaded
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendCapped);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (!body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (!content_type.empty()) {
    headers.reset(curl_slist_append(nullptr, fmt::format("Content-Type: {}", content_type).c_str()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
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

// The miner's whole web config (get_miner_conf.cgi), or the answer saying
// why there is none.
std::variant<nlohmann::json, ActionOutcome> ReadMinerConf(const ActionOptions& o,
                                                          const std::string& ip) {
  const WebReply conf = WebRequest(o, ip, "/cgi-bin/get_miner_conf.cgi");
  if (conf.error != CURLE_OK || conf.http_status / 100 != 2) {
    return WebFailed("GET /cgi-bin/get_miner_conf.cgi", conf);
  }
  nlohmann::json current = nlohmann::json::parse(conf.body, nullptr, false);
  if (!current.is_object()) {
    return ActionOutcome{502,
                         ErrorBody("miner web UI failed", "get_miner_conf.cgi is not a JSON object"),
                         "web bad config"};
  }
  return current;
}

bool HasOnlyPool(const Record& r, const PoolChange& pool) {
  return r.status == MinerStatus::kOk && r.pools.size() == 1 && r.pools[0].url == pool.url &&
         r.pools[0].user == pool.user;
}

// A field of a miner's JSON answer when it has the expected type, else
// `fallback`: what a miner sends is never trusted to be well-typed.
template <typename T>
T FieldOr(const nlohmann::json& object, const char* key, T fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->get<bool>() : fallback;
  } else {
    return it->is_string() ? it->get<std::string>() : fallback;
  }
}

// 200 with `body` when the light's state read back (`check`, a JSON object
// whose boolean `key` is the light) is `on`; 502 otherwise.
ActionOutcome ConfirmLight(const WebReply& check, const char* key, bool on, nlohmann::json body) {
  const nlohmann::json state = nlohmann::json::parse(check.body, nullptr, false);
  if (check.error != CURLE_OK || check.http_status / 100 != 2 || FieldOr(state, key, !on) != on) {
    return {502,
            ErrorBody("the miner did not confirm its fault light",
                      fmt::format("read back '{}': {}", key, check.body.substr(0, 200))),
            "not confirmed"};
  }
  return {200, std::move(body), "ok"};
}

}  // namespace

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
  return AwaitRestart(ip, before, "the miner took the reboot but is not back yet", "rebooted",
                      "not back in time");
}

ActionOutcome MinerActions::ChangePoolByWeb(const std::string& ip, const PoolChange& pool) const {
  auto read = ReadMinerConf(options_, ip);
  if (auto* failed = std::get_if<ActionOutcome>(&read)) return *failed;
  const nlohmann::json& current = std::get<nlohmann::json>(read);
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
    return Unconfirmed("the miner took the new config but does not show the pool yet",
                       "set_miner_conf.cgi answered " + std::to_string(set.http_status) +
                           "; the API did not list only " + pool.url + " within " +
                           std::to_string(options_.back_timeout.count() / 1000) + " s",
                       "not confirmed");
  }
  nlohmann::json body = {{"result", "pool replaced"}, {"via", "web"}, {"ip", ip}};
  body["pools"] = PoolsJson(*confirmed);
  return {200, std::move(body), "ok"};
}

ActionOutcome MinerActions::Locate(const std::string& ip, const std::string& worker,
                                   bool on) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  nlohmann::json body = {{"result", on ? "light on" : "light off"}, {"ip", ip}, {"worker", worker}};

  // X19 firmware reports the light's state; older firmware only has the page's actions.
  const WebReply status = WebRequest(options_, ip, "/cgi-bin/get_blink_status.cgi");
  if (status.error == CURLE_OK && status.http_status / 100 == 2) {
    const WebReply set = WebRequest(options_, ip, "/cgi-bin/blink.cgi",
                                    nlohmann::json{{"blink", on}}.dump(), kJson);
    if (set.error != CURLE_OK || set.http_status / 100 != 2) {
      return WebFailed("POST /cgi-bin/blink.cgi", set);
    }
    body["via"] = "blink.cgi json";
    return ConfirmLight(WebRequest(options_, ip, "/cgi-bin/get_blink_status.cgi"), "blink", on,
                        std::move(body));
  }
  if (status.error != CURLE_OK || status.http_status != 404) {
    return WebFailed("GET /cgi-bin/get_blink_status.cgi", status);
  }
  const WebReply set = WebRequest(options_, ip, "/cgi-bin/blink.cgi",
                                  on ? "action=startBlink" : "action=stopBlink");
  if (set.error == CURLE_OK && set.http_status == 404) {
    return {501,
            ErrorBody("this miner's firmware has no fault light control",
                      "it has neither get_blink_status.cgi nor blink.cgi; find it by its "
                      "address instead"),
            "not supported"};
  }
  if (set.error != CURLE_OK || set.http_status / 100 != 2) {
    return WebFailed("POST /cgi-bin/blink.cgi", set);
  }
  body["via"] = "blink.cgi form";
  return ConfirmLight(WebRequest(options_, ip, "/cgi-bin/blink.cgi", "action=onPageLoaded"),
                      "isBlinking", on, std::move(body));
}

ActionOutcome MinerActions::SetSleep(const std::string& ip, const std::string& worker,
                                     bool sleep) const {
  auto identified = Identify(ip, worker);
  if (auto* failed = std::get_if<ActionOutcome>(&identified)) return *failed;
  auto read = ReadMinerConf(options_, ip);
  if (auto* failed = std::get_if<ActionOutcome>(&read)) return *failed;
  const nlohmann::json& current = std::get<nlohmann::json>(read);
  if (!current.contains("bitmain-work-mode")) {
    return {501,
            ErrorBody("this miner's firmware has no sleep mode",
                      "its configuration has no bitmain-work-mode (stock S9 and L3+ firmware "
                      "cannot stop hashing without stopping the miner)"),
            "not supported"};
  }
  // X19's form replaces the whole config: carry what we do not change.
  auto carried = [&](const char* key, nlohmann::json fallback) {
    auto it = current.find(key);
    return it != current.end() ? *it : fallback;
  };
  nlohmann::json form = {{"bitmain-fan-ctrl", carried("bitmain-fan-ctrl", false)},
                         {"bitmain-fan-pwm", carried("bitmain-fan-pwm", "100")},
                         {"freq-level", carried("bitmain-freq-level", "100")},
                         {"miner-mode", sleep ? 1 : 0}};
  if (auto pools = current.find("pools"); pools != current.end()) form["pools"] = *pools;
  const WebReply set = WebRequest(options_, ip, "/cgi-bin/set_miner_conf.cgi", form.dump(), kJson);
  if (set.error != CURLE_OK || set.http_status / 100 != 2) {
    return WebFailed("POST /cgi-bin/set_miner_conf.cgi", set);
  }
  const std::string want = sleep ? "1" : "0";
  std::optional<Record> last;
  const bool confirmed = Until([&] {
    const WebReply now = WebRequest(options_, ip, "/cgi-bin/get_miner_conf.cgi");
    const nlohmann::json c = nlohmann::json::parse(now.body, nullptr, false);
    if (now.error != CURLE_OK || now.http_status / 100 != 2 || !c.is_object() ||
        FieldOr(c, "bitmain-work-mode", std::string()) != want) {
      return false;
    }
    last = Poll(ip);
    if (last->status != MinerStatus::kOk) return false;
    return !sleep || !last->hashrate || *last->hashrate <= 0;
  });
  if (!confirmed) {
    return Unconfirmed(sleep ? "the miner took the sleep command but is still hashing"
                             : "the miner took the wake command but does not show it yet",
                       fmt::format("no work mode {} with the API answering{} within {} s", want,
                                   sleep ? " and no hashrate" : "",
                                   options_.back_timeout.count() / 1000),
                       "not confirmed");
  }
  nlohmann::json body = {{"result", sleep ? "sleeping" : "awake"}, {"ip", ip}, {"worker", worker}};
  body["record"] = RecordToJson(*last);
  return {200, std::move(body), "ok"};
}

}  // namespace asicmon::control
