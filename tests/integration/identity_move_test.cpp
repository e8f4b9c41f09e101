// Identity that survives DHCP, over the whole pipeline on 127.57.x: fake
// Antminers (their MAC only on the web interface's get_system_info.cgi,
// behind Digest auth), discover fingerprinting them with control's web
// credentials, collect, store and control. The farm is restarted with its
// machines at other addresses (--machines): one moves to an address nobody
// had, two swap, a new one takes the address the mover left. Each machine's
// history goes on under its own MAC in /miners, /miners/{ip}/history and
// /metrics, and the store keeps the moves in its inventory.
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "asicmon/clock.h"
#include "asicmon/store_db.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::BinPath;
using testing::Http;
using testing::HttpReply;
using testing::Subprocess;

constexpr char kEnv[][24] = {"ASICMON_RUN_DIR", "ASICMON_DB",       "CONTROL_BIND",
                             "POLL_TIMEOUT",    "SUBNET",           "SCAN_INTERVAL",
                             "SWEEP_INTERVAL",  "DISCOVER_PORTS",   "MINER_HTTP_PORT",
                             "MINER_HTTP_USER", "MINER_HTTP_PASSWORD"};

class IdentityMoveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("identity_move_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("CONTROL_BIND", "127.0.0.1:0", 1);
    setenv("POLL_TIMEOUT", "2", 1);
    setenv("SUBNET", "127.57.0.1-127.57.0.4", 1);
    setenv("SCAN_INTERVAL", "1", 1);
    setenv("SWEEP_INTERVAL", "2", 1);
    setenv("DISCOVER_PORTS", "4028", 1);
    // One set of web credentials for control and discover; not the default.
    setenv("MINER_HTTP_PORT", "8080", 1);
    setenv("MINER_HTTP_USER", "farmer", 1);
    setenv("MINER_HTTP_PASSWORD", "hunter2", 1);
  }
  void TearDown() override {
    for (const char* v : kEnv) unsetenv(v);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  testing::FakeFarm StartFarm(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--base",        "127.57.0.1", "--models", "s19pro,s17pro,s9",
                                     "--http-port",   "8080",       "--http-user", "farmer",
                                     "--http-password", "hunter2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::StartFakeFarm(args);
  }

  // The store's newest record of each address.
  std::map<std::string, Record> Latest(StoreDb& db) {
    std::map<std::string, Record> by_ip;
    LatestFilter all;
    all.limit = 100;
    if (auto rows = db.Latest(all); rows.ok()) {
      for (Record& r : *rows) by_ip[r.ip] = std::move(r);
    }
    return by_ip;
  }

  // True once every address of `want` (ip -> mac) has an ok record newer
  // than `since` naming that machine.
  bool Shows(StoreDb& db, const std::map<std::string, std::string>& want, double since) {
    const auto latest = Latest(db);
    for (const auto& [ip, mac] : want) {
      const auto it = latest.find(ip);
      if (it == latest.end() || it->second.ts <= since || it->second.mac != mac ||
          it->second.status != MinerStatus::kOk) {
        return false;
      }
    }
    return true;
  }

  std::filesystem::path dir_;
};

// The MAC of a manifest line, as the record writes it (lower case).
std::string MacOf(const json& miner) {
  std::string mac = miner["mac"];
  for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mac;
}

