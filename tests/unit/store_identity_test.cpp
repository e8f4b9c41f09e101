// store's identity book: records of firmware that names no MAC in its poll
// replies carry the machine discover identified at their address.
#include <gtest/gtest.h>

#include "identity.h"

namespace asicmon {
namespace {

InventoryEntry Entry(InventoryChange change, const char* ip, const char* mac,
                     const char* previous_ip = "") {
  InventoryEntry e;
  e.change = change;
  e.ip = ip;
  e.family = "antminer";
  e.mac = mac;
  e.serial = "SN1";
  e.hostname = "rig";
  e.previous_ip = previous_ip;
  return e;
}

Record At(const char* ip) {
  Record r;
  r.ip = ip;
  r.family = "antminer";
  return r;
}

TEST(IdentityBook, StampsTheMachineAtTheRecordsAddress) {
  IdentityBook book;
  book.Apply(Entry(InventoryChange::kFound, "127.0.0.1", "02:00:00:00:00:01"));
  Record r = At("127.0.0.1");
  EXPECT_TRUE(book.Stamp(r));
  EXPECT_EQ(r.mac, "02:00:00:00:00:01");
  EXPECT_EQ(r.serial, "SN1");
  EXPECT_EQ(r.hostname, "rig");
  Record other = At("127.0.0.2");
  EXPECT_FALSE(book.Stamp(other));
  EXPECT_EQ(other.mac, "");
  // The record's own MAC wins.
  Record own = At("127.0.0.1");
  own.mac = "02:00:00:00:00:99";
  EXPECT_FALSE(book.Stamp(own));
  EXPECT_EQ(own.mac, "02:00:00:00:00:99");
}

TEST(IdentityBook, FollowsMovesSwapsAndGone) {
  IdentityBook book;
  book.Apply(Entry(InventoryChange::kFound, "127.0.0.1", "02:00:00:00:00:0a"));
  book.Apply(Entry(InventoryChange::kFound, "127.0.0.2", "02:00:00:00:00:0b"));
  book.Apply(Entry(InventoryChange::kMoved, "127.0.0.1", "02:00:00:00:00:0b", "127.0.0.2"));
  book.Apply(Entry(InventoryChange::kMoved, "127.0.0.2", "02:00:00:00:00:0a", "127.0.0.1"));
  Record one = At("127.0.0.1");
  Record two = At("127.0.0.2");
  book.Stamp(one);
  book.Stamp(two);
  EXPECT_EQ(one.mac, "02:00:00:00:00:0b");
  EXPECT_EQ(two.mac, "02:00:00:00:00:0a");
  // A gone entry naming the machine that left .1 leaves the one there now.
  book.Apply(Entry(InventoryChange::kGone, "127.0.0.1", "02:00:00:00:00:0a"));
  EXPECT_EQ(book.size(), 2u);
  book.Apply(Entry(InventoryChange::kGone, "127.0.0.1", "02:00:00:00:00:0b"));
  EXPECT_EQ(book.size(), 1u);
  // A move to an address elsewhere leaves its old address unstamped.
  book.Apply(Entry(InventoryChange::kMoved, "127.0.0.9", "02:00:00:00:00:0a", "127.0.0.2"));
  Record left = At("127.0.0.2");
  EXPECT_FALSE(book.Stamp(left));
}

TEST(IdentityBook, RestoresFromTheStoredInventory) {
  IdentityBook book;
  auto row = [](const char* ip, const char* mac, bool gone) {
    InventoryRow r;
    r.ip = ip;
    r.port = 4028;
    r.mac = mac;
    r.gone = gone;
    return r;
  };
  book.Restore(std::vector<InventoryRow>{row("127.0.0.1", "02:00:00:00:00:01", false),
                                         row("127.0.0.2", "02:00:00:00:00:02", true),
                                         row("127.0.0.3", "", false)});
  EXPECT_EQ(book.size(), 1u);
}

}  // namespace
}  // namespace asicmon
