// asicmon-control's callers as a real process: every route tried with no key
// and with a key of each role (viewer, operator, admin), keys made and
// revoked on the command line while control runs, expiry, the audit naming
// the key, the penalty for wrong keys staying with the peer that sent them,
// and HTTPS with a certificate made at test time (the warning for clear text
// beyond loopback is a unit test: binding a wider address is not for tests). Miners live on 127.71.0.x,
// where nothing answers: a command that passes its role check fails at the
// miner (502), one that does not never reaches it.

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control_process.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Http;
using asicmon::testing::HttpCall;
using asicmon::testing::HttpReply;
using asicmon::testing::Subprocess;
using namespace std::chrono_literals;

constexpr const char* kBootstrap = testing::ControlProcess::kToken;
constexpr char kMiner[] = "/miners/127.71.0.1/w1";

class KeysRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    control_ = std::make_unique<testing::ControlProcess>(
        std::string("keys_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { control_.reset(); }

  // Reads need a key too (CONTROL_AUTH_READ), so every route is tried.
  void StartControl(std::vector<std::string> args = {}, const std::string& scheme = "http") {
    args.push_back("--auth-read");
    ASSERT_TRUE(control_->Start(args)) << control_->stderr_text();
    base_ = scheme + control_->base().substr(4);
  }
  // `asicmon-control keys ...` against the same database; its stdout.
  std::string KeysCli(std::vector<std::string> args, int expected_exit = 0) {
    args.insert(args.begin(), {BinPath("asicmon-control"), "keys"});
    Subprocess cli(args, /*capture_stderr=*/true);
    std::string out = cli.ReadAllStdout(20s);
    EXPECT_EQ(cli.Wait(20s), expected_exit) << cli.stderr_text();
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  HttpReply Call(const std::string& method, const std::string& path, const std::string& key,
                 const std::string& body = "") {
    return Http(method, base_ + path, body, key);
  }

  std::unique_ptr<testing::ControlProcess> control_;
  std::string base_;
};

// Issue 21's table, route by route: the least role each needs.
struct Route {
  std::string method, path, body;
  std::string needs;  // "viewer", "operator", "admin"
};

std::vector<Route> EveryRoute() {
  const std::string m = kMiner;
  return {
      {"GET", "/miners", "", "viewer"},
      {"GET", "/miners/127.71.0.1", "", "viewer"},
      {"GET", "/miners/127.71.0.1/history", "", "viewer"},
      {"GET", m + "/summary", "", "viewer"},
      {"GET", "/farm", "", "viewer"},
      {"GET", "/farm/history", "", "viewer"},
      {"GET", "/audit", "", "viewer"},
      {"GET", "/events", "", "viewer"},
      {"GET", "/metrics", "", "viewer"},
      {"GET", "/actions", "", "viewer"},
      {"GET", "/actions/1-1", "", "viewer"},
      {"GET", "/remediation", "", "viewer"},
      {"GET", "/curtail", "", "viewer"},
      {"GET", "/whoami", "", "viewer"},
      {"POST", m + "/locate", R"({"on": true})", "operator"},
      {"POST", m + "/reset", "", "operator"},
      {"POST", m + "/reboot", "", "operator"},
      {"POST", m + "/sleep", "", "operator"},
      {"POST", m + "/wake", "", "operator"},
      {"POST", "/actions", R"({"action": "reboot", "select": {"ips": ["127.71.0.1"]}, "dry_run": true})",
       "operator"},
      {"DELETE", "/actions/1-1", "", "operator"},
      {"POST", m + "/pool", R"({"pools": [{"url": "stratum+tcp://127.71.0.9:3333", "user": "a.b"}]})",
       "admin"},
      {"POST", m + "/power", R"({"limit_w": 2000})", "admin"},
      {"POST", "/actions", R"({"action": "pool", "select": {"ips": ["127.71.0.1"]}, "dry_run": true, "params": {"pools": [{"url": "stratum+tcp://127.71.0.9:3333", "user": "a.b"}]}})",
       "admin"},
      {"POST", "/curtail", R"({"target_kw": 10, "dry_run": true})", "admin"},
      {"DELETE", "/curtail", "", "admin"},
      {"GET", "/keys", "", "admin"},
      {"POST", "/keys", R"({"name": "made-by-test", "role": "viewer"})", "admin"},
      {"DELETE", "/keys/nobody", "", "admin"},
  };
}

int Rank(const std::string& role) {
  static const std::map<std::string, int> ranks = {{"viewer", 0}, {"operator", 1}, {"admin", 2}};
  return ranks.at(role);
}

TEST_F(KeysRolesTest, EveryRouteWithEveryRoleDoesExactlyWhatItsRowSays) {
  StartControl();
  std::map<std::string, std::string> keys;
  for (const char* role : {"viewer", "operator", "admin"}) {
    keys[role] = KeysCli({"add", std::string("key-") + role, "--role", role});
    ASSERT_TRUE(keys[role].starts_with("amk_")) << keys[role];
  }
  for (const Route& route : EveryRoute()) {
    const std::string what = route.method + " " + route.path + " " + route.body;
    // No key: refused, whatever the route (reads too, with CONTROL_AUTH_READ).
    HttpReply anonymous = Call(route.method, route.path, "", route.body);
    EXPECT_EQ(anonymous.status, 401) << what << " " << anonymous.body;
    for (const auto& [role, key] : keys) {
      HttpReply reply = Call(route.method, route.path, key, route.body);
      if (Rank(role) >= Rank(route.needs)) {
        EXPECT_NE(reply.status, 401) << role << " " << what << " " << reply.body;
        EXPECT_NE(reply.status, 403) << role << " " << what << " " << reply.body;
        EXPECT_NE(reply.status, 0) << role << " " << what;
      } else {
        EXPECT_EQ(reply.status, 403) << role << " " << what << " " << reply.body;
        EXPECT_EQ(reply.Json()["error"], "forbidden") << reply.body;
      }
      if (route.path == "/keys" && route.method == "POST" && reply.status == 201) {
        // Free the name for the next role's try.
        ASSERT_EQ(Call("DELETE", "/keys/made-by-test", keys["admin"]).status, 200);
      }
    }
  }
  // /healthz is for load balancers: open to all.
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  // What the dashboard shows: who is signed in and what the role may do.
  HttpReply who = Call("GET", "/whoami", keys["operator"]);
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.Json()["name"], "key-operator");
  EXPECT_EQ(who.Json()["role"], "operator");
  EXPECT_EQ(who.Json()["may"],
            nlohmann::json({"reset", "reboot", "sleep", "wake", "locate"}));
}

TEST_F(KeysRolesTest, ARevokedOrExpiredKeyIsRefusedAtOnceAndTheAuditNamesTheKey) {
  StartControl();
  const std::string alice = KeysCli({"add", "alice", "--role", "operator"});
  const std::string brief = KeysCli({"add", "brief", "--role", "viewer", "--expires", "1s"});
  // A command the miner never answers is still audited, under alice's name.
  HttpReply reboot = Call("POST", std::string(kMiner) + "/reboot", alice);
  EXPECT_EQ(reboot.status, 502) << reboot.body;
  HttpReply audit = Call("GET", "/audit?key=alice", alice);
  ASSERT_EQ(audit.status, 200) << audit.body;
  ASSERT_EQ(audit.Json()["count"], 1) << audit.body;
  EXPECT_EQ(audit.Json()["audit"][0]["actor"], "alice@127.0.0.1");
  EXPECT_EQ(audit.Json()["audit"][0]["action"], "reboot");
  EXPECT_EQ(Call("GET", "/audit?key=token", alice).Json()["count"], 0);

  // Revoked by another process while control runs: refused at the next use.
  KeysCli({"revoke", "alice"});
  HttpReply revoked = Call("GET", "/miners", alice);
  EXPECT_EQ(revoked.status, 401);
  EXPECT_EQ(revoked.Json()["detail"], "the key is revoked") << revoked.body;
  KeysCli({"revoke", "alice"}, /*expected_exit=*/2);

  // brief's second is over once the CLI has run and control answered twice.
  std::this_thread::sleep_for(1100ms);
  HttpReply expired = Call("GET", "/miners", brief);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.Json()["detail"], "the key is expired") << expired.body;

  const std::string list = KeysCli({"list"});
  EXPECT_NE(list.find("alice"), std::string::npos);
  EXPECT_NE(list.find("revoked"), std::string::npos);
  EXPECT_NE(list.find("expired"), std::string::npos);
  // Neither the keys nor their hashes are shown, nor logged.
  EXPECT_EQ(list.find(alice.substr(17)), std::string::npos);
  EXPECT_EQ(control_->stderr_text().find(alice.substr(17)), std::string::npos);

  // The bootstrap key is an admin named "token".
  HttpReply keys = Call("GET", "/keys", kBootstrap);
  ASSERT_EQ(keys.status, 200) << keys.body;
  EXPECT_EQ(keys.Json()["count"], 2);
  EXPECT_FALSE(keys.Json()["keys"][0].contains("hash"));
  EXPECT_EQ(Call("POST", "/keys", kBootstrap, R"({"name": "token", "role": "admin"})").status, 400);
}

