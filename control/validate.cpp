#include "validate.h"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "asicmon/targets.h"

namespace asicmon::control {
namespace {

bool IsSafeFieldChar(char c) {
  // Printable ASCII minus the characters that would split or escape an API
  // parameter ("addpool|url,user,pass" travels inside a JSON string).
  return c > ' ' && c < 0x7f && c != ',' && c != '"' && c != '\\' && c != '|';
}

Status Invalid(std::string_view what, std::string_view value, std::string_view why) {
  std::string shown(value.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return Status::InvalidArgument(std::string(what) + " '" + shown + "' " + std::string(why));
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
  for (std::string_view scheme : {"stratum+tcp://", "stratum+ssl://", "stratum2+tcp://"}) {
    if (url.starts_with(scheme)) rest = url.substr(scheme.size());
  }
  if (rest.empty()) {
    return Invalid("pool url", url, "must be stratum+tcp://host:port (or stratum+ssl, stratum2+tcp)");
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Invalid("pool url", url, "needs host:port");
  }
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port_text = rest.substr(colon + 1);
  if (host.size() > 253 || host.front() == '.' || host.back() == '.' || host.front() == '-') {
    return Invalid("pool url", url, "has an invalid host");
  }
  for (char c : host) {
    if (!ValidHostLabelChar(c) && c != '.') return Invalid("pool url", url, "has an invalid host");
  }
  int port = 0;
  if (port_text.empty() || port_text[0] < '0' || port_text[0] > '9') {
    return Invalid("pool url", url, "needs a port from 1 to 65535 and nothing after it");
  }
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return Invalid("pool url", url, "needs a port from 1 to 65535 and nothing after it");
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

Result<PoolChange> PoolChangeFromJson(const nlohmann::json& body) {
  if (!body.is_object()) {
    return Status::InvalidArgument(
        "the pool must be a JSON object {\"url\":…,\"user\":…,\"password\":…}");
  }
  PoolChange pool;
  for (auto [key, into] : {std::pair{"url", &pool.url}, std::pair{"user", &pool.user},
                           std::pair{"password", &pool.password}}) {
    auto it = body.find(key);
    if (it == body.end() && std::string_view(key) == "password") continue;  // "x" is common
    if (it == body.end() || !it->is_string()) {
      return Status::InvalidArgument(fmt::format("'{}' must be a string", key));
    }
    *into = it->get<std::string>();
  }
  for (const Status& s : {ValidatePoolUrl(pool.url), ValidatePoolField("user", pool.user, false),
                          ValidatePoolField("password", pool.password, true)}) {
    if (!s.ok()) return s;
  }
  return pool;
}

Result<Cidr> ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return Invalid("cidr", text, "is not a.b.c.d/n");
  if (!ValidateIp(text.substr(0, slash)).ok()) return Invalid("cidr", text, "is not a.b.c.d/n");
  const std::string_view bits_text = text.substr(slash + 1);
  int bits = -1;
  const auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
  if (bits_text.empty() || ec != std::errc() || end != bits_text.data() + bits_text.size() ||
      bits < 0 || bits > 32) {
    return Invalid("cidr", text, "needs a prefix length 0-32 after '/'");
  }
  Result<uint32_t> address = ParseIpv4(text.substr(0, slash));
  if (!address.ok()) return Invalid("cidr", text, "is not a.b.c.d/n");
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return Cidr{*address & mask, mask};
}

}  // namespace asicmon::control
