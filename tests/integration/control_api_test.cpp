// asicmon-control as a real process against asicmon-fakefarm on 127.39.x
// (and asicmon-store, which relays control's events): every endpoint's
// success and errors, and that each command really changed the fake miner.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "sample_records.h"
#include "test_database.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Http;
using asicmon::testing::HttpReply;
using asicmon::testing::StartFakeFarm;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "t0ken-for-tests";

class ControlApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("ctl_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    database_ = std::make_unique<testing::TestDatabase>(dir_);
    db_path_ = database_->url();
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", db_path_.c_str(), 1);
    setenv("CONTROL_BIND", "127.0.0.1:0", 1);
    setenv("POLL_TIMEOUT", "3", 1);
    for (const char* var : {"CONTROL_TOKEN", "CONTROL_AUTH_READ", "ASICMON_INGEST",
                            "ASICMON_PUBLISH", "REBOOT_COOLDOWN_S", "MINER_HTTP_PORT"}) {
      unsetenv(var);
    }
  }
  void TearDown() override {
    control_.reset();
    database_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void StartControl(const std::string& token, std::vector<std::string> args = {}) {
    if (token.empty()) {
      unsetenv("CONTROL_TOKEN");
    } else {
      setenv("CONTROL_TOKEN", token.c_str(), 1);
    }
    args.insert(args.begin(), BinPath("asicmon-control"));
    control_ = std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
    ASSERT_TRUE(control_->WaitForStdout("READY", 20s)) << control_->stderr_text();
    const std::string& out = control_->stdout_text();
    base_ = "http://127.0.0.1:" + out.substr(out.find("READY ") + 6, out.find('\n') - 6);
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::TestDatabase> database_;
  std::string db_path_;  // SQLite file or PostgreSQL URL
  std::unique_ptr<Subprocess> control_;
  std::string base_;
};

// The ip of the first miner in `farm` whose manifest field `key` is `value`.
std::string MinerWhere(const testing::FakeFarm& farm, const std::string& key, const json& value) {
  for (const auto& [ip, m] : farm.miners) {
    if (m.value(key, json()) == value) return ip;
  }
  ADD_FAILURE() << "no miner with " << key << "=" << value.dump();
  return "";
}

TEST_F(ControlApiTest, ReadsFromTheStoreWithFiltersAndBadQueries) {
  StartControl("");
  EXPECT_EQ(Http("GET", base_ + "/healthz").status, 200);
  HttpReply empty = Http("GET", base_ + "/miners");
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(empty.Json()["count"], 0);  // control made the schema; nothing stored yet

  const double now = std::floor(std::chrono::duration<double>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  {
    auto db = StoreDb::Open({.database = db_path_});
    ASSERT_OK(db);
    std::vector<Record> records;
    for (int i = 0; i < 3; ++i) {
      Record r;
      r.producer_id = "test";
      r.seq = static_cast<uint64_t>(i + 1);
      r.ts = now - 60 + i;
      r.ip = testing::DataOnlyIp(9 * 250 + i);  // 127.41.9.1-3
      r.status = i == 2 ? MinerStatus::kTimeout : MinerStatus::kOk;
      r.model = i == 0 ? "Antminer S9" : "Antminer S19 Pro";
      r.worker = "farm.w" + std::to_string(i + 1);
      r.hashrate = i == 2 ? std::nullopt : std::optional<double>(13e12 * (i + 1));
      records.push_back(r);
    }
    ASSERT_OK((*db)->WriteBatch(records));
  }
  HttpReply all = Http("GET", base_ + "/miners");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.Json()["count"], 3);
  EXPECT_EQ(all.Json()["miners"][0]["ip"], "127.41.9.1");
  EXPECT_EQ(all.Json()["miners"][0]["hashrate"], 13e12);
  EXPECT_EQ(Http("GET", base_ + "/miners?status=timeout").Json()["miners"][0]["ip"], "127.41.9.3");
  EXPECT_EQ(Http("GET", base_ + "/miners?model=Antminer%20S19%20Pro").Json()["count"], 2);
  EXPECT_EQ(Http("GET", base_ + "/miners?worker=farm.w1").Json()["count"], 1);
  EXPECT_EQ(Http("GET", base_ + "/miners?limit=1&offset=1").Json()["miners"][0]["ip"], "127.41.9.2");
  EXPECT_EQ(Http("GET", base_ + "/miners?status=sleepy").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners?limit=0").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners?limit=abc").status, 400);

  HttpReply history = Http("GET", base_ + "/miners/127.41.9.2/history?from=" +
                                      std::to_string(now - 120) + "&to=" + std::to_string(now));
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(history.Json()["count"], 1);
  EXPECT_EQ(Http("GET", base_ + "/miners/127.41.9.2/history?from=10&to=5").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners/not-an-ip/history").status, 400);

  // The gauges come from the store at start, then from the bus (records
  // written behind control's back, as here, show at its next resync).
  control_.reset();
  StartControl("");
  HttpReply metrics = Http("GET", base_ + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("asicmon_miner_up{ip=\"127.41.9.3\",model=\"Antminer S19 Pro\","
                              "worker=\"farm.w3\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("asicmon_miner_hashrate_hashes_per_second{ip=\"127.41.9.2\""),
            std::string::npos);

  HttpReply spec = Http("GET", base_ + "/openapi.json");
  ASSERT_EQ(spec.status, 200);
  for (const char* path : {"/miners/{ip}/{worker}/summary", "/miners/{ip}/{worker}/reset",
                           "/miners/{ip}/{worker}/reboot", "/miners/{ip}/{worker}/pool",
                           "/miners", "/metrics"}) {
    EXPECT_TRUE(spec.Json()["paths"].contains(path)) << path;
  }
  HttpReply docs = Http("GET", base_ + "/docs");
  EXPECT_EQ(docs.status, 200);
  EXPECT_NE(docs.body.find("/docs/swagger-ui-bundle.js"), std::string::npos);
  EXPECT_EQ(Http("GET", base_ + "/docs/swagger-ui-bundle.js").status, 200);
  EXPECT_EQ(Http("GET", base_ + "/docs/..%2F..%2Fopenapi.json").status, 404);
  HttpReply unknown = Http("GET", base_ + "/nowhere");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(unknown.Json().contains("error"));
}

TEST_F(ControlApiTest, FarmTotalsSortedPagesAndTheDashboardFiles) {
  const double now = std::floor(std::chrono::duration<double>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  {
    auto db = StoreDb::Open({.database = db_path_});
    ASSERT_OK(db);
    std::vector<Record> records(4);
    for (int i = 0; i < 4; ++i) {
      Record& r = records[i];
      r.producer_id = "test";
      r.seq = static_cast<uint64_t>(i + 1);
      r.ts = now - 30 + i;
      r.ip = testing::DataOnlyIp(10 * 250 + i);  // 127.41.10.1-4
      r.model = "Antminer S19 Pro";
      r.algorithm = "sha256d";
      r.worker = "farm.w" + std::to_string(i + 1);
    }
    records[0].hashrate = 10e12;
    records[0].hashrate_expected = 13.5e12;
    records[0].power_w = 1300;
    records[0].temp_max = 80;
    records[1].hashrate = 20e12;
    records[1].hashrate_expected = 20e12;
    records[1].power_w = 2000.5;
    records[1].temp_max = 70;
    records[2].hashrate = 5e12;  // reports no power
    records[2].hashrate_expected = 6e12;
    records[2].temp_max = 90;
    records[3].status = MinerStatus::kTimeout;  // down: no figures at all
    ASSERT_OK((*db)->WriteBatch(records));
  }
  StartControl("");
  HttpReply farm = Http("GET", base_ + "/farm");
  ASSERT_EQ(farm.status, 200) << farm.body;
  json totals = farm.Json();
  EXPECT_EQ(totals["miners"], 4);
  EXPECT_EQ(totals["up"], 3);
  EXPECT_EQ(totals["down"], 1);
  EXPECT_EQ(totals["status"]["ok"], 3);
  EXPECT_EQ(totals["status"]["timeout"], 1);
  EXPECT_EQ(totals["status"]["refused"], 0);
  EXPECT_DOUBLE_EQ(totals["hashrate"].get<double>(), 35e12);
  EXPECT_DOUBLE_EQ(totals["hashrate_expected"].get<double>(), 39.5e12);
  EXPECT_DOUBLE_EQ(totals["power_w"].get<double>(), 3300.5);
  ASSERT_EQ(totals["algorithms"].size(), 1u) << totals.dump();
  EXPECT_EQ(totals["algorithms"]["sha256d"]["miners"], 4);
  EXPECT_DOUBLE_EQ(totals["algorithms"]["sha256d"]["hashrate"].get<double>(), 35e12);
  EXPECT_NEAR(totals["ts"].get<double>(), now, 60);

  // Sampled when control's bus thread starts (which may come just after
  // READY), then the totals now: two samples, oldest first.
  HttpReply history;
  for (int i = 0; i < 50; ++i) {
    history = Http("GET", base_ + "/farm/history?seconds=600");
    if (history.status != 200 || history.Json()["count"] == 2) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.Json()["interval_s"], 30);
  ASSERT_EQ(history.Json()["count"], 2);
  ASSERT_EQ(history.Json()["samples"].size(), 2u);
  EXPECT_LE(history.Json()["samples"][0]["ts"], history.Json()["samples"][1]["ts"]);
  EXPECT_DOUBLE_EQ(history.Json()["samples"][1]["hashrate"].get<double>(), 35e12);
  EXPECT_EQ(Http("GET", base_ + "/farm/history?seconds=0").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/farm/history?seconds=86401").status, 400);

  auto ips = [&](const std::string& query) {
    const json page = Http("GET", base_ + "/miners?" + query).Json();
    std::vector<std::string> out;
    for (const json& m : page["miners"]) out.push_back(m["ip"]);
    return out;
  };
  EXPECT_EQ(ips("sort=temp_max&order=desc"),
            (std::vector<std::string>{"127.41.10.3", "127.41.10.1", "127.41.10.2", "127.41.10.4"}));
  EXPECT_EQ(ips("sort=hashrate&limit=2&offset=1"),
            (std::vector<std::string>{"127.41.10.1", "127.41.10.2"}));
  EXPECT_EQ(ips("order=desc&limit=1"), std::vector<std::string>{"127.41.10.4"});
  EXPECT_EQ(Http("GET", base_ + "/miners?sort=ip_key").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners?order=up").status, 400);

  HttpReply page = Http("GET", base_ + "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/static/app.js"), std::string::npos);
  HttpReply script = Http("GET", base_ + "/static/app.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_NE(script.body.find("/farm/history"), std::string::npos);
  EXPECT_EQ(Http("GET", base_ + "/static/app.css").status, 200);
  EXPECT_EQ(Http("GET", base_ + "/static/uPlot.iife.min.js").status, 200);
  for (const char* escape : {"/static/../openapi.json", "/static/%2e%2e/openapi.json",
                             "/static/%2e%2e%2fopenapi.json", "/static/..%2Fdashboard%2Fapp.js",
                             "/static/index.html.bak", "/static/"}) {
    EXPECT_EQ(Http("GET", base_ + escape).status, 404) << escape;
  }
  HttpReply spec = Http("GET", base_ + "/openapi.json");
  for (const char* path : {"/farm", "/farm/history", "/", "/static/{file}"}) {
    EXPECT_TRUE(spec.Json()["paths"].contains(path)) << path;
  }
}

TEST_F(ControlApiTest, SummaryChecksTheWorkerAndReportsDeadMiners) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.0.1", "--count", "3", "--seed", "5",
                                          "--fault", "silent=1"});
  // The healthy miner's answer is waited for with a bound no loaded machine
  // reaches (the HTTP client's 30 s is the test's own), so the 200 depends
  // on the answer, not on how fast it came; the silent miner is checked
  // below, by a control whose short timeout it can only ever exceed.
  StartControl("", {"--poll-timeout", "25"});
  const std::string silent = MinerWhere(farm, "fault", "silent");
  std::string ip;
  for (const auto& [addr, m] : farm.miners) {
    if (m["fault"] == "none") ip = addr;
  }
  const std::string worker = farm.miners[ip]["worker"];
  HttpReply live = Http("GET", base_ + "/miners/" + ip + "/" + worker + "/summary");
  ASSERT_EQ(live.status, 200) << live.body;
  EXPECT_EQ(live.Json()["ip"], ip);
  EXPECT_EQ(live.Json()["worker"], worker);
  EXPECT_EQ(live.Json()["model"], farm.miners[ip]["model"]);
  EXPECT_EQ(live.Json()["status"], "ok");

  HttpReply wrong = Http("GET", base_ + "/miners/" + ip + "/someone.else/summary");
  EXPECT_EQ(wrong.status, 404);
  EXPECT_NE(wrong.Json()["detail"].get<std::string>().find(worker), std::string::npos);

  control_.reset();
  StartControl("", {"--poll-timeout", "1"});
  EXPECT_EQ(Http("GET", base_ + "/miners/" + silent + "/w/summary").status, 504);
  EXPECT_EQ(Http("GET", base_ + "/miners/127.39.0.250/w/summary").status, 502);  // nobody there
  EXPECT_EQ(Http("GET", base_ + "/miners/127.39.0.999/w/summary").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners/localhost/w/summary").status, 400);
  EXPECT_EQ(Http("GET", base_ + "/miners/" + ip + "/a,b/summary").status, 400);
}

TEST_F(ControlApiTest, WritesNeedTheTokenAndReadsToWithAuthRead) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.1.1", "--count", "1"});
  const std::string ip = "127.39.1.1";
  const std::string worker = farm.miners[ip]["worker"];
  StartControl("");
  HttpReply disabled = Http("POST", base_ + "/miners/" + ip + "/" + worker + "/reset", "", "any");
  EXPECT_EQ(disabled.status, 401);
  EXPECT_EQ(disabled.Json()["detail"], "the key is not known") << disabled.body;
  HttpReply no_key = Http("POST", base_ + "/miners/" + ip + "/" + worker + "/reset");
  EXPECT_EQ(no_key.status, 401);
  EXPECT_NE(no_key.Json()["detail"].get<std::string>().find("keys add"), std::string::npos)
      << no_key.body;

  control_.reset();
  setenv("CONTROL_AUTH_READ", "true", 1);
  StartControl(kToken);
  const std::string url = base_ + "/miners/" + ip + "/" + worker;
  EXPECT_EQ(Http("POST", url + "/reset").status, 401);
  EXPECT_EQ(Http("POST", url + "/reset", "", "wrong-token").status, 401);
  EXPECT_EQ(Http("POST", url + "/reset", "", std::string(kToken) + "x").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/miners").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/miners", "", kToken).status, 200);
  EXPECT_EQ(Http("GET", base_ + "/farm").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/farm/history").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/farm", "", kToken).status, 200);
  EXPECT_EQ(Http("GET", base_ + "/").status, 200);  // the page itself; it asks for the token
  EXPECT_EQ(Http("GET", url + "/summary", "", kToken).status, 200);
  EXPECT_EQ(control_->stderr_text().find(kToken), std::string::npos) << "the token was logged";
}

