// The privileged commands of the cgminer API (restart and the pool
// commands), with the messages and codes of cgminer's api.c.
#include <algorithm>
#include <cstdint>
#include <string>

#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

// A cap on pools a miner keeps, so a loop of addpool cannot grow it without end.
constexpr int kMaxPools = 32;
// cgminer reads pool ids with atoi(): leading blanks, a sign, digits, and 0
// for anything else.
int Atoi(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  int64_t value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    value = std::min<int64_t>(value * 10 + (s[i] - '0'), 1LL << 31);
  }
  return static_cast<int>(negative ? -value : std::min<int64_t>(value, INT32_MAX));
}

}  // namespace

void FakeMiner::Privileged(ReplyWriter& w, std::string_view command, const std::string* parameter,
                           std::vector<PrivilegedAction>* actions) {
  ActionResult result;
  if (spec_.deny_privileged) {
    WriteDenied(w, command);
    result = ActionResult::kDenied;
  } else {
    result = RunPrivileged(w, command, parameter);
  }
  if (actions) {
    actions->push_back({std::string(command), parameter ? *parameter : "", result});
  }
}

ActionResult FakeMiner::RunPrivileged(ReplyWriter& w, std::string_view command,
                                      const std::string* parameter) {
  // Each outcome is cgminer's message for it (api.c codes[]).
  char severity = 'S';
  int code = 0;
  ActionResult result = ActionResult::kOk;
  scratch_.clear();
  auto msg = [&]<typename... Args>(char sev, int c, fmt::format_string<Args...> text,
                                   Args&&... args) {
    severity = sev;
    code = c;
    fmt::format_to(fmt::appender(scratch_), text, std::forward<Args>(args)...);
    if (sev == 'E') result = ActionResult::kError;
  };
  const int total = static_cast<int>(pools_.size());
  const bool missing = parameter == nullptr || parameter->empty();
  const int id = missing ? -1 : Atoi(*parameter);
  const bool pool_command = command != "restart" && command != "addpool";

  SettleShares();
  if (pool_command && missing) {
    msg('E', 25, "Missing pool id parameter");
  } else if (pool_command && (id < 0 || id >= total)) {
    msg('E', 26, "Invalid pool id {} - range is 0 - {}", id, total - 1);
  } else if (command == "removepool" && total <= 1) {
    msg('E', 66, "Cannot remove last pool {}:'{}'", id, pools_[id].url);
  } else if (command == "restart") {
    // Stock firmware answers with no STATUS block (see RestartReply): a
    // client that wants one sees a failure; only the uptime tells.
    Restart(now_);
    w.Open('{');
    if (spec_.restart_reply == RestartReply::kCgminer) {
      w.Str("RESTART");
      w.Int("id", 1);
    } else {
      w.Str("STATUS", "RESTART");
    }
    w.Close('}');
    return result;
  } else if (command == "addpool") {
    std::string_view p = missing ? std::string_view() : std::string_view(*parameter);
    size_t c1 = p.find(',');
    size_t c2 = c1 == std::string_view::npos ? c1 : p.find(',', c1 + 1);
    if (missing) {
      msg('E', 52, "Missing addpool details");
    } else if (c2 == std::string_view::npos || c1 == 0) {
      msg('E', 53, "Invalid addpool details '{}'", p);
    } else if (total >= kMaxPools) {
      msg('E', 54, "Reached maximum number of pools ({})", kMaxPools);
    } else {
      pools_.push_back(Pool{std::string(p.substr(0, c1)),
                            std::string(p.substr(c1 + 1, c2 - c1 - 1)),
                            std::string(p.substr(c2 + 1)), total, true, 0});
      msg('S', 55, "Added pool {}: '{}'", total, pools_.back().url);
    }
  } else if (command == "switchpool") {
    Pool& pool = pools_[id];
    pool.enabled = true;
    for (Pool& other : pools_) {
      if (other.priority < pool.priority) ++other.priority;
    }
    pool.priority = 0;
    msg('S', 27, "Switching to pool {}:'{}'", id, pool.url);
  } else if (command == "removepool") {
    if (id == ActivePool()) {
      msg('E', 67, "Cannot remove active pool {}:'{}'", id, pools_[id].url);
    } else {
      msg('S', 68, "Removed pool {}:'{}'", id, pools_[id].url);
      for (Pool& other : pools_) {
        if (other.priority > pools_[id].priority) --other.priority;
      }
      // cgminer moves the last pool into the hole, so ids stay dense.
      if (id != total - 1) pools_[id] = std::move(pools_.back());
      pools_.pop_back();
    }
  } else if (command == "enablepool") {
    Pool& pool = pools_[id];
    if (pool.enabled) {
      msg('I', 49, "Pool {}:'{}' already enabled", id, pool.url);
    } else {
      pool.enabled = true;
      msg('S', 47, "Enabling pool {}:'{}'", id, pool.url);
    }
  } else {  // disablepool
    Pool& pool = pools_[id];
    const auto enabled =
        std::count_if(pools_.begin(), pools_.end(), [](const Pool& p) { return p.enabled; });
    if (!pool.enabled) {
      msg('I', 50, "Pool {}:'{}' already disabled", id, pool.url);
    } else if (enabled <= 1) {
      msg('E', 51, "Cannot disable last active pool {}:'{}'", id, pool.url);
    } else {
      pool.enabled = false;
      msg('S', 48, "Disabling pool {}:'{}'", id, pool.url);
    }
  }
  // The reply and every later request see the new state.
  snap_valid_ = false;
  WriteStatusReply(w, severity, code, std::string_view(scratch_.data(), scratch_.size()));
  return result;
}

}  // namespace asicmon::fakefarm
