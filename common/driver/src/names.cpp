// The driver vocabulary's names, apart from the drivers so request parsers
// (and their fuzzers) use them without the drivers' transports.
#include "asicmon/driver.h"

namespace asicmon::driver {

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kReset: return "reset";
    case Action::kReboot: return "reboot";
    case Action::kPools: return "pool";
    case Action::kLocate: return "locate";
    case Action::kSleep: return "sleep";
    case Action::kWake: return "wake";
    case Action::kPowerMode: return "power_mode";
    case Action::kPowerLimit: return "power_limit";
  }
  return "?";
}

std::string_view ToString(PowerMode mode) {
  switch (mode) {
    case PowerMode::kLow: return "low";
    case PowerMode::kNormal: return "normal";
    case PowerMode::kHigh: return "high";
  }
  return "?";
}

std::optional<PowerMode> ParsePowerMode(std::string_view text) {
  for (PowerMode mode : {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh}) {
    if (text == ToString(mode)) return mode;
  }
  return std::nullopt;
}

std::string_view ToString(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "ok";
    case Failure::kUnsupported: return "not supported";
    case Failure::kCredentials: return "credentials refused";
    case Failure::kConflict: return "conflict";
    case Failure::kRefused: return "refused";
    case Failure::kUnreachable: return "unreachable";
    case Failure::kTimeout: return "timeout";
    case Failure::kBadReply: return "bad reply";
  }
  return "?";
}

std::vector<std::string> Capabilities::Names() const {
  std::vector<std::string> names;
  for (Action action : kAllActions) {
    if (Supports(action)) names.emplace_back(ToString(action));
  }
  return names;
}

}  // namespace asicmon::driver
