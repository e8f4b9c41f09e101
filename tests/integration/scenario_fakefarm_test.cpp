// asicmon-fakefarm --scenario as a real process: miners change while the farm
// runs (one goes silent and comes back, one heats up and cools down), polled
// with the project's miner client before, during and after; and a bad
// scenario line stops the farm at start with exit code 2; miners turn huge
// and flapping at runtime and recover.
// Loopback range: 127.44.0.0/16 (each test its own /24).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "asicmon/miner_api.h"
#include "asicmon/protocol.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using namespace std::chrono_literals;

std::string WriteScenario(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid()) + ".jsonl";
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

Record Poll(const std::string& ip, std::chrono::milliseconds deadline = 3s) {
  const MinerEndpoint ep{ip, 4028};
  ExchangeOptions options;
  options.deadline = deadline;
  return RecordFromExchange(ep, ExchangeOnce(ep, BuildRequest(kPollCommand), options));
}

TEST(ScenarioFakefarm, MinerGoesSilentAndHeatsUpThenRecovers) {
  const std::string path =
      WriteScenario("scenario",
                    "{\"at_s\": 1, \"miner\": 0, \"fault\": \"silent\"}\n"
                    "{\"at_s\": 1, \"miner\": 1, \"temp_offset\": 30}\n"
                    "{\"at_s\": 3, \"miner\": 0, \"fault\": \"none\"}\n"
                    "{\"at_s\": 3, \"ip\": \"127.44.1.2\", \"temp_offset\": 0}\n");
  Subprocess farm({BinPath("asicmon-fakefarm"), "--base", "127.44.1.1", "--count", "2", "--models",
                   "s19pro", "--scenario", path},
                  /*capture_stderr=*/true);
  ASSERT_TRUE(farm.WaitForStdout("READY 2", 30s)) << farm.stderr_text();

  const Record quiet = Poll("127.44.1.1");
  const Record cool = Poll("127.44.1.2");
  ASSERT_EQ(quiet.status, MinerStatus::kOk) << quiet.error;
  ASSERT_EQ(cool.status, MinerStatus::kOk) << cool.error;
  ASSERT_TRUE(cool.temp_max.has_value());
  ASSERT_EQ(farm.stderr_text().find("scenario:"), std::string::npos)
      << "the polls before the scenario took over a second";

  ASSERT_TRUE(farm.WaitForStderr("scenario: 127.44.1.2 temp_offset=30", 10s)) << farm.stderr_text();
  EXPECT_NE(farm.stderr_text().find("scenario: 127.44.1.1 fault=silent"), std::string::npos);
  const Record silent = Poll("127.44.1.1", 700ms);
  EXPECT_EQ(silent.status, MinerStatus::kTimeout) << ToString(silent.status);
  const Record hot = Poll("127.44.1.2");
  ASSERT_EQ(hot.status, MinerStatus::kOk) << hot.error;
  ASSERT_TRUE(hot.temp_max.has_value());
  // The offset, give or take the sensors' noise and slow drift.
  EXPECT_NEAR(*hot.temp_max, *cool.temp_max + 30, 3);

  ASSERT_TRUE(farm.WaitForStderr("scenario: 127.44.1.2 temp_offset=0", 10s)) << farm.stderr_text();
  EXPECT_NE(farm.stderr_text().find("scenario: 127.44.1.1 fault=none"), std::string::npos);
  const Record back = Poll("127.44.1.1");
  EXPECT_EQ(back.status, MinerStatus::kOk) << back.error;
  const Record cooled = Poll("127.44.1.2");
  ASSERT_EQ(cooled.status, MinerStatus::kOk) << cooled.error;
  ASSERT_TRUE(cooled.temp_max.has_value());
  EXPECT_NEAR(*cooled.temp_max, *cool.temp_max, 3);

  farm.Signal(SIGTERM);
  EXPECT_EQ(farm.Wait(10s), 0);
}

// A miner turns huge and one starts flapping while the farm runs; both are
// back to normal after the scenario says none.
TEST(ScenarioFakefarm, MinersTurnHugeAndFlappingThenRecover) {
  const std::string path = WriteScenario("scenario-huge-flap",
                                         "{\"at_s\": 1, \"miner\": 0, \"fault\": \"huge\"}\n"
                                         "{\"at_s\": 1, \"miner\": 1, \"fault\": \"flapping\"}\n"
                                         "{\"at_s\": 6, \"miner\": 0, \"fault\": \"none\"}\n"
                                         "{\"at_s\": 6, \"miner\": 1, \"fault\": \"none\"}\n");
  Subprocess farm({BinPath("asicmon-fakefarm"), "--base", "127.44.3.1", "--count", "2",
                   "--huge-bytes", "3000000", "--flap-period-s", "0.5", "--scenario", path},
                  /*capture_stderr=*/true);
  ASSERT_TRUE(farm.WaitForStdout("READY 2", 30s)) << farm.stderr_text();
  EXPECT_EQ(Poll("127.44.3.1").status, MinerStatus::kOk);
  EXPECT_EQ(Poll("127.44.3.2").status, MinerStatus::kOk);

  ASSERT_TRUE(farm.WaitForStderr("scenario: 127.44.3.2 fault=flapping", 10s))
      << farm.stderr_text();
  // The client caps replies at 1 MiB: 3 MB is too large.
  const Record huge = Poll("127.44.3.1");
  EXPECT_EQ(huge.status, MinerStatus::kTooLarge) << ToString(huge.status) << " " << huge.error;
  // Down, up, down... every half second until the scenario ends it.
  bool refused = false;
  bool answered = false;
  while (farm.stderr_text().find("scenario: 127.44.3.2 fault=none") == std::string::npos &&
         !(refused && answered)) {
    const Record r = Poll("127.44.3.2", 1s);
    refused |= r.status == MinerStatus::kRefused;
    answered |= r.status == MinerStatus::kOk;
    farm.WaitForStderr("scenario: 127.44.3.2 fault=none", 100ms);
  }
  EXPECT_TRUE(refused && answered) << "refused " << refused << ", answered " << answered;

  ASSERT_TRUE(farm.WaitForStderr("scenario: 127.44.3.2 fault=none", 15s)) << farm.stderr_text();
  EXPECT_EQ(Poll("127.44.3.1").status, MinerStatus::kOk);
  // Stays up now: every poll answers.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Poll("127.44.3.2").status, MinerStatus::kOk);
    std::this_thread::sleep_for(200ms);
  }
  farm.Signal(SIGTERM);
  EXPECT_EQ(farm.Wait(10s), 0);
}

TEST(ScenarioFakefarm, BadLineStopsTheFarmAtStartNamingIt) {
  const std::string path = WriteScenario("scenario-bad",
                                         "{\"at_s\": 1, \"miner\": 0, \"fault\": \"silent\"}\n"
                                         "{\"at_s\": 2, \"miner\": 5, \"temp_offset\": 30}\n");
  Subprocess farm(
      {BinPath("asicmon-fakefarm"), "--base", "127.44.2.1", "--count", "2", "--scenario", path},
      /*capture_stderr=*/true);
  EXPECT_EQ(farm.Wait(10s), 2);
  EXPECT_NE(farm.stderr_text().find("line 2: miner 5 is out of range"), std::string::npos)
      << farm.stderr_text();
  EXPECT_EQ(farm.ReadAllStdout(1s).find("READY"), std::string::npos);
}

}  // namespace
}  // namespace asicmon
