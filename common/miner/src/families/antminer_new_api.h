// Bitmain's new API layout, as stock firmware of 2022 on answers
// {"command":"stats","new_api":true} (and its web CGIs stats.cgi and
// summary.cgi): STATUS one object, INFO {type, miner_version, CompileTime},
// STATS[0] {rate_5s, rate_avg, rate_ideal, rate_unit, elapsed, fan[], fan_num,
// watt or power, chain[{index, rate_real, rate_ideal, asic_num, asic,
// temp_pcb[], temp_chip[], freq_avg, hw, sn}]}, SUMMARY[0].status[] (the
// firmware's own checks). Read by the antminer family (antminer.cpp); the
// rates and uptime, which every layout names alike, by normalise.cpp.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "family.h"

namespace asicmon {

// True when INFO names an Antminer ("Antminer S21", "Antminer S23 Hyd.").
bool IsAntminerInfo(const Sections& s);

// Chips in `state` ('o' working, 'x' failed) of a chip status string
// (" oooooooo ooo", classic chain_acsN and new "asic" alike).
std::optional<int32_t> ChipsIn(std::string_view chips, char state);

// One board per chain[] entry, numbered by its "index".
void NewApiChains(simdjson::dom::element stats, double ghs_unit, Boards& boards);
std::vector<int32_t> NewApiFans(simdjson::dom::element stats);  // fan[], up to fan_num

std::string NewApiModel(const Sections& s, const Identity&);  // INFO "type"
std::string NewApiBuild(const Sections& s);  // "miner_version (CompileTime)", as VERSION's

// Power (STATS[0] "watt" or "power") and the firmware's failed checks
// (SUMMARY[0].status[] entries whose status is "e" or "w").
void NewApiExtras(const Sections& s, Record& out);

}  // namespace asicmon
