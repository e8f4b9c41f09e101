#include "cgminer_api.h"

#include <algorithm>

#include "asicmon/poller.h"

namespace asicmon::driver {

Outcome ApiFailed(std::string step, const CommandResult& r) {
  const Failure failure = r.status == MinerStatus::kTimeout      ? Failure::kTimeout
                          : r.status == MinerStatus::kAuthError  ? Failure::kCredentials
                          : r.status == MinerStatus::kApiError   ? Failure::kRefused
                          : r.status == MinerStatus::kParseError ? Failure::kBadReply
                                                                 : Failure::kUnreachable;
  return Outcome::Fail(failure, std::move(step), std::string(ToString(r.status)) + ": " + r.error);
}

Outcome RestartByApi(const Context& ctx) {
  const CommandResult r =
      RunCommand({ctx.ip, ctx.options.api_port}, "restart", "", ctx.options.api);
  if (r.status == MinerStatus::kAuthError) {
    return Outcome::Fail(Failure::kConflict, "restart",
                         "the miner's API is read-only: it refused 'restart' (" + r.error +
                             "); stock firmware ships that way: use POST .../reboot instead");
  }
  // Stock cgminer answers restart with no STATUS block: 4.x sends
  // {"RESTART","id":1} and a NUL (not even JSON), other builds
  // {"STATUS":"RESTART"}; and it may go down before or while answering. So
  // any answer but an explicit error STATUS (E or F) means it took it.
  const bool answered = r.status == MinerStatus::kOk || r.status == MinerStatus::kParseError ||
                        r.status == MinerStatus::kReset || r.status == MinerStatus::kApiError;
  if (!answered) return ApiFailed("restart", r);
  if (r.status == MinerStatus::kApiError && (r.status_letter == "E" || r.status_letter == "F")) {
    return Outcome::Fail(Failure::kRefused, "restart", r.error);
  }
  return Outcome::Done("api restart");
}

namespace {

bool Same(const PoolInfo& have, const PoolSetting& want) {
  return have.url == want.url && have.user == want.user;
}

bool Matches(const std::vector<PoolInfo>& have, std::span<const PoolSetting> want) {
  if (have.size() != want.size()) return false;
  std::vector<const PoolInfo*> by_index;
  for (const PoolInfo& p : have) by_index.push_back(&p);
  std::sort(by_index.begin(), by_index.end(),
            [](const PoolInfo* a, const PoolInfo* b) { return a->index < b->index; });
  for (size_t i = 0; i < want.size(); ++i) {
    if (!Same(*by_index[i], want[i])) return false;
    if (by_index[i]->priority && *by_index[i]->priority != static_cast<int32_t>(i)) return false;
  }
  return true;
}

}  // namespace

Outcome SetPoolsByApi(const Context& ctx, std::string_view family,
                      std::span<const PoolSetting> pools) {
  if (pools.empty() || pools.size() > kMaxPools) {
    return Outcome::Fail(Failure::kRefused, "pools", "between 1 and 3 pools");
  }
  for (const PoolSetting& p : pools) {
    if (p.url.find(',') != std::string::npos || p.user.find(',') != std::string::npos ||
        p.password.find(',') != std::string::npos) {
      return Outcome::Fail(Failure::kRefused, "addpool",
                           "a pool's url, user or password holds a comma, which the API "
                           "takes as its parameter separator");
    }
  }
  const MinerEndpoint endpoint{ctx.ip, ctx.options.api_port};
  auto command = [&](std::string_view name, const std::string& parameter) {
    return RunCommand(endpoint, name, parameter, ctx.options.api);
  };
  auto add = [&](const PoolSetting& pool) -> Outcome {
    const CommandResult added =
        command("addpool", pool.url + "," + pool.user + "," + pool.password);
    if (added.status == MinerStatus::kAuthError) {
      return Outcome::Fail(Failure::kConflict, "addpool", "the miner's API is read-only");
    }
    if (added.status != MinerStatus::kOk) return ApiFailed("addpool", added);
    return Outcome::Done("api");
  };
  bool first_added = false;
  // Each pass makes one change: 3 pools on a miner with a few others settle
  // well within this bound.
  for (int step = 0; step < 24; ++step) {
    const Record r = PollOnce(endpoint, family, ctx.options.api).record;
    if (r.status != MinerStatus::kOk) {
      return Outcome::Fail(
          r.status == MinerStatus::kTimeout ? Failure::kTimeout : Failure::kUnreachable, "pools",
          std::string(ToString(r.status)) + ": " + r.error);
    }
    if (Matches(r.pools, pools)) return Outcome::Done("api");
    std::vector<const PoolInfo*> by_index;
    for (const PoolInfo& p : r.pools) by_index.push_back(&p);
    std::sort(by_index.begin(), by_index.end(),
              [](const PoolInfo* a, const PoolInfo* b) { return a->index < b->index; });
    // The list so far is the first pools asked for, in use from the first:
    // add the next.
    size_t prefix = 0;
    while (prefix < by_index.size() && prefix < pools.size() &&
           by_index[prefix]->index == static_cast<int32_t>(prefix) &&
           Same(*by_index[prefix], pools[prefix])) {
      ++prefix;
    }
    if (prefix > 0 && prefix == by_index.size() && prefix < pools.size() && by_index[0]->active) {
      if (Outcome o = add(pools[prefix]); !o.ok()) return o;
      continue;
    }
    // Otherwise start over from the first pool alone, in use.
    const auto first = std::find_if(r.pools.rbegin(), r.pools.rend(),
                                    [&](const PoolInfo& p) { return Same(p, pools[0]); });
    if (first == r.pools.rend()) {
      if (first_added) {
        return Outcome::Fail(Failure::kRefused, "pools",
                             "the added pool vanished: the miner no longer lists " + pools[0].url);
      }
      if (Outcome o = add(pools[0]); !o.ok()) return o;
      first_added = true;
      continue;
    }
    if (!first->active) {
      const CommandResult switched = command("switchpool", std::to_string(first->index));
      if (switched.status != MinerStatus::kOk) return ApiFailed("switchpool", switched);
      continue;
    }
    const PoolInfo* other = nullptr;
    for (const PoolInfo& p : r.pools) {
      if (p.index != first->index && (!other || p.index > other->index)) other = &p;
    }
    if (other == nullptr) break;  // the first alone, yet no prefix: not cgminer's numbering
    const CommandResult removed = command("removepool", std::to_string(other->index));
    if (removed.status != MinerStatus::kOk) return ApiFailed("removepool", removed);
  }
  return Outcome::Fail(Failure::kRefused, "pools",
                       "the miner's pool list did not settle on the one asked for");
}

}  // namespace asicmon::driver
