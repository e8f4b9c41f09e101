// The inventory's identity: a machine known by its MAC keeps it across
// address changes (DHCP), two machines that swap addresses stay apart, and a
// new MAC at a known address is another machine.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>

#include "asicmon/targets.h"
#include "inventory.h"

namespace asicmon::discover {
namespace {

ProbeOutcome Answer(const char* ip, std::string mac, std::string worker = "farm.a") {
  ProbeOutcome o;
  o.kind = ProbeOutcome::Kind::kMiner;
  o.address = *ParseIpv4(ip);
  o.model = "Antminer S19 Pro";
  o.firmware = "Thu Jul 16 17:47:32 CST 2020";
  o.worker = std::move(worker);
  o.family = "antminer";
  o.mac = std::move(mac);
  o.serial = o.mac.empty() ? "" : "SN-" + o.mac;
  o.hostname = "Antminer";
  return o;
}

MinerKey Key(const char* ip) { return KeyOf(*ParseIpv4(ip), kMinerApiPort); }

// A whole sweep in which `answers` answer, in that order (their changes unread).
void Sweep(Inventory& inventory, std::initializer_list<ProbeOutcome> answers) {
  inventory.BeginSweep();
  for (const ProbeOutcome& answer : answers) inventory.Observe(answer);
  inventory.EndSweep();
}

constexpr const char* kMacA = "02:a5:1c:00:00:0a";
constexpr const char* kMacB = "02:a5:1c:00:00:0b";

TEST(InventoryIdentity, FoundCarriesTheIdentity) {
  Inventory inventory(3);
  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.1", kMacA));
  ASSERT_EQ(updates.size(), 1u);
  const InventoryEntry e = EntryFor(updates[0]);
  EXPECT_EQ(e.change, InventoryChange::kFound);
  EXPECT_EQ(e.family, "antminer");
  EXPECT_EQ(e.mac, kMacA);
  EXPECT_EQ(e.serial, std::string("SN-") + kMacA);
  EXPECT_EQ(e.hostname, "Antminer");
  EXPECT_EQ(e.previous_ip, "");
}

TEST(InventoryIdentity, AKnownMacAtANewAddressIsOneMove) {
  Inventory inventory(3);
  Sweep(inventory, {Answer("127.71.0.1", kMacA)});

  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.9", kMacA));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].change, InventoryChange::kMoved);
  EXPECT_EQ(updates[0].miner.ip, "127.71.0.9");
  EXPECT_EQ(updates[0].previous_ip, "127.71.0.1");
  EXPECT_EQ(updates[0].vacated, Key("127.71.0.1"));
  EXPECT_EQ(EntryFor(updates[0]).previous_ip, "127.71.0.1");
  EXPECT_EQ(inventory.Find(Key("127.71.0.1")), nullptr);
  ASSERT_NE(inventory.Find(Key("127.71.0.9")), nullptr);
  EXPECT_EQ(inventory.size(), 1u);
  // Not gone at the end of the sweep: it answered, elsewhere.
  EXPECT_TRUE(inventory.EndSweep().empty());
  // And settled: the next sweep sees it where it is, no change.
  inventory.BeginSweep();
  EXPECT_TRUE(inventory.Observe(Answer("127.71.0.9", kMacA)).empty());
}

TEST(InventoryIdentity, TwoMachinesThatSwapAddressesAreEachMoved) {
  Inventory inventory(3);
  Sweep(inventory, {Answer("127.71.0.1", kMacA, "farm.a"), Answer("127.71.0.2", kMacB, "farm.b")});

  inventory.BeginSweep();
  std::vector<InventoryUpdate> first = inventory.Observe(Answer("127.71.0.1", kMacB, "farm.b"));
  ASSERT_EQ(first.size(), 1u);  // A is held aside, not gone
  EXPECT_EQ(first[0].change, InventoryChange::kMoved);
  EXPECT_EQ(first[0].miner.mac, kMacB);
  EXPECT_EQ(first[0].miner.worker, "farm.b");
  EXPECT_EQ(first[0].previous_ip, "127.71.0.2");
  std::vector<InventoryUpdate> second = inventory.Observe(Answer("127.71.0.2", kMacA, "farm.a"));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].change, InventoryChange::kMoved);
  EXPECT_EQ(second[0].miner.mac, kMacA);
  EXPECT_EQ(second[0].miner.worker, "farm.a");
  EXPECT_EQ(second[0].previous_ip, "127.71.0.1");
  EXPECT_EQ(second[0].vacated, std::nullopt);  // its old address is B's now
  EXPECT_TRUE(inventory.EndSweep().empty());
  EXPECT_EQ(inventory.Find(Key("127.71.0.1"))->mac, kMacB);
  EXPECT_EQ(inventory.Find(Key("127.71.0.2"))->mac, kMacA);
  EXPECT_EQ(inventory.size(), 2u);
}

