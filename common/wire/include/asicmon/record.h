// The normalised telemetry record: one per poll of one miner, the unit that
// travels the bus (MessagePack) and reaches people and receivers (JSON).
//
// Wire form: a msgpack array whose first element is the schema version and
// whose fields are only ever appended, never reordered, retyped or removed.
// An older reader ignores the tail it does not know; a newer reader leaves
// fields an older writer did not send at their defaults. An array decodes
// about 8x faster than a map (see bench/record_bench).
//
// Units are in the names where they are not obvious: hashrates are hashes per
// second for every algorithm (so SHA-256 and scrypt miners compare), temperatures
// degrees Celsius, fans rpm. "Not reported" is std::nullopt, never zero.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <msgpack.hpp>
#include <nlohmann/json_fwd.hpp>

#include "asicmon/status.h"

namespace asicmon {

// Version 1 is the first published layout; 2 appends Record::sleeping (a
// reader of version 1 bytes leaves it false); 3 appends the miner's identity
// (family, mac, serial, hostname), efficiency and the firmware's own errors
// to Record, identity and the previous address to InventoryEntry, and the
// family to PollJob. InventoryEntry and PollJob share the number.
inline constexpr uint32_t kRecordSchemaVersion = 3;

// Where a field of Record comes from: normalisation fills kReply fields and
// leaves the others to the caller (collect's envelope and its own poll facts).
enum class FieldSource : uint8_t { kEnvelope, kPoll, kReply };

// One member of a wire struct: its name (the JSON key) and where it lives.
// BoardStats, PoolInfo and Record list their members once, in wire order, in
// a static Fields(): msgpack, RecordToJson, AppendRecordJson and
// normalisation's copy all walk that list, and record_test checks it names
// every member, so a new field cannot be left out of one of them.
template <typename Struct, typename T>
struct Field {
  std::string_view name;
  T Struct::*member;
  FieldSource source = FieldSource::kReply;
};
template <typename Struct, typename T>
constexpr Field<Struct, T> MakeField(std::string_view name, T Struct::*member,
                                     FieldSource source = FieldSource::kReply) {
  return {name, member, source};
}

// Calls fn(field) for each entry of Type::Fields(), in wire order.
template <typename Type, typename Fn>
constexpr void ForEachField(Fn&& fn) {
  constexpr auto kFields = Type::Fields();  // constant, so each member pointer folds away
  std::apply([&](const auto&... field) { (fn(field), ...); }, kFields);
}

// MSGPACK_DEFINE over Fields(): the same define_array of the same members, so
// the same bytes.
#define ASICMON_MSGPACK_FIELDS()                                                              \
  template <typename Packer>                                                                  \
  void msgpack_pack(Packer& msgpack_pk) const {                                               \
    constexpr auto kFields = Fields();                                                        \
    std::apply(                                                                               \
        [&](const auto&... f) {                                                               \
          msgpack::type::make_define_array(this->*f.member...).msgpack_pack(msgpack_pk);      \
        },                                                                                    \
        kFields);                                                                             \
  }                                                                                           \
  void msgpack_unpack(const msgpack::object& msgpack_o) {                                     \
    constexpr auto kFields = Fields();                                                        \
    std::apply(                                                                               \
        [&](const auto&... f) {                                                               \
          msgpack::type::make_define_array(this->*f.member...).msgpack_unpack(msgpack_o);     \
        },                                                                                    \
        kFields);                                                                             \
  }                                                                                           \
  template <typename MsgpackObject>                                                           \
  void msgpack_object(MsgpackObject* msgpack_o, msgpack::zone& msgpack_z) const {             \
    constexpr auto kFields = Fields();                                                        \
    std::apply(                                                                               \
        [&](const auto&... f) {                                                               \
          msgpack::type::make_define_array(this->*f.member...)                                \
              .msgpack_object(msgpack_o, msgpack_z);                                          \
        },                                                                                    \
        kFields);                                                                             \
  }

// What came of one poll. Stored and shown as the words of ToString.
enum class MinerStatus : uint8_t {
  kOk = 0,          // the miner answered with usable data, however slowly
  kTimeout = 1,     // no connection or no complete reply by the deadline
  kRefused = 2,     // the connection was refused or the host is unreachable
  kReset = 3,       // the miner reset the connection
  kParseError = 4,  // the reply was cut short or is not repairable JSON
  kTooLarge = 5,    // the reply passed the size cap
  kAuthError = 6,   // the miner denied the command (read-only API)
  kApiError = 7,    // the miner answered with an error STATUS (E/F/W) for everything asked
};
inline constexpr int kMinerStatusCount = 8;

// "ok", "timeout", "refused", "reset", "parse_error", "too_large",
// "auth_error", "api_error"; "unknown" for a value this build does not know.
std::string_view ToString(MinerStatus status);
std::optional<MinerStatus> ParseMinerStatus(std::string_view word);

// One hash board (chain).
struct BoardStats {
  int32_t index = 0;                         // chain number as the miner numbers it
  std::optional<double> hashrate;            // H/s
  std::optional<double> hashrate_expected;   // H/s, the board's ideal rate
  std::optional<double> temp_board;          // °C, PCB sensor (hottest)
  std::optional<double> temp_chip;           // °C, chip sensor (hottest)
  std::optional<int32_t> chips;              // chips the board reports (chain_acn)
  std::optional<int32_t> chips_ok;           // 'o' in the chip status string
  std::optional<int32_t> chips_failed;       // 'x' in the chip status string
  std::optional<double> freq_mhz;            // average chip frequency
  std::optional<int64_t> hw_errors;          // hardware errors on this board

