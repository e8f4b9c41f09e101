// Control's callers: API keys with roles, kept in the store's database
// (both backends) as salted hashes only, and the bounded penalty that slows
// a peer which keeps presenting wrong keys.
//
// A key reads "amk_<key id>_<secret>": the id (12 hex) finds the row, the
// secret (64 hex, 256 random bits) is checked against SHA-256(salt, secret).
// A fast hash is enough for secrets of that entropy (no dictionary to try);
// the salt keeps equal hashes from showing anything.
//
// Thread-safety: KeyRing and AuthThrottle may be used from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/status.h"
#include "asicmon/store_db.h"
#include "db_pool.h"
#include "roles.h"

namespace asicmon::control {

// The bootstrap key CONTROL_TOKEN is an admin named this; no stored key may be.
inline constexpr std::string_view kBootstrapKeyName = "token";

// Who is asking: a key's name and role, and where the request came from.
struct Caller {
  std::string name;  // empty for an anonymous read
  Role role = Role::kViewer;
  std::string peer;
  // "alice@10.0.0.5" for the audit trail and events; "peer:10.0.0.5" anonymous.
  std::string Actor() const { return name.empty() ? "peer:" + peer : name + "@" + peer; }
};

// Names are what the audit trail shows before '@', so a restricted alphabet.
Status ValidateKeyName(std::string_view name);
// "30d", "12h", "90m", "3600s", "2w" as seconds; InvalidArgument otherwise.
Result<double> ParseExpiry(std::string_view text);

// A new key: its row for the store, and the key itself, shown once.
struct MintedKey {
  ApiKey row;
  std::string key;
};
Result<MintedKey> MintKey(std::string_view name, Role role, double now,
                          std::optional<double> expires_in_s);

// One key as GET /keys and `keys list` show it (never its hash or salt).
nlohmann::json KeyJson(const ApiKey& key, double now);

// Why a presented key was not accepted, for the 401's detail.
enum class Refusal { kMissing, kUnknown, kRevoked, kExpired, kStoreDown };
// "missing", "unknown", "revoked", "expired", "store_down": the metric's label.
std::string_view ToString(Refusal refusal);

class KeyRing {
 public:
  // `bootstrap`: CONTROL_TOKEN, an admin key when not empty.
  KeyRing(std::string bootstrap, DbPool& db) : bootstrap_(std::move(bootstrap)), db_(db) {}

  // The caller a bearer value names. Every call reads the key's row, so a
  // revocation or expiry holds at once whichever process wrote it; last use
  // is written at most once a minute per key.
  struct Found {
    std::optional<Caller> caller;
    Refusal refusal = Refusal::kMissing;
  };
  Found Authenticate(std::string_view presented, const std::string& peer, double now);

 private:
  const std::string bootstrap_;
  DbPool& db_;
  std::mutex touched_mutex_;
  std::unordered_map<std::string, double> touched_;  // key_id -> last use written
};

// Wrong keys from one peer: after kFreeFailures in a row, the peer is
// refused (429) for a penalty that doubles with each further failure up to
// kMaxPenalty, then forgotten once it is over and quiet. Other peers are
// never held back, and the table is bounded (kMaxPeers; the stalest go).
class AuthThrottle {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr double kMaxPenaltyS = 60;
  static constexpr size_t kMaxPeers = 10000;

  // Seconds the peer must still wait, when it is held back now.
  std::optional<double> HeldBack(const std::string& peer, double now);
  void Failed(const std::string& peer, double now);
  void Succeeded(const std::string& peer);
  size_t peers() const;

 private:
  struct Peer {
    int failures = 0;
    double until = 0;  // held back until
    double last = 0;   // last failure
  };
  void Evict(double now);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Peer> peers_;
};

}  // namespace asicmon::control
