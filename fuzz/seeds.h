// Seeds for the bus_message target, made from the sample records rather than
// kept as binary files: one encoding of each message kind the bus carries.
//
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace asicmon::fuzz {

// (file name, msgpack bytes) pairs.
std::vector<std::pair<std::string, std::string>> BusMessageSeeds();

}  // namespace asicmon::fuzz