  bool operator==(const BoardStats&) const = default;
  static constexpr auto Fields() {
    using B = BoardStats;
    return std::tuple{MakeField("index", &B::index),
                      MakeField("hashrate", &B::hashrate),
                      MakeField("hashrate_expected", &B::hashrate_expected),
                      MakeField("temp_board", &B::temp_board),
                      MakeField("temp_chip", &B::temp_chip),
                      MakeField("chips", &B::chips),
                      MakeField("chips_ok", &B::chips_ok),
                      MakeField("chips_failed", &B::chips_failed),
                      MakeField("freq_mhz", &B::freq_mhz),
                      MakeField("hw_errors", &B::hw_errors)};
  }
  ASICMON_MSGPACK_FIELDS()
};

// One configured pool.
struct PoolInfo {
  int32_t index = 0;                  // POOL number as the miner numbers it
  std::string url;
  std::string user;
  std::string status;                 // as the miner says it ("Alive", "Dead", ...)
  std::optional<int32_t> priority;    // 0 is tried first
  std::optional<int64_t> accepted;
  std::optional<int64_t> rejected;
  std::optional<int64_t> stale;
  bool active = false;                // the pool the miner is hashing on now

  bool operator==(const PoolInfo&) const = default;
  static constexpr auto Fields() {
    using P = PoolInfo;
    return std::tuple{MakeField("index", &P::index),       MakeField("url", &P::url),
                      MakeField("user", &P::user),         MakeField("status", &P::status),
                      MakeField("priority", &P::priority), MakeField("accepted", &P::accepted),
                      MakeField("rejected", &P::rejected), MakeField("stale", &P::stale),
                      MakeField("active", &P::active)};
  }
  ASICMON_MSGPACK_FIELDS()
};

// One error the firmware reports about itself (Whatsminer error codes,
// Antminer warnings, Avalon ECMM bits), in its own words.
struct MinerError {
  std::string code;     // the firmware's code as text ("540", "ECMM"); "" when it gives none
  std::string message;  // its message; "" when it gives only a code

  bool operator==(const MinerError&) const = default;
  static constexpr auto Fields() {
    return std::tuple{MakeField("code", &MinerError::code),
                      MakeField("message", &MinerError::message)};
  }
  ASICMON_MSGPACK_FIELDS()
};

struct Record {
  // Envelope.
  uint32_t schema_version = kRecordSchemaVersion;
  std::string producer_id;  // which process made it; with seq, lets consumers count gaps
  uint64_t seq = 0;         // per producer, starts at 1, +1 per record
  double ts = 0;            // unix seconds when the poll finished