TEST_F(KeysRolesTest, WrongKeysSlowDownTheirPeerOnly) {
  StartControl();
  const std::string viewer = KeysCli({"add", "dash", "--role", "viewer"});
  const std::string wrong = "amk_000000000000_" + std::string(64, '0');
  for (int i = 0; i < 5; ++i) {
    HttpReply r = Http(HttpCall{.method = "GET", .url = base_ + "/miners", .body = {},
                                .token = wrong, .source_ip = "127.0.0.1", .ca_file = {}});
    EXPECT_EQ(r.status, 401) << r.body;
  }
  // Held back now, even with a good key...
  HttpReply held = Http(HttpCall{.method = "GET", .url = base_ + "/miners", .body = {},
                                 .token = viewer, .source_ip = "127.0.0.1", .ca_file = {}});
  EXPECT_EQ(held.status, 429) << held.body;
  EXPECT_NE(held.headers.find("Retry-After: 1"), std::string::npos) << held.headers;
  // ...while another address goes on.
  HttpReply other = Http(HttpCall{.method = "GET", .url = base_ + "/miners", .body = {},
                                  .token = viewer, .source_ip = "127.71.0.200", .ca_file = {}});
  EXPECT_EQ(other.status, 200) << other.body;
  HttpReply metrics = Http(HttpCall{.method = "GET", .url = base_ + "/metrics", .body = {}, .token = viewer,
                          .source_ip = "127.71.0.200", .ca_file = {}});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("asicmon_control_auth_refusals_total{reason=\"unknown\"} 5"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("asicmon_control_auth_refusals_total{reason=\"throttled\"}"),
            std::string::npos);
}

TEST_F(KeysRolesTest, HttpsWithACertificateMadeNow) {
  const std::string cert = (control_->dir() / "cert.pem").string();
  const std::string key = (control_->dir() / "key.pem").string();
  Subprocess openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                      "-addext", "subjectAltName=IP:127.0.0.1"},
                     /*capture_stderr=*/true);
  ASSERT_EQ(openssl.Wait(30s), 0) << openssl.stderr_text();
  StartControl({"--tls-cert", cert, "--tls-key", key}, "https");
  HttpReply who = Http(HttpCall{.method = "GET", .url = base_ + "/whoami", .body = {},
                                .token = kBootstrap, .source_ip = {}, .ca_file = cert});
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(who.Json()["name"], "token");
  // Plain HTTP on the TLS port gets no answer; loopback serves no warning.
  EXPECT_NE(Http("GET", "http" + base_.substr(5) + "/healthz").status, 200);
  HttpReply health = Http(HttpCall{.method = "GET", .url = base_ + "/healthz", .body = {},
                                   .token = {}, .source_ip = {}, .ca_file = cert});
  EXPECT_EQ(health.status, 200);
  EXPECT_FALSE(health.Json().contains("warnings")) << health.body;
}

}  // namespace
}  // namespace asicmon