TEST_F(ControlApiTest, ResetRestartsTheMinerOr409sOnAReadOnlyApi) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.2.1", "--count", "4", "--seed", "9",
                                          "--deny-privileged", "2"});
  StartControl(kToken);
  const std::string open_ip = MinerWhere(farm, "deny_privileged", false);
  const std::string locked_ip = MinerWhere(farm, "deny_privileged", true);
  const std::string open_url =
      base_ + "/miners/" + open_ip + "/" + farm.miners[open_ip]["worker"].get<std::string>();
  const int64_t uptime_before = Http("GET", open_url + "/summary").Json()["uptime_s"];
  ASSERT_GT(uptime_before, 60);  // fake miners start with hours of uptime

  HttpReply reset = Http("POST", open_url + "/reset", "", kToken);
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.Json()["result"], "restarted");
  EXPECT_LT(reset.Json()["record"]["uptime_s"].get<int64_t>(), 10) << reset.body;
  const int64_t uptime_after = Http("GET", open_url + "/summary").Json()["uptime_s"];
  EXPECT_LT(uptime_after, 10) << "restart did not reset the miner's uptime";

  // Other stock builds answer {"STATUS":"RESTART"}: no STATUS block either,
  // so no failure (it was a 502 though the miner restarted; issue 17).
  testing::FakeFarm status_word = StartFakeFarm(
      {"--base", "127.39.2.20", "--count", "1", "--restart-reply", "status"});
  const std::string word_url = base_ + "/miners/127.39.2.20/" +
                               status_word.miners["127.39.2.20"]["worker"].get<std::string>();
  HttpReply word_reset = Http("POST", word_url + "/reset", "", kToken);
  ASSERT_EQ(word_reset.status, 200) << word_reset.body;
  EXPECT_EQ(word_reset.Json()["result"], "restarted");
  EXPECT_LT(word_reset.Json()["record"]["uptime_s"].get<int64_t>(), 10) << word_reset.body;

  HttpReply locked = Http("POST",
                          base_ + "/miners/" + locked_ip + "/" +
                              farm.miners[locked_ip]["worker"].get<std::string>() + "/reset",
                          "", kToken);
  EXPECT_EQ(locked.status, 409);
  EXPECT_NE(locked.Json()["detail"].get<std::string>().find("reboot"), std::string::npos);
  EXPECT_EQ(Http("POST", base_ + "/miners/" + open_ip + "/not.its.worker/reset", "", kToken).status,
            404);

  HttpReply audit = Http("GET", base_ + "/audit?ip=" + open_ip);
  ASSERT_EQ(audit.status, 200);
  ASSERT_EQ(audit.Json()["count"], 2);
  EXPECT_EQ(audit.Json()["audit"][0]["http_status"], 404);  // newest first
  EXPECT_EQ(audit.Json()["audit"][1]["action"], "reset");
  EXPECT_EQ(audit.Json()["audit"][1]["result"], "ok");
  EXPECT_EQ(audit.Json()["audit"][1]["actor"], "token@127.0.0.1");
}