TEST_F(IdentityMoveTest, MovedAndSwappedMachinesKeepTheirHistoryAndIdentity) {
  const std::string a1 = "127.57.0.1", a2 = "127.57.0.2", a3 = "127.57.0.3", a4 = "127.57.0.4";
  std::unique_ptr<Subprocess> farm_process;
  std::map<std::string, std::string> machine_mac;  // worker -> mac: the machine
  std::map<std::string, std::string> before;       // ip -> mac
  {
    testing::FakeFarm farm = StartFarm({"--count", "3"});
    ASSERT_TRUE(farm.process);
    for (const auto& [ip, m] : farm.miners) {
      before[ip] = MacOf(m);
      machine_mac[m["worker"]] = MacOf(m);
    }
    farm_process = std::move(farm.process);
  }
  ASSERT_EQ(before.size(), 3u);

  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  ASSERT_TRUE(store.WaitForStderr("pulling from", 20s)) << store.stderr_text();
  Subprocess control({BinPath("asicmon-control")}, true);
  ASSERT_TRUE(control.WaitForStdout("READY", 20s)) << control.stderr_text();
  const std::string& ready = control.stdout_text();
  const std::string base =
      "http://127.0.0.1:" + ready.substr(ready.find("READY ") + 6, ready.find('\n') - 6);

  auto db = StoreDb::Open({.database = (dir_ / "asicmon.db").string()});
  ASSERT_OK(db);
  auto wait_until = [](std::chrono::seconds limit, auto done) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(250ms);
    return done();
  };
  // Stock Antminers' API names no MAC: the store stamps what discover read
  // from each web interface with control's credentials.
  ASSERT_TRUE(wait_until(60s, [&] { return Shows(**db, before, 0); }))
      << "discover: " << discover.stderr_text() << "\nstore: " << store.stderr_text();
  // Two polls each under the old addresses, for the histories to carry.
  const double first_seen = UnixNow();
  ASSERT_TRUE(wait_until(30s, [&] { return Shows(**db, before, first_seen + 1); }));

  // DHCP: machines 0 and 1 swap, machine 2 moves to .4, a new machine 3 takes .3.
  farm_process.reset();
  const double moved_at = UnixNow();
  testing::FakeFarm farm = StartFarm({"--count", "4", "--machines", "1,0,3,2"});
  ASSERT_TRUE(farm.process);
  std::map<std::string, std::string> after;
  for (const auto& [ip, m] : farm.miners) after[ip] = MacOf(m);
  ASSERT_EQ(after[a1], before[a2]);
  ASSERT_EQ(after[a2], before[a1]);
  ASSERT_EQ(after[a4], before[a3]);
  ASSERT_EQ(std::set<std::string>({after[a1], after[a2], after[a3], after[a4]}).size(), 4u);
  ASSERT_TRUE(wait_until(60s, [&] { return Shows(**db, after, moved_at + 1); }))
      << "discover: " << discover.stderr_text() << "\nstore: " << store.stderr_text();

  // The inventory: each machine where it is now, the moves with where from.
  auto inventory = (*db)->Inventory();
  ASSERT_OK(inventory);
  std::map<std::string, InventoryRow> rows;
  for (InventoryRow& row : *inventory) rows[row.ip] = row;
  EXPECT_EQ(rows[a1].mac, before[a2]);
  EXPECT_EQ(rows[a1].previous_ip, a2);
  EXPECT_EQ(rows[a2].mac, before[a1]);
  EXPECT_EQ(rows[a2].previous_ip, a1);
  EXPECT_EQ(rows[a4].mac, before[a3]);
  EXPECT_EQ(rows[a4].previous_ip, a3);
  EXPECT_EQ(rows[a3].mac, after[a3]);  // a new machine at a known address
  EXPECT_EQ(rows[a3].previous_ip, "");
  EXPECT_EQ(rows[a4].family, "antminer");
  EXPECT_EQ(rows[a4].serial.size(), 17u);
  EXPECT_EQ(rows[a4].hostname, "antminer-w0003");

  // /miners: each address names the machine there now.
  const HttpReply miners = Http("GET", base + "/miners");
  ASSERT_EQ(miners.status, 200) << miners.body;
  std::map<std::string, json> listed;
  const json page = miners.Json();
  for (const json& m : page["miners"]) listed[m["ip"]] = m;
  for (const auto& [ip, mac] : after) {
    ASSERT_TRUE(listed.contains(ip)) << ip;
    EXPECT_EQ(listed[ip]["mac"], mac) << ip;
  }
  EXPECT_EQ(listed[a4]["worker"], "farm.w0003");

  // History follows the machine: the mover's from both addresses, under its
  // MAC; each swapped machine's under its own, never the other's.
  auto history = [&](const std::string& ip) {
    const HttpReply h = Http("GET", base + "/miners/" + ip + "/history");
    EXPECT_EQ(h.status, 200) << h.body;
    return h.status == 200 ? h.Json()["records"] : json::array();
  };
  auto check_history = [&](const std::string& ip, const std::string& old_ip) {
    std::set<std::string> addresses;
    for (const json& r : history(ip)) {
      if (r.value("mac", "") != "") {
        EXPECT_EQ(r["mac"], after[ip]) << ip << ": " << r.dump();
      }
      addresses.insert(r["ip"]);
    }
    EXPECT_EQ(addresses, (std::set<std::string>{old_ip, ip})) << ip;
  };
  check_history(a4, a3);
  check_history(a1, a2);
  check_history(a2, a1);
  for (const json& r : history(a3)) EXPECT_EQ(r["ip"], a3) << "machine 3 has no past elsewhere";

  // /metrics: the series name the machine wherever it answers now.
  const HttpReply metrics = Http("GET", base + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const auto& [ip, mac] : after) {
    const std::string labels = "ip=\"" + ip + "\"";
    bool found = false;
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("asicmon_miner_up{") && line.find(labels) != std::string::npos) {
        found = true;
        EXPECT_NE(line.find("mac=\"" + mac + "\""), std::string::npos) << line;
      }
    }
    EXPECT_TRUE(found) << "no series of " << ip;
  }
}

}  // namespace
}  // namespace asicmon
