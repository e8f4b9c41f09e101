#include "keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "asicmon/log.h"
#include "validate.h"

namespace asicmon::control {
namespace {

constexpr std::string_view kKeyPrefix = "amk_";
constexpr size_t kKeyIdBytes = 6;
constexpr size_t kSecretBytes = 32;
constexpr size_t kSaltBytes = 16;
constexpr double kTouchEveryS = 60;

template <size_t N>
std::optional<std::string> RandomHex() {
  std::array<unsigned char, N> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return std::nullopt;
  return fmt::format("{:02x}", fmt::join(bytes, ""));
}

std::string SecretHash(std::string_view salt, std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const std::string salted = std::string(salt) + std::string(secret);
  EVP_Digest(salted.data(), salted.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return fmt::format("{:02x}", fmt::join(digest.begin(), digest.begin() + length, ""));
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (text == ToString(role)) return role;
  }
  return std::nullopt;
}

std::string_view ToString(Refusal refusal) {
  switch (refusal) {
    case Refusal::kMissing:
      return "missing";
    case Refusal::kUnknown:
      return "unknown";
    case Refusal::kRevoked:
      return "revoked";
    case Refusal::kExpired:
      return "expired";
    case Refusal::kStoreDown:
      return "store_down";
  }
  return "unknown";
}

Status ValidateKeyName(std::string_view name) {
  const bool allowed = !name.empty() && name.size() <= 64 &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                       });
  if (!allowed) {
    return Status::InvalidArgument("a key name is 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  if (name == kBootstrapKeyName) {
    return Status::InvalidArgument("'token' names CONTROL_TOKEN, the bootstrap key");
  }
  return Status::Ok();
}

Result<double> ParseExpiry(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument(
        fmt::format("expiry '{}' is not a number and a unit (s, m, h, d, w), e.g. 30d",
                    SafeForLog(text)));
  };
  if (text.size() < 2) return bad();
  double unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return bad();
  }
  int64_t count = 0;
  const std::string_view digits = text.substr(0, text.size() - 1);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  // Ten years at most: a key that never expires is one without --expires.
  if (error != std::errc() || end != digits.data() + digits.size() || count <= 0 ||
      static_cast<double>(count) * unit > 3650.0 * 86400) {
    return bad();
  }
  return static_cast<double>(count) * unit;
}

Result<MintedKey> MintKey(std::string_view name, Role role, double now,
                          std::optional<double> expires_in_s) {
  if (Status s = ValidateKeyName(name); !s.ok()) return s;
  const auto key_id = RandomHex<kKeyIdBytes>();
  const auto secret = RandomHex<kSecretBytes>();
  const auto salt = RandomHex<kSaltBytes>();
  if (!key_id || !secret || !salt) return Status::Internal("the system's random source failed");
  MintedKey minted;
  minted.row.key_id = *key_id;
  minted.row.name = std::string(name);
  minted.row.role = std::string(ToString(role));
  minted.row.salt = *salt;
  minted.row.hash = SecretHash(*salt, *secret);
  minted.row.created_ts = now;
  if (expires_in_s) minted.row.expires_ts = now + *expires_in_s;
  minted.key = fmt::format("{}{}_{}", kKeyPrefix, *key_id, *secret);
  return minted;
}

nlohmann::json KeyJson(const ApiKey& key, double now) {
  const auto or_null = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  std::string state = "active";
  if (key.revoked_ts) {
    state = "revoked";
  } else if (key.expires_ts && *key.expires_ts <= now) {
    state = "expired";
  }
  return {{"name", key.name},
          {"role", key.role},
          {"state", state},
          {"created_ts", key.created_ts},
          {"last_used_ts", or_null(key.last_used_ts)},
          {"expires_ts", or_null(key.expires_ts)},
          {"revoked_ts", or_null(key.revoked_ts)}};
}

KeyRing::Found KeyRing::Authenticate(std::string_view presented, const std::string& peer,
                                     double now) {
  if (presented.empty()) return {};
  if (!bootstrap_.empty() && ConstantTimeEquals(presented, bootstrap_)) {
    return {Caller{std::string(kBootstrapKeyName), Role::kAdmin, peer}, Refusal::kMissing};
  }
  const size_t id_end = kKeyPrefix.size() + 2 * kKeyIdBytes;
  if (presented.size() != id_end + 1 + 2 * kSecretBytes || !presented.starts_with(kKeyPrefix) ||
      presented[id_end] != '_') {
    return {std::nullopt, Refusal::kUnknown};
  }
  const std::string key_id(presented.substr(kKeyPrefix.size(), 2 * kKeyIdBytes));
  const std::string_view secret = presented.substr(id_end + 1);
  if (!IsLowerHex(key_id) || !IsLowerHex(secret)) return {std::nullopt, Refusal::kUnknown};
  Result<std::optional<ApiKey>> row =
      db_.With([&](StoreDb& store) { return store.FindApiKey(key_id); });
  if (!row.ok()) {
    spdlog::warn("cannot check an API key: {}", row.status().ToString());
    return {std::nullopt, Refusal::kStoreDown};
  }
  if (!*row || !ConstantTimeEquals(SecretHash((*row)->salt, secret), (*row)->hash)) {
    return {std::nullopt, Refusal::kUnknown};
  }
  const ApiKey& key = **row;
  if (key.revoked_ts) return {std::nullopt, Refusal::kRevoked};
  if (key.expires_ts && *key.expires_ts <= now) return {std::nullopt, Refusal::kExpired};
  const std::optional<Role> role = ParseRole(key.role);
  if (!role) return {std::nullopt, Refusal::kUnknown};  // a row written by hand
  bool touch = false;
  {
    std::lock_guard lock(touched_mutex_);
    double& last = touched_[key_id];
    if (now - last >= kTouchEveryS) {
      last = now;
      touch = true;
    }
  }
  if (touch) {
    if (Status s = db_.With([&](StoreDb& store) { return store.TouchApiKey(key_id, now); });
        !s.ok()) {
      spdlog::warn("cannot note the last use of key '{}': {}", key.name, s.ToString());
    }
  }
  return {Caller{key.name, *role, peer}, Refusal::kMissing};
}

std::optional<double> AuthThrottle::HeldBack(const std::string& peer, double now) {
  std::lock_guard lock(mutex_);
  const auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.until <= now) return std::nullopt;
  return it->second.until - now;
}

void AuthThrottle::Failed(const std::string& peer, double now) {
  std::lock_guard lock(mutex_);
  if (peers_.size() >= kMaxPeers && !peers_.contains(peer)) Evict(now);
  Peer& p = peers_[peer];
  ++p.failures;
  p.last = now;
  if (p.failures >= kFreeFailures) {
    const int doublings = std::min(p.failures - kFreeFailures, 16);
    p.until = now + std::min(kMaxPenaltyS, std::ldexp(1.0, doublings));
  }
}

void AuthThrottle::Succeeded(const std::string& peer) {
  std::lock_guard lock(mutex_);
  peers_.erase(peer);
}

size_t AuthThrottle::peers() const {
  std::lock_guard lock(mutex_);
  return peers_.size();
}

void AuthThrottle::Evict(double now) {
  // First those whose penalty is over and that have been quiet for a while.
  std::erase_if(peers_, [&](const auto& entry) {
    return entry.second.until <= now && now - entry.second.last > kMaxPenaltyS;
  });
  if (peers_.size() < kMaxPeers) return;
  auto stalest = std::min_element(peers_.begin(), peers_.end(), [](const auto& a, const auto& b) {
    return a.second.last < b.second.last;
  });
  peers_.erase(stalest);
}

}  // namespace asicmon::control
