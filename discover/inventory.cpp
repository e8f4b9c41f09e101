#include "inventory.h"

#include <algorithm>

#include "asicmon/targets.h"

namespace asicmon::discover {

bool Inventory::TakeIdentity(KnownMiner& m, const ProbeOutcome& outcome) {
  bool differs = !m.identified || m.model != outcome.model || m.firmware != outcome.firmware ||
                 m.worker != outcome.worker;
  m.identified = true;
  m.model = outcome.model;
  m.firmware = outcome.firmware;
  m.worker = outcome.worker;
  // A probe that did not learn these (an identity fetch that failed this
  // time) keeps what an earlier one learnt.
  for (auto [have, got] :
       {std::pair{&m.family, &outcome.family}, std::pair{&m.serial, &outcome.serial},
        std::pair{&m.hostname, &outcome.hostname}}) {
    if (!got->empty() && *have != *got) {
      *have = *got;
      differs = true;
    }
  }
  return differs;
}

std::optional<KnownMiner> Inventory::Displace(MinerKey key) {
  auto it = miners_.find(key);
  if (it == miners_.end()) return std::nullopt;
  KnownMiner m = std::move(it->second);
  miners_.erase(it);
  if (m.mac.empty()) return m;  // nothing to know it by elsewhere: gone now
  by_mac_.erase(m.mac);
  std::string mac = m.mac;
  displaced_.insert_or_assign(std::move(mac), std::move(m));
  return std::nullopt;
}

bool Inventory::SharedWith(const ProbeOutcome& outcome, std::vector<InventoryUpdate>& updates) {
  auto known = by_mac_.find(outcome.mac);
  if (known == by_mac_.end() || known->second == KeyOf(outcome.address, outcome.port)) {
    return false;
  }
  KnownMiner& holder = miners_.at(known->second);
  // Not answered at its own address yet in this sweep: this may be a move.
  if (holder.seen_in_sweep != sweep_) return false;
  shared_macs_.insert(outcome.mac);
  by_mac_.erase(known);
  holder.mac.clear();
  updates.push_back({holder, InventoryChange::kChanged, "", std::nullopt, outcome.mac});
  return true;
}

std::vector<InventoryUpdate> Inventory::Observe(const ProbeOutcome& outcome) {
  const bool identified = outcome.kind == ProbeOutcome::Kind::kMiner;
  const MinerKey key = KeyOf(outcome.address, outcome.port);
  std::vector<InventoryUpdate> updates;
  // The MAC that tells this machine: none when two machines answer with it.
  const bool by_mac = identified && !outcome.mac.empty() && !shared_macs_.contains(outcome.mac) &&
                      !SharedWith(outcome, updates);
  if (by_mac) {
    auto known = by_mac_.find(outcome.mac);
    if (known == by_mac_.end() || known->second != key) {
      // This MAC was somewhere else (or held aside this sweep): it moved.
      std::optional<KnownMiner> moving;
      std::optional<MinerKey> vacated;
      if (known != by_mac_.end()) {
        vacated = known->second;
        auto at = miners_.find(known->second);
        moving = std::move(at->second);
        miners_.erase(at);
        by_mac_.erase(known);
      } else if (auto held = displaced_.find(outcome.mac); held != displaced_.end()) {
        moving = std::move(held->second);
        displaced_.erase(held);
      }
      // Whatever answered here before is another machine (a new MAC at a
      // known address, or the other half of a swap).
      auto here = miners_.find(key);
      if (here != miners_.end() && (moving || !here->second.mac.empty())) {
        if (std::optional<KnownMiner> gone = Displace(key)) {
          updates.push_back({std::move(*gone), InventoryChange::kGone, "", std::nullopt, ""});
        }
      }
      if (moving) {
        KnownMiner m = std::move(*moving);
        std::string previous_ip = m.ip;
        m.address = outcome.address;
        m.port = outcome.port;
        m.ip = Ipv4ToString(outcome.address);
        m.missed_sweeps = 0;
        m.seen_in_sweep = sweep_;
        m.announced = true;
        TakeIdentity(m, outcome);
        by_mac_[m.mac] = key;
        auto [it, inserted] = miners_.insert_or_assign(key, std::move(m));
        updates.push_back(
            {it->second, InventoryChange::kMoved, std::move(previous_ip), vacated, ""});
        return updates;
      }
    }
  } else if (identified && !outcome.mac.empty()) {
    // A shared MAC, which no known machine holds: one known here by its own
    // MAC has left this address.
    if (auto here = miners_.find(key); here != miners_.end() && !here->second.mac.empty()) {
      Displace(key);
    }
  }

  auto [it, inserted] = miners_.try_emplace(key);
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
    change = InventoryChange::kFound;  // keeps the identity it was restored with, unless told
  }
  if (identified) {
    if (TakeIdentity(m, outcome) && !change) change = InventoryChange::kChanged;
    if (by_mac && m.mac != outcome.mac) {
      m.mac = outcome.mac;  // the machine that had no MAC here learnt it
      by_mac_[m.mac] = key;
      if (!change) change = InventoryChange::kChanged;
    }
  }
  if (change) updates.push_back({m, *change, "", std::nullopt, ""});
  return updates;
}

std::vector<KnownMiner> Inventory::EndSweep() {
  std::vector<KnownMiner> gone;
  for (auto it = miners_.begin(); it != miners_.end();) {
    KnownMiner& m = it->second;
    if (m.seen_in_sweep != sweep_ && ++m.missed_sweeps >= gone_after_) {
      if (!m.mac.empty()) by_mac_.erase(m.mac);
      gone.push_back(std::move(m));
      it = miners_.erase(it);
    } else {
      ++it;
    }
  }
  // Their address answers as another machine now, and they answered nowhere else.
  for (auto& [mac, m] : displaced_) gone.push_back(std::move(m));
  displaced_.clear();
  std::sort(gone.begin(), gone.end(),
            [](const KnownMiner& a, const KnownMiner& b) { return a.address < b.address; });
  return gone;
}

bool Inventory::Restore(KnownMiner miner) {
  miner.seen_in_sweep = 0;  // before any sweep of this run
  miner.announced = false;
  const MinerKey key = KeyOf(miner.address, miner.port);
  if (miners_.contains(key)) return false;
  // A MAC on two lines (a hand-edited file): the first keeps it.
  if (!miner.mac.empty() && !by_mac_.try_emplace(miner.mac, key).second) miner.mac.clear();
  miners_.emplace(key, std::move(miner));
  return true;
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
  e.family = miner.family;
  e.mac = miner.mac;
  e.serial = miner.serial;
  e.hostname = miner.hostname;
  return e;
}

InventoryEntry EntryFor(const InventoryUpdate& update) {
  InventoryEntry e = EntryFor(update.miner, update.change);
  e.previous_ip = update.previous_ip;
  return e;
}

}  // namespace asicmon::discover
