// The inventory: every miner discover knows (ip:port -> identity), kept up
// to date by sweeps, with the change each sweep result means for it.
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
  int missed_sweeps = 0;  // consecutive sweeps it did not answer
  uint64_t seen_in_sweep = 0;
  // False for a miner restored from the state file until it answers: that
  // answer announces it (found), as a fresh discover would.
  bool announced = true;
};

class Inventory {
 public:
  explicit Inventory(int gone_after) : gone_after_(gone_after) {}

  void BeginSweep() { ++sweep_; }
  // A miner (identified or not) answered in the current sweep. Returns the
  // change to publish: found (new), changed (identity differs, or it became
  // identified), or nothing. A known miner that answers without identifying
  // itself this time (slow, busy) keeps the identity it had.
  std::optional<InventoryChange> Observe(const ProbeOutcome& outcome);
  // Ends the sweep: every miner it did not see has one more miss; those at
  // gone_after are removed and returned (to publish as gone).
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
  int gone_after_;
  uint64_t sweep_ = 0;
  std::unordered_map<MinerKey, KnownMiner> miners_;
};

// The entry that announces `change` for `miner` (envelope left to the caller).
InventoryEntry EntryFor(const KnownMiner& miner, InventoryChange change);

}  // namespace asicmon::discover