TEST(InventoryIdentity, ANewMacAtAKnownAddressIsAnotherMachine) {
  Inventory inventory(3);
  Sweep(inventory, {Answer("127.71.0.1", kMacA)});

  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.1", kMacB));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].change, InventoryChange::kFound);
  EXPECT_EQ(updates[0].miner.mac, kMacB);
  // A answered nowhere else this sweep: gone, with its own identity.
  const std::vector<KnownMiner> gone = inventory.EndSweep();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].mac, kMacA);
  EXPECT_EQ(gone[0].ip, "127.71.0.1");
  EXPECT_EQ(inventory.Find(Key("127.71.0.1"))->mac, kMacB);
}

TEST(InventoryIdentity, AMachineThatMovesOntoOneWithoutAMacReplacesIt) {
  Inventory inventory(3);
  inventory.BeginSweep();
  inventory.Observe(Answer("127.71.0.1", kMacA));
  inventory.Observe(Answer("127.71.0.2", ""));  // its firmware names no MAC
  inventory.EndSweep();

  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.2", kMacA));
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].change, InventoryChange::kGone);  // nothing tells it elsewhere
  EXPECT_EQ(updates[0].miner.ip, "127.71.0.2");
  EXPECT_EQ(updates[0].miner.mac, "");
  EXPECT_EQ(updates[1].change, InventoryChange::kMoved);
  EXPECT_EQ(updates[1].previous_ip, "127.71.0.1");
}

TEST(InventoryIdentity, AProbeWithoutAMacKeepsTheOneLearnt) {
  Inventory inventory(3);
  inventory.BeginSweep();
  EXPECT_EQ(inventory.Observe(Answer("127.71.0.1", ""))[0].change, InventoryChange::kFound);
  // The identity fetch worked this time: the MAC is learnt, a change.
  std::vector<InventoryUpdate> learnt = inventory.Observe(Answer("127.71.0.1", kMacA));
  ASSERT_EQ(learnt.size(), 1u);
  EXPECT_EQ(learnt[0].change, InventoryChange::kChanged);
  EXPECT_EQ(learnt[0].miner.mac, kMacA);
  // It failed the next time: nothing changes, the MAC stays.
  ProbeOutcome without = Answer("127.71.0.1", "");
  without.serial = "SN-02:a5:1c:00:00:0a";
  EXPECT_TRUE(inventory.Observe(without).empty());
  EXPECT_EQ(inventory.Find(Key("127.71.0.1"))->mac, kMacA);
  // Unidentified (busy) answers change nothing either.
  ProbeOutcome busy = Answer("127.71.0.1", "");
  busy.kind = ProbeOutcome::Kind::kUnidentified;
  EXPECT_TRUE(inventory.Observe(busy).empty());
  EXPECT_EQ(inventory.Find(Key("127.71.0.1"))->model, "Antminer S19 Pro");
}

TEST(InventoryIdentity, ARestoredMachineAtANewAddressIsMoved) {
  Inventory inventory(3);
  KnownMiner restored;
  restored.address = *ParseIpv4("127.71.0.1");
  restored.ip = "127.71.0.1";
  restored.identified = true;
  restored.mac = kMacA;
  ASSERT_TRUE(inventory.Restore(restored));
  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.3", kMacA));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].change, InventoryChange::kMoved);
  EXPECT_EQ(updates[0].previous_ip, "127.71.0.1");
  EXPECT_EQ(inventory.size(), 1u);
}

