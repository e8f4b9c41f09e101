// Raw miner replies -> the normalised Record, per firmware family.
// Family facts are data (a table of models: algorithm, unit of the "GHS"
// labels, boards, chips per board; families/models.cpp), not a class tree; a
// model not in the table gets its family's defaults. What only one firmware
// family reports is read by that family's normaliser (families/, found through
// families/registry.cpp).
//
// Thread-safety: pure functions over immutable tables.
#pragma once

#include <string_view>

#include <simdjson.h>

#include "asicmon/record.h"

namespace asicmon {

// What the model table knows of one model.
struct ModelInfo {
  std::string_view type_prefix;     // matched against the miner's "Type" (case-insensitive prefix)
  std::string_view algorithm;       // "sha256d", "scrypt", "x11", ...
  double ghs_label_unit = 1e9;      // H/s per unit of values labelled "GHS" (L3+: MH/s, so 1e6)
  int boards = 0;                   // hash boards a healthy unit has (0: unknown)
  int chips_per_board = 0;          // chips per healthy board (0: unknown)
};

// The model table entry for a "Type" string, nullptr when unknown.
const ModelInfo* FindModel(std::string_view type);

// Fills `record`'s identity and measurement fields (model, firmware,
// firmware_build, algorithm, worker, hashrates, uptime, shares, temperatures,
// fans, boards, pools, power) and `sleeping` (S17 family stats "Mode" 254,
// Whatsminer status "btmineroff") from `reply`, which is either a multi-command
// reply ({"summary":[...],"stats":[...],"pools":[...]}) or a single-command
// reply (it carries its own STATUS). Envelope fields, ip, port, ts and poll_ms
// are left alone. Sets status: ok when any part carried usable data, else
// api_error or auth_error with the miner's message; partial failures are
// described in `error` while status stays ok. Never throws, whatever the JSON.
void NormaliseReply(simdjson::dom::element reply, Record& record);

// What every record gets from its other fields once a family has read it:
// efficiency_j_per_th from power_w and hashrate (awake, both reported).
void CompleteRecord(Record& record);

// Moves what a reply says (the kReply fields) from `from` into `to`; the
// caller's envelope, address and poll time in `to` stay.
void MoveReplyFields(Record& from, Record& to);

// Repairs, parses and normalises the bytes of a reply (with a parser kept per
// thread); a reply that cannot be parsed sets status parse_error and says why.
void NormaliseRawReply(std::string_view raw, Record& record);

}  // namespace asicmon
