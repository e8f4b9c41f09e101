// asicmon-discover against real asicmon-fakefarm processes: the one-shot
// sweep finds every miner with its identity, bad targets exit 2, and the
// service hands out poll jobs, publishes the inventory, counts lost jobs and
// declares a miner gone after three missed sweeps. The test plays collect
// (PULL on jobs), store's ingest (PULL bound) and store's publish (PUB bound).
// Loopback range: 127.34.0.0/16 and 127.35.0.0/16 (each test its own /24).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <cctype>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/record.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Farm = asicmon::testing::FakeFarm;
using asicmon::testing::StartFakeFarm;

// argv for discover with ASICMON_RUN_DIR (and `env`, NAME=VALUE) set for it
// alone; SUBNET never leaks in from the test's own environment.
std::vector<std::string> DiscoverArgs(const std::string& run_dir, std::vector<std::string> args,
                                      std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "SUBNET", "ASICMON_RUN_DIR=" + run_dir};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(BinPath("asicmon-discover"));
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// A fresh ASICMON_RUN_DIR, removed afterwards.
class RunDir {
 public:
  explicit RunDir(const std::string& name)
      : path_(::testing::TempDir() + "discover-" + name + "-" + std::to_string(getpid())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~RunDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `discover --once --json` and returns its stdout lines by ip.
struct OnceResult {
  int exit_code = -1;
  std::map<std::string, json> miners;
  std::string err;
  double seconds = 0;
};

OnceResult RunOnce(std::vector<std::string> args) {
  args.insert(args.begin(), {"--once", "--json"});
  const auto start = Clock::now();
  RunDir run_dir("once");
  Subprocess discover(DiscoverArgs(run_dir.path(), args), true);
  const std::string out = discover.ReadAllStdout(60s);
  OnceResult r;
  r.exit_code = discover.Wait(10s);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.err = discover.stderr_text();
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(json::accept(line)) << "stdout is not JSON lines: " << line;
    if (!json::accept(line)) continue;
    json m = json::parse(line);
    r.miners[m["ip"].get<std::string>()] = m;
  }
  return r;
}

// Receives one bus message within `timeout`.
std::optional<bus::Message> Receive(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  Result<std::optional<bus::Message>> m = bus::TryReceive(socket);
  if (!m.ok()) {
    ADD_FAILURE() << m.status().ToString();
    return std::nullopt;
  }
  return *m;
}

// The last value of `name=N` in a counters line.
int64_t Counter(const std::string& log, const std::string& name) {
  int64_t value = -1;
  const std::string key = name + "=";
  for (size_t at = log.find(key); at != std::string::npos; at = log.find(key, at + 1)) {
    const bool word_start = at == 0 || !(std::isalnum(static_cast<unsigned char>(log[at - 1])) ||
                                         log[at - 1] == '_');
    const size_t digits = at + key.size();
    if (word_start && digits < log.size() && std::isdigit(static_cast<unsigned char>(log[digits]))) {
      value = std::stoll(log.substr(digits, 20));
    }
  }
  return value;
}

TEST(Discover, OnceFindsEveryMinerWithItsIdentity) {
  Farm farm = StartFakeFarm({"--base", "127.34.1.10", "--count", "20", "--models", "all", "--seed", "5",
                         "--fault", "silent=1", "--fault", "garbage=1"});
  ASSERT_EQ(farm.miners.size(), 20u);
  // "all" has a Bitaxe, whose only API is AxeOS's on the web port 80.
  OnceResult r = RunOnce({"--subnet", "127.34.1.0/24", "--timeout", "1.5", "--ports", "4028,4433,80"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.miners.size(), 20u) << "one line per miner, nothing for the empty addresses";
  std::set<std::string> faults;
  for (const auto& [ip, m] : farm.miners) {
    const std::string fault = m["fault"].get<std::string>();
    SCOPED_TRACE(ip + " fault=" + fault);
    faults.insert(fault);
    ASSERT_TRUE(r.miners.count(ip));
    const json& d = r.miners[ip];
    EXPECT_EQ(d["port"], 4028);
    if (fault == "silent" || fault == "garbage") {
      EXPECT_EQ(d["identified"], false) << d.dump();
      EXPECT_FALSE(d["error"].get<std::string>().empty());
    } else {
      EXPECT_EQ(d["identified"], true) << d.dump();
      EXPECT_EQ(d["model"], m["model"]);
      EXPECT_EQ(d["worker"], m["worker"]);
      EXPECT_FALSE(d["firmware"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(faults.count("silent") && faults.count("garbage"));
  // The silent miner holds the sweep for the identify deadline, no longer.
  EXPECT_LT(r.seconds, 1.5 + 3);
  EXPECT_NE(r.err.find("swept 254 of 254 addresses"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("20 miners found (2 unidentified)"), std::string::npos) << r.err;
}

TEST(Discover, OnceHonoursExcludesPortAndTheHumanFormat) {
  Farm farm = StartFakeFarm({"--base", "127.34.2.1", "--count", "4", "--port", "4029"});
  ASSERT_EQ(farm.miners.size(), 4u);
  OnceResult r =
      RunOnce({"--subnet", "127.34.2.1-127.34.2.8", "--exclude", "127.34.2.2", "--port", "4029"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.miners.size(), 3u);
  EXPECT_FALSE(r.miners.count("127.34.2.2"));
  EXPECT_EQ(r.miners["127.34.2.1"]["port"], 4029);

  RunDir run_dir("human");
  Subprocess human(DiscoverArgs(run_dir.path(),
                                {"--once", "--subnet", "127.34.2.1,127.34.2.3", "--port", "4029"}));
  const std::string out = human.ReadAllStdout(30s);
  EXPECT_EQ(human.Wait(10s), 0);
  EXPECT_NE(out.find("127.34.2.1:4029  " + farm.miners["127.34.2.1"]["model"].get<std::string>()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("127.34.2.3:4029"), std::string::npos) << out;

  // SUBNET and MINER_PORT from the environment, as the supervisor sets them.
  Subprocess from_env(DiscoverArgs(run_dir.path(), {"--once", "--json"},
                                   {"SUBNET=127.34.2.4, 127.34.2.5", "MINER_PORT=4029"}));
  const std::string env_out = from_env.ReadAllStdout(30s);
  EXPECT_EQ(from_env.Wait(10s), 0);
  EXPECT_NE(env_out.find("\"ip\":\"127.34.2.4\""), std::string::npos) << env_out;
  EXPECT_EQ(env_out.find("127.34.2.5"), std::string::npos) << "no miner there: " << env_out;
}

TEST(Discover, BadOrMissingTargetsExitTwoWithAMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--once"}, "no targets"},
      {{"--once", "--subnet", "127.34.3.0/33"}, "not CIDR"},
      {{"--once", "--subnet", "127.34.3.300"}, "127.34.3.300"},
      {{"--once", "--subnet", "127.34.3.9-127.34.3.1"}, "ends before it starts"},
      {{"--once", "--subnet", "127.0.0.0/8"}, "more than"},
      {{"--once", "--subnet", "127.34.3.1", "--exclude", "127.34.3.*"}, "no address"},
      {{"--once", "--subnet", "127.34.3.1", "--exclude", "bogus"}, "bogus"},
      {{}, "no targets"},  // service mode too
      {{"--once", "--subnet", "127.34.3.1", "--port", "0"}, "--port"},
      {{"--once", "--subnet", "127.34.3.1", "--interval", "soon"}, "--interval"},
      {{"--subnet", "127.34.3.1", "--json"}, "--json goes with --once"},
  };
  for (const auto& [args, message] : cases) {
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    RunDir run_dir("bad");
    Subprocess discover(DiscoverArgs(run_dir.path(), args), true);
    EXPECT_EQ(discover.Wait(10s), 2);
    EXPECT_NE(discover.stderr_text().find(message), std::string::npos) << discover.stderr_text();
  }
}

TEST(Discover, OtherProtocolsAreSkipped) {
  // A web server on the API port: it answers anything with an HTTP status line.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(4028);
  inet_pton(AF_INET, "127.34.4.5", &addr.sin_addr);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  std::thread server([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char buf[256];
    [[maybe_unused]] ssize_t n = read(fd, buf, sizeof buf);
    const std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    n = write(fd, reply.data(), reply.size());
    close(fd);
  });
  Farm farm = StartFakeFarm({"--base", "127.34.4.1", "--count", "2"});
  OnceResult r = RunOnce({"--subnet", "127.34.4.0/29"});
  shutdown(listener, SHUT_RDWR);
  server.join();
  close(listener);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.miners.size(), 2u);
  EXPECT_FALSE(r.miners.count("127.34.4.5"));
  EXPECT_NE(r.err.find("127.34.4.5:4028 speaks another protocol"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 other services skipped"), std::string::npos) << r.err;
}

// The bus ends the service talks to, bound/connected as store and collect would.
struct FakePipeline {
  explicit FakePipeline(const std::string& run_dir)
      : ingest(Open(zmq::socket_type::pull, "ipc://" + run_dir + "/ingest.sock", true)),
        publish(Open(zmq::socket_type::pub, "ipc://" + run_dir + "/publish.sock", true)),
        jobs(Open(zmq::socket_type::pull, "ipc://" + run_dir + "/jobs.sock", false)) {}

  zmq::socket_t Open(zmq::socket_type type, const std::string& endpoint, bool bind) {
    bus::SocketOptions options;
    options.linger_ms = 0;
    Result<zmq::socket_t> s = bind ? bus::Bind(context, type, endpoint, options)
                                   : bus::Connect(context, type, endpoint, options);
    EXPECT_OK(s);
    return s.ok() ? std::move(s).value() : zmq::socket_t();
  }

  zmq::context_t context{1};
  zmq::socket_t ingest;
  zmq::socket_t publish;
  zmq::socket_t jobs;
};

TEST(Discover, ServiceHandsOutSpreadJobsAndPublishesTheInventory) {
  Farm farm = StartFakeFarm({"--base", "127.34.5.1", "--count", "10", "--seed", "2"});
  ASSERT_EQ(farm.miners.size(), 10u);
  RunDir run_dir("sched");
  FakePipeline pipeline(run_dir.path());
  Subprocess discover(
      DiscoverArgs(run_dir.path(), {"--subnet", "127.34.5.0/24", "--interval", "1", "--timeout",
                                    "1", "--producer-id", "disc-test"}),
      true);

  // Every miner found, identified, in sequence.
  std::map<std::string, InventoryEntry> found;
  uint64_t last_seq = 0;
  const auto until = Clock::now() + 15s;
  while (found.size() < farm.miners.size() && Clock::now() < until) {
    discover.stderr_text();  // keep its stderr pipe from filling
    std::optional<bus::Message> m = Receive(pipeline.ingest, 200ms);
    if (!m) continue;
    ASSERT_EQ(m->topic, bus::kTopicInventory);
    Result<InventoryEntry> e = DecodeInventory(m->body);
    ASSERT_OK(e);
    EXPECT_EQ(e->change, InventoryChange::kFound);
    EXPECT_EQ(e->producer_id, "disc-test");
    EXPECT_EQ(e->seq, last_seq + 1);
    last_seq = e->seq;
    found[e->ip] = *e;
  }
  ASSERT_EQ(found.size(), farm.miners.size()) << discover.stderr_text();
  for (const auto& [ip, m] : farm.miners) {
    SCOPED_TRACE(ip);
    ASSERT_TRUE(found.count(ip));
    EXPECT_TRUE(found[ip].identified);
    EXPECT_EQ(found[ip].model, m["model"].get<std::string>());
    EXPECT_EQ(found[ip].worker, m["worker"].get<std::string>());
  }

  // Then a job per miner per interval, each miner at its own phase.
  std::map<std::string, std::vector<double>> jobs;  // ip -> issue times
  const auto jobs_until = Clock::now() + 2500ms;
  while (Clock::now() < jobs_until) {
    discover.stderr_text();
    std::optional<bus::Message> m = Receive(pipeline.jobs, 100ms);
    if (!m) continue;
    ASSERT_EQ(m->topic, bus::kTopicJob);
    Result<PollJob> job = DecodePollJob(m->body);
    ASSERT_OK(job);
    EXPECT_EQ(job->port, 4028);
    EXPECT_EQ(job->producer_id, "disc-test");
    EXPECT_NEAR(job->expires_ts - job->ts, 1.0, 0.01);
    jobs[job->ip].push_back(job->ts);
  }
  EXPECT_EQ(jobs.size(), farm.miners.size()) << "a job for every miner within ~2 intervals";
  std::vector<double> first_jobs;
  for (const auto& [ip, times] : jobs) {
    SCOPED_TRACE(ip);
    EXPECT_TRUE(farm.miners.count(ip));
    EXPECT_GE(times.size(), 2u);
    EXPECT_LE(times.size(), 3u);
    // Each miner keeps its phase: one interval apart, whatever the others do.
    for (size_t i = 1; i < times.size(); ++i) EXPECT_NEAR(times[i] - times[i - 1], 1.0, 0.3);
    first_jobs.push_back(times.front());
  }
  // The first round, all due within one interval of being found, is spread
  // over that interval rather than sent in one burst.
  const auto [first, last] = std::minmax_element(first_jobs.begin(), first_jobs.end());
  EXPECT_GT(*last - *first, 0.3);

  discover.Signal(SIGTERM);
  EXPECT_EQ(discover.Wait(5s), 0) << discover.stderr_text();
  EXPECT_NE(discover.stderr_text().find("stopped cleanly"), std::string::npos);
}

TEST(Discover, JobsWithoutRecordsAreCountedLostAndBehindWhenNoWorker) {
  Farm farm = StartFakeFarm({"--base", "127.35.1.1", "--count", "4", "--seed", "3"});
  ASSERT_EQ(farm.miners.size(), 4u);
  RunDir run_dir("lost");
  FakePipeline pipeline(run_dir.path());
  Subprocess discover(DiscoverArgs(run_dir.path(), {"--subnet", "127.35.1.1-127.35.1.4",
                                                    "--interval", "1", "--timeout", "1"}),
                      true);
  // Answer every job with a record, as collect and store would, except the
  // jobs for one miner; skip a record seq on purpose to show the gap count.
  const std::string dropped = "127.35.1.3";
  int dropped_jobs = 0;
  int answered = 0;
  uint64_t seq = 0;
  const auto until = Clock::now() + 4500ms;
  while (Clock::now() < until) {
    discover.stderr_text();
    std::optional<bus::Message> m = Receive(pipeline.jobs, 100ms);
    if (!m) continue;
    Result<PollJob> job = DecodePollJob(m->body);
    ASSERT_OK(job);
    if (job->ip == dropped) {
      ++dropped_jobs;
      continue;
    }
    Record record;
    record.producer_id = "collect-test";
    record.seq = ++seq == 5 ? ++seq : seq;
    record.ip = job->ip;
    record.port = job->port;
    ASSERT_TRUE(bus::TrySend(pipeline.publish, bus::kTopicRecord, EncodeRecord(record)));
    ++answered;
  }
  ASSERT_GE(dropped_jobs, 3);
  ASSERT_GE(answered, 6);

  // Now no worker at all: jobs cannot go out, and discover says so.
  pipeline.jobs.close();
  const auto behind_until = Clock::now() + 5s;
  while (Clock::now() < behind_until &&
         discover.stderr_text().find("falling behind") == std::string::npos) {
    std::this_thread::sleep_for(100ms);
  }
  discover.Signal(SIGTERM);
  ASSERT_EQ(discover.Wait(5s), 0);
  const std::string log = discover.stderr_text();
  EXPECT_NE(log.find("falling behind"), std::string::npos) << log;
  EXPECT_NE(log.find("got no record"), std::string::npos) << log;
  // The dropped miner's jobs, each noticed when its next one came due.
  EXPECT_GE(Counter(log, "jobs_lost"), dropped_jobs - 1) << log;
  EXPECT_GE(Counter(log, "records_matched"), answered - 2) << log;
  EXPECT_GE(Counter(log, "jobs_behind"), 1) << log;
  EXPECT_EQ(Counter(log, "record_gaps"), 1) << log;
}

TEST(Discover, MinerMissingFromThreeSweepsIsGone) {
  Farm farm = StartFakeFarm({"--base", "127.35.2.1", "--count", "3"});
  ASSERT_EQ(farm.miners.size(), 3u);
  RunDir run_dir("gone");
  FakePipeline pipeline(run_dir.path());
  Subprocess discover(DiscoverArgs(run_dir.path(), {"--subnet", "127.35.2.0/28", "--interval", "1",
                                                    "--sweep-interval", "1", "--timeout", "0.5"}),
                      true);
  std::set<std::string> found;
  auto until = Clock::now() + 10s;
  while (found.size() < 3 && Clock::now() < until) {
    discover.stderr_text();
    if (std::optional<bus::Message> m = Receive(pipeline.ingest, 200ms)) {
      Result<InventoryEntry> e = DecodeInventory(m->body);
      ASSERT_OK(e);
      EXPECT_EQ(e->change, InventoryChange::kFound);
      found.insert(e->ip);
    }
  }
  ASSERT_EQ(found.size(), 3u) << discover.stderr_text();

  farm.process->Signal(SIGTERM);
  ASSERT_EQ(farm.process->Wait(5s), 0);
  const auto killed = Clock::now();
  std::set<std::string> gone;
  double first_gone_s = 0;
  until = Clock::now() + 10s;
  while (gone.size() < 3 && Clock::now() < until) {
    discover.stderr_text();
    if (std::optional<bus::Message> m = Receive(pipeline.ingest, 200ms)) {
      Result<InventoryEntry> e = DecodeInventory(m->body);
      ASSERT_OK(e);
      EXPECT_EQ(e->change, InventoryChange::kGone) << e->ip;
      EXPECT_TRUE(e->identified);  // the entry carries the last known identity
      if (gone.empty()) first_gone_s = std::chrono::duration<double>(Clock::now() - killed).count();
      gone.insert(e->ip);
    }
  }
  EXPECT_EQ(gone, found) << discover.stderr_text();
  // Three sweeps, a second apart, must miss it first.
  EXPECT_GE(first_gone_s, 1.5);
  discover.Signal(SIGTERM);
  EXPECT_EQ(discover.Wait(5s), 0);
  EXPECT_NE(discover.stderr_text().find("gone: missing from 3 consecutive sweeps"),
            std::string::npos);
}

// Jobs that reach `jobs` within `window`, by ip.
std::map<std::string, int> JobsWithin(zmq::socket_t& jobs, Subprocess& discover,
                                      std::chrono::milliseconds window) {
  std::map<std::string, int> out;
  const auto until = Clock::now() + window;
  while (Clock::now() < until) {
    discover.stderr_text();
    if (std::optional<bus::Message> m = Receive(jobs, 100ms)) {
      Result<PollJob> job = DecodePollJob(m->body);
      EXPECT_OK(job);
      if (job.ok()) ++out[job->ip];
    }
  }
  return out;
}

// Cloned control boards: the same machines (so the same MACs) on two ranges.
// Each address is its own machine and is polled; none is taken for a move.
TEST(Discover, MachinesThatShareAMacAreEachPolled) {
  const std::vector<std::string> same_machines = {"--count",  "4",         "--machines", "1,2,3,4",
                                                  "--models", "luxos-s19", "--seed",     "3"};
  std::vector<std::string> first = {"--base", "127.35.6.1"}, second = {"--base", "127.35.7.1"};
  first.insert(first.end(), same_machines.begin(), same_machines.end());
  second.insert(second.end(), same_machines.begin(), same_machines.end());
  Farm farm_a = StartFakeFarm(first);
  Farm farm_b = StartFakeFarm(second);
  ASSERT_EQ(farm_a.miners.size(), 4u);
  ASSERT_EQ(farm_b.miners.size(), 4u);
  for (const auto& [ip, m] : farm_a.miners) {
    const std::string twin = "127.35.7" + ip.substr(std::string("127.35.6").size());
    ASSERT_TRUE(farm_b.miners.count(twin)) << twin;
    ASSERT_EQ(m["mac"], farm_b.miners[twin]["mac"]) << ip << " and " << twin;
  }
  RunDir run_dir("shared-mac");
  FakePipeline pipeline(run_dir.path());
  Subprocess discover(DiscoverArgs(run_dir.path(), {"--subnet", "127.35.6.0/23", "--interval", "1",
                                                    "--sweep-interval", "1", "--timeout", "1"}),
                      true);
  std::map<std::string, std::vector<InventoryEntry>> entries;  // by ip, in order
  const auto until = Clock::now() + 15s;
  while (entries.size() < 8 && Clock::now() < until) {
    discover.stderr_text();
    if (std::optional<bus::Message> m = Receive(pipeline.ingest, 200ms)) {
      Result<InventoryEntry> e = DecodeInventory(m->body);
      ASSERT_OK(e);
      entries[e->ip].push_back(*e);
    }
  }
  ASSERT_EQ(entries.size(), 8u) << discover.stderr_text();
  // Three more sweeps: every address polled in each interval, whichever twin answers first.
  const std::map<std::string, int> jobs = JobsWithin(pipeline.jobs, discover, 3500ms);
  for (const auto* farm : {&farm_a, &farm_b}) {
    for (const auto& [ip, m] : farm->miners) {
      SCOPED_TRACE(ip);
      EXPECT_GE(jobs.count(ip) ? jobs.at(ip) : 0, 2);
    }
  }
  for (;;) {  // what the last sweeps published
    std::optional<bus::Message> m = Receive(pipeline.ingest, 100ms);
    if (!m) break;
    Result<InventoryEntry> e = DecodeInventory(m->body);
    ASSERT_OK(e);
    entries[e->ip].push_back(*e);
  }
  for (const auto& [ip, list] : entries) {
    SCOPED_TRACE(ip);
    EXPECT_EQ(list.front().change, InventoryChange::kFound);
    for (const InventoryEntry& e : list) EXPECT_NE(e.change, InventoryChange::kMoved);
    for (const InventoryEntry& e : list) EXPECT_NE(e.change, InventoryChange::kGone);
    // Known by address: the last word on each leaves the shared MAC out.
    EXPECT_EQ(list.back().mac, "");
  }
  discover.Signal(SIGTERM);
  EXPECT_EQ(discover.Wait(5s), 0);
  const std::string log = discover.stderr_text();
  EXPECT_EQ(Counter(log, "shared_macs"), 4) << log;
  EXPECT_EQ(Counter(log, "moved"), 0);
  EXPECT_NE(log.find("both answer with MAC"), std::string::npos);
}

// A restarted discover polls the miners it knew at once, from its state
// file, before (here: without) its sweep finding them again; and announces
// none of them until one answers.
TEST(Discover, ARestartPollsTheKnownMinersBeforeItsSweepFindsThem) {
  Farm farm = StartFakeFarm({"--base", "127.35.3.1", "--count", "3"});
  ASSERT_EQ(farm.miners.size(), 3u);
  RunDir run_dir("resume");
  FakePipeline pipeline(run_dir.path());
  const std::string state = run_dir.path() + "/known.state";
  const std::vector<std::string> args = {"--subnet", "127.35.3.0/28", "--interval", "1",
                                         "--timeout", "0.5", "--stats-interval", "1",
                                         "--state-file", state};
  {
    Subprocess discover(DiscoverArgs(run_dir.path(), args), true);
    const auto until = Clock::now() + 15s;
    while (!std::filesystem::exists(state) && Clock::now() < until) {
      discover.stderr_text();
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(std::filesystem::exists(state)) << discover.stderr_text();
    discover.Signal(SIGKILL);  // what the sweep's end saved is all there is
    discover.Wait(5s);
  }
  farm.process->Signal(SIGTERM);
  ASSERT_EQ(farm.process->Wait(5s), 0);
  while (Receive(pipeline.jobs, 300ms)) {
  }
  while (Receive(pipeline.ingest, 100ms)) {
  }

  Subprocess again(DiscoverArgs(run_dir.path(), args), true);
  const std::map<std::string, int> jobs = JobsWithin(pipeline.jobs, again, 2500ms);
  EXPECT_EQ(jobs.size(), 3u) << again.stderr_text();
  for (const auto& [ip, m] : farm.miners) EXPECT_GE(jobs.count(ip), 1u) << ip;
  int found = 0;
  while (std::optional<bus::Message> m = Receive(pipeline.ingest, 100ms)) {
    if (m->topic != bus::kTopicInventory) continue;  // stats events share the socket
    Result<InventoryEntry> e = DecodeInventory(m->body);
    ASSERT_OK(e);
    found += e->change == InventoryChange::kFound;
  }
  EXPECT_EQ(found, 0) << "a miner that never answered was announced";
  again.Signal(SIGTERM);
  ASSERT_EQ(again.Wait(5s), 0);
  const std::string log = again.stderr_text();
  EXPECT_NE(log.find("resumed 3 known miners from " + state), std::string::npos) << log;
  EXPECT_EQ(Counter(log, "resumed"), 3) << log;

  // The same restart without the file waits for a sweep that finds nobody.
  Subprocess forgetful(DiscoverArgs(run_dir.path(), {"--subnet", "127.35.3.0/28", "--interval",
                                                     "1", "--timeout", "0.5", "--state-file",
                                                     "none"}),
                       true);
  EXPECT_TRUE(JobsWithin(pipeline.jobs, forgetful, 2000ms).empty());
  forgetful.Signal(SIGTERM);
  EXPECT_EQ(forgetful.Wait(5s), 0);
}

// DISCOVER_STATE pointing at a file that is not discover's: it is neither
// used nor written over.
TEST(Discover, AStateFileOfAnotherKindIsLeftAlone) {
  RunDir run_dir("foreign-state");
  FakePipeline pipeline(run_dir.path());
  const std::string state = run_dir.path() + "/notes.txt";
  std::ofstream(state) << "an operator's notes\n";
  Subprocess discover(DiscoverArgs(run_dir.path(), {"--subnet", "127.35.4.0/30", "--timeout",
                                                    "0.2", "--sweep-interval", "0.5"},
                                   {"DISCOVER_STATE=" + state}),
                      true);
  EXPECT_TRUE(discover.WaitForStderr("sweep 2 done", 15s)) << discover.stderr_text();
  discover.Signal(SIGTERM);
  ASSERT_EQ(discover.Wait(5s), 0);
  const std::string log = discover.stderr_text();
  EXPECT_NE(log.find("not a discover state file"), std::string::npos) << log;
  std::ifstream in(state);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "an operator's notes\n");
}

}  // namespace
}  // namespace asicmon
