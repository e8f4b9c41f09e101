// The drivers, one per family, each defined in its own file; AllDrivers()
// in driver.cpp lists them.
#pragma once

#include "asicmon/driver.h"

namespace asicmon::driver {

const MinerDriver& AntminerDriver();  // antminer.cpp: stock Bitmain firmware
const MinerDriver& WhatsminerDriver();  // whatsminer.cpp: btminer API v2
const MinerDriver& Whatsminer3Driver();  // whatsminer3.cpp: Whatsminer API v3

}  // namespace asicmon::driver
