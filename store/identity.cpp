#include "identity.h"

#include "asicmon/targets.h"

namespace asicmon {

uint64_t IdentityBook::Key(const std::string& ip, uint16_t port) {
  Result<uint32_t> address = ParseIpv4(ip);
  return address.ok() ? uint64_t{*address} << 16 | port : 0;  // 0: no IPv4, never stored
}

void IdentityBook::Restore(std::span<const InventoryRow> rows) {
  for (const InventoryRow& row : rows) {
    if (row.gone || row.mac.empty()) continue;
    if (const uint64_t key = Key(row.ip, row.port)) {
      by_address_[key] = {row.family, row.mac, row.serial, row.hostname};
    }
  }
}

void IdentityBook::Apply(const InventoryEntry& entry) {
  const uint64_t key = Key(entry.ip, entry.port);
  if (key == 0) return;
  if (entry.change == InventoryChange::kGone) {
    // Only the machine it names: another may answer there now.
    auto it = by_address_.find(key);
    if (it != by_address_.end() && (entry.mac.empty() || it->second.mac == entry.mac)) {
      by_address_.erase(it);
    }
    return;
  }
  if (entry.change == InventoryChange::kMoved) {
    auto old = by_address_.find(Key(entry.previous_ip, entry.port));
    if (old != by_address_.end() && old->second.mac == entry.mac) by_address_.erase(old);
  }
  if (entry.mac.empty()) {
    by_address_.erase(key);  // a machine nothing tells apart: stamp nothing
  } else {
    by_address_[key] = {entry.family, entry.mac, entry.serial, entry.hostname};
  }
}

bool IdentityBook::Stamp(Record& record) const {
  if (!record.mac.empty() || by_address_.empty()) return false;
  auto it = by_address_.find(Key(record.ip, record.port));
  if (it == by_address_.end()) return false;
  const Identity& id = it->second;
  record.mac = id.mac;
  if (record.family.empty()) record.family = id.family;
  if (record.serial.empty()) record.serial = id.serial;
  if (record.hostname.empty()) record.hostname = id.hostname;
  return true;
}

}  // namespace asicmon