TEST_F(ControlApiTest, PoolReplacedThroughTheApiAndConfirmed) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.3.1", "--count", "1"});
  StartControl(kToken);
  const std::string ip = "127.39.3.1";
  const std::string url = base_ + "/miners/" + ip + "/" + farm.miners[ip]["worker"].get<std::string>();
  ASSERT_GT(Http("GET", url + "/summary").Json()["pools"].size(), 1u);

  const json change = {{"url", "stratum+tcp://new-pool.example.com:3333"},
                       {"user", "farm.new1"},
                       {"password", "x"}};
  HttpReply done = Http("POST", url + "/pool", change.dump(), kToken);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Json()["via"], "api");
  // The worker is now the new pool's user, so the old path no longer matches.
  HttpReply now = Http("GET", base_ + "/miners/" + ip + "/farm.new1/summary");
  ASSERT_EQ(now.status, 200) << now.body;
  ASSERT_EQ(now.Json()["pools"].size(), 1u);
  EXPECT_EQ(now.Json()["pools"][0]["url"], "stratum+tcp://new-pool.example.com:3333");
  EXPECT_EQ(Http("GET", url + "/summary").status, 404);
}

TEST_F(ControlApiTest, PoolReplacedThroughTheWebConfigWhenTheApiIsReadOnly) {
  // set_miner_conf.cgi answering past a read's 10 s bound (some S19j Pro
  // firmware takes ~21 s; issue 17) is still a write that went through.
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.7.1", "--count", "1",
                                          "--deny-privileged", "all", "--http-port", "8080",
                                          "--conf-write-s", "14"});
  StartControl(kToken, {"--miner-http-port", "8080", "--miner-back-timeout", "15"});
  const std::string ip = "127.39.7.1";
  const std::string url = base_ + "/miners/" + ip + "/" + farm.miners[ip]["worker"].get<std::string>();
  const json change = {{"url", "stratum+tcp://web-pool.example.com:700"},
                       {"user", "farm.web1"},
                       {"password", "x"}};
  HttpReply done = Http("POST", url + "/pool", change.dump(), kToken);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Json()["via"], "web");
  HttpReply now = Http("GET", base_ + "/miners/" + ip + "/farm.web1/summary");
  ASSERT_EQ(now.status, 200) << now.body;
  ASSERT_EQ(now.Json()["pools"].size(), 1u);
  EXPECT_EQ(now.Json()["pools"][0]["url"], "stratum+tcp://web-pool.example.com:700");
  EXPECT_LT(now.Json()["uptime_s"].get<int64_t>(), 30);  // the firmware restarted its miner
}

