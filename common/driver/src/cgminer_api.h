// What drivers of cgminer-style APIs share (stock Bitmain, LuxOS, Avalon):
// a command's failure as an Outcome, restart, and a pool list set through the
// API's addpool / switchpool / removepool.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "asicmon/driver.h"

namespace asicmon::driver {

// The Outcome of a command that did not answer kOk, named `step`.
Outcome ApiFailed(std::string step, const CommandResult& r);

// cgminer's restart of the mining software. Stock cgminer answers it with no
// STATUS block, or goes down before answering: any answer but an explicit
// error is taken; a read-only API (access denied) is kConflict.
Outcome RestartByApi(const Context& ctx);

// Makes the miner's pools `pools` (1..kMaxPools) in that order, by index and
// by priority: adds the first (unless listed already), switches to it and
// removes every other, then adds the rest, re-reading the list through a
// poll of `family` after each change, since cgminer moves its last pool into
// a removed one's place. Nothing is sent when the list is already `pools`.
// kConflict when the API is read-only (addpool denied); a field with a comma
// (the parameter's separator) is refused with nothing sent.
Outcome SetPoolsByApi(const Context& ctx, std::string_view family,
                      std::span<const PoolSetting> pools);

}  // namespace asicmon::driver
