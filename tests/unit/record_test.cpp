// The record schema: msgpack round trips, compatibility across versions, JSON form.
#include "asicmon/record.h"

#include <bit>
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

Record SampleRecord() {
  Record r;
  r.producer_id = "collect-a-1";
  r.seq = 42;
  r.ts = 1700000000.25;
  r.ip = "127.20.0.7";
  r.port = 4028;
  r.status = MinerStatus::kOk;
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.firmware_build = "49.0.1.3";
  r.algorithm = "sha256d";
  r.worker = "farm.w0007";
  r.hashrate = 110.5e12;
  r.hashrate_avg = 109.9e12;
  r.hashrate_expected = 111.8e12;
  r.uptime_s = 321734;
  r.accepted = 1000;
  r.rejected = 3;
  r.hw_errors = 2708;
  r.temp_max = 71.5;
  r.fans = {6000, 5880, 6120, 0};
  r.boards = {BoardStats{1, 36.8e12, 37.2e12, 66, 71, 114, 114, 0, 525, 880},
              BoardStats{2, std::nullopt, std::nullopt, std::nullopt, std::nullopt, 114, 100, 14,
                         std::nullopt, std::nullopt}};
  r.pools = {PoolInfo{0, "stratum+tcp://pool-a:3333", "farm.w0007", "Alive", 0, 1000, 3, 1, true}};
  r.power_w = 3250;
  r.poll_ms = 12.5;
  r.sleeping = true;
  r.family = "antminer";
  r.mac = "02:00:7f:14:00:07";
  r.serial = "JYZZ1234567890";
  r.hostname = "Antminer";
  r.efficiency_j_per_th = 29.4;
  r.errors = {MinerError{"540", "fan speed error"}, MinerError{"", "chain 2 lost"}};
  return r;
}

// The first `count` elements of a record's array, re-packed as an older writer
// of that many fields with `version` at their head.
std::string OlderLayout(const Record& r, uint32_t version, uint32_t count) {
  const std::string bytes = EncodeRecord(r);
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  const auto& arr = h.get().via.array;
  msgpack::sbuffer older;
  msgpack::packer<msgpack::sbuffer> pk(older);
  pk.pack_array(count);
  pk.pack_uint32(version);
  for (uint32_t i = 1; i < count; ++i) pk.pack(arr.ptr[i]);
  return std::string(older.data(), older.size());
}

