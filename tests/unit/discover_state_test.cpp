// discover's state file and the inventory's restore: what a restarted
// discover knows before its first sweep, and how it treats a file that was
// damaged, hand-edited or left by other targets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "asicmon/clock.h"
#include "asicmon/targets.h"
#include "inventory.h"
#include "known_state.h"
#include "testlib.h"

namespace asicmon::discover {
namespace {

uint32_t Ip(const char* text) { return *ParseIpv4(text); }

KnownMiner Miner(const char* ip, int missed = 0) {
  KnownMiner m;
  m.address = Ip(ip);
  m.ip = ip;
  m.identified = true;
  m.model = "Antminer S19 Pro";
  m.firmware = "Thu Jul 16 17:47:32 CST 2020";
  m.worker = std::string("farm.") + ip;
  m.missed_sweeps = missed;
  return m;
}

// The one change an answer means (nullopt: none); these tests meet no moves.
std::optional<InventoryChange> OneChange(const std::vector<InventoryUpdate>& updates) {
  EXPECT_LE(updates.size(), 1u);
  if (updates.empty()) return std::nullopt;
  return updates.front().change;
}

ProbeOutcome Answer(const KnownMiner& m, bool identified = true) {
  ProbeOutcome o;
  o.address = m.address;
  o.port = m.port;
  o.kind = identified ? ProbeOutcome::Kind::kMiner : ProbeOutcome::Kind::kUnidentified;
  if (identified) {
    o.model = m.model;
    o.firmware = m.firmware;
    o.worker = m.worker;
  }
  return o;
}

class DiscoverStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("discover-state-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "known.state").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::optional<KnownState>> Load(uint16_t port = kMinerApiPort) const {
    return LoadKnownState(path_, [port](uint32_t address, uint16_t p) {
      return p == port && (address >> 8) == (Ip("127.70.1.0") >> 8);  // 127.70.1.0/24
    });
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(DiscoverStateTest, SavedMinersLoadBackWithTheirIdentityAndMisses) {
  std::vector<KnownMiner> saved = {Miner("127.70.1.1"), Miner("127.70.1.2", 2)};
  saved[0].family = "antminer";
  saved[0].mac = "02:a5:1c:00:01:01";
  saved[0].serial = "JYZZF1BBCJJBF0BFJ";
  saved[0].hostname = "Antminer";
  ASSERT_OK(SaveKnownState(path_, saved));
  struct stat info {};
  ASSERT_EQ(stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));

  Result<std::optional<KnownState>> loaded = Load();
  ASSERT_OK(loaded);
  ASSERT_TRUE(loaded->has_value());
  const KnownState& state = **loaded;
  EXPECT_NEAR(state.saved_ts, UnixNow(), 60);
  EXPECT_EQ(state.bad_lines, 0u);
  ASSERT_EQ(state.miners.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(state.miners[i].ip, saved[i].ip);
    EXPECT_EQ(state.miners[i].address, saved[i].address);
    EXPECT_EQ(state.miners[i].port, saved[i].port);
    EXPECT_EQ(state.miners[i].model, saved[i].model);
    EXPECT_EQ(state.miners[i].firmware, saved[i].firmware);
    EXPECT_EQ(state.miners[i].worker, saved[i].worker);
    EXPECT_EQ(state.miners[i].family, saved[i].family);
    EXPECT_EQ(state.miners[i].mac, saved[i].mac);
    EXPECT_EQ(state.miners[i].serial, saved[i].serial);
    EXPECT_EQ(state.miners[i].hostname, saved[i].hostname);
    EXPECT_EQ(state.miners[i].missed_sweeps, saved[i].missed_sweeps);
  }
}

TEST_F(DiscoverStateTest, LinesWrittenBeforeIdentityLoadWithoutIt) {
  {
    std::ofstream out(path_);
    out << R"({"asicmon_discover_state":1,"saved_ts":1700000000})"
        << "\n"
        << R"({"ip":"127.70.1.1","port":4028,"identified":true,"model":"Antminer S9",)"
        << R"("firmware":"x","worker":"w","missed_sweeps":0})"
        << "\n"
        << R"({"ip":"127.70.1.2","port":4028,"identified":true,"model":"Antminer S9",)"
        << R"("firmware":"x","worker":"w","mac":7,"missed_sweeps":0})"
        << "\n";
  }
  Result<std::optional<KnownState>> loaded = Load();
  ASSERT_OK(loaded);
  ASSERT_TRUE(loaded->has_value());
  ASSERT_EQ((*loaded)->miners.size(), 1u);
  EXPECT_EQ((*loaded)->miners[0].mac, "");
  EXPECT_EQ((*loaded)->bad_lines, 1u);  // a mac that is not text
}

TEST_F(DiscoverStateTest, NoFileIsNothingToResume) {
  Result<std::optional<KnownState>> loaded = Load();
  ASSERT_OK(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(DiscoverStateTest, BadLinesAreSkippedAndOtherTargetsLeftOut) {
  ASSERT_OK(SaveKnownState(path_, std::vector<KnownMiner>{Miner("127.70.1.1")}));
  {
    std::ofstream out(path_, std::ios::app);
    out << "not json\n"
        << R"({"ip":"127.70.1.02","port":4028,"identified":true,"model":"","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.3","port":70000,"identified":true,"model":"","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.4","port":4028,"identified":"yes","model":"","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.5","port":4028,"identified":true,"model":1,"firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.6","port":4028,"identified":true,"model":"","firmware":"","worker":"","missed_sweeps":-1})"
           "\n"
        << R"({"ip":"127.70.1.7","port":4028,"identified":true,"model":")" << std::string(5000, 'x')
        << R"(","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.2.1","port":4028,"identified":true,"model":"","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.8","port":4029,"identified":false,"model":"","firmware":"","worker":"","missed_sweeps":0})"
           "\n"
        << R"({"ip":"127.70.1.9","port":4028,"identified":false,"model":"","firmware":"","worker":"","missed_sweeps":1})";
  }
  Result<std::optional<KnownState>> loaded = Load();
  ASSERT_OK(loaded);
  const KnownState& state = **loaded;
  EXPECT_EQ(state.bad_lines, 7u);
  EXPECT_EQ(state.outside_targets, 2u);  // another /24, another port
  ASSERT_EQ(state.miners.size(), 2u);
  EXPECT_EQ(state.miners[0].ip, "127.70.1.1");
  EXPECT_EQ(state.miners[1].ip, "127.70.1.9");  // the last line needs no newline
  EXPECT_FALSE(state.miners[1].identified);
}

TEST_F(DiscoverStateTest, AFileOfAnotherFormatIsRefusedWhole) {
  for (const char* text : {"", "{\"asicmon_discover_state\":2,\"saved_ts\":1}\n",
                           "{\"saved_ts\":1}\n", "\x89PNG\r\n", "[1,2,3]\n"}) {
    std::ofstream(path_, std::ios::trunc) << text;
    Result<std::optional<KnownState>> loaded = Load();
    EXPECT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.status().code(), Status::Code::kParseError) << text;
  }
  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);  // a directory where the file should be
  EXPECT_FALSE(Load().ok());
}

