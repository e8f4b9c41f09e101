#include "inventory.h"

#include <algorithm>

#include "asicmon/targets.h"

namespace asicmon::discover {

std::optional<InventoryChange> Inventory::Observe(const ProbeOutcome& outcome) {
  const bool identified = outcome.kind == ProbeOutcome::Kind::kMiner;
  auto [it, inserted] = miners_.try_emplace(KeyOf(outcome.address, outcome.port));
  KnownMiner& m = it->second;
  m.missed_sweeps = 0;
  m.seen_in_sweep = sweep_;
  std::optional<InventoryChange> change;
  if (inserted) {
    m.address = outcome.address;
    m.port = outcome.port;
    m.ip = Ipv4ToString(outcome.address);
    change = InventoryChange::kFound;
  } else if (!m.announced) {
    m.announced = true;
    change = InventoryChange::kFound;
    if (!identified) return change;  // keeps the identity it was restored with
  } else if (!identified) {
    return std::nullopt;
  } else if (!m.identified || m.model != outcome.model || m.firmware != outcome.firmware ||
             m.worker != outcome.worker) {
    change = InventoryChange::kChanged;
  } else {
    return std::nullopt;
  }
  m.identified = identified;
  m.model = outcome.model;
  m.firmware = outcome.firmware;
  m.worker = outcome.worker;
  return change;
}

std::vector<KnownMiner> Inventory::EndSweep() {
  std::vector<KnownMiner> gone;
  for (auto it = miners_.begin(); it != miners_.end();) {
    KnownMiner& m = it->second;
    if (m.seen_in_sweep != sweep_ && ++m.missed_sweeps >= gone_after_) {
      gone.push_back(std::move(m));
      it = miners_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(gone.begin(), gone.end(),
            [](const KnownMiner& a, const KnownMiner& b) { return a.address < b.address; });
  return gone;
}

bool Inventory::Restore(KnownMiner miner) {
  miner.seen_in_sweep = 0;  // before any sweep of this run
  miner.announced = false;
  return miners_.try_emplace(KeyOf(miner.address, miner.port), std::move(miner)).second;
}

std::vector<KnownMiner> Inventory::Snapshot() const {
  std::vector<KnownMiner> out;
  out.reserve(miners_.size());
  for (const auto& [key, m] : miners_) out.push_back(m);
  std::sort(out.begin(), out.end(), [](const KnownMiner& a, const KnownMiner& b) {
    return KeyOf(a.address, a.port) < KeyOf(b.address, b.port);
  });
  return out;
}

const KnownMiner* Inventory::Find(MinerKey key) const {
  auto it = miners_.find(key);
  return it == miners_.end() ? nullptr : &it->second;
}

size_t Inventory::unidentified() const {
  return static_cast<size_t>(std::count_if(miners_.begin(), miners_.end(),
                                           [](const auto& kv) { return !kv.second.identified; }));
}

InventoryEntry EntryFor(const KnownMiner& miner, InventoryChange change) {
  InventoryEntry e;
  e.change = change;
  e.ip = miner.ip;
  e.port = miner.port;
  e.identified = miner.identified;
  e.model = miner.model;
  e.firmware = miner.firmware;
  e.worker = miner.worker;
  return e;
}

}  // namespace asicmon::discover
