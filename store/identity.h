// What discover knows of each address's machine (MAC, serial, hostname,
// family), joined onto the records store takes: firmware whose poll replies
// name no MAC (stock Antminer: only its web interface does, and discover
// fetches that rarely) still gives records that say which machine made
// them, so /miners, /metrics and receivers follow a machine across
// addresses. A record's own identity always wins; a machine that moved
// before discover's next sweep noticed is stamped with the old identity
// until then (the sweep interval bounds it).
//
// Thread-safety: plain data; the ingest thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "asicmon/record.h"
#include "asicmon/store_db.h"

namespace asicmon {

class IdentityBook {
 public:
  // The inventory as stored (start-up).
  void Restore(std::span<const InventoryRow> rows);
  // An inventory entry, in arrival order.
  void Apply(const InventoryEntry& entry);
  // Fills the record's empty family, mac, serial and hostname from its
  // address's machine. True when it changed the record.
  bool Stamp(Record& record) const;
  size_t size() const { return by_address_.size(); }

 private:
  struct Identity {
    std::string family, mac, serial, hostname;
  };
  static uint64_t Key(const std::string& ip, uint16_t port);
  std::unordered_map<uint64_t, Identity> by_address_;
};

}  // namespace asicmon
