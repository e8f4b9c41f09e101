// The whole pipeline as real processes: asicmon-fakefarm (with a fault mix),
// asicmon-store, two asicmon-collect workers and asicmon-discover, on a
// private run directory and database. Loopback range: 127.36.0.0/16.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "asicmon/store_db.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kIntervalS = 2;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("asicmon-pipeline-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_path_ = (dir_ / "asicmon.db").string();
    // Every stage reads its settings from the environment, as under supervisord.
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", db_path_.c_str(), 1);
    setenv("SUBNET", "127.36.0.0/24", 1);
    setenv("SCAN_INTERVAL", std::to_string(kIntervalS).c_str(), 1);
    setenv("SWEEP_INTERVAL", "300", 1);
    setenv("POLL_TIMEOUT", "1.5", 1);
    setenv("STATS_INTERVAL", "1", 1);
  }
  void TearDown() override {
    for (const char* v : {"ASICMON_RUN_DIR", "ASICMON_DB", "SUBNET", "SCAN_INTERVAL",
                          "SWEEP_INTERVAL", "POLL_TIMEOUT", "STATS_INTERVAL"}) {
      unsetenv(v);
    }
    std::filesystem::remove_all(dir_);
  }

  // ip -> latest record in the database.
  std::map<std::string, Record> Latest() {
    std::map<std::string, Record> out;
    StoreOptions options;
    options.database = db_path_;
    auto db = StoreDb::Open(options);
    if (!db.ok()) return out;
    LatestFilter filter;
    filter.limit = 10000;
    auto rows = (*db)->Latest(filter);
    if (rows.ok()) {
      for (Record& r : *rows) out[r.ip] = std::move(r);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::string db_path_;
};

TEST_F(PipelineTest, EveryMinerStoredWithTheRightStatusAndSurvivesACollectorDeath) {
  asicmon::testing::FakeFarm farm = asicmon::testing::StartFakeFarm(
      {"--base", "127.36.0.1", "--count", "30", "--seed", "11", "--fault", "slow=2", "--fault",
       "silent=1", "--fault", "garbage=1", "--fault", "reset=1", "--fault", "deadboard=1",
       "--slow-ms", "1100"});
  const std::map<std::string, json>& manifest = farm.miners;
  ASSERT_EQ(manifest.size(), 30u);

  // Started in an unusual order on purpose: every stage reconnects on its own.
  Subprocess collect1({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect2({BinPath("asicmon-collect")}, true);

  // Within two intervals (plus start-up and the first sweep) every miner has a row.
  std::map<std::string, Record> latest;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4 * kIntervalS + 10);
  while (std::chrono::steady_clock::now() < until) {
    latest = Latest();
    if (latest.size() == manifest.size()) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(latest.size(), manifest.size()) << "miners with a stored record";

  for (const auto& [ip, m] : manifest) {
    const std::string fault = m["fault"].get<std::string>();
    SCOPED_TRACE(ip + " fault=" + fault);
    const Record& r = latest[ip];
    if (fault == "none" || fault == "slow" || fault == "deadboard") {
      EXPECT_EQ(ToString(r.status), "ok") << r.error;  // slow miners too: 1.1 s < 1.5 s deadline
      EXPECT_EQ(r.model, m["model"].get<std::string>());
      EXPECT_EQ(r.worker, m["worker"].get<std::string>());
      ASSERT_TRUE(r.hashrate.has_value());
      const double nominal = m["hashrate_nominal"].get<double>();
      const double tolerance = fault == "deadboard" ? 0.5 : 0.1;
      EXPECT_NEAR(*r.hashrate, nominal, nominal * tolerance);
    } else if (fault == "silent") {
      EXPECT_EQ(ToString(r.status), "timeout");
    } else if (fault == "garbage") {
      EXPECT_EQ(ToString(r.status), "parse_error");
    } else if (fault == "reset") {
      EXPECT_EQ(ToString(r.status), "reset");
    }
    EXPECT_FALSE(r.producer_id.empty());
    EXPECT_GT(r.seq, 0u);
  }

  // Kill one collector outright: records keep flowing through the other.
  collect1.Signal(SIGKILL);
  collect1.Wait(5s);
  std::this_thread::sleep_for(std::chrono::seconds(kIntervalS));  // jobs in its queue are lost
  const double after_kill = std::chrono::duration<double>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  std::map<std::string, Record> fresh;
  const auto until2 = std::chrono::steady_clock::now() + std::chrono::seconds(3 * kIntervalS + 5);
  while (std::chrono::steady_clock::now() < until2) {
    fresh = Latest();
    size_t newer = 0;
    for (const auto& [ip, r] : fresh) newer += r.ts > after_kill;
    if (newer == manifest.size()) break;
    std::this_thread::sleep_for(500ms);
  }
  size_t newer = 0;
  for (const auto& [ip, r] : fresh) newer += r.ts > after_kill;
  EXPECT_EQ(newer, manifest.size()) << "miners polled again after a collector died";

  // Clean shutdown of every stage on SIGTERM.
  for (Subprocess* p : {&discover, &collect2, &store}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(10s), 0) << p->stderr_text();
  }
}

}  // namespace
}  // namespace asicmon
