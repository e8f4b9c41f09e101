// The drivers, one per family, each defined in its own file; AllDrivers()
// in driver.cpp lists them.
#pragma once

#include "asicmon/driver.h"

namespace asicmon::driver {

// The Outcome of an API exchange that ended without a whole reply (timeout,
// refused, reset, too large), naming `step` (driver.cpp).
Outcome ExchangeFailed(std::string step, const ExchangeResult& exchange);

const MinerDriver& AntminerDriver();  // antminer.cpp: stock Bitmain firmware
const MinerDriver& BraiinsDriver();   // braiins.cpp: Braiins OS's public gRPC API
const MinerDriver& WhatsminerDriver();  // whatsminer.cpp: btminer API v2
const MinerDriver& Whatsminer3Driver();  // whatsminer3.cpp: Whatsminer API v3
// What a Whatsminer can do through either API (whatsminer.cpp): the same
// three modes and a limit on v2 and v3.
Capabilities WhatsminerCapabilities();
const MinerDriver& LuxosDriver();     // luxos.cpp: LuxOS (LUXminer)
const MinerDriver& AvalonDriver();    // avalon.cpp: Canaan AvalonMiner stock firmware
const MinerDriver& VnishDriver();     // vnish.cpp: Vnish's HTTP API (/api/v1)

}  // namespace asicmon::driver