TEST_F(ControlApiTest, RebootAcceptedThenBackWithCooldown) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.8.1", "--count", "1", "--http-port",
                                          "8080", "--reboot-s", "1"});
  StartControl(kToken, {"--miner-http-port", "8080", "--miner-back-timeout", "20"});
  const std::string ip = "127.39.8.1";
  const std::string url = base_ + "/miners/" + ip + "/" + farm.miners[ip]["worker"].get<std::string>();
  const int64_t uptime_before = Http("GET", url + "/summary").Json()["uptime_s"];

  HttpReply waited = Http("POST", url + "/reboot?wait=true", "", kToken);
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(waited.Json()["result"], "rebooted");
  EXPECT_LT(waited.Json()["record"]["uptime_s"].get<int64_t>(), uptime_before);

  HttpReply again = Http("POST", url + "/reboot", "", kToken);
  EXPECT_EQ(again.status, 409);  // inside REBOOT_COOLDOWN_S
  EXPECT_NE(again.Json()["detail"].get<std::string>().find("force=true"), std::string::npos);

  HttpReply forced = Http("POST", url + "/reboot?force=true", "", kToken);
  ASSERT_EQ(forced.status, 202) << forced.body;
  // Accepted means really going down: the API refuses while it reboots.
  EXPECT_EQ(Http("GET", url + "/summary").status, 502);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Http("GET", url + "/summary").status, 200);

  HttpReply audit = Http("GET", base_ + "/audit?ip=" + ip);
  ASSERT_EQ(audit.Json()["count"], 3);
  EXPECT_EQ(audit.Json()["audit"][1]["result"], "cooldown");
}

