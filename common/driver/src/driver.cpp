// What every driver shares: the kUnsupported defaults, and the registry of
// drivers by family.
#include "asicmon/driver.h"

#include "drivers.h"

namespace asicmon::driver {

Outcome MinerDriver::Unsupported(const Context& ctx, Action action) const {
  const Capabilities caps = Describe(ctx.record);
  const auto why = caps.unsupported.find(action);
  return Outcome::Fail(Failure::kUnsupported, std::string(ToString(action)),
                       why != caps.unsupported.end()
                           ? why->second
                           : std::string(family()) + " firmware has no " +
                                 std::string(ToString(action)) + " command");
}

Outcome MinerDriver::Restart(const Context& ctx) const { return Unsupported(ctx, Action::kReset); }
Outcome MinerDriver::Reboot(const Context& ctx) const { return Unsupported(ctx, Action::kReboot); }
Outcome MinerDriver::SetPools(const Context& ctx, std::span<const PoolSetting>) const {
  return Unsupported(ctx, Action::kPools);
}
Outcome MinerDriver::Locate(const Context& ctx, bool) const {
  return Unsupported(ctx, Action::kLocate);
}
Outcome MinerDriver::Sleep(const Context& ctx, bool sleep) const {
  return Unsupported(ctx, sleep ? Action::kSleep : Action::kWake);
}
Outcome MinerDriver::SetPowerMode(const Context& ctx, PowerMode) const {
  return Unsupported(ctx, Action::kPowerMode);
}
Outcome MinerDriver::SetPowerLimit(const Context& ctx, int) const {
  return Unsupported(ctx, Action::kPowerLimit);
}
Result<Settings> MinerDriver::ReadSettings(const Context&) const { return Settings{}; }

Outcome ExchangeFailed(std::string step, const ExchangeResult& exchange) {
  const Failure failure = exchange.status == MinerStatus::kTimeout    ? Failure::kTimeout
                          : exchange.status == MinerStatus::kTooLarge ? Failure::kBadReply
                                                                      : Failure::kUnreachable;
  return Outcome::Fail(failure, std::move(step),
                       std::string(ToString(exchange.status)) + ": " + exchange.error);
}

std::span<const MinerDriver* const> AllDrivers() {
  // One entry per family asicmon can act on; each driver file defines its own.
  static const MinerDriver* const kDrivers[] = {&AntminerDriver(), &BraiinsDriver(),
                                                 &WhatsminerDriver(), &Whatsminer3Driver(),
                                                 &LuxosDriver(), &AvalonDriver(),
                                                 &VnishDriver()};
  return kDrivers;
}

const MinerDriver* FindDriver(std::string_view family) {
  for (const MinerDriver* driver : AllDrivers()) {
    if (driver->family() == family) return driver;
  }
  return nullptr;
}

}  // namespace asicmon::driver
