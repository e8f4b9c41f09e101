// The bus across hosts: two network namespaces the test makes, joined by a
// veth pair (10.99.0.1/24 in "a", 10.99.0.2/24 in "b"). Those addresses
// exist only inside the two namespaces, and only processes started inside
// them (TwoHosts::In) are given them: nothing in the host's own namespace
// ever dials them, and Create checks that from "a" they route over the veth
// alone (a new namespace has no other link and no default route). asicmon-store with the central
// Curve key runs in b; asicmon-fakefarm and two asicmon-collect run in a,
// one with an authorized key and one with a key the store does not know.
// The test itself hands out poll jobs as discover would, over an ipc://
// socket (a path, so it reaches into a) with Curve on it too. Records of the
// authorized collector cross the veth into the store's database; the other
// collector polls as well, but its records never leave it (no handshake with
// the store completes), none is stored, and the store logs the refused
// handshake from host a.
//
// Skipped where network namespaces cannot be made (no CAP_SYS_ADMIN, or a
// container that forbids them). Loopback range inside a: 127.42.3.0/24.
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/bus_security.h"
#include "asicmon/record.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using namespace std::chrono_literals;

constexpr const char* kCollectorAddress = "10.99.0.1";  // host a's end of the veth
constexpr const char* kStoreAddress = "10.99.0.2";      // host b's end
constexpr const char* kFarmBase = "127.42.3.1";
constexpr int kMiners = 3;

std::string IpCommand() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return {};
}

// Runs a command to its end; its exit code, with its stderr in `err`.
int Run(std::vector<std::string> argv, std::string* err = nullptr) {
  Subprocess p(std::move(argv), /*capture_stderr=*/true);
  const int code = p.Wait(10s);
  if (err != nullptr) *err = p.stderr_text();
  return code;
}

// Two namespaces and the veth pair between them; deleted on destruction
// (the veth goes with them), whatever happened in between.
class TwoHosts {
 public:
  explicit TwoHosts(std::string ip) : ip_(std::move(ip)) {
    const std::string base = "asicmon-" + std::to_string(getpid());
    a_ = base + "-a";
    b_ = base + "-b";
  }
  ~TwoHosts() {
    for (const std::string* ns : {&a_, &b_}) {
      if (created_.count(*ns)) Run({ip_, "netns", "del", *ns});
    }
  }
  TwoHosts(const TwoHosts&) = delete;
  TwoHosts& operator=(const TwoHosts&) = delete;

  // Empty when both hosts are up; else why not.
  std::string Create() {
    std::string err;
    for (const std::string* ns : {&a_, &b_}) {
      if (Run({ip_, "netns", "add", *ns}, &err) != 0) return "ip netns add " + *ns + ": " + err;
      created_.insert(*ns);
    }
    // Interface names carry the pid too (at most 15 characters).
    const std::string veth_a = "am" + std::to_string(getpid()) + "a";
    const std::string veth_b = "am" + std::to_string(getpid()) + "b";
    const std::vector<std::vector<std::string>> steps = {
        {ip_, "link", "add", veth_a, "netns", a_, "type", "veth", "peer", "name", veth_b, "netns", b_},
        {ip_, "-n", a_, "addr", "add", std::string(kCollectorAddress) + "/24", "dev", veth_a},
        {ip_, "-n", b_, "addr", "add", std::string(kStoreAddress) + "/24", "dev", veth_b},
        {ip_, "-n", a_, "link", "set", veth_a, "up"},
        {ip_, "-n", b_, "link", "set", veth_b, "up"},
        {ip_, "-n", a_, "link", "set", "lo", "up"},
        {ip_, "-n", b_, "link", "set", "lo", "up"},
    };
    for (const auto& step : steps) {
      if (Run(step, &err) != 0) return step[1] + " " + step[2] + " " + step[3] + ": " + err;
    }
    // The store's address is reached over the veth and nothing else.
    Subprocess route({ip_, "-n", a_, "route", "get", kStoreAddress}, /*capture_stderr=*/true);
    const std::string way = route.ReadAllStdout(10s);
    if (route.Wait(10s) != 0 || way.find("dev " + veth_a) == std::string::npos) {
      return "in " + a_ + ", " + kStoreAddress + " does not route over " + veth_a + ": " + way +
             route.stderr_text();
    }
    return {};
  }

