// The fake farm's Braiins OS+ and LuxOS miners read end to end: by
// `asicmon-collect --target IP --once --json` (fingerprinting), and polled
// with the family discover fingerprints into the poll job, which asks the
// family's plan in its first exchange. Loopback range: 127.63.0.0/16.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>

#include "asicmon/poller.h"
#include "farm_plan.h"
#include "farm_server.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::StartFakeFarm;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

TEST(BraiinsFakefarm, CollectOnceReadsEachFamilyByItsAddressAlone) {
  asicmon::testing::FakeFarm farm = StartFakeFarm(
      {"--base", "127.63.0.1", "--count", "2", "--models", "bos-s19xp,luxos-s19", "--seed", "4"});
  ASSERT_EQ(farm.miners.size(), 2u);
  const std::map<std::string, std::string> family = {{"Antminer S19 XP", "braiins"},
                                                     {"Antminer S19", "luxos"}};
  for (const auto& [ip, m] : farm.miners) {
    SCOPED_TRACE(ip + " " + m.dump());
    Subprocess collect({BinPath("asicmon-collect"), "--target", ip, "--once", "--json"});
    const std::string out = collect.ReadAllStdout(30s);
    EXPECT_EQ(collect.Wait(10s), 0);
    ASSERT_TRUE(json::accept(out)) << out;
    const json r = json::parse(out);
    EXPECT_EQ(r["status"], "ok") << r["error"];
    EXPECT_EQ(r["family"], family.at(m["model"].get<std::string>()));
    EXPECT_EQ(r["model"], m["model"]);
    EXPECT_EQ(r["port"], 4028);
    EXPECT_EQ(r["algorithm"], "sha256d");
    const double nominal = m["hashrate_nominal"].get<double>();
    ASSERT_TRUE(r["hashrate"].is_number());
    EXPECT_NEAR(r["hashrate"].get<double>(), nominal, nominal * 0.05);  // H/s, not MH/s or GH/s
    ASSERT_TRUE(r["power_w"].is_number());  // BOS+ tuner estimate, LuxOS "power"
    EXPECT_GT(r["power_w"].get<double>(), 2500);
    EXPECT_TRUE(r["efficiency_j_per_th"].is_number());
    EXPECT_EQ(r["boards"].size(), 3u);
    EXPECT_EQ(r["fans"].size(), 4u);
    EXPECT_EQ(r["pools"].size(), 3u);
    EXPECT_EQ(r["worker"], m["worker"]);
  }
}

// A farm of one miner served in this process, so its exchange count can be
// read once it stops.
class OneMinerFarm {
 public:
  OneMinerFarm(fakefarm::ModelId model, const std::string& ip) {
    fakefarm::FarmOptions options;
    options.base = ip;
    options.models = {model};
    auto plans = fakefarm::PlanFarm(options);
    EXPECT_TRUE(plans.ok()) << plans.status().ToString();
    if (!plans.ok()) return;
    auto server = fakefarm::FarmServer::Create(options, std::move(*plans));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) return;
    server_ = std::move(*server);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { EXPECT_TRUE(server_->Run(stop_fd_).ok()); });
  }
  // Stops serving; the exchanges it served.
  uint64_t Stop() {
    if (!server_) return 0;
    const uint64_t one = 1;
    EXPECT_EQ(write(stop_fd_, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    thread_.join();
    close(stop_fd_);
    return server_->exchanges();
  }

 private:
  std::unique_ptr<fakefarm::FarmServer> server_;
  int stop_fd_ = -1;
  std::thread thread_;
};

TEST(BraiinsFakefarm, TheJobsFamilyAsksItsPlanInTheFirstExchange) {
  // Each farm on its own address: a stopped one still holds its listener.
  const std::tuple<fakefarm::ModelId, std::string, std::string, std::string> cases[] = {
      {fakefarm::ModelId::kBraiinsS19XP, "braiins", "127.63.1.1", "127.63.1.2"},
      {fakefarm::ModelId::kLuxosS19, "luxos", "127.63.1.3", "127.63.1.4"}};
  ExchangeOptions exchange;
  for (const auto& [model, family, sweep_ip, ip] : cases) {
    SCOPED_TRACE(family);
    // Discover's sweep fingerprints: the generic poll, then the family's plan.
    OneMinerFarm sweep_farm(model, sweep_ip);
    const PollResult found = PollOnce(MinerEndpoint{sweep_ip, 4028}, "", exchange);
    EXPECT_EQ(sweep_farm.Stop(), 2u) << "generic poll, then the family's own";
    ASSERT_EQ(found.record.status, MinerStatus::kOk) << found.record.error;
    // What discover's inventory keeps and its poll jobs carry (PollJob::family).
    ASSERT_EQ(found.record.family, family);

    // Collect polls with the job's family: the plan at once, one exchange.
    OneMinerFarm collect_farm(model, ip);
    const PollResult polled = PollOnce(MinerEndpoint{ip, 4028}, found.record.family, exchange);
    EXPECT_EQ(collect_farm.Stop(), 1u) << "the family's plan, nothing before it";
    EXPECT_EQ(polled.record.status, MinerStatus::kOk) << polled.record.error;
    EXPECT_EQ(polled.record.family, family);
    EXPECT_EQ(polled.record.model, found.record.model);
    EXPECT_TRUE(polled.record.power_w.has_value());
    EXPECT_EQ(polled.record.fans.size(), 4u);
  }
}

}  // namespace
}  // namespace asicmon
