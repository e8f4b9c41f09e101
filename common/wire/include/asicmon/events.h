// What travels on topic "event" besides records: the words of its control
// events that more than one stage reads.
#pragma once

#include <string_view>

namespace asicmon {

// The result control gives a sleep or wake it is about to carry out.
inline constexpr std::string_view kControlPending = "pending";
// The result of a command the gate refused because another one holds the miner.
inline constexpr std::string_view kControlBusy = "busy";

}  // namespace asicmon
