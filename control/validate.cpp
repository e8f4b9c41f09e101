#include "validate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "asicmon/events.h"
#include "asicmon/targets.h"

namespace asicmon::control {
namespace {

bool IsSafeFieldChar(char c) {
  // Printable ASCII minus the characters that would split or escape an API
  // parameter ("addpool|url,user,pass" travels inside a JSON string).
  return c > ' ' && c < 0x7f && c != ',' && c != '"' && c != '\\' && c != '|';
}

Status Invalid(std::string_view what, std::string_view value, std::string_view why) {
  return Status::InvalidArgument(std::string(what) + " " + Shown(value) + " " + std::string(why));
}

// What a pool user or password may hold. Unlike a worker name, which control
// only compares, these reach the miner: inside the API's JSON, and on
// stock firmware into set_miner_conf.cgi, a shell script. So only what no
// shell, JSON string or "url,user,pass" list treats as special.
bool IsPoolFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._-@+=:/%").find(c) != std::string_view::npos;
}

bool ValidHostLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Base58 (Bitcoin's alphabet) to bytes; nullopt on a character outside it.
std::optional<std::vector<uint8_t>> DecodeBase58(std::string_view text) {
  constexpr std::string_view kAlphabet =
      "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::vector<uint8_t> big_endian;  // the number so far, base 256
  for (char c : text) {
    const size_t digit = kAlphabet.find(c);
    if (digit == std::string_view::npos) return std::nullopt;
    unsigned carry = static_cast<unsigned>(digit);
    for (auto it = big_endian.rbegin(); it != big_endian.rend(); ++it) {
      carry += 58u * *it;
      *it = static_cast<uint8_t>(carry);
      carry >>= 8;
    }
    for (; carry > 0; carry >>= 8) big_endian.insert(big_endian.begin(), static_cast<uint8_t>(carry));
  }
  // Each leading '1' stands for a leading zero byte.
  for (char c : text) {
    if (c != '1') break;
    big_endian.insert(big_endian.begin(), 0);
  }
  return big_endian;
}

// A Stratum V2 pool's authority public key as pools publish it: base58check
// of the 32-byte key, bare (Braiins Pool's published key) or after a 2-byte
// version (the Stratum Reference Implementation's form); the last 4 bytes
// are the first 4 of SHA-256(SHA-256(payload)). A typo here leaves the
// miner unable to authenticate its pool, so it is caught before sending.
bool ValidAuthorityKey(std::string_view key) {
  if (key.size() < 40 || key.size() > 60) return false;
  const std::optional<std::vector<uint8_t>> bytes = DecodeBase58(key);
  if (!bytes || (bytes->size() != 32 + 4 && bytes->size() != 34 + 4)) return false;
  const size_t payload = bytes->size() - 4;
  std::array<unsigned char, EVP_MAX_MD_SIZE> once{}, twice{};
  unsigned int length = 0;
  if (EVP_Digest(bytes->data(), payload, once.data(), &length, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(once.data(), length, twice.data(), &length, EVP_sha256(), nullptr) != 1) {
    return false;
  }
  return std::equal(twice.begin(), twice.begin() + 4, bytes->begin() + static_cast<long>(payload));
}

}  // namespace

Status ValidateIp(std::string_view ip) {
  if (ip.size() > 15) return Invalid("ip", ip, "is not a dotted IPv4 address");
  int parts = 0;
  size_t pos = 0;
  while (true) {
    const size_t dot = ip.find('.', pos);
    const std::string_view part = ip.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    int value = -1;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || part.size() > 3 || part[0] < '0' || part[0] > '9' ||
        ec != std::errc() || end != part.data() + part.size() || value > 255 ||
        (part.size() > 1 && part[0] == '0')) {
      return Invalid("ip", ip, "is not a dotted IPv4 address");
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (parts != 4) return Invalid("ip", ip, "is not a dotted IPv4 address");
  return Status::Ok();
}

Status ValidateWorker(std::string_view worker) {
  if (worker.empty() || worker.size() > kMaxFieldBytes) {
    return Invalid("worker", worker, "must be 1 to 128 bytes");
  }
  for (char c : worker) {
    if (!IsSafeFieldChar(c)) {
      return Invalid("worker", worker, "has a character a worker name cannot have");
    }
  }
  return Status::Ok();
}

Status ValidatePoolUrl(std::string_view url) {
  if (url.size() > kMaxPoolUrlBytes) return Invalid("pool url", url, "is too long");
  std::string_view rest;
  bool stratum_v2 = false;
  for (std::string_view scheme : {"stratum+tcp://", "stratum+ssl://", "stratum2+tcp://"}) {
    if (url.starts_with(scheme)) {
      rest = url.substr(scheme.size());
      stratum_v2 = scheme.starts_with("stratum2");
    }
  }
  if (rest.empty()) {
    return Invalid("pool url", url,
                   "must be stratum+tcp://host:port (or stratum+ssl, or "
                   "stratum2+tcp://host[:port]/authority-key)");
  }
  // Stratum V2 may name the pool's authority public key after the address
  // (which may then leave out the port: the protocol's default).
  bool has_key = false;
  if (stratum_v2) {
    if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
      if (!ValidAuthorityKey(rest.substr(slash + 1))) {
        return Invalid("pool url", url,
                       "has an authority public key that is not a pool key in base58check "
                       "(a typo, or a truncated copy)");
      }
      rest = rest.substr(0, slash);
      has_key = true;
    }
  }
  const size_t colon = rest.rfind(':');
  if (colon == 0 || (colon == std::string_view::npos && !has_key)) {
    return Invalid("pool url", url, "needs host:port");
  }
  const std::string_view host = rest.substr(0, colon);
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.' ||
      host.front() == '-') {
    return Invalid("pool url", url, "has an invalid host");
  }
  for (char c : host) {
    if (!ValidHostLabelChar(c) && c != '.') return Invalid("pool url", url, "has an invalid host");
  }
  if (colon == std::string_view::npos) return Status::Ok();
  const std::string_view port_text = rest.substr(colon + 1);
  const std::string_view after_port = has_key ? "" : " and nothing after it";
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text[0] < '0' || port_text[0] > '9' || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return Invalid("pool url", url,
                   fmt::format("needs a port from 1 to 65535{}", after_port));
  }
  return Status::Ok();
}

