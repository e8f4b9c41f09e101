// asicmon-store on tcp:// with CurveZMQ keys made by asicmon-keygen: a
// client with an authorized key stores and receives records; a client with
// an unknown key and a plain client inject nothing, and the store counts
// and logs the refused handshake. Bad key files stop the store at start,
// and plain tcp:// is announced as insecure. Loopback range: 127.42.0.0/24.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/bus_security.h"
#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::StatValue;
using asicmon::testing::Subprocess;
using namespace std::chrono_literals;

constexpr const char* kStoreIp = "127.42.0.1";
// Miners of each client's records: their addresses tell who got through.
constexpr int kAuthorizedMiner = 1;
constexpr int kStrangerMiner = 2;
constexpr int kPlainMiner = 3;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class CurveBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("curve_bus_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "authorized");
    server_pub_ = testing::RunKeygen(dir_.string(), "central");
    testing::RunKeygen(dir_.string(), "collector");
    testing::RunKeygen(dir_.string(), "stranger");
    std::filesystem::copy_file(dir_ / "collector.pub", dir_ / "authorized" / "collector.pub");
    db_path_ = (dir_ / "asicmon.db").string();
    ingest_ = "tcp://" + std::string(kStoreIp) + ":" + std::to_string(testing::FreeTcpPort(kStoreIp));
    publish_ = "tcp://" + std::string(kStoreIp) + ":" + std::to_string(testing::FreeTcpPort(kStoreIp));
    // The store inherits this environment.
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", db_path_.c_str(), 1);
    setenv("ASICMON_INGEST", ingest_.c_str(), 1);
    setenv("ASICMON_PUBLISH", publish_.c_str(), 1);
    setenv("ASICMON_CURVE_KEY", (dir_ / "central.key").c_str(), 1);
    setenv("ASICMON_CURVE_AUTHORIZED", (dir_ / "authorized").c_str(), 1);
    unsetenv("ASICMON_CURVE_SERVER");
  }
  void TearDown() override {
    for (const char* v : {"ASICMON_RUN_DIR", "ASICMON_DB", "ASICMON_INGEST", "ASICMON_PUBLISH",
                          "ASICMON_CURVE_KEY", "ASICMON_CURVE_AUTHORIZED"}) {
      unsetenv(v);
    }
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Subprocess> StartStore() {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{BinPath("asicmon-store"), "--stats-interval", "1"},
        /*capture_stderr=*/true);
  }

  // Client settings with `name`'s keypair and the central public key.
  bus::CurveSettings Client(const std::string& name) {
    bus::CurveSettings curve;
    Result<bus::CurveKeypair> keypair = bus::ReadCurveKeypair(dir_ / (name + ".key"));
    EXPECT_OK(keypair);
    if (keypair.ok()) curve.keypair = *keypair;
    curve.server_key = server_pub_;
    return curve;
  }

  zmq::socket_t Open(zmq::socket_type type, const std::string& endpoint,
                     const bus::CurveSettings* curve) {
    bus::SocketOptions options;
    options.curve = curve;
    options.linger_ms = 0;
    Result<zmq::socket_t> socket = bus::Connect(context_, type, endpoint, options);
    EXPECT_OK(socket);
    return socket.ok() ? std::move(*socket) : zmq::socket_t();
  }

  static bool SendRecord(zmq::socket_t& push, const std::string& producer, uint64_t seq, int miner) {
    return bus::TrySend(push, bus::kTopicRecord,
                        EncodeRecord(testing::SampleRecord(producer, seq, miner, Now() - 60)));
  }

  // Producers of the records `sub` receives within `timeout`, until one of
  // `until` arrives (then true).
  static bool ReceiveUntil(zmq::socket_t& sub, const std::string& until,
                           std::set<std::string>& producers, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      Result<std::optional<bus::Message>> m = bus::TryReceive(sub);
      if (!m.ok() || !m->has_value()) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      Result<Record> r = DecodeRecord((*m)->body);
      if (!r.ok()) continue;
      producers.insert(r->producer_id);
      if (r->producer_id == until) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  std::string server_pub_;
  std::string db_path_;
  std::string ingest_;
  std::string publish_;
  zmq::context_t context_{1};
};

