// The dashboard in a real browser: fakefarm (one miner with a dead board, the
// S17 Pro asleep from the start), store, collect, discover and control as
// real processes on 127.43.x, then
// tests/browser/dashboard.mjs drives Debian's headless chromium against
// control's page, and this side checks that the reboot the page asked for
// really happened on the fake miner. Skipped, saying why, where chromium or
// playwright-core (scripts/deps.sh) is missing.
//
// ASICMON_SCREENSHOT=<png> runs it over 50 miners with a few faults and saves
// the page (docs/dashboard.png is made this way).
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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
namespace fs = std::filesystem;

constexpr char kToken[] = "dashboard-test-token";
constexpr char kChromium[] = "/usr/bin/chromium";
const fs::path kSourceDir = fs::path(ASICMON_TEST_DATA_DIR).parent_path().parent_path();

// `program` as the shell would find it on PATH; empty when it is not there.
fs::path OnPath(const std::string& program) {
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kChromium)) GTEST_SKIP() << kChromium << " is missing: run scripts/deps.sh";
    node_ = OnPath("node");
    if (node_.empty()) GTEST_SKIP() << "node is not on PATH: run scripts/deps.sh";
    if (!fs::exists(kSourceDir / "third_party/node_modules/playwright-core/package.json")) {
      GTEST_SKIP() << "third_party/node_modules/playwright-core is missing: run scripts/deps.sh";
    }
    dir_ = fs::path(::testing::TempDir()) / ("asicmon-dashboard-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = (dir_ / "asicmon.db").string();
    const std::map<std::string, std::string> env = {
        {"ASICMON_RUN_DIR", (dir_ / "run").string()}, {"ASICMON_DB", db_path_},
        {"SUBNET", "127.43.0.0/24"},                  {"SCAN_INTERVAL", "2"},
        {"SWEEP_INTERVAL", "300"},                    {"POLL_TIMEOUT", "1.5"},
        {"CONTROL_TOKEN", kToken},                    {"CONTROL_BIND", "127.43.1.1:0"},
        {"MINER_HTTP_PORT", "8080"},                  {"MINER_BACK_TIMEOUT", "30"}};
    for (const auto& [name, value] : env) {
      setenv(name.c_str(), value.c_str(), 1);
      env_names_.push_back(name);
    }
  }
  void TearDown() override {
    for (const std::string& name : env_names_) unsetenv(name.c_str());
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // ip -> latest stored record.
  std::map<std::string, Record> Latest() {
    std::map<std::string, Record> out;
    auto db = StoreDb::Open({.database = db_path_});
    if (!db.ok()) return out;
    LatestFilter all;
    all.limit = 10000;
    if (auto rows = (*db)->Latest(all); rows.ok()) {
      for (Record& r : *rows) out[r.ip] = std::move(r);
    }
    return out;
  }

  fs::path node_;
  fs::path dir_;
  std::string db_path_;
  std::vector<std::string> env_names_;
};

TEST_F(DashboardTest, PageShowsTheFarmAndItsRebootButtonRebootsTheMiner) {
  const char* screenshot = getenv("ASICMON_SCREENSHOT");
  const std::string action_log = (dir_ / "actions.jsonl").string();
  // Models go round-robin from s9: the second miner is the S17 Pro, whose API says it sleeps.
  const std::string sleep_ip = "127.43.0.2";
  const std::string scenario = (dir_ / "scenario.jsonl").string();
  std::ofstream(scenario) << R"({"at_s": 0, "ip": ")" << sleep_ip << R"(", "sleeping": true})"
                          << "\n";
  std::vector<std::string> farm_args = {"--base", "127.43.0.1", "--seed", "43", "--fault",
                                        "deadboard=1", "--http-port", "8080", "--reboot-s", "2",
                                        "--action-log", action_log, "--scenario", scenario,
                                        "--count"};
  if (screenshot) {
    farm_args.insert(farm_args.end(), {"50", "--fault", "silent=1", "--fault", "garbage=1"});
  } else {
    farm_args.push_back("5");
  }
  testing::FakeFarm farm = testing::StartFakeFarm(farm_args);
  std::string dead_ip, reboot_ip;
  for (const auto& [ip, m] : farm.miners) {
    if (m["fault"] == "deadboard") dead_ip = ip;
    if (m["fault"] == "none" && reboot_ip.empty() && ip != sleep_ip) reboot_ip = ip;
  }
  ASSERT_FALSE(dead_ip.empty());
  ASSERT_FALSE(reboot_ip.empty());
  ASSERT_EQ(farm.miners[sleep_ip]["model"], "Antminer S17 Pro");
  ASSERT_EQ(farm.miners[sleep_ip]["fault"], "none") << "seed 43 puts the dead board elsewhere";

  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  std::map<std::string, Record> latest;
  for (auto until = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < until && latest.size() < farm.miners.size();) {
    std::this_thread::sleep_for(500ms);
    latest = Latest();
  }
  ASSERT_EQ(latest.size(), farm.miners.size()) << "miners stored";
  ASSERT_GE(latest[reboot_ip].uptime_s.value_or(0), 3600);  // fake miners start hours up
  EXPECT_TRUE(latest[sleep_ip].sleeping);

  Subprocess control({BinPath("asicmon-control")}, true);
  ASSERT_TRUE(control.WaitForStdout("READY", 20s)) << control.stderr_text();
  const std::string& out = control.stdout_text();
  const std::string base =
      "http://127.43.1.1:" + out.substr(out.find("READY ") + 6, out.find('\n') - 6);

  const auto t0 = std::chrono::steady_clock::now();
  Subprocess browser({node_.string(), (kSourceDir / "tests/browser/dashboard.mjs").string(), base,
                      kToken, reboot_ip, dead_ip, std::to_string(farm.miners.size()), sleep_ip},
                     /*capture_stderr=*/true);
  const std::string browser_out = browser.ReadAllStdout(120s);
  const int browser_exit = browser.Wait(10s);
  ASSERT_EQ(browser_exit, 0) << browser_out << browser.stderr_text() << control.stderr_text();
  std::cout << browser_out << "browser part: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
            << " s\n";

  // The fake miner took the reboot from its web UI, and came back fresh.
  const std::vector<json> actions = testing::ReadActionLog(action_log);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0]["ip"], reboot_ip);
  EXPECT_EQ(actions[0]["command"], "reboot");
  EXPECT_EQ(actions[0]["result"], "ok");
  std::optional<int64_t> uptime;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(500ms)) {
    Record r = Latest()[reboot_ip];
    uptime = r.uptime_s;
    if (r.status == MinerStatus::kOk && uptime && *uptime < 600) break;
  }
  ASSERT_TRUE(uptime.has_value());
  EXPECT_LT(*uptime, 600) << "the rebooted miner's uptime, as stored after it came back";
}

}  // namespace
}  // namespace asicmon