  // Identity.
  std::string ip;           // dotted IPv4
  uint16_t port = 4028;
  MinerStatus status = MinerStatus::kOk;
  std::string error;        // why, when status is not ok (or a partial failure when ok)
  std::string model;        // "Antminer S19 Pro"
  std::string firmware;     // miner software and version, "BMMiner 2.0.0"
  std::string firmware_build;  // the firmware's own build id or date
  std::string algorithm;    // "sha256d", "scrypt", "x11", ...; empty when unknown
  std::string worker;       // the user of the pool in use

  // Measurements.
  std::optional<double> hashrate;           // H/s, short window (5 s)
  std::optional<double> hashrate_avg;       // H/s, since start (or the longest window reported)
  std::optional<double> hashrate_expected;  // H/s, the miner's own nominal rate
  std::optional<int64_t> uptime_s;
  std::optional<int64_t> accepted;
  std::optional<int64_t> rejected;
  std::optional<int64_t> hw_errors;
  std::optional<double> temp_max;           // °C, hottest chip (or board) sensor
  std::vector<int32_t> fans;                // rpm, one per fan; 0 is a stopped fan
  std::vector<BoardStats> boards;
  std::vector<PoolInfo> pools;
  std::optional<double> power_w;
  std::optional<double> poll_ms;            // wall time of the exchange that made this record

  // State (version 2). Asleep on purpose: the miner stopped hashing because
  // it was told to (its API says so, or control put it to sleep and it
  // hashes nothing since), so no hashrate, board, chip or fan rule applies.
  bool sleeping = false;

  // Identity (version 3): what names the machine whatever its address.
  std::string family;    // firmware family: "antminer", "whatsminer", "braiins", "avalon", ...
  std::string mac;       // "aa:bb:cc:dd:ee:ff", lower case; "" when the firmware does not say
  std::string serial;    // the maker's serial number
  std::string hostname;
  // J per unit of 1e12 of the algorithm's rate (J/TH for sha256d), from
  // power_w and hashrate; nullopt unless both are reported.
  std::optional<double> efficiency_j_per_th;
  std::vector<MinerError> errors;  // what the firmware reports as wrong with itself

  bool operator==(const Record&) const = default;
  // Wire order: append only (see kRecordSchemaVersion).
  static constexpr auto Fields() {
    using R = Record;
    constexpr FieldSource kEnvelope = FieldSource::kEnvelope;
    constexpr FieldSource kPoll = FieldSource::kPoll;
    return std::tuple{MakeField("schema_version", &R::schema_version, kEnvelope),
                      MakeField("producer_id", &R::producer_id, kEnvelope),
                      MakeField("seq", &R::seq, kEnvelope),
                      MakeField("ts", &R::ts, kEnvelope),
                      MakeField("ip", &R::ip, kPoll),
                      MakeField("port", &R::port, kPoll),
                      MakeField("status", &R::status),
                      MakeField("error", &R::error),
                      MakeField("model", &R::model),
                      MakeField("firmware", &R::firmware),
                      MakeField("firmware_build", &R::firmware_build),
                      MakeField("algorithm", &R::algorithm),
                      MakeField("worker", &R::worker),
                      MakeField("hashrate", &R::hashrate),
                      MakeField("hashrate_avg", &R::hashrate_avg),
                      MakeField("hashrate_expected", &R::hashrate_expected),
                      MakeField("uptime_s", &R::uptime_s),
                      MakeField("accepted", &R::accepted),
                      MakeField("rejected", &R::rejected),
                      MakeField("hw_errors", &R::hw_errors),
                      MakeField("temp_max", &R::temp_max),
                      MakeField("fans", &R::fans),
                      MakeField("boards", &R::boards),
                      MakeField("pools", &R::pools),
                      MakeField("power_w", &R::power_w),
                      MakeField("poll_ms", &R::poll_ms, kPoll),
                      MakeField("sleeping", &R::sleeping),
                      MakeField("family", &R::family),
                      MakeField("mac", &R::mac),
                      MakeField("serial", &R::serial),
                      MakeField("hostname", &R::hostname),
                      MakeField("efficiency_j_per_th", &R::efficiency_j_per_th),
                      MakeField("errors", &R::errors)};
  }
  ASICMON_MSGPACK_FIELDS()
};

// What discover knows of one miner, published (topic "inventory") whenever
// it changes: found, gone, or a changed identity. Same wire rules as Record.
enum class InventoryChange : uint8_t {
  kFound = 0,    // a new miner answered on its API port
  kChanged = 1,  // model, firmware or worker differ from before
  kGone = 2,     // no longer answers a sweep
  kMoved = 3,    // a known machine (same MAC) answers at a new address (version 3)
};
inline constexpr int kInventoryChangeCount = 4;
// "found", "changed", "gone", "moved"; "unknown" for a value this build does not know.
std::string_view ToString(InventoryChange change);

struct InventoryEntry {
  uint32_t schema_version = kRecordSchemaVersion;
  std::string producer_id;
  uint64_t seq = 0;
  double ts = 0;
  InventoryChange change = InventoryChange::kFound;
  std::string ip;
  uint16_t port = 4028;
  bool identified = false;  // false: the port accepts but no valid reply came (a hung miner)
  std::string model;
  std::string firmware;
  std::string worker;
  // Version 3.
  std::string family;
  std::string mac;
  std::string serial;
  std::string hostname;
  std::string previous_ip;  // kMoved: the address the machine had before

