// The fake farm's Whatsminers (testing/fakefarm/whatsminer_*.cpp): what each
// firmware answers to what request, in the layouts of the real captures
// (tests/data/whatsminer-*.json, PROVENANCE.md), and what asicmon's
// whatsminer and whatsminer3 families read from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_miner.h"
#include "families/family.h"
#include "json_repair.h"
#include "normalise.h"
#include "testlib.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

using ::asicmon::testing::ReadFixture;
using nlohmann::ordered_json;
using Keys = std::vector<std::string>;

constexpr double kNow = 1.7e9;
constexpr uint32_t kIp = 0x0A000207;  // 10.0.2.7

FakeMinerSpec Spec(ModelId model) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 6;
  spec.ip = kIp;
  return spec;
}

std::string_view Json(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  return raw;
}

ordered_json Parse(std::string_view raw) { return ordered_json::parse(Json(raw)); }

// The keys of one object, in order.
Keys KeysOf(const ordered_json& j) {
  Keys keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  return keys;
}

Keys Sorted(Keys keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

// A v3 exchange: the request's JSON in, the reply's JSON out, after checking
// the reply's 4-byte little-endian length.
ordered_json V3(FakeMiner& miner, std::string_view request) {
  fmt::memory_buffer out;
  miner.HandleV3(request, kNow, out);
  const std::string raw(out.data(), out.size());
  EXPECT_GE(raw.size(), 4u);
  if (raw.size() < 4) return {};
  uint32_t length = 0;
  for (int i = 3; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ(length, raw.size() - 4);
  return ordered_json::parse(raw.substr(4));
}

// The 2021 firmware (M31S): each cgminer reply has the keys of foreman's
// M31S captures in their order; summary lists no error code pairs (a
// healthy unit, as whatsminer-v1.4-summary.json: "Error Code Count":0).
TEST(FakeWhatsminer, M31sRepliesInTheCapturesKeyOrder) {
  FakeMiner miner(Spec(ModelId::kWhatsminerM31S), kNow);
  struct Case {
    const char* command;
    const char* fixture;
    const char* list;
  };
  for (const Case& c : {Case{"summary", "whatsminer-m31s-summary.json", "SUMMARY"},
                        Case{"edevs", "whatsminer-m31s-edevs.json", "DEVS"},
                        Case{"pools", "whatsminer-m31s-pools.json", "POOLS"}}) {
    SCOPED_TRACE(c.command);
    const std::string raw = miner.Handle(std::string(R"({"command":")") + c.command + "\"}", kNow);
    EXPECT_EQ(raw.back(), '\0');  // cgminer's api.c sends the string's NUL
    const ordered_json ours = Parse(raw);
    const ordered_json real = Parse(ReadFixture(c.fixture));
    EXPECT_EQ(KeysOf(ours), KeysOf(real));
    EXPECT_EQ(KeysOf(ours["STATUS"][0]), KeysOf(real["STATUS"][0]));
    EXPECT_EQ(ours["STATUS"][0]["Description"], "btminer");
    EXPECT_EQ(ours["STATUS"][0]["Code"], real["STATUS"][0]["Code"]);
    EXPECT_EQ(ours["STATUS"][0]["Msg"], real["STATUS"][0]["Msg"]);
    Keys real_keys = KeysOf(real[c.list][0]);
    // The capture's three error pairs and two factory ones ("Error Code 0",
    // "Error 0 Time", "Factory Error Code 0"...), not their counts.
    std::erase_if(real_keys, [](const std::string& k) {
      return !k.ends_with(" Count") && (k.find("Error Code ") != std::string::npos ||
                                        (k.starts_with("Error ") && k.ends_with(" Time")));
    });
    EXPECT_EQ(KeysOf(ours[c.list][0]), real_keys);
    EXPECT_EQ(ours[c.list].size(), real[c.list].size());  // 3 boards, 3 pools
  }
  // POOL numbered from 1; the build quoted in summary as the capture's.
  EXPECT_EQ(Parse(miner.Handle(R"({"command":"pools"})", kNow))["POOLS"][0]["POOL"], 1);
  EXPECT_EQ(Parse(miner.Handle("summary", kNow))["SUMMARY"][0]["Firmware Version"],
            "'20201202.22.REL'");
}

// btminer's own status answers "cmd" and "command" alike, in the form of
// whatsminer-m31s-status-sleeping.json; this firmware predates
// get_miner_info, which it refuses in btminer's own form.
TEST(FakeWhatsminer, M31sOwnCommands) {
  FakeMiner miner(Spec(ModelId::kWhatsminerM31S), kNow);
  const ordered_json real = Parse(ReadFixture("whatsminer-m31s-status-sleeping.json"));
  for (std::string_view request : {R"({"cmd":"status"})", R"({"command":"status"})"}) {
    SCOPED_TRACE(request);
    const ordered_json ours = Parse(miner.Handle(request, kNow));
    EXPECT_EQ(KeysOf(ours), KeysOf(real));
    EXPECT_EQ(KeysOf(ours["Msg"]), KeysOf(real["Msg"]));
    EXPECT_EQ(ours["Code"], 131);
    EXPECT_EQ(ours["Description"], "whatsminer v1.3");
    EXPECT_EQ(ours["Msg"]["btmineroff"], "false");
  }
  const ordered_json refused = Parse(miner.Handle(R"({"command":"get_miner_info"})", kNow));
  EXPECT_EQ(refused["STATUS"], "E");
  EXPECT_EQ(refused["Msg"], "invalid cmd");
}

// The 2023+ v2 forms (the M60S on 4028): the key sets of asic-rs's v2
// captures (their order is the publisher's sort), cgminer 4.9.2 in STATUS;
// status, get_miner_info and get_error_code with the captures' Msg keys.
TEST(FakeWhatsminer, M60sV2RepliesCarryTheCapturesKeys) {
  FakeMiner miner(Spec(ModelId::kWhatsminerM60S), kNow);
  struct Case {
    const char* command;
    const char* fixture;
    const char* list;
  };
  for (const Case& c : {Case{"summary", "whatsminer-v2-summary.json", "SUMMARY"},
                        Case{"edevs", "whatsminer-v2-devs.json", "DEVS"},
                        Case{"pools", "whatsminer-v2-pools.json", "POOLS"}}) {
    SCOPED_TRACE(c.command);
    const ordered_json ours =
        Parse(miner.Handle(std::string(R"({"command":")") + c.command + "\"}", kNow));
    const ordered_json real = Parse(ReadFixture(c.fixture));
    EXPECT_EQ(Sorted(KeysOf(ours)), KeysOf(real));
    EXPECT_EQ(KeysOf(ours[c.list][0]), KeysOf(real[c.list][0]));
    EXPECT_EQ(ours["STATUS"][0]["Description"], "cgminer 4.9.2");
    EXPECT_EQ(ours["STATUS"][0]["Msg"], real["STATUS"][0]["Msg"]);
  }
  for (const char* name : {"status", "get_miner_info", "get_error_code"}) {
    SCOPED_TRACE(name);
    const ordered_json ours = Parse(miner.Handle(std::string(R"({"cmd":")") + name + "\"}", kNow));
    const ordered_json real = Parse(ReadFixture(std::string("whatsminer-v2-") + name + ".json"));
    EXPECT_EQ(Sorted(KeysOf(ours)), Sorted(KeysOf(real)));
    EXPECT_EQ(KeysOf(ours["Msg"]), KeysOf(real["Msg"]));
    EXPECT_EQ(ours["STATUS"], "S");
    EXPECT_EQ(ours["Code"], 131);
  }
  const ordered_json info = Parse(miner.Handle(R"({"command":"get_miner_info"})", kNow));
  EXPECT_EQ(info["Msg"]["mac"], "CE:02:01:00:02:07");  // the capture's prefix, 10.0.2.7's low bytes
  EXPECT_EQ(info["Msg"]["hostname"], "WhatsMiner-0007");
  EXPECT_TRUE(
      Parse(miner.Handle(R"({"cmd":"get_error_code"})", kNow))["Msg"]["error_code"].empty());
}

// What the firmware refuses: cgminer commands asked with "cmd" (Code 24, as
// whatsminer-m31s-multicommand-error.json), btminer's own commands inside a
// multi-command, and stats, which btminer does not have.
TEST(FakeWhatsminer, RequestsRefusedAsTheFirmwareDoes) {
  for (ModelId id : {ModelId::kWhatsminerM31S, ModelId::kWhatsminerM60S}) {
    SCOPED_TRACE(GetModel(id).key);
    FakeMiner miner(Spec(id), kNow);
    const ordered_json real = Parse(ReadFixture("whatsminer-m31s-multicommand-error.json"));
    const ordered_json cmd = Parse(miner.Handle(R"({"cmd":"pools+summary+edevs"})", kNow));
    EXPECT_EQ(KeysOf(cmd), KeysOf(real));
    EXPECT_EQ(cmd["STATUS"][0]["Code"], 24);
    EXPECT_EQ(cmd["STATUS"][0]["Msg"], "Missing JSON 'command'");

    const ordered_json joined = Parse(miner.Handle(R"({"command":"summary+status+stats"})", kNow));
    EXPECT_EQ(joined["summary"][0]["STATUS"][0]["STATUS"], "S");
    EXPECT_EQ(joined["status"][0]["STATUS"][0]["Code"], 14);
    EXPECT_EQ(joined["stats"][0]["STATUS"][0]["Msg"], "Invalid command");
    EXPECT_EQ(Parse(miner.Handle(R"({"command":"stats"})", kNow))["Msg"], "invalid cmd");
    // Writes need btminer's admin token: a plain one is denied.
    EXPECT_EQ(Parse(miner.Handle(R"({"command":"restart"})", kNow))["STATUS"][0]["Code"], 45);
  }
}

// API v3 on 4433 (the M60S only): get.device.info with every key of the
// real capture, get.miner.status with the sections asked, in their order,
// each with its capture's keys; anything else code -2.
TEST(FakeWhatsminer, M60sV3RepliesCarryTheCapturesKeys) {
  FakeMiner miner(Spec(ModelId::kWhatsminerM60S), kNow);
  const ordered_json info = V3(miner, R"({"cmd":"get.device.info"})");
  const ordered_json real_info = Parse(ReadFixture("whatsminer-m60s-v3-get.device.info.json"));
  EXPECT_EQ(KeysOf(info), KeysOf(real_info));
  for (const char* section : {"miner", "network", "power", "system"}) {
    EXPECT_EQ(KeysOf(info["msg"][section]), KeysOf(real_info["msg"][section])) << section;
  }
  EXPECT_EQ(info["msg"]["network"]["mac"], "CE:02:01:00:02:07");
  EXPECT_EQ(info["msg"]["network"]["ip"], "10.0.2.7");
  EXPECT_EQ(info["msg"]["miner"]["type"], "M60S_VK40");

  const ordered_json status =
      V3(miner, R"({"cmd":"get.miner.status","param":"edevs+summary+pools"})");
  EXPECT_EQ(status["desc"], "get.miner.status");
  EXPECT_EQ(KeysOf(status["msg"]), (Keys{"edevs", "summary", "pools"}));
  for (const char* section : {"summary", "pools", "edevs"}) {
    SCOPED_TRACE(section);
    const ordered_json real =
        Parse(ReadFixture(std::string("whatsminer-m60s-v3-get.miner.status-") + section + ".json"));
    EXPECT_EQ(KeysOf(status), KeysOf(real));
    const ordered_json& ours = status["msg"][section];
    const ordered_json& theirs = real["msg"][section];
    EXPECT_EQ(KeysOf(ours.is_array() ? ours[0] : ours),
              KeysOf(theirs.is_array() ? theirs[0] : theirs));
  }
  // hash-realtime is TH/s: the nominal 170.8 TH/s within the fake's 2 % noise.
  EXPECT_NEAR(status["msg"]["summary"]["hash-realtime"].get<double>(), 170.8, 170.8 * 0.03);

  // A write without the salt's token (whatsminer_control_test signs them).
  const ordered_json unsigned_write = V3(miner, R"({"cmd":"set.miner.service","param":"stop"})");
  EXPECT_EQ(unsigned_write["code"], -4);
  EXPECT_EQ(unsigned_write["msg"], "no permission");
  for (std::string_view bad : {R"({"cmd":7})", "not json", R"({"command":"summary"})"}) {
    SCOPED_TRACE(bad);
    const ordered_json refused = V3(miner, bad);
    EXPECT_EQ(refused["code"], -2);
    EXPECT_EQ(refused["msg"], "invalid command");
  }
  // The 2021 firmware has no API v3.
  FakeMiner old(Spec(ModelId::kWhatsminerM31S), kNow);
  EXPECT_EQ(V3(old, R"({"cmd":"get.device.info"})")["code"], -2);
  EXPECT_FALSE(HasWhatsminerV3(ModelId::kWhatsminerM31S));
  EXPECT_TRUE(HasWhatsminerV3(ModelId::kWhatsminerM60S));
}

// The whatsminer family's own poll plan, answered by the fake and read as
// collect reads it: model, rate in H/s, MAC, power, boards and pools.
Record PollV2(FakeMiner& miner) {
  const Family* family = FindFamily("whatsminer");
  EXPECT_NE(family, nullptr);
  std::string glued;
  for (const PollStep& step : family->poll) {
    glued += Json(miner.Handle(step.request, kNow + 60));
  }
  Record r;
  NormaliseRawReply(glued, r);
  return r;
}

TEST(FakeWhatsminer, V2PollReadsAsTheFarmPlansIt) {
  for (ModelId id : {ModelId::kWhatsminerM31S, ModelId::kWhatsminerM60S}) {
    const ModelSpec& model = GetModel(id);
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(id), kNow);
    const Record r = PollV2(miner);
    EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
    EXPECT_EQ(r.family, "whatsminer");
    EXPECT_EQ(r.model, model.name);  // devdetails "M31SV10" -> "Whatsminer M31S"
    ASSERT_TRUE(r.hashrate.has_value());
    // "HS RT" / "MHS 5s" are MH/s: H/s in the record.
    EXPECT_NEAR(*r.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
    EXPECT_EQ(r.boards.size(), 3u);
    EXPECT_EQ(r.pools.size(), 3u);
    EXPECT_EQ(r.worker, "farm.w0007");
    ASSERT_TRUE(r.power_w.has_value());
    EXPECT_NEAR(*r.power_w, WhatsminerFactsOf(id)->watts, 0.05 * WhatsminerFactsOf(id)->watts);
    EXPECT_EQ(r.fans.size(), 2u);
    EXPECT_FALSE(r.sleeping);
    EXPECT_EQ(r.mac, id == ModelId::kWhatsminerM31S ? "c6:06:12:00:02:07" : "ce:02:01:00:02:07");
    EXPECT_EQ(r.firmware_build, WhatsminerFactsOf(id)->build);
    EXPECT_TRUE(r.errors.empty());
  }
}

TEST(FakeWhatsminer, V3PollReadsAsTheFarmPlansIt) {
  const Family* family = FindFamily("whatsminer3");
  ASSERT_NE(family, nullptr);
  FakeMiner miner(Spec(ModelId::kWhatsminerM60S), kNow);
  std::vector<std::unique_ptr<MinerJsonParser>> parsers;
  std::vector<std::string> texts;
  std::vector<PolledDocument> documents;
  for (const PollStep& step : family->poll) {
    EXPECT_EQ(step.port, kWhatsminerV3Port);
    fmt::memory_buffer out;
    const std::string request(step.request);
    miner.HandleV3(request, kNow + 60, out);
    texts.emplace_back(out.data() + 4, out.size() - 4);
    auto& parser = parsers.emplace_back(std::make_unique<MinerJsonParser>());
    Result<simdjson::dom::element> doc = parser->Parse(texts.back());
    ASSERT_TRUE(doc.ok()) << step.name;
    documents.push_back({step.name, *doc});
  }
  Record r;
  family->read_documents(documents, r);
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Whatsminer M60S");  // "M60S_VK40"
  ASSERT_TRUE(r.hashrate.has_value());
  EXPECT_NEAR(*r.hashrate, 170.8e12, 170.8e12 * 0.05);  // TH/s on the wire
  EXPECT_EQ(r.mac, "ce:02:01:00:02:07");
  EXPECT_EQ(r.hostname, "WhatsMiner-0007");
  EXPECT_EQ(r.serial, "BTM3CS40HD24083100000000000000007");
  EXPECT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.pools.size(), 3u);
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3156, 3156 * 0.05);
}

}  // namespace
}  // namespace asicmon::fakefarm