// Cloned control boards: two machines answer with one MAC. Taking the second
// for a move of the first left one address unpolled, sweep after sweep (the
// chaos bench's fake farm, split in two with the same MACs, found 217 such).
TEST(InventoryIdentity, TwoLiveMachinesWithOneMacAreEachKnownByAddress) {
  Inventory inventory(3);
  inventory.BeginSweep();
  ASSERT_EQ(inventory.Observe(Answer("127.71.0.1", kMacA)).size(), 1u);
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.2", kMacA));
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].change, InventoryChange::kChanged);
  EXPECT_EQ(updates[0].miner.ip, "127.71.0.1");
  EXPECT_EQ(updates[0].miner.mac, "");
  EXPECT_EQ(updates[0].shared_mac, kMacA);
  EXPECT_EQ(updates[1].change, InventoryChange::kFound);
  EXPECT_EQ(updates[1].miner.ip, "127.71.0.2");
  EXPECT_EQ(updates[1].miner.mac, "");
  EXPECT_EQ(updates[1].miner.model, "Antminer S19 Pro");
  EXPECT_TRUE(inventory.EndSweep().empty());

  // Settled, whichever answers first: no move, no change, both still known.
  for (const char* first : {"127.71.0.2", "127.71.0.1"}) {
    inventory.BeginSweep();
    EXPECT_TRUE(inventory.Observe(Answer(first, kMacA)).empty()) << first;
    const char* second = std::string_view(first) == "127.71.0.1" ? "127.71.0.2" : "127.71.0.1";
    EXPECT_TRUE(inventory.Observe(Answer(second, kMacA)).empty()) << second;
    EXPECT_TRUE(inventory.EndSweep().empty());
  }
  EXPECT_EQ(inventory.size(), 2u);
  EXPECT_NE(inventory.Find(Key("127.71.0.1")), nullptr);
  EXPECT_NE(inventory.Find(Key("127.71.0.2")), nullptr);
}

TEST(InventoryIdentity, ACloneThatAnswersBeforeTheOriginalEndsAsTwoMachines) {
  Inventory inventory(3);
  Sweep(inventory, {Answer("127.71.0.1", kMacA)});

  // The clone answers first: nothing yet tells it from a move.
  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.2", kMacA));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].change, InventoryChange::kMoved);
  // Then the original answers where it was: two machines, each known by address.
  updates = inventory.Observe(Answer("127.71.0.1", kMacA));
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].change, InventoryChange::kChanged);
  EXPECT_EQ(updates[0].miner.ip, "127.71.0.2");
  EXPECT_EQ(updates[0].shared_mac, kMacA);
  EXPECT_EQ(updates[1].change, InventoryChange::kFound);
  EXPECT_EQ(updates[1].miner.ip, "127.71.0.1");
  EXPECT_TRUE(inventory.EndSweep().empty());
  EXPECT_EQ(inventory.size(), 2u);

  inventory.BeginSweep();
  EXPECT_TRUE(inventory.Observe(Answer("127.71.0.2", kMacA)).empty());
  EXPECT_TRUE(inventory.Observe(Answer("127.71.0.1", kMacA)).empty());
  EXPECT_TRUE(inventory.EndSweep().empty());
}

TEST(InventoryIdentity, ASharedMacWhereAnotherMacWasIsAnotherMachine) {
  Inventory inventory(3);
  Sweep(inventory,
        {Answer("127.71.0.1", kMacA), Answer("127.71.0.2", kMacA), Answer("127.71.0.3", kMacB)});

  // 127.71.0.3 now answers with the shared MAC: kMacB left it and answers nowhere.
  inventory.BeginSweep();
  std::vector<InventoryUpdate> updates = inventory.Observe(Answer("127.71.0.3", kMacA));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].change, InventoryChange::kFound);
  EXPECT_EQ(updates[0].miner.mac, "");
  std::vector<KnownMiner> gone = inventory.EndSweep();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].mac, kMacB);
  EXPECT_EQ(inventory.size(), 3u);
}

}  // namespace
}  // namespace asicmon::discover