TEST(Record, StatusWordsRoundTrip) {
  for (int i = 0; i < kMinerStatusCount; ++i) {
    const auto s = static_cast<MinerStatus>(i);
    EXPECT_EQ(ParseMinerStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(MinerStatus::kParseError), "parse_error");
  EXPECT_EQ(ToString(static_cast<MinerStatus>(200)), "unknown");
  EXPECT_FALSE(ParseMinerStatus("fine").has_value());
}

TEST(Record, MsgpackRoundTripKeepsEveryField) {
  const Record r = SampleRecord();
  const std::string bytes = EncodeRecord(r);
  Result<Record> back = DecodeRecord(bytes);
  ASSERT_OK(back);
  EXPECT_EQ(*back, r);
}

// msgpack-c packs a whole double as an integer; its bound let 2^64 through
// to an undefined conversion (found by fuzz_bus_message). Every double packs
// as msgpack-c packs it, 2^64 as a float64, and each comes back the same.
TEST(Record, EveryDoublePacksAsMsgpackCDoesAndRoundTrips) {
  const double cases[] = {0, 1.5, 1e9, -1, -0x1p63, 0x1p63, 0x1p64 - 2048, 0x1p64, -0x1p64, 1e300,
                          std::numeric_limits<double>::infinity(), -0.0, 1700000000.25};
  for (double d : cases) {
    PollJob job;
    job.ts = d;
    job.expires_ts = d;
    std::string ours;
    EncodePollJob(job, ours);
    Result<PollJob> back = DecodePollJob(ours);
    ASSERT_OK(back);
    EXPECT_EQ(std::bit_cast<uint64_t>(back->ts), std::bit_cast<uint64_t>(d == 0 ? 0.0 : d)) << d;
    if (d < 0x1p64) {  // msgpack-c's own packer is undefined at 2^64 and above
      msgpack::sbuffer theirs;
      msgpack::pack(theirs, job);
      EXPECT_EQ(ours, std::string(theirs.data(), theirs.size())) << d;
    }
  }
  PollJob nan;
  nan.ts = std::numeric_limits<double>::quiet_NaN();
  std::string bytes;
  EncodePollJob(nan, bytes);
  Result<PollJob> back = DecodePollJob(bytes);
  ASSERT_OK(back);
  EXPECT_TRUE(std::isnan(back->ts));
}

// A version 2 poll job (no family) decodes with an empty family: collect
// fingerprints the miner itself, as before version 3.
TEST(Record, Version2PollJobDecodesWithoutFamily) {
  msgpack::sbuffer v2;
  msgpack::packer<msgpack::sbuffer> pk(v2);
  pk.pack_array(7);
  pk.pack_uint32(2);
  pk.pack(std::string("discover-a"));
  pk.pack_uint64(5);
  pk.pack(1700000000.0);
  pk.pack(std::string("127.0.0.9"));
  pk.pack_uint16(4028);
  pk.pack(1700000010.0);
  Result<PollJob> back = DecodePollJob(std::string_view(v2.data(), v2.size()));
  ASSERT_OK(back);
  EXPECT_EQ(back->ip, "127.0.0.9");
  EXPECT_EQ(back->expires_ts, 1700000010.0);
  EXPECT_TRUE(back->family.empty());

  PollJob job = *back;
  job.family = "whatsminer";
  std::string bytes;
  EncodePollJob(job, bytes);
  Result<PollJob> again = DecodePollJob(bytes);
  ASSERT_OK(again);
  EXPECT_EQ(*again, job);
}

TEST(Record, InventoryMoveRoundTripsWithIdentity) {
  InventoryEntry e;
  e.change = InventoryChange::kMoved;
  e.ip = "127.0.0.12";
  e.previous_ip = "127.0.0.11";
  e.mac = "02:00:7f:00:00:0b";
  e.serial = "HTM3X";
  e.family = "whatsminer";
  e.hostname = "WhatsMiner";
  std::string bytes;
  EncodeInventory(e, bytes);
  Result<InventoryEntry> back = DecodeInventory(bytes);
  ASSERT_OK(back);
  EXPECT_EQ(*back, e);
  const nlohmann::json j = InventoryToJson(e);
  EXPECT_EQ(j["change"], "moved");
  EXPECT_EQ(j["previous_ip"], "127.0.0.11");
  EXPECT_EQ(j["mac"], "02:00:7f:00:00:0b");
  EXPECT_EQ(ToString(static_cast<InventoryChange>(9)), "unknown");
}

TEST(Record, NotReportedStaysNotReported) {
  Record r;
  r.ip = "127.0.0.1";
  r.status = MinerStatus::kTimeout;
  r.error = "no complete reply within 5 s";
  Result<Record> back = DecodeRecord(EncodeRecord(r));
  ASSERT_OK(back);
  EXPECT_FALSE(back->hashrate.has_value());
  EXPECT_FALSE(back->temp_max.has_value());
  EXPECT_EQ(back->status, MinerStatus::kTimeout);
}

TEST(Record, IsAnArrayLedByTheVersion) {
  const std::string bytes = EncodeRecord(SampleRecord());
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  ASSERT_EQ(h.get().type, msgpack::type::ARRAY);
  EXPECT_EQ(h.get().via.array.ptr[0].as<uint32_t>(), kRecordSchemaVersion);
}

// A newer writer appends fields; this reader must ignore them.
TEST(Record, OlderReaderIgnoresAppendedFields) {
  const Record r = SampleRecord();
  msgpack::object_handle h;
  const std::string bytes = EncodeRecord(r);
  h = msgpack::unpack(bytes.data(), bytes.size());
  msgpack::sbuffer newer;
  msgpack::packer<msgpack::sbuffer> pk(newer);
  const auto& arr = h.get().via.array;
  pk.pack_array(arr.size + 3);
  pk.pack_uint32(kRecordSchemaVersion + 1);  // a future schema version
  for (uint32_t i = 1; i < arr.size; ++i) pk.pack(arr.ptr[i]);
  pk.pack(std::string("a future field"));
  pk.pack(1.5);
  pk.pack_map(0);
  Result<Record> back = DecodeRecord(std::string_view(newer.data(), newer.size()));
  ASSERT_OK(back);
  Record expected = r;
  expected.schema_version = kRecordSchemaVersion + 1;
  EXPECT_EQ(*back, expected);
}

// Version 1 bytes (every field before `sleeping`) decode whole, not asleep.
TEST(Record, Version1RecordDecodesAsAwake) {
  Record r = SampleRecord();
  Result<Record> back = DecodeRecord(OlderLayout(r, 1, 26));
  ASSERT_OK(back);
  EXPECT_EQ(back->schema_version, 1u);
  EXPECT_FALSE(back->sleeping);
  EXPECT_EQ(back->poll_ms, r.poll_ms);
  Record expected;
  ForEachField<Record>([&](const auto& f) { expected.*f.member = r.*f.member; });
  expected.schema_version = 1;
  expected.sleeping = false;
  expected.family.clear();
  expected.mac.clear();
  expected.serial.clear();
  expected.hostname.clear();
  expected.efficiency_j_per_th.reset();
  expected.errors.clear();
  EXPECT_EQ(*back, expected);
}

// Version 2 bytes (up to `sleeping`) decode with no identity, efficiency or errors.
TEST(Record, Version2RecordDecodesWithoutIdentity) {
  Record r = SampleRecord();
  Result<Record> back = DecodeRecord(OlderLayout(r, 2, 27));
  ASSERT_OK(back);
  EXPECT_TRUE(back->sleeping);
  EXPECT_TRUE(back->family.empty());
  EXPECT_TRUE(back->mac.empty());
  EXPECT_FALSE(back->efficiency_j_per_th.has_value());
  EXPECT_TRUE(back->errors.empty());
  EXPECT_EQ(back->power_w, r.power_w);
}

// Each version appends: `sleeping` stays element 26 (a version 1 reader sees
// its own 26 fields), and version 3's identity, efficiency and errors follow.
TEST(Record, Version3FieldsFollowSleeping) {
  const std::string bytes = EncodeRecord(SampleRecord());
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  const auto& arr = h.get().via.array;
  ASSERT_EQ(arr.size, 33u);
  EXPECT_EQ(arr.ptr[26].type, msgpack::type::BOOLEAN);
  EXPECT_TRUE(arr.ptr[26].via.boolean);
  EXPECT_EQ(arr.ptr[25].as<double>(), 12.5);  // poll_ms stays where it was
  EXPECT_EQ(arr.ptr[27].as<std::string>(), "antminer");
  EXPECT_EQ(arr.ptr[28].as<std::string>(), "02:00:7f:14:00:07");
  EXPECT_EQ(arr.ptr[31].as<double>(), 29.4);
  ASSERT_EQ(arr.ptr[32].type, msgpack::type::ARRAY);
  EXPECT_EQ(arr.ptr[32].via.array.size, 2u);
}

// An older writer sent fewer fields; the rest keep their defaults.
TEST(Record, NewerReaderDefaultsMissingTail) {
  msgpack::sbuffer older;
  msgpack::packer<msgpack::sbuffer> pk(older);
  pk.pack_array(6);
  pk.pack_uint32(1);
  pk.pack(std::string("p"));
  pk.pack_uint64(9);
  pk.pack(1700000000.0);
  pk.pack(std::string("127.0.0.9"));
  pk.pack_uint16(4029);
  Result<Record> back = DecodeRecord(std::string_view(older.data(), older.size()));
  ASSERT_OK(back);
  EXPECT_EQ(back->ip, "127.0.0.9");
  EXPECT_EQ(back->port, 4029);
  EXPECT_EQ(back->seq, 9u);
  EXPECT_EQ(back->status, MinerStatus::kOk);
  EXPECT_TRUE(back->boards.empty());
}

TEST(Record, HostileBytesAreErrorsNotCrashes) {
  const std::string good = EncodeRecord(SampleRecord());
  std::vector<std::string> bad = {
      "", std::string("\xc1"), std::string("\x93\x01\x02"),  // too short but an array: ip wrong type
      std::string("\x81\xa1x\x01"),                          // a map
      std::string("\x91\xa1x"),                              // version is a string
      std::string("\x91\x00"),                               // version 0
      std::string("\xdd\xff\xff\xff\xff"),                   // 4 G-element array
      std::string("\xdb\xff\xff\xff\xff"),                   // 4 GB string
      good.substr(0, good.size() / 2),                       // cut short
  };
  std::string deep;
  for (int i = 0; i < 100; ++i) deep.push_back('\x91');
  deep.push_back('\x01');
  bad.push_back(deep);
  for (const std::string& b : bad) {
    Result<Record> r = DecodeRecord(b);
    EXPECT_FALSE(r.ok()) << "accepted " << b.size() << " bytes";
  }
  // Field of the wrong type deep inside (boards is a string).
  msgpack::sbuffer wrong;
  msgpack::packer<msgpack::sbuffer> pk(wrong);
  pk.pack_array(23);
  pk.pack_uint32(1);
  for (int i = 1; i < 22; ++i) pk.pack_nil();
  pk.pack(std::string("not boards"));
  EXPECT_FALSE(DecodeRecord(std::string_view(wrong.data(), wrong.size())).ok());
}

TEST(Record, JsonIsFlatWithNestedArraysAndNulls) {
  Record r = SampleRecord();
  r.power_w.reset();
  nlohmann::json j = nlohmann::json::parse(RecordToJsonLine(r));
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["ip"], "127.20.0.7");
  EXPECT_DOUBLE_EQ(j["hashrate"].get<double>(), 110.5e12);
  EXPECT_TRUE(j["power_w"].is_null());
  EXPECT_EQ(j["fans"].size(), 4u);
  EXPECT_EQ(j["boards"][1]["chips_failed"], 14);
  EXPECT_TRUE(j["boards"][1]["hashrate"].is_null());
  EXPECT_EQ(j["pools"][0]["active"], true);
  EXPECT_EQ(j["sleeping"], true);
  EXPECT_EQ(j["schema_version"], kRecordSchemaVersion);
  EXPECT_EQ(nlohmann::json::parse(RecordToJsonLine(Record{}))["sleeping"], false);
}

