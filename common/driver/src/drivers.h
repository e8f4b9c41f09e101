// The drivers, one per family, each defined in its own file; AllDrivers()
// in driver.cpp lists them.
#pragma once

#include "asicmon/driver.h"

namespace asicmon::driver {

const MinerDriver& AntminerDriver();  // antminer.cpp: stock Bitmain firmware
const MinerDriver& BraiinsDriver();   // braiins.cpp: Braiins OS's public gRPC API
const MinerDriver& LuxosDriver();     // luxos.cpp: LuxOS (LUXminer)
const MinerDriver& AvalonDriver();    // avalon.cpp: Canaan AvalonMiner stock firmware

}  // namespace asicmon::driver
