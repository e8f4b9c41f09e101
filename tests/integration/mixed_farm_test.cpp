// A mixed farm, every model of every family the fake farm serves (--models
// all: stock Antminers classic and new API, Whatsminer v2 and v3, Braiins
// OS+, LuxOS, Avalon, ePIC's HTTP API on 4028, Bitaxe's AxeOS on port 80,
// Vnish),
// read by address alone: collect --once for the HTTP families, then discover
// -> collect -> store as real processes, every miner stored `ok` with its
// family, model and a hashrate in its algorithm's unit.
// Loopback range: 127.66.0.0/16 (each test its own /24; Bitaxe binds port 80,
// as root does in CI).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "asicmon/store_db.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::BinPath;
using testing::Subprocess;

// The family each miner of a --models all farm reads as, in the farm's
// order (machine i is the i-th model); Braiins OS+'s and ePIC's S19 XP have
// the same model name. The M60S answers API v2 on 4028 as the M31S does, so
// it reads as "whatsminer" where 4028 is its address (collect_fakefarm_test).
const std::vector<std::string> kFamilies = {"antminer", "antminer", "antminer",   "antminer",
                                            "antminer", "antminer", "antminer",   "antminer",
                                            "avalon",   "avalon",   "whatsminer", "whatsminer",
                                            "braiins",  "luxos",    "epic",       "bitaxe",
                                            "vnish"};

// What `request` on ip:port gets back before the farm closes, "" when the
// connection is refused (errno in `refused`).
std::string Exchange(const std::string& ip, uint16_t port, const std::string& request,
                     bool* refused = nullptr) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (refused) *refused = !connected && errno == ECONNREFUSED;
  std::string reply;
  if (connected) {
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

// ePIC answers HTTP on the API port and refuses a cgminer request as an HTTP
// server does; AxeOS has no API port at all. collect --once reads both by
// their address alone (4028, then the web port 80 --once adds).
TEST(MixedFarm, CollectOnceReadsEpicAndBitaxeByTheirAddress) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.66.0.1", "--count", "2", "--models", "epic-s19xp,bitaxe-supra"});
  ASSERT_EQ(farm.miners.size(), 2u);
  const std::string epic_ip = "127.66.0.1", bitaxe_ip = "127.66.0.2";
  EXPECT_EQ(farm.miners[epic_ip]["port"], 4028);
  EXPECT_EQ(farm.miners[bitaxe_ip]["port"], 80);

  EXPECT_TRUE(Exchange(epic_ip, 4028, R"({"command":"summary+stats+pools"})")
                  .starts_with("HTTP/1.1 400 Bad Request\r\n"));
  bool refused = false;
  EXPECT_EQ(Exchange(bitaxe_ip, 4028, R"({"command":"summary"})", &refused), "");
  EXPECT_TRUE(refused) << "AxeOS has no listener on 4028";

  Subprocess collect(
      {BinPath("asicmon-collect"), "--once", "--json", "--target", epic_ip, "--target", bitaxe_ip});
  const std::string out = collect.ReadAllStdout(30s);
  EXPECT_EQ(collect.Wait(10s), 0);
  std::map<std::string, json> records;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    ASSERT_TRUE(json::accept(line)) << line;
    const json r = json::parse(line);
    records[r["ip"]] = r;
  }
  ASSERT_EQ(records.size(), 2u) << out;

  const json& epic = records[epic_ip];
  EXPECT_EQ(epic["status"], "ok") << epic["error"];
  EXPECT_EQ(epic["family"], "epic");
  EXPECT_EQ(epic["model"], "Antminer S19 XP");
  EXPECT_EQ(epic["worker"], farm.miners[epic_ip]["worker"]);
  EXPECT_EQ(epic["algorithm"], "sha256d");
  ASSERT_TRUE(epic["hashrate"].is_number());
  EXPECT_NEAR(epic["hashrate"].get<double>(), 143e12, 143e12 * 0.05);  // H/s, MH/s on the wire
  ASSERT_TRUE(epic["power_w"].is_number());
  EXPECT_NEAR(epic["power_w"].get<double>(), 3350, 3350 * 0.05);
  EXPECT_EQ(epic["boards"].size(), 3u);
  EXPECT_EQ(epic["fans"].size(), 4u);
  EXPECT_EQ(epic["pools"].size(), 3u);
  EXPECT_EQ(epic["mac"], "02:01:00:00:00:00");  // /network

  const json& bitaxe = records[bitaxe_ip];
  EXPECT_EQ(bitaxe["status"], "ok") << bitaxe["error"];
  EXPECT_EQ(bitaxe["family"], "bitaxe");
  EXPECT_EQ(bitaxe["model"], "Bitaxe Supra");
  EXPECT_EQ(bitaxe["worker"], farm.miners[bitaxe_ip]["worker"]);
  ASSERT_TRUE(bitaxe["hashrate"].is_number());
  EXPECT_NEAR(bitaxe["hashrate"].get<double>(), 625.24e9, 625.24e9 * 0.05);  // GH/s on the wire
  ASSERT_TRUE(bitaxe["power_w"].is_number());
  EXPECT_NEAR(bitaxe["power_w"].get<double>(), 12.5, 1);
  EXPECT_EQ(bitaxe["boards"].size(), 1u);
  EXPECT_EQ(bitaxe["fans"].size(), 1u);
  EXPECT_EQ(bitaxe["pools"].size(), 2u);
  EXPECT_EQ(bitaxe["mac"], "02:01:00:00:00:01");
}