  // `command` run in namespace `ns` with `env` (NAME=value) added.
  std::vector<std::string> In(const std::string& ns, const std::vector<std::string>& env,
                              const std::vector<std::string>& command) const {
    std::vector<std::string> argv = {ip_, "netns", "exec", ns, "/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

 private:
  std::string ip_;
  std::string a_;
  std::string b_;
  std::set<std::string> created_;
};

// One field of the newest "counters ..." line collect logged (0 when none yet).
uint64_t Counter(Subprocess& collect, const std::string& key) {
  const std::string& err = collect.stderr_text();
  const size_t line = err.rfind(" counters ");
  if (line == std::string::npos) return 0;
  const size_t at = err.find(" " + key + "=", line);
  if (at == std::string::npos || at > err.find('\n', line)) return 0;
  return std::stoull(err.substr(at + key.size() + 2));
}

int64_t CountRecords(const std::string& db_path, const std::string& producer,
                     bool distinct_ips = false) {
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    db.setBusyTimeout(2000);
    SQLite::Statement q(db, distinct_ips
                                ? "SELECT COUNT(DISTINCT ip) FROM records WHERE producer_id = ?"
                                : "SELECT COUNT(*) FROM records WHERE producer_id = ?");
    q.bind(1, producer);
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
  } catch (const SQLite::Exception&) {
    return 0;  // not created yet
  }
}

class CurveNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string ip = IpCommand();
    if (ip.empty()) GTEST_SKIP() << "no ip command (iproute2): cannot make network namespaces";
    hosts_.emplace(ip);
    if (const std::string why = hosts_->Create(); !why.empty()) {
      GTEST_SKIP() << "network namespaces not permitted here (needs CAP_SYS_ADMIN, not in a "
                      "restricted container): "
                   << why;
    }
    dir_ = std::filesystem::path(::testing::TempDir()) / ("curve_netns_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "authorized");
    for (const char* name : {"central", "collector", "stranger"}) {
      ASSERT_FALSE(testing::RunKeygen(dir_.string(), name).empty());
    }
    std::filesystem::copy_file(dir_ / "collector.pub", dir_ / "authorized" / "collector.pub");
    db_path_ = (dir_ / "asicmon.db").string();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Subprocess> StartCollect(const std::string& key, const std::string& producer) {
    return std::make_unique<Subprocess>(
        hosts_->In(hosts_->a(),
                   {"ASICMON_RUN_DIR=" + (dir_ / "run-a").string(), "ASICMON_JOBS=" + JobsEndpoint(),
                    "ASICMON_INGEST=tcp://" + std::string(kStoreAddress) + ":5555",
                    "ASICMON_PUBLISH=tcp://" + std::string(kStoreAddress) + ":5556",
                    "ASICMON_CURVE_KEY=" + (dir_ / (key + ".key")).string(),
                    "ASICMON_CURVE_SERVER=" + (dir_ / "central.pub").string(),
                    "ASICMON_CURVE_AUTHORIZED="},
                   {BinPath("asicmon-collect"), "--producer-id", producer, "--stats-interval", "1"}),
        /*capture_stderr=*/true);
  }
  std::string JobsEndpoint() const { return "ipc://" + (dir_ / "jobs.sock").string(); }

  std::optional<TwoHosts> hosts_;
  std::filesystem::path dir_;
  std::string db_path_;
};

TEST_F(CurveNetnsTest, RecordsCrossTheVethOnlyWithTheAuthorizedKey) {
  Subprocess store(
      hosts_->In(hosts_->b(),
                 {"ASICMON_RUN_DIR=" + (dir_ / "run-b").string(), "ASICMON_DB=" + db_path_,
                  "ASICMON_INGEST=tcp://" + std::string(kStoreAddress) + ":5555",
                  "ASICMON_PUBLISH=tcp://" + std::string(kStoreAddress) + ":5556",
                  "ASICMON_CURVE_KEY=" + (dir_ / "central.key").string(),
                  "ASICMON_CURVE_SERVER=", "ASICMON_CURVE_AUTHORIZED=" + (dir_ / "authorized").string()},
                 {BinPath("asicmon-store"), "--stats-interval", "1"}),
      /*capture_stderr=*/true);
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", kFarmBase, "--count", std::to_string(kMiners), "--seed", "7"},
      {IpCommand(), "netns", "exec", hosts_->a()});
  ASSERT_EQ(farm.miners.size(), static_cast<size_t>(kMiners));

