// The health rules over the real pipeline: fake miners (127.46.0.1-4) that
// heat up, lose a hash board and go silent, then recover, polled by
// discover + collect and judged by the store, make exactly the expected
// events, in order, and a healthy miner makes none.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "asicmon/store_db.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using testing::BinPath;
using testing::Subprocess;

class HealthPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("health-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("SUBNET", "127.46.0.1-127.46.0.4", 1);
    setenv("SCAN_INTERVAL", "1", 1);
    setenv("SWEEP_INTERVAL", "300", 1);
    setenv("POLL_TIMEOUT", "1", 1);
    setenv("ALERT_OFFLINE_POLLS", "2", 1);
  }
  void TearDown() override {
    for (const char* v : {"ASICMON_RUN_DIR", "ASICMON_DB", "SUBNET", "SCAN_INTERVAL",
                          "SWEEP_INTERVAL", "POLL_TIMEOUT", "ALERT_OFFLINE_POLLS"}) {
      unsetenv(v);
    }
    std::filesystem::remove_all(dir_);
  }

  // ip -> "kind/state" of its stored events, oldest first.
  std::map<std::string, std::vector<std::string>> Events() {
    std::map<std::string, std::vector<std::string>> out;
    StoreOptions options;
    options.database = (dir_ / "asicmon.db").string();
    auto db = StoreDb::Open(options);
    if (!db.ok()) return out;
    auto events = (*db)->Events({.since = 0, .ip = "", .kind = "", .limit = 1000});
    if (!events.ok()) return out;
    for (auto it = events->rbegin(); it != events->rend(); ++it) {
      out[it->ip].push_back(it->kind + "/" + it->state);
    }
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(HealthPipelineTest, HeatDeadBoardAndSilenceFireAndClearExactlyOnce) {
  // From the farm's READY: trouble at 5 s, all well again at 11 s.
  const std::string scenario = (dir_ / "scenario.jsonl").string();
  std::ofstream(scenario) << R"({"at_s": 5, "miner": 0, "temp_offset": 40}
{"at_s": 5, "miner": 1, "dead_board": true}
{"at_s": 5, "miner": 2, "fault": "silent"}
{"at_s": 11, "miner": 0, "temp_offset": 0}
{"at_s": 11, "miner": 1, "dead_board": false}
{"at_s": 11, "miner": 2, "fault": "none"}
)";
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.46.0.1", "--count", "4", "--models", "s19pro", "--scenario", scenario});
  ASSERT_TRUE(farm.process);
  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);

  const std::map<std::string, std::vector<std::string>> want = {
      {"127.46.0.1", {"overheat/fired", "overheat/cleared"}},
      // The fake firmware lowers its ideal rate with the board, as the
      // hashrate does: no hashrate_low (the rule has its unit tests).
      {"127.46.0.2", {"board_dead/fired", "board_dead/cleared"}},
      {"127.46.0.3", {"offline/fired", "offline/cleared"}},
  };
  const auto until = std::chrono::steady_clock::now() + 40s;
  while (Events() != want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(500ms);
  }
  std::this_thread::sleep_for(3s);  // and nothing after
  EXPECT_EQ(Events(), want) << "store: " << store.stderr_text();
  EXPECT_NE(store.stderr_text().find("health: "), std::string::npos);
}

}  // namespace
}  // namespace asicmon