TEST_F(DiscoverStateTest, AnUnwritableDirectoryIsAnErrorAndLeavesNothingBehind) {
  const std::string path = (dir_ / "missing" / "known.state").string();
  Status s = SaveKnownState(path, std::vector<KnownMiner>{Miner("127.70.1.1")});
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
}

TEST(DefaultStatePath, NamedByTargetsAndPort) {
  const std::vector<uint32_t> a = {Ip("10.0.0.1"), Ip("10.0.0.2")};
  const std::vector<uint32_t> b = {Ip("10.0.0.1"), Ip("10.0.0.3")};
  EXPECT_EQ(DefaultStatePath("run", a, 4028), DefaultStatePath("run", a, 4028));
  EXPECT_NE(DefaultStatePath("run", a, 4028), DefaultStatePath("run", b, 4028));
  EXPECT_NE(DefaultStatePath("run", a, 4028), DefaultStatePath("run", a, 4029));
  EXPECT_TRUE(DefaultStatePath("/run/asicmon", a, 4028).starts_with("/run/asicmon/discover-"));
  EXPECT_TRUE(DefaultStatePath("/run/asicmon", a, 4028).ends_with(".state"));
}

// A restored miner is polled before it answers, and its first answer
// announces it as found, as a fresh discover would; one that never answers
// is gone after the usual misses.
TEST(InventoryRestore, AnnouncedOnFirstAnswerGoneAfterMisses) {
  Inventory inventory(3);
  const KnownMiner back = Miner("127.70.1.1");
  const KnownMiner silent = Miner("127.70.1.2", 1);
  ASSERT_TRUE(inventory.Restore(back));
  ASSERT_TRUE(inventory.Restore(silent));
  EXPECT_FALSE(inventory.Restore(back));  // known already
  EXPECT_EQ(inventory.size(), 2u);

  inventory.BeginSweep();
  EXPECT_EQ(OneChange(inventory.Observe(Answer(back))), InventoryChange::kFound);
  EXPECT_TRUE(inventory.EndSweep().empty());  // silent: 2 misses now
  inventory.BeginSweep();
  EXPECT_EQ(OneChange(inventory.Observe(Answer(back))),
            std::nullopt);  // announced already, same identity
  const std::vector<KnownMiner> gone = inventory.EndSweep();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].ip, "127.70.1.2");
  EXPECT_EQ(gone[0].model, "Antminer S19 Pro");  // the restored identity goes with it

  // A restored miner that answers without identifying itself keeps what it
  // was restored with, and is still announced.
  Inventory busy(3);
  ASSERT_TRUE(busy.Restore(back));
  busy.BeginSweep();
  EXPECT_EQ(OneChange(busy.Observe(Answer(back, /*identified=*/false))), InventoryChange::kFound);
  EXPECT_EQ(busy.Find(KeyOf(back.address, back.port))->model, "Antminer S19 Pro");
  EXPECT_EQ(busy.Snapshot().size(), 1u);
}

}  // namespace
}  // namespace asicmon::discover
