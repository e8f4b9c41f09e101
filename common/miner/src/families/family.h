// A firmware family: how to recognise its replies, what a poll asks it, and
// how to read what only it reports. Normalisation (normalise.cpp) reads what
// every cgminer-alike reports the same way (summary rates, shares, pools,
// DEVS) and calls each recognised family, in registry order, for the rest.
// A new family is a new file here and its line in registry.cpp.
//
// Thread-safety: families are immutable tables of pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/protocol.h"
#include "asicmon/record.h"
#include "json_read.h"
#include "normalise.h"

namespace asicmon {

// What the record is made from, whichever command carried it.
struct Sections {
  Node version;                           // VERSION[0]
  Node summary;                           // SUMMARY[0]
  Node stats;                             // STATS
  Node pools;                             // POOLS
  Node devs;                              // DEVS (devs and edevs)
  Node fans;                              // FANS (Braiins OS)
  Node temps;                             // TEMPS (Braiins OS)
  Node devdetails;                        // DEVDETAILS
  Node tunerstatus;                       // TUNERSTATUS (Braiins OS+ tuner: power)
  Node power;                             // POWER (LuxOS "power": Watts)
  Node config;                            // CONFIG[0] (LuxOS "config": identity, curtailment)
  Node status_msg;                        // Whatsminer "status": its Msg is an object of facts
  // Every Msg that is an object, in reply order: Whatsminer's status,
  // get_version, get_miner_info, get_psu and get_error_code each answer one.
  std::vector<simdjson::dom::element> msgs;
  std::vector<std::string> descriptions;  // "cgminer 4.9.2", "btminer", ...
  // The STATS entry that carries a cgminer-alike's figures ("GHS 5s",
  // chain_acnN), as Antminers write it.
  Node miner_stats;
  // Bitmain's new API layout (request with "new_api":true, and its web CGIs):
  // STATS[0] with "chain":[{index, rate_real, temp_chip[], asic, ...}], fan[],
  // rate_unit, watt; and INFO {type, miner_version, CompileTime}.
  Node chain_stats;
  Node info;
  // Canaan's per-module "MM ID<n>" strings of key[value] pairs, gathered once
  // from STATS (see CanaanModules).
  std::vector<std::string_view> modules;
};

// Miner software, as a VERSION key or the first word of a STATUS Description.
struct Software {
  std::string_view key;   // "bmminer"
  std::string_view name;  // "BMMiner", as the record's firmware names it
};

// Who the miner says it is, before any family names it.
struct Identity {
  std::string model;
  std::string firmware;
  std::string firmware_build;
  bool braiins_plus = false;
};

using Boards = std::map<int32_t, BoardStats>;  // by the miner's board index

// One reply of a poll, parsed: the step that asked and its document.
struct PolledDocument {
  std::string_view step;  // PollStep::name
  simdjson::dom::element doc;
};

struct Family {
  std::string_view name;  // Record::family and PollJob::family
  // What a poll of this family asks, in order. Empty: the one kPollCommand
  // exchange on the target's port, as a poll of a not yet fingerprinted
  // miner makes (every cgminer-alike answers it).
  std::span<const PollStep> poll;
  std::span<const Software> software;  // the miner software that names this family
  // True when the reply carries this family's data (read from the version
  // and stats sections, with the identity the software gave); the hooks
  // below run only then. Null hooks: the family reports nothing of that kind.
  bool (*recognise)(const Sections&, const Identity&);
  std::string (*build)(const Sections&);  // the build, when VERSION names none
  // The model of a reply with no "Type"; empty when the family cannot say.
  std::string (*model)(const Sections&, const Identity&);
  // Boards from the family's own per-board STATS entries (they always add
  // boards); returns the power the boards add up to, when each reports it.
  std::optional<double> (*stats_boards)(const Sections&, double ghs_unit, Boards&);
  // Boards from lists that may number them apart from STATS: they only add
  // boards when `may_add` (STATS gave none).
  void (*listed_boards)(const Sections&, bool may_add, Boards&);
  std::optional<double> (*chip_temp)(const Sections&);  // hottest chip beyond the boards
  std::vector<int32_t> (*fans)(const Sections&);        // rpm; empty when none reported
  void (*state)(const Sections&, Record&);              // asleep, and what that implies
  // Identity (mac, serial, hostname), power and the firmware's own errors,
  // where only this family reports them; runs after the measurements.
  void (*extras)(const Sections&, Record&);
  // Families whose replies are not cgminer-alike (HTTP JSON, Whatsminer API
  // v3): reads the whole record from the poll's documents instead of the
  // hooks above (which are then null), including status and error. Such a
  // family recognises nothing in a cgminer reply.
  void (*read_documents)(std::span<const PolledDocument>, Record&);
  // Identity the API does not carry, on the miner's web interface: the path
  // a fingerprint GETs there (Digest auth, PollerOptions::web) once the
  // family is known, "" for none; `read_identity` fills mac, serial and
  // hostname from its JSON where the record has none yet.
  std::string_view identify = {};
  void (*read_identity)(simdjson::dom::element, Record&) = nullptr;
  // A cheaper poll for the miners whose full `poll` showed it asks for
  // nothing they have (firmware that ignores new_api, btminer that refuses
  // the 2022 commands): `lean_suffices` says so from a full poll's payloads,
  // in `poll`'s order. The poller remembers that per miner, and asks the full
  // plan again now and then (an upgrade) and after any lean poll that fails.
  std::span<const PollStep> lean_poll = {};
  bool (*lean_suffices)(std::span<const std::optional<std::string>>) = nullptr;
};

// How a cgminer-style reply's STATUS begins: '[' (the classic list), '{'
// (Bitmain's new layout), 'E' (a bare "E": btminer's and cgminer's refusal),
// '"' (another bare letter); nullopt when the reply does not begin with one.
std::optional<char> StatusForm(std::string_view reply);
// The firmware refused the step ("STATUS":"E") or it brought nothing: what
// lean_suffices hooks look for.
bool StepRefused(const std::optional<std::string>& payload);

// The family named `name`, nullptr when none is.
const Family* FindFamily(std::string_view name);

// Every family, in the order their readings are taken: where two would fill
// the same field (only hostile replies mix families), the first wins.
std::span<const Family* const> Families();

// Reads the payloads of a poll's steps (nullopt: that step brought nothing)
// into `record` as `family` reads them (null: the generic poll's glued
// cgminer-alike replies): what the poller does with what it received, so
// tests of captured replies take the same path. `errors` are the steps'
// own failures, kept beside an ok record.
void ReadPayloads(const Family* family, std::span<const PollStep> steps,
                  const std::vector<std::optional<std::string>>& payloads, std::string errors,
                  Record& record);

// ---- Shared record-building helpers ----

// The "MM ID<n>" strings of STATS (AvalonMiners: "MM ID0", or "MM ID0:Summary"
// on 2025 firmware), in order; at most a bounded number of them.
std::vector<std::string_view> CanaanModules(const Node& stats);

// The document of the poll step named `step`, nullopt when the poll brought none.
Node FindDocument(std::span<const PolledDocument> documents, std::string_view step);

inline constexpr double kMega = 1e6;
inline constexpr double kGiga = 1e9;
inline constexpr size_t kMaxFans = 32;  // bounds a hostile fan_num
inline constexpr size_t kMaxErrors = 64;  // bounds a hostile error list
inline constexpr double kMaxFanRpm = 100000;  // faster is a broken reading

// The model table entry for `model`, else its family's defaults, else "unknown".
const ModelInfo& InfoFor(std::string_view model);

template <typename T>
void Fill(std::optional<T>& field, std::optional<T> value) {
  if (!field && value) field = value;
}
BoardStats& BoardAt(Boards& boards, int32_t index);  // made, with its index, when new
// The board an entry of a listed section (DEVS, TEMPS) is about, numbered by
// its "ID", else its `id_key`, else its position; nullptr when it would be a
// new board and `may_add` is false.
BoardStats* ListedBoard(Boards& boards, simdjson::dom::element entry, size_t position,
                        std::string_view id_key, bool may_add);
std::optional<double> MaxOf(std::optional<double> a, std::optional<double> b);
// A temperature reading, nullopt for 0 ("not fitted") and broken sensors.
std::optional<double> ValidTemp(std::optional<double> t);
// obj[key] as a temperature: a number, or the hottest of a "60-71-83-96" list.
std::optional<double> TempField(simdjson::dom::element obj, std::string_view key);
std::optional<double> ValidFreq(std::optional<double> mhz);  // nullopt outside (0, 10 GHz]
std::optional<double> FreqField(simdjson::dom::element obj, std::string_view key);  // MHz
std::optional<double> Rate(std::optional<double> value, double unit);  // H/s; < 0 is nullopt
// A nominal rate of 0 says nothing about what the unit should do.
std::optional<double> Nominal(std::optional<double> rate);
// The N of every "chain_acnN" / "chain_acsN" key of a STATS entry, ascending.
std::vector<int32_t> ChainIndices(simdjson::dom::element stats);
// "aa:bb:cc:dd:ee:ff" from a MAC written with ':' or '-' separators in
// either case, or as 12 bare hex digits (Canaan's VERSION "MAC"); "" for
// anything else.
std::string MacAddress(std::string_view text);
// Fans from rpm readings: nonzero readings, then stopped fans as 0 up to the
// count the firmware declares.
std::vector<int32_t> Fans(const std::vector<double>& readings, int64_t declared);
// Fans from a FANS section (Braiins OS, LuxOS): each header's "RPM", unused
// headers (0 rpm) dropped.
std::vector<int32_t> FansSection(const Node& fans);

}  // namespace asicmon