  // The jobs socket plays the central discover: its Curve server key is the
  // central one, and it lets both collectors in on purpose, so the one with
  // the unknown key has records to try on the store.
  bus::CurveSettings jobs_curve;
  Result<bus::CurveKeypair> central = bus::ReadCurveKeypair(dir_ / "central.key");
  ASSERT_OK(central);
  jobs_curve.keypair = *central;
  jobs_curve.authorized = std::set<std::string>{*bus::ReadCurvePublicKey(dir_ / "collector.pub"),
                                                *bus::ReadCurvePublicKey(dir_ / "stranger.pub")};
  zmq::context_t context(1);
  Result<std::unique_ptr<bus::ZapHandler>> zap = bus::StartZapHandler(context, jobs_curve);
  ASSERT_OK(zap);
  bus::SocketOptions jobs_options;
  jobs_options.curve = &jobs_curve;
  jobs_options.zap = zap->get();
  jobs_options.linger_ms = 0;
  Result<zmq::socket_t> jobs = bus::Bind(context, zmq::socket_type::push, JobsEndpoint(), jobs_options);
  ASSERT_OK(jobs);

  auto collector = StartCollect("collector", "collect-good");
  auto stranger = StartCollect("stranger", "collect-stranger");

  uint64_t seq = 0;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline &&
         (CountRecords(db_path_, "collect-good", true) < kMiners ||
          Counter(*stranger, "ok") == 0)) {
    for (const auto& [ip, manifest] : farm.miners) {
      PollJob job;
      job.producer_id = "test-jobs";
      job.seq = ++seq;
      job.ts = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      job.expires_ts = job.ts + 5;
      job.ip = ip;
      std::string body;
      EncodePollJob(job, body);
      (void)bus::TrySend(*jobs, bus::kTopicJob, body);
    }
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(CountRecords(db_path_, "collect-good", true), kMiners)
      << "store: " << store.stderr_text() << "\ncollector: " << collector->stderr_text();
  EXPECT_GE((*zap)->accepted(), 2u);  // both collectors took jobs
  // The stranger polled and holds its records: its socket to the store never
  // completed a handshake. (A record handed to zmq before the first handshake
  // failed counts as sent, then dies with that connection: the store's table
  // below is what proves nothing got in.)
  EXPECT_GE(Counter(*stranger, "ok"), 1u) << stranger->stderr_text();
  EXPECT_GE(Counter(*stranger, "backlog"), 1u) << stranger->stderr_text();

  // The stranger's handshakes with the store fail; it came from host a.
  const auto until = std::chrono::steady_clock::now() + 5s;
  const std::string refused = std::string("curve: refused a bus client from ") + kCollectorAddress;
  while (store.stderr_text().find(refused) == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(store.stderr_text().find(refused), std::string::npos)
      << store.stderr_text();
  EXPECT_EQ(CountRecords(db_path_, "collect-stranger"), 0);
}

}  // namespace
}  // namespace asicmon
