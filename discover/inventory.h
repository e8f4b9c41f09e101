// The inventory: every miner discover knows (ip:port -> identity), kept up
// to date by sweeps, with the change each sweep result means for it.
//
// A machine is known by its MAC when a probe learnt one, else by its
// address. A known MAC answering at another address is that machine moved
// (DHCP): one kMoved change, never gone + found. A machine whose address
// another one took (a swap, a new MAC at the same address) is held aside
// until the sweep ends: seen elsewhere in the same sweep it has moved,
// otherwise it is gone. A MAC that two addresses answer with in one sweep
// (cloned control boards) identifies neither: from then on each address
// answering with it is its own machine, known by address, so both are polled.
//
// A miner stays known while it is missing from fewer than gone_after
// consecutive sweeps, so a miner that is down is still polled (and its
// records say so) until it has plainly left.
//
// Thread-safety: plain data; one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "asicmon/record.h"
#include "scanner.h"

namespace asicmon::discover {

// ip:port packed into one integer, for maps and the record/job lookups.
using MinerKey = uint64_t;
inline MinerKey KeyOf(uint32_t address, uint16_t port) { return uint64_t{address} << 16 | port; }

struct KnownMiner {
  uint32_t address = 0;
  uint16_t port = kMinerApiPort;
  std::string ip;  // dotted, for jobs and entries
  bool identified = false;
  std::string model;
  std::string firmware;
  std::string worker;
  std::string family;
  std::string mac;  // "" when no probe learnt it
  std::string serial;
  std::string hostname;
  int missed_sweeps = 0;  // consecutive sweeps it did not answer
  uint64_t seen_in_sweep = 0;
  // False for a miner restored from the state file until it answers: that
  // answer announces it (found), as a fresh discover would.
  bool announced = true;
};

// One change a sweep result means, to publish in this order.
struct InventoryUpdate {
  KnownMiner miner;  // as it is now (gone: as it was)
  InventoryChange change = InventoryChange::kFound;
  std::string previous_ip;  // kMoved: where it answered before
  // kMoved: the address it left, now free (nothing else answers there yet).
  std::optional<MinerKey> vacated;
  // kChanged: the MAC it was known by, which the address just observed
  // answered with too in this sweep; it is known by its address now.
  std::string shared_mac;
};

class Inventory {
 public:
  explicit Inventory(int gone_after) : gone_after_(gone_after) {}

  void BeginSweep() { ++sweep_; }
  // A miner (identified or not) answered in the current sweep. Returns the
  // changes to publish: found (new), changed (identity differs, it became
  // identified, or its MAC turned out shared), moved (its MAC was known at
  // another address that has not answered in this sweep), or none. A
  // known miner that answers without identifying itself this time (slow,
  // busy), or without a MAC, keeps the identity it had.
  std::vector<InventoryUpdate> Observe(const ProbeOutcome& outcome);
  // Ends the sweep: every miner it did not see has one more miss; those at
  // gone_after, and those displaced from their address and not seen
  // elsewhere, are removed and returned (to publish as gone).
  std::vector<KnownMiner> EndSweep();

  // Knows `miner` again (from the state file) without having seen it: it
  // is polled, keeps its missed sweeps, and is announced when it answers.
  // False when it is already known.
  bool Restore(KnownMiner miner);

  const KnownMiner* Find(MinerKey key) const;
  // Every known miner, in address order.
  std::vector<KnownMiner> Snapshot() const;
  size_t size() const { return miners_.size(); }
  size_t unidentified() const;

 private:
  // Takes the miner at `key` out, keeping it aside by MAC when it has one;
  // returns it when it has none (gone now: nothing can tell it elsewhere).
  std::optional<KnownMiner> Displace(MinerKey key);
  // True when the outcome's MAC is known at another address that answered in
  // this sweep: the MAC is shared from now on, and that machine's change
  // (known by address) is added to `updates`.
  bool SharedWith(const ProbeOutcome& outcome, std::vector<InventoryUpdate>& updates);
  // Applies an identified outcome's identity; true when it differs.
  static bool TakeIdentity(KnownMiner& m, const ProbeOutcome& outcome);

  int gone_after_;
  uint64_t sweep_ = 0;
  std::unordered_map<MinerKey, KnownMiner> miners_;
  std::unordered_map<std::string, MinerKey> by_mac_;       // of miners_
  std::unordered_map<std::string, KnownMiner> displaced_;  // this sweep, by MAC
  std::unordered_set<std::string> shared_macs_;            // answered at two addresses in one sweep
};

// The entry that announces `update` (envelope left to the caller).
InventoryEntry EntryFor(const KnownMiner& miner, InventoryChange change);
InventoryEntry EntryFor(const InventoryUpdate& update);

}  // namespace asicmon::discover