TEST_F(CurveBusTest, OnlyTheAuthorizedKeyGetsRecordsIn) {
  ASSERT_EQ(server_pub_.size(), bus::kZ85KeyChars);
  auto store = StartStore();
  const bus::CurveSettings collector = Client("collector");
  const bus::CurveSettings stranger = Client("stranger");
  zmq::socket_t sub = Open(zmq::socket_type::sub, publish_, &collector);
  sub.set(zmq::sockopt::subscribe, bus::kTopicRecord);
  zmq::socket_t push = Open(zmq::socket_type::push, ingest_, &collector);

  // Warm up until the SUB hears the collector's records: store is up, both
  // handshakes are done and the subscription reached the PUB.
  std::set<std::string> seen;
  uint64_t seq = 0;
  bool warm = false;
  for (int i = 0; i < 100 && !warm; ++i) {
    (void)SendRecord(push, "collector", ++seq, kAuthorizedMiner);
    warm = ReceiveUntil(sub, "collector", seen, 100ms);
  }
  ASSERT_TRUE(warm) << "store stderr: " << store->stderr_text();

  zmq::socket_t wrong_key = Open(zmq::socket_type::push, ingest_, &stranger);
  zmq::socket_t plain = Open(zmq::socket_type::push, ingest_, nullptr);
  for (uint64_t i = 1; i <= 20; ++i) {
    (void)SendRecord(wrong_key, "stranger", i, kStrangerMiner);
    (void)SendRecord(plain, "plain", i, kPlainMiner);
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(store->WaitForStderr("curve: refused a bus client from", 5s)) << store->stderr_text();
  EXPECT_NE(store->stderr_text().find("key " + Client("stranger").keypair->public_key),
            std::string::npos)
      << store->stderr_text();
  // After the refusals: the collector's next record still gets through.
  (void)SendRecord(push, "end", 1, kAuthorizedMiner);
  ASSERT_TRUE(ReceiveUntil(sub, "end", seen, 5s));
  EXPECT_EQ(seen, (std::set<std::string>{"collector", "end"}));

  const auto until = std::chrono::steady_clock::now() + 5s;
  while (StatValue(*store, "curve_rejected") == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(StatValue(*store, "curve_rejected"), 1u) << store->stderr_text();
  // The central key's secret never reaches the log.
  const Result<bus::CurveKeypair> central = bus::ReadCurveKeypair(dir_ / "central.key");
  ASSERT_OK(central);
  EXPECT_EQ(store->stderr_text().find(central->secret_key), std::string::npos);

  store->Signal(SIGTERM);
  ASSERT_EQ(store->Wait(5s), 0) << store->stderr_text();
  StoreOptions options;
  options.database = db_path_;
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options);
  ASSERT_OK(db);
  LatestFilter all;
  all.limit = 100;
  Result<std::vector<Record>> latest = (*db)->Latest(all);
  ASSERT_OK(latest);
  std::set<std::string> ips;
  for (const Record& r : *latest) ips.insert(r.ip);
  EXPECT_EQ(ips, std::set<std::string>{testing::DataOnlyIp(kAuthorizedMiner)});
}

TEST_F(CurveBusTest, BadKeyFileStopsTheStoreWithItsReason) {
  const Result<bus::CurveKeypair> central = bus::ReadCurveKeypair(dir_ / "central.key");
  ASSERT_OK(central);
  const std::string truncated = central->secret_key.substr(0, 30);
  std::ofstream(dir_ / "broken.key") << "public " << central->public_key << "\nsecret " << truncated
                                     << "\n";
  setenv("ASICMON_CURVE_KEY", (dir_ / "broken.key").c_str(), 1);
  auto store = StartStore();
  EXPECT_EQ(store->Wait(10s), 2);
  const std::string err = store->stderr_text();
  EXPECT_NE(err.find("ASICMON_CURVE_KEY"), std::string::npos) << err;
  EXPECT_NE(err.find("broken.key line 2: not a Curve key"), std::string::npos) << err;
  EXPECT_EQ(err.find(truncated), std::string::npos) << "the secret leaked: " << err;

  // A keypair without the client keys to let in: refused too, not run open.
  setenv("ASICMON_CURVE_KEY", (dir_ / "central.key").c_str(), 1);
  unsetenv("ASICMON_CURVE_AUTHORIZED");
  auto open_store = StartStore();
  EXPECT_EQ(open_store->Wait(10s), 2);
  EXPECT_NE(open_store->stderr_text().find("needs ASICMON_CURVE_AUTHORIZED"), std::string::npos)
      << open_store->stderr_text();
}

TEST_F(CurveBusTest, PlainTcpIsAnnouncedAsInsecureOncePerSocket) {
  unsetenv("ASICMON_CURVE_KEY");
  unsetenv("ASICMON_CURVE_AUTHORIZED");
  auto store = StartStore();
  ASSERT_TRUE(store->WaitForStderr("stats ", 10s)) << store->stderr_text();
  const std::string err = store->stderr_text();
  for (const std::string& endpoint : {ingest_, publish_}) {
    const size_t at = err.find("bus bind " + endpoint + ": insecure");
    EXPECT_NE(at, std::string::npos) << err;
    EXPECT_EQ(err.find("bus bind " + endpoint + ": insecure", at + 1), std::string::npos) << err;
  }
  store->Signal(SIGTERM);
  EXPECT_EQ(store->Wait(5s), 0);
}

TEST(KeygenTest, HelpAndRefusalToOverwrite) {
  Subprocess help({BinPath("asicmon-keygen"), "--help"});
  EXPECT_NE(help.ReadAllStdout(5s).find("CurveZMQ"), std::string::npos);
  EXPECT_EQ(help.Wait(5s), 0);

  const std::string dir = (std::filesystem::path(::testing::TempDir()) /
                           ("keygen_" + std::to_string(getpid())))
                              .string();
  const std::string pub = testing::RunKeygen(dir, "host1");
  EXPECT_EQ(pub.size(), bus::kZ85KeyChars);
  Subprocess again({BinPath("asicmon-keygen"), "--dir", dir, "host1"}, true);
  EXPECT_EQ(again.Wait(5s), 1);
  EXPECT_NE(again.stderr_text().find("host1.key"), std::string::npos) << again.stderr_text();
  Result<std::string> still = bus::ReadCurvePublicKey(dir + "/host1.pub");
  ASSERT_OK(still);
  EXPECT_EQ(*still, pub);
  Subprocess bad_name({BinPath("asicmon-keygen"), "--dir", dir, "../escape"}, true);
  EXPECT_EQ(bad_name.Wait(5s), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace asicmon
