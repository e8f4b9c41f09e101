// Prints the cost of the record's wire forms and of turning a real reply
// into a record: msgpack encode/decode (array, as shipped, and the same
// record as a msgpack map for comparison), JSON rendering, and
// repair+parse+normalise of a real S9 reply and of a real S21 reply in
// Bitmain's new API layout.
#include <sys/resource.h>

#include <algorithm>
#include <optional>
#include <vector>
#include <string>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "families/family.h"
#include "json_repair.h"
#include "normalise.h"
#include "asicmon/record.h"

namespace {

using Clock = std::chrono::steady_clock;

asicmon::Record TypicalRecord() {
  asicmon::Record r;
  r.producer_id = "collect-bench-1";
  r.seq = 123456;
  r.ts = 1764000000.5;
  r.ip = "127.20.3.17";
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.firmware_build = "49.0.1.3 (Mon Oct 26 17:55:33 CST 2020)";
  r.algorithm = "sha256d";
  r.worker = "farm.w0790";
  r.hashrate = 110.2e12;
  r.hashrate_avg = 109.8e12;
  r.hashrate_expected = 111.8e12;
  r.uptime_s = 321734;
  r.accepted = 18234;
  r.rejected = 12;
  r.hw_errors = 2708;
  r.temp_max = 78;
  r.fans = {6000, 5880, 6120, 6120};
  for (int b = 1; b <= 3; ++b) {
    r.boards.push_back({b, 36.7e12, 37.2e12, 62.0 + b, 75.0 + b, 114, 114, 0, 525.0, 880});
  }
  for (int p = 0; p < 3; ++p) {
    r.pools.push_back({p, "stratum+tcp://pool-" + std::to_string(p) + ".example:3333", "farm.w0790",
                       "Alive", p, p == 0 ? 18234 : 0, p == 0 ? 12 : 0, 0, p == 0});
  }
  r.power_w = 3250;
  r.poll_ms = 14.2;
  return r;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Runs `fn` `n` times; prints and returns the per-call time in µs (CPU time,
// which the machine's other load disturbs less than wall time).
template <typename Fn>
double Measure(const char* what, int n, Fn&& fn) {
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) fn(i);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  const double us = cpu / n * 1e6;
  std::printf("%-44s %9.3f us/op  %12.0f ops/s (cpu)  wall %.2f s\n", what, us, 1e6 / us, wall);
  return us;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The same record as a self-describing map, to show what the array saves.
std::vector<uint8_t> EncodeAsMap(const asicmon::Record& r) {
  return nlohmann::json::to_msgpack(asicmon::RecordToJson(r));
}

}  // namespace

int main() {
  const asicmon::Record record = TypicalRecord();
  const std::string bytes = asicmon::EncodeRecord(record);
  const std::vector<uint8_t> map_bytes = EncodeAsMap(record);
  std::printf("typical record: %zu bytes as msgpack array, %zu as msgpack map, %zu as JSON\n",
              bytes.size(), map_bytes.size(), asicmon::RecordToJsonLine(record).size());

  constexpr int kN = 300000;
  std::string out;
  const double enc = Measure("encode (msgpack array)", kN, [&](int) {
    out.clear();
    asicmon::EncodeRecord(record, out);
  });
  size_t sink = 0;
  const double dec = Measure("decode (msgpack array -> Record)", kN, [&](int) {
    sink += asicmon::DecodeRecord(bytes)->boards.size();
  });
  const double rt = Measure("round trip encode+decode", kN, [&](int) {
    out.clear();
    asicmon::EncodeRecord(record, out);
    sink += asicmon::DecodeRecord(out)->pools.size();
  });
  Measure("decode (msgpack map -> json, for comparison)", kN / 10, [&](int) {
    sink += nlohmann::json::from_msgpack(map_bytes).size();
  });
  Measure("render JSON line", kN / 10, [&](int) { sink += asicmon::RecordToJsonLine(record).size(); });

  // A real S9 poll reply: summary made up in bmminer's layout, stats and
  // pools as captured (stats has the `}{` quirk).
  const std::string dir = ASICMON_TEST_DATA_DIR;
  const std::string reply = "{\"summary\":[{\"STATUS\":[{\"STATUS\":\"S\",\"When\":1,\"Code\":11,"
                            "\"Msg\":\"Summary\"}],\"SUMMARY\":[{\"Elapsed\":293628,\"GHS 5s\":"
                            "\"13883.81\",\"GHS av\":13890.36,\"Accepted\":100,\"Rejected\":1,"
                            "\"Hardware Errors\":5}]}],\"stats\":[" +
                            ReadFile(dir + "/antminer-s9-stats.json") + "],\"pools\":[" +
                            ReadFile(dir + "/antminer-s9-pools.json") + "],\"id\":1}";
  Measure("repair only (S9 reply)", kN / 30, [&](int) {
    sink += asicmon::RepairMinerJson(reply)->size();
  });
  const double full = Measure("repair+parse+normalise (S9 reply)", kN / 30, [&](int) {
    asicmon::Record r;
    asicmon::NormaliseRawReply(reply, r);
    sink += r.boards.size();
  });
  std::printf("S9 reply: %zu bytes\n", reply.size());
  // The S21's answer to {"command":"stats","new_api":true} (its stats.cgi body),
  // as captured: STATUS one object, INFO, STATS[0].chain[].
  const std::string new_api = ReadFile(dir + "/antminer-s21-stats-newapi.json");
  Measure("repair+parse+normalise (S21 new_api stats)", kN / 30, [&](int) {
    asicmon::Record r;
    asicmon::NormaliseRawReply(new_api, r);
    sink += r.boards.size();
  });
  std::printf("S21 new_api reply: %zu bytes\n", new_api.size());

  // Every family: the first capture set of each in the accuracy corpus
  // (tests/data/corpus/expected.json), read as the poller reads its poll.
  std::printf("\nper family (a poll's replies read as the poller reads them):\n");
  const nlohmann::json corpus =
      nlohmann::json::parse(ReadFile(dir + "/corpus/expected.json"), nullptr, false);
  std::vector<std::string> seen;
  for (const nlohmann::json& c : corpus.value("cases", nlohmann::json::array())) {
    const std::string family_name = c.value("poll", "");
    const std::string label = family_name.empty() ? "generic" : family_name;
    if (std::find(seen.begin(), seen.end(), label) != seen.end()) continue;
    seen.push_back(label);
    const asicmon::Family* family =
        family_name.empty() ? nullptr : asicmon::FindFamily(family_name);
    std::vector<asicmon::PollStep> steps;
    std::vector<std::optional<std::string>> payloads;
    size_t set_bytes = 0;
    for (const nlohmann::json& file_ref : c.at("replies")) {
      const bool named = file_ref.is_array();
      const std::string file =
          named ? file_ref.at(1).get<std::string>() : file_ref.get<std::string>();
      steps.push_back({named ? file_ref.at(0).get<std::string>() : file,
                       asicmon::Framing::kCgminer, 0, ""});
      payloads.emplace_back(ReadFile(dir + "/" + file));
      set_bytes += payloads.back()->size();
    }
    const std::string name = label + " (" + c.value("name", "") + ", " +
                             std::to_string(steps.size()) + " replies, " + std::to_string(set_bytes) +
                             " bytes)";
    Measure(name.c_str(), kN / 30, [&](int) {
      asicmon::Record r;
      asicmon::ReadPayloads(family, steps, payloads, "", r);
      sink += r.boards.size();
    });
  }
  std::printf("\nround trip: %.0f records/s on one core (target >= 200000: %s); encode %.2f us, decode %.2f us\n",
              1e6 / rt, 1e6 / rt >= 200000 ? "met" : "NOT met", enc, dec);
  std::printf("normalising a real reply: %.0f replies/s on one core\n", 1e6 / full);
  return sink == 0 ? 1 : 0;
}
