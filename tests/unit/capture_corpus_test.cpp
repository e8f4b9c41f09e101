// The accuracy corpus: every real capture set in tests/data/corpus/expected.json
// (see PROVENANCE.md) read the way a poll reads it (ReadPayloads, the poller's
// own path from received replies to a record), each field a person read by
// hand from the files compared with the record. Prints the share of fields
// read right per family and overall. A wrong field fails the test unless the
// case lists it as a known miss with its reason, and a known miss that reads
// right fails too, so the figure cannot drift in either direction unnoticed.
// No capture set may come out as anything but the status it expects.
//
// Field paths: "model", "boards[1].hashrate", "pools[0].url"; "boards#" is a
// list's length. Numbers match within 1e-6 relative; null is "not reported".
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "families/family.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;

// The value at `path` in the record's JSON; null when absent.
json At(const json& record, const std::string& path) {
  const json* node = &record;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '#') {
      return node->is_array() ? json(node->size()) : json();
    }
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string::npos || !node->is_array()) return json();
      const size_t index = std::stoul(path.substr(i + 1, close - i - 1));
      if (index >= node->size()) return json();
      node = &(*node)[index];
      i = close + 1;
      continue;
    }
    const size_t end = path.find_first_of(".[#", i);
    const std::string key = path.substr(i, end == std::string::npos ? end : end - i);
    if (!node->is_object() || !node->contains(key)) return json();
    node = &(*node)[key];
    i = end == std::string::npos ? path.size() : end;
  }
  return *node;
}

bool Same(const json& actual, const json& expected) {
  if (expected.is_number() && actual.is_number()) {
    const double a = actual.get<double>();
    const double e = expected.get<double>();
    return e == 0 ? a == 0 : std::fabs(a - e) <= std::fabs(e) * 1e-6;
  }
  if (expected.is_array() && actual.is_array()) {
    if (expected.size() != actual.size()) return false;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!Same(actual[i], expected[i])) return false;
    }
    return true;
  }
  return actual == expected;
}

// One capture set read as its poll would read it.
Record ReadCase(const json& c) {
  const std::string family_name = c.value("poll", "");
  const Family* family = family_name.empty() ? nullptr : FindFamily(family_name);
  EXPECT_TRUE(family_name.empty() || family != nullptr) << "no family " << family_name;
  std::vector<std::string> names;
  std::vector<std::optional<std::string>> payloads;
  for (const json& reply : c.at("replies")) {
    // A file alone, or [step, file] where the family finds documents by step.
    const bool named = reply.is_array();
    const std::string file = named ? reply.at(1).get<std::string>() : reply.get<std::string>();
    names.push_back(named ? reply.at(0).get<std::string>() : file);
    payloads.emplace_back(testing::ReadFixture(file));
  }
  std::vector<PollStep> steps;
  for (const std::string& name : names) steps.push_back({name, Framing::kCgminer, 0, ""});
  Record r;
  ReadPayloads(family, steps, payloads, "", r);
  return r;
}

struct Tally {
  int right = 0;
  int total = 0;
};

TEST(CaptureCorpus, EveryFieldReadByHandIsReadRight) {
  const json corpus = json::parse(testing::ReadFixture("corpus/expected.json"));
  std::map<std::string, Tally> by_family;
  Tally overall;
  std::map<std::string, int> models;
  for (const json& c : corpus.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    const json record = RecordToJson(ReadCase(c));
    const json& expect = c.at("expect");
    const json misses = c.value("misses", json::object());
    const std::string family = expect.value("family", std::string("(none)"));
    EXPECT_TRUE(expect.contains("status")) << "every case says the status it expects";
    EXPECT_EQ(record.value("status", ""), expect.value("status", "ok"))
        << record.value("error", "");
    ++models[expect.value("model", name)];
    for (const auto& [path, want] : expect.items()) {
      const json got = At(record, path);
      const bool right = Same(got, want);
      Tally& t = by_family[family];
      ++t.total;
      ++overall.total;
      if (right) {
        ++t.right;
        ++overall.right;
      }
      if (misses.contains(path)) {
        EXPECT_FALSE(right) << path << " is listed as a known miss but reads right: unlist it";
      } else {
        EXPECT_TRUE(right) << path << ": read " << got.dump() << ", expected " << want.dump();
      }
    }
    for (const auto& [path, reason] : misses.items()) {
      EXPECT_TRUE(expect.contains(path)) << "known miss " << path << " has no expected value";
      EXPECT_FALSE(reason.get<std::string>().empty()) << "known miss " << path << " needs a reason";
    }
  }
  for (const auto& [family, t] : by_family) {
    std::printf("corpus %-12s %4d/%-4d fields right (%.1f %%)\n", family.c_str(), t.right, t.total,
                100.0 * t.right / t.total);
  }
  std::printf("corpus overall      %4d/%-4d fields right (%.1f %%), %zu cases, %zu models\n",
              overall.right, overall.total, 100.0 * overall.right / overall.total,
              corpus.at("cases").size(), models.size());
  EXPECT_GT(overall.total, 0);
}

}  // namespace
}  // namespace asicmon