  bool operator==(const InventoryEntry&) const = default;
  MSGPACK_DEFINE(schema_version, producer_id, seq, ts, change, ip, port, identified, model,
                 firmware, worker, family, mac, serial, hostname, previous_ip)
};

// One poll to make, from discover's scheduler to a collect worker (PUSH/PULL).
struct PollJob {
  uint32_t schema_version = kRecordSchemaVersion;
  std::string producer_id;  // the discover instance
  uint64_t seq = 0;
  double ts = 0;            // when it was issued
  std::string ip;
  uint16_t port = 4028;
  double expires_ts = 0;    // a job still queued after this is stale: the next interval's replaces it
  // Version 3: the family discover fingerprinted (Record::family), so the
  // poll asks the right questions the first time; "" to fingerprint.
  std::string family;

  bool operator==(const PollJob&) const = default;
  MSGPACK_DEFINE(schema_version, producer_id, seq, ts, ip, port, expires_ts, family)
};
void EncodePollJob(const PollJob& job, std::string& out);
Result<PollJob> DecodePollJob(std::string_view bytes);

// The unit of a record's hashrates for its algorithm: "Sol/s" for Equihash
// (solutions), "H/s" for every other (and for an unknown algorithm).
std::string_view RateUnitOf(std::string_view algorithm);
// A rate for people: "110.50 TH/s", "420.00 kSol/s" (SI prefix to keep 1..1000).
std::string FormatRate(double per_second, std::string_view algorithm);

// Appends the msgpack form of `record` to `out`.
void EncodeRecord(const Record& record, std::string& out);
std::string EncodeRecord(const Record& record);

// Decodes bytes from the bus. Hostile input gives a ParseError Status, never
// a crash or an unbounded allocation: sizes are capped by kMaxRecordBytes and
// the unpacker's limits, and the first element must be a schema version >= 1.
inline constexpr size_t kMaxRecordBytes = 1 << 20;
Result<Record> DecodeRecord(std::string_view bytes);

void EncodeInventory(const InventoryEntry& entry, std::string& out);
Result<InventoryEntry> DecodeInventory(std::string_view bytes);
nlohmann::json InventoryToJson(const InventoryEntry& entry);

// The flat JSON form: schema fields at the top level, status as its word,
// fans/boards/pools as nested arrays, null for "not reported".
nlohmann::json RecordToJson(const Record& record);
std::string RecordToJsonLine(const Record& record);  // one line, no trailing newline
// Appends RecordToJson's object as text (same keys, order, nulls, invalid
// UTF-8 replaced), written directly: several times faster than the DOM.
void AppendRecordJson(const Record& record, std::string& out);

}  // namespace asicmon

MSGPACK_ADD_ENUM(asicmon::MinerStatus);
MSGPACK_ADD_ENUM(asicmon::InventoryChange);