TEST_F(ControlApiTest, RebootWithWrongWebCredentialsIsABadGateway) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.9.1", "--count", "1", "--http-port",
                                          "8080"});
  setenv("MINER_HTTP_PASSWORD", "not-root", 1);
  StartControl(kToken, {"--miner-http-port", "8080"});
  unsetenv("MINER_HTTP_PASSWORD");
  const std::string ip = "127.39.9.1";
  HttpReply refused = Http(
      "POST", base_ + "/miners/" + ip + "/" + farm.miners[ip]["worker"].get<std::string>() + "/reboot",
      "", kToken);
  EXPECT_EQ(refused.status, 502);
  EXPECT_NE(refused.Json()["detail"].get<std::string>().find("MINER_HTTP_PASSWORD"),
            std::string::npos);
  EXPECT_EQ(control_->stderr_text().find("not-root"), std::string::npos) << "a password was logged";
}

TEST_F(ControlApiTest, BadPoolRequestsAreRefusedBeforeTheMinerIsContacted) {
  // No miner listens on 127.39.4.1: a request that got as far as the miner
  // would answer 502, so each 4xx here was decided by validation alone.
  StartControl(kToken);
  const std::string url = base_ + "/miners/127.39.4.1/farm.w1/pool";
  auto post = [&](const std::string& body) { return Http("POST", url, body, kToken).status; };
  EXPECT_EQ(post("not json"), 400);
  EXPECT_EQ(post("[]"), 400);
  EXPECT_EQ(post(R"({"user":"a"})"), 400);
  EXPECT_EQ(post(R"({"url":"http://pool:80","user":"a"})"), 400);
  EXPECT_EQ(post(R"({"url":"stratum+tcp://pool:3333","user":"a,b"})"), 400);
  EXPECT_EQ(post(R"({"url":"stratum+tcp://pool:3333","user":"a","password":"p,q"})"), 400);
  EXPECT_EQ(post(R"({"url":"stratum+tcp://pool:3333","user":7})"), 400);
  EXPECT_EQ(post(json{{"url", "stratum+tcp://pool:3333"}, {"user", std::string(200, 'u')}}.dump()),
            400);
  EXPECT_EQ(post(std::string(64 << 10, ' ')), 413);
  EXPECT_EQ(post(R"({"url":"stratum+tcp://pool:3333","user":"a"})"), 502);  // valid: tried
}

TEST_F(ControlApiTest, OneCommandAtATimePerMiner) {
  const std::string action_log = (dir_ / "actions.jsonl").string();
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.5.1", "--count", "1", "--fault",
                                          "slow=1", "--slow-ms", "2000", "--action-log",
                                          action_log});
  StartControl(kToken);
  const std::string url = base_ + "/miners/127.39.5.1/" +
                          farm.miners["127.39.5.1"]["worker"].get<std::string>() + "/reset";
  auto first = std::async(std::launch::async, [&] { return Http("POST", url, "", kToken); });
  // The farm logs the restart as it arrives and answers 2 s later (under
  // POLL_TIMEOUT 3 s): from that line on, the first command holds the miner.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (testing::ReadActionLog(action_log).empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(testing::ReadActionLog(action_log).size(), 1u)
      << "the first reset never reached the miner";
  HttpReply second = Http("POST", url, "", kToken);
  EXPECT_EQ(second.status, 409);
  EXPECT_NE(second.Json()["error"].get<std::string>().find("already running"), std::string::npos);
  EXPECT_EQ(first.get().status, 200);
  // Free again once done; a restart is taken once the last one has run 5 s
  // (before that it could not be confirmed).
  const std::string summary = url.substr(0, url.size() - std::string("/reset").size()) + "/summary";
  const auto settled = std::chrono::steady_clock::now() + 20s;
  while (Http("GET", summary).Json().value("uptime_s", 0) < 6 &&
         std::chrono::steady_clock::now() < settled) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(Http("POST", url, "", kToken).status, 200);
  EXPECT_EQ(testing::ReadActionLog(action_log).size(), 2u) << "the refused reset reached the miner";
}

TEST_F(ControlApiTest, EveryWriteIsAnEventOnTheBus) {
  testing::FakeFarm farm = StartFakeFarm({"--base", "127.39.6.1", "--count", "1"});
  Subprocess store({BinPath("asicmon-store"), "--stats-interval", "1"}, /*capture_stderr=*/true);
  zmq::context_t context(1);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "event");
  sub.set(zmq::sockopt::rcvtimeo, 500);
  sub.connect("ipc://" + (dir_ / "run" / "publish.sock").string());
  StartControl(kToken);
  const std::string url = base_ + "/miners/127.39.6.1/" +
                          farm.miners["127.39.6.1"]["worker"].get<std::string>() + "/reset";
  json event;
  // SUB misses what PUB sent before the subscription reached it: repeat the
  // command until one event arrives.
  for (int attempt = 0; attempt < 20 && event.is_null(); ++attempt) {
    // Done, or refused as the miner has just restarted: a write either way.
    const long status = Http("POST", url, "", kToken).status;
    ASSERT_TRUE(status == 200 || status == 409) << status;
    zmq::message_t topic, body;
    if (!sub.recv(topic) || !sub.recv(body)) continue;
    event = json::from_msgpack(body.to_string(), true, false);
  }
  ASSERT_TRUE(event.is_object()) << "no event on the bus";

  // A record stored by the store reaches /metrics through the bus.
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect("ipc://" + (dir_ / "run" / "ingest.sock").string());
  Record r;
  r.producer_id = "test";
  r.seq = 1;
  r.ts = 1e9;
  r.ip = "127.41.8.1";
  r.model = "Antminer L3+";
  r.worker = "ltc.w1";
  r.hashrate = 504e6;
  const std::string body = EncodeRecord(r);
  ASSERT_TRUE(push.send(zmq::buffer(std::string_view("record")), zmq::send_flags::sndmore));
  ASSERT_TRUE(push.send(zmq::buffer(body), zmq::send_flags::none));
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = Http("GET", base_ + "/metrics").body.find(
               "asicmon_miner_hashrate_hashes_per_second{ip=\"127.41.8.1\",model=\"Antminer L3+\","
               "worker=\"ltc.w1\"} 504000000") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(seen) << "a stored record never reached /metrics";
  // The store's own counters arrive as stats events, every STATS_INTERVAL.
  bool store_counters = false;
  for (int i = 0; i < 60 && !store_counters; ++i) {
    store_counters = Http("GET", base_ + "/metrics").body.find(
                         "asicmon_stage_counter{stage=\"store\"") != std::string::npos;
    if (!store_counters) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(store_counters) << "the store's counters never reached /metrics";
  EXPECT_EQ(event["kind"], "control");
  EXPECT_EQ(event["type"], "control");
  EXPECT_EQ(event["action"], "reset");
  EXPECT_EQ(event["ip"], "127.39.6.1");
  // The first reset is done; a later one may be refused for the restart that
  // just happened.
  if (event["http_status"] == 200) {
    EXPECT_EQ(event["result"], "ok");
  } else {
    EXPECT_EQ(event["http_status"], 409);
    EXPECT_EQ(event["result"], "starting");
  }
  EXPECT_GE(event["seq"].get<uint64_t>(), 1u);
}

}  // namespace
}  // namespace asicmon