Status ValidatePoolField(std::string_view what, std::string_view value, bool may_be_empty) {
  if ((value.empty() && !may_be_empty) || value.size() > kMaxFieldBytes) {
    return Status::InvalidArgument(std::string(what) + " must be " + (may_be_empty ? "0" : "1") +
                                   " to 128 bytes");
  }
  for (char c : value) {
    if (!IsPoolFieldChar(c)) {
      // The value itself stays out of the message: it may be a password.
      return Status::InvalidArgument(std::string(what) +
                                     " may hold only letters, digits and . _ - @ + = : / %");
    }
  }
  return Status::Ok();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths are not secret (a token's length is in the docs); contents are.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

namespace {

// One pool {"url", "user", "password"} (password optional: "x" is common).
Result<driver::PoolSetting> PoolFromJson(const nlohmann::json& body) {
  if (!body.is_object()) {
    return Status::InvalidArgument(
        "a pool must be a JSON object {\"url\":…,\"user\":…,\"password\":…}");
  }
  driver::PoolSetting pool;
  for (auto [key, into] : {std::pair{"url", &pool.url}, std::pair{"user", &pool.user},
                           std::pair{"password", &pool.password}}) {
    auto it = body.find(key);
    if (it == body.end() && std::string_view(key) == "password") continue;
    if (it == body.end() || !it->is_string()) {
      return Status::InvalidArgument(fmt::format("'{}' must be a string", key));
    }
    *into = it->get<std::string>();
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "url" && key != "user" && key != "password") {
      return Status::InvalidArgument(
          fmt::format("unknown pool field {} (url, user, password)", Shown(key)));
    }
  }
  for (const Status& s : {ValidatePoolUrl(pool.url), ValidatePoolField("user", pool.user, false),
                          ValidatePoolField("password", pool.password, true)}) {
    if (!s.ok()) return s;
  }
  return pool;
}

}  // namespace

Result<PoolChange> PoolChangeFromJson(const nlohmann::json& body) {
  PoolChange change;
  if (body.is_object() && body.contains("pools")) {
    const nlohmann::json& pools = body["pools"];
    if (body.size() != 1 || !pools.is_array() || pools.empty() ||
        pools.size() > driver::kMaxPools) {
      return Status::InvalidArgument(fmt::format(
          "'pools' must be the only field: a list of 1 to {} pools in priority order",
          driver::kMaxPools));
    }
    for (const nlohmann::json& p : pools) {
      Result<driver::PoolSetting> pool = PoolFromJson(p);
      if (!pool.ok()) return pool.status();
      change.pools.push_back(std::move(*pool));
    }
    return change;
  }
  Result<driver::PoolSetting> pool = PoolFromJson(body);
  if (!pool.ok()) return pool.status();
  change.pools.push_back(std::move(*pool));
  return change;
}

Result<PowerChange> PowerChangeFromJson(const nlohmann::json& body) {
  const auto bad = [] {
    return Status::InvalidArgument(
        "the body must be {\"mode\": \"low\"|\"normal\"|\"high\"} or {\"limit_w\": N} with N "
        "1..100000");
  };
  if (!body.is_object() || body.size() != 1) return bad();
  PowerChange change;
  if (const auto mode = body.find("mode"); mode != body.end()) {
    if (!mode->is_string()) return bad();
    change.mode = driver::ParsePowerMode(mode->get<std::string>());
    if (!change.mode) return bad();
    return change;
  }
  const auto limit = body.find("limit_w");
  if (limit == body.end() || !limit->is_number_integer() || *limit < 1 || *limit > 100000) {
    return bad();
  }
  change.limit_w = limit->get<int>();
  return change;
}

// "url=... user=..." per pool, never a password: for the audit.
std::string PoolChangeDetail(const PoolChange& change) {
  std::string detail;
  for (const driver::PoolSetting& p : change.pools) {
    if (!detail.empty()) detail += "; ";
    detail += "url=" + p.url + " user=" + p.user;
  }
  return detail;
}

std::string PowerChangeDetail(const PowerChange& change) {
  return change.mode ? std::string(kPowerModeDetail) + std::string(driver::ToString(*change.mode))
                     : std::string(kPowerLimitDetail) + std::to_string(change.limit_w.value_or(0));
}

}  // namespace asicmon::control