TEST(Record, JsonSurvivesInvalidUtf8FromMiners) {
  Record r;
  r.model = "S9\xff";
  const std::string line = RecordToJsonLine(r);
  EXPECT_TRUE(nlohmann::json::accept(line));
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(RecordJson, TheDirectWriterMatchesRecordToJson) {
  std::vector<Record> cases;
  cases.push_back(Record{});  // every optional unset, empty lists
  Record full = testing::SampleRecord("collect-a", 42, 42, 1700000000.25);
  full.status = MinerStatus::kParseError;
  full.error = "reply cut \"short\"\n\tat byte 7 \\ \x01";
  full.firmware_build = "Mon Oct 26 17:55:33 CST 2020 \xc3\xa9t\xc3\xa9";  // UTF-8
  full.worker = "w\xff\xfe";                                        // not UTF-8
  full.hashrate_avg = 3250.0;
  full.hashrate_expected = 1e300;
  full.power_w = -0.0;
  full.poll_ms = 0.1 + 0.2;
  full.temp_max = std::numeric_limits<double>::infinity();
  full.hw_errors = std::numeric_limits<int64_t>::min();
  full.seq = std::numeric_limits<uint64_t>::max();
  full.sleeping = true;
  full.boards.push_back({1, 36.6e12, std::nullopt, 61.5, 75.0, 63, 62, 1, 650.0, 12});
  full.boards.push_back({2, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                         std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  full.pools.push_back({0, "stratum+tcp://pool.example.com:3333", "farm.w1", "Alive", 0, 10, 1,
                        0, true});
  full.pools.push_back({1, "", "", "Dead", std::nullopt, std::nullopt, std::nullopt,
                        std::nullopt, false});
  cases.push_back(full);
  for (const Record& r : cases) {
    std::string out;
    AppendRecordJson(r, out);
    // As the DOM serialises it (invalid UTF-8 replaced).
    EXPECT_EQ(nlohmann::json::parse(out),
              nlohmann::json::parse(RecordToJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)))
        << out;
    EXPECT_EQ(RecordToJsonLine(r), out);
  }
  std::string out;
  AppendRecordJson(full, out);
  EXPECT_NE(out.find("\"hashrate_avg\":3250.0,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"temp_max\":null,"), std::string::npos) << out;
}

// ---- The field list (Fields()) names every member ---------------------------

// Converts to any member type, so T{AnyMember x N} compiles exactly when T has
// at least N members: the largest N is T's member count.
struct AnyMember {
  template <typename T>
  operator T&() const&&;
};
template <typename T, size_t... I>
constexpr bool BracesTake(std::index_sequence<I...>) {
  return requires { T{(void(I), AnyMember{})...}; };
}
template <typename T, size_t N = 0>
constexpr size_t MemberCount() {
  if constexpr (BracesTake<T>(std::make_index_sequence<N + 1>())) {
    return MemberCount<T, N + 1>();
  } else {
    return N;
  }
}
template <typename T>
constexpr size_t ListedFields() {
  return std::tuple_size_v<decltype(T::Fields())>;
}
// A member added without its Fields() entry would reach none of msgpack, the
// JSON writers or normalisation's copy: it fails here, at compile time.
static_assert(MemberCount<Record>() == ListedFields<Record>());
static_assert(MemberCount<BoardStats>() == ListedFields<BoardStats>());
static_assert(MemberCount<PoolInfo>() == ListedFields<PoolInfo>());
static_assert(MemberCount<MinerError>() == ListedFields<MinerError>());

// Gives `v` a value other than its default, nested structs and lists included.
template <typename T>
void MakeDistinct(T& v) {
  if constexpr (requires { T::Fields(); }) {
    ForEachField<T>([&](const auto& f) { MakeDistinct(v.*f.member); });
  } else if constexpr (std::is_same_v<T, std::string>) {
    v = "x";
  } else if constexpr (std::is_same_v<T, bool>) {
    v = !v;
  } else if constexpr (std::is_enum_v<T>) {
    v = static_cast<T>(static_cast<int>(v) + 1);
  } else if constexpr (std::is_arithmetic_v<T>) {
    v = static_cast<T>(v + 7);
  } else if constexpr (requires { v.has_value(); }) {
    v.emplace();
    MakeDistinct(*v);
  } else {
    v.emplace_back();
    MakeDistinct(v.back());
  }
}

TEST(RecordFields, EachFieldReachesMsgpackAndBothJsonWriters) {
  const nlohmann::json defaults = RecordToJson(Record{});
  ForEachField<Record>([&](const auto& f) {
    Record r;
    MakeDistinct(r.*f.member);
    ASSERT_NE(r, Record{}) << f.name;
    const Result<Record> back = DecodeRecord(EncodeRecord(r));
    ASSERT_TRUE(back.ok()) << f.name;
    EXPECT_EQ(*back, r) << f.name;
    const nlohmann::json dom = RecordToJson(r);
    ASSERT_TRUE(dom.contains(std::string(f.name))) << f.name;
    EXPECT_NE(dom[std::string(f.name)], defaults[std::string(f.name)]) << f.name;
    EXPECT_EQ(nlohmann::json::parse(RecordToJsonLine(r)), dom) << f.name;
  });
  EXPECT_EQ(defaults.size(), ListedFields<Record>());  // and no key from elsewhere
}

}  // namespace
}  // namespace asicmon
