#include "miner_web.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string>

#include "asicmon/log.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kRebootPath = "/cgi-bin/reboot.cgi";
constexpr std::string_view kGetConfPath = "/cgi-bin/get_miner_conf.cgi";
constexpr std::string_view kSetConfPath = "/cgi-bin/set_miner_conf.cgi";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded";
// The firmware's form has three pool slots.
constexpr int kPoolSlots = 3;

constexpr std::string_view kRebootPage =
    "<html><head><title>Reboot</title></head><body>Rebooting, please wait...</body></html>\n";

// The value of the last field called `name`, as the firmware's CGI reads a form.
std::string_view FormValue(const std::vector<std::pair<std::string, std::string>>& form,
                           std::string_view name) {
  for (auto it = form.rbegin(); it != form.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return {};
}

std::string JoinPools(const std::vector<PoolConfig>& pools) {
  std::string joined;
  for (const PoolConfig& p : pools) {
    fmt::format_to(std::back_inserter(joined), "{}{},{},{}", joined.empty() ? "" : ";", p.url,
                   p.user, p.pass);
  }
  return joined;
}

void GetMinerConf(const FakeMiner& miner, fmt::memory_buffer& out) {
  // Keys in stock S9 firmware's order, hence ordered_json.
  nlohmann::ordered_json conf;
  nlohmann::ordered_json pools = nlohmann::ordered_json::array();
  for (const PoolConfig& p : miner.PoolsByPriority()) {
    if (pools.size() == kPoolSlots) break;
    pools.push_back({{"url", p.url}, {"user", p.user}, {"pass", p.pass}});
  }
  conf["pools"] = std::move(pools);
  conf["api-listen"] = true;
  conf["api-network"] = true;
  conf["api-groups"] = "A:stats:pools:devs:summary:version";
  conf["api-allow"] = "A:0/0,W:*";
  conf["bitmain-use-vil"] = true;
  conf["bitmain-freq"] = "550";
  conf["bitmain-voltage"] = "0706";
  conf["bitmain-fan-ctrl"] = false;
  conf["bitmain-fan-pwm"] = "100";
  AppendHttpResponse(out, 200, "application/json", conf.dump());
}

void SetMinerConf(const HttpRequest& request, FakeMiner& miner, double now,
                  fmt::memory_buffer& out, std::vector<PrivilegedAction>& actions) {
  const std::string_view type = request.Header("Content-Type").value_or("");
  const auto form = ParseForm(request.body);
  if (type.substr(0, type.find(';')) != kFormType || !form) {
    AppendHttpError(out, 400);
    return;
  }
  std::vector<PoolConfig> pools;
  std::string invalid;
  for (int slot = 1; slot <= kPoolSlots; ++slot) {
    PoolConfig pool{std::string(FormValue(*form, fmt::format("_ant_pool{}url", slot))),
                    std::string(FormValue(*form, fmt::format("_ant_pool{}user", slot))),
                    std::string(FormValue(*form, fmt::format("_ant_pool{}pw", slot)))};
    if (pool.url.empty()) continue;
    if (!IsStratumUrl(pool.url) && invalid.empty()) {
      invalid = fmt::format("pool {} url '{}' is not stratum+tcp://host:port", slot,
                            SafeForLog(pool.url));
    }
    pools.push_back(std::move(pool));
  }
  if (pools.empty()) invalid = "no pool has a url";
  // Stock firmware's CGI writes whatever it is given and answers the same;
  // here a bad configuration is not applied, so the miner keeps mining, and
  // the action log says "error".
  if (invalid.empty()) {
    miner.Reconfigure(pools, now);
  } else {
    spdlog::warn("set_miner_conf.cgi refused: {}", invalid);
  }
  actions.push_back({"set_miner_conf", JoinPools(pools),
                     invalid.empty() ? ActionResult::kOk : ActionResult::kError});
  AppendHttpResponse(out, 200, "text/html", "ok");
}

}  // namespace

void AppendHttpError(fmt::memory_buffer& out, int status, std::string_view extra_headers) {
  const std::string body =
      fmt::format("<html><head><title>{0} {1}</title></head><body><h1>{0} {1}</h1></body></html>\n",
                  status, ReasonPhrase(status));
  AppendHttpResponse(out, status, "text/html", body, extra_headers);
}

bool IsStratumUrl(std::string_view url) {
  constexpr std::string_view kScheme = "stratum+tcp://";
  if (!url.starts_with(kScheme)) return false;
  url.remove_prefix(kScheme.size());
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = url.substr(0, colon);
  const std::string_view port = url.substr(colon + 1);
  const bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
  });
  int number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  return host_ok && !port.empty() && port.size() <= 5 && ec == std::errc() &&
         end == port.data() + port.size() && number >= 1 && number <= 65535;
}

WebEffect HandleWebRequest(const HttpRequest& request, const DigestAuth& auth, FakeMiner& miner,
                           double now, fmt::memory_buffer& out,
                           std::vector<PrivilegedAction>& actions) {
  std::string_view allowed;
  if (request.path == kRebootPath || request.path == kGetConfPath) {
    allowed = "GET";
  } else if (request.path == kSetConfPath) {
    allowed = "POST";
  } else {
    AppendHttpError(out, 404);
    return WebEffect::kNone;
  }
  if (request.method != allowed) {
    AppendHttpError(out, 405, fmt::format("Allow: {}\r\n", allowed));
    return WebEffect::kNone;
  }
  const DigestAuth::Verdict verdict =
      auth.Check(request.method, request.target, request.Header("Authorization"));
  if (verdict != DigestAuth::Verdict::kOk) {
    AppendHttpError(out, 401,
                    fmt::format("WWW-Authenticate: {}\r\n",
                                auth.Challenge(verdict == DigestAuth::Verdict::kStale)));
    return WebEffect::kNone;
  }
  if (request.path == kRebootPath) {
    actions.push_back({"reboot", "", ActionResult::kOk});
    AppendHttpResponse(out, 200, "text/html", kRebootPage);
    return WebEffect::kReboot;
  }
  if (request.path == kGetConfPath) {
    GetMinerConf(miner, out);
  } else {
    SetMinerConf(request, miner, now, out, actions);
  }
  return WebEffect::kNone;
}

}  // namespace asicmon::fakefarm
