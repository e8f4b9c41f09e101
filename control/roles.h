// What a caller's key lets it do (issue 21's table): viewers read;
// operators also locate, reset, reboot, sleep and wake (one miner or a bulk
// job of those) and cancel jobs; admins also change pools, power and
// curtailment, and manage keys.
#pragma once

#include <optional>
#include <string_view>

namespace asicmon::control {

// Ordered: each role may do what the ones below it may.
enum class Role { kViewer, kOperator, kAdmin };
std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

}  // namespace asicmon::control