class MixedFarmPipelineTest : public ::testing::Test {
 protected:
  static constexpr const char* kEnv[] = {
      "ASICMON_RUN_DIR", "ASICMON_DB",     "POLL_TIMEOUT",   "SUBNET",
      "SCAN_INTERVAL",   "SWEEP_INTERVAL", "DISCOVER_PORTS", "DISCOVER_WEB_IDENTITY"};
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("mixed_farm_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("POLL_TIMEOUT", "2", 1);
    setenv("SUBNET", "127.66.1.1-127.66.1.17", 1);
    setenv("SCAN_INTERVAL", "1", 1);
    setenv("SWEEP_INTERVAL", "2", 1);
    // 4028 (cgminer, ePIC's HTTP), 4433 (Whatsminer API v3), 80 (AxeOS).
    setenv("DISCOVER_PORTS", "4028,4433,80", 1);
    setenv("DISCOVER_WEB_IDENTITY", "false", 1);  // no stock web interface in this farm
  }
  void TearDown() override {
    for (const char* v : kEnv) unsetenv(v);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
};

TEST_F(MixedFarmPipelineTest, EveryFamilyIsStoredOkWithItsFamilyModelAndUnit) {
  testing::FakeFarm farm =
      testing::StartFakeFarm({"--base", "127.66.1.1", "--count", "17", "--models", "all"});
  ASSERT_EQ(farm.miners.size(), 17u);

  Subprocess store({BinPath("asicmon-store")}, true);
  ASSERT_TRUE(store.WaitForStderr("pulling from", 20s)) << store.stderr_text();
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);

  auto db = StoreDb::Open({.database = (dir_ / "asicmon.db").string()});
  ASSERT_OK(db);
  std::map<std::string, Record> latest;
  auto all_ok = [&] {
    latest.clear();
    LatestFilter filter;
    filter.limit = 100;
    if (auto rows = (*db)->Latest(filter); rows.ok()) {
      for (Record& r : *rows) latest[r.ip] = std::move(r);
    }
    if (latest.size() != farm.miners.size()) return false;
    for (const auto& [ip, r] : latest) {
      if (r.status != MinerStatus::kOk) return false;
    }
    return true;
  };
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (!all_ok() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(500ms);
  ASSERT_EQ(latest.size(), farm.miners.size())
      << "discover: " << discover.stderr_text() << "\ncollect: " << collect.stderr_text();

  std::set<std::string> families;
  for (const auto& [ip, m] : farm.miners) {
    const std::string model = m["model"];
    SCOPED_TRACE(ip + " " + model);
    const Record& r = latest[ip];
    EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
    const int index = std::stoi(ip.substr(ip.rfind('.') + 1)) - 1;  // 127.66.1.1 is machine 0
    ASSERT_LT(index, static_cast<int>(kFamilies.size()));
    const std::string& family = kFamilies[static_cast<size_t>(index)];
    EXPECT_EQ(r.family, family);
    families.insert(r.family);
    EXPECT_EQ(r.model, model);
    EXPECT_EQ(r.worker, m["worker"].get<std::string>());
    EXPECT_FALSE(r.algorithm.empty());
    // The manifest's nominal is per second in the algorithm's unit (H/s,
    // sol/s for the Z15): so is the record's, whatever the wire's label.
    ASSERT_TRUE(r.hashrate.has_value());
    const double nominal = m["hashrate_nominal"].get<double>();
    EXPECT_NEAR(*r.hashrate, nominal, nominal * 0.1);
    EXPECT_EQ(r.boards.size(), m["boards"].get<size_t>());
    EXPECT_FALSE(r.fans.empty());
    EXPECT_FALSE(r.pools.empty());
    // What only each family's own plan asks, so collect ran that plan (the
    // generic summary+stats+pools carries none of it): the boards above of
    // a Whatsminer (edevs) and the fans of Braiins OS+ (fans); an Avalon's
    // MAC (version) and ePIC's (/network); the power of LuxOS (power) and
    // of the KS7 (the new API's stats; the S21's capture has no "watt").
    if (family == "avalon" || family == "epic" || family == "bitaxe") {
      EXPECT_FALSE(r.mac.empty());
    }
    if (family == "luxos" || model == "Antminer KS7") {
      EXPECT_TRUE(r.power_w.has_value());
    }
  }
  EXPECT_EQ(families, (std::set<std::string>{"antminer", "avalon", "whatsminer", "braiins", "luxos",
                                             "epic", "bitaxe", "vnish"}));
}

}  // namespace
}  // namespace asicmon
