#include "asicmon/http_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "json_read.h"

namespace asicmon {
namespace {

// Bounds a hostile response: a real challenge is one short header.
constexpr size_t kMaxHeadBytes = 16 * 1024;

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A quoted-string with '"' and '\' escaped.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

const std::string* Param(const std::vector<std::pair<std::string, std::string>>& params,
                         std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace

std::string Md5Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_md5(), nullptr) != 1) {
    return {};
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseDigestAuthorization(
    std::string_view header) {
  header = TrimOws(header);
  const size_t sp = header.find(' ');
  if (sp == std::string_view::npos || !EqualsNoCase(header.substr(0, sp), "Digest")) {
    return std::nullopt;
  }
  std::string_view s = header.substr(sp + 1);
  std::vector<std::pair<std::string, std::string>> params;
  auto skip_ows = [&s] {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  };
  while (true) {
    skip_ows();
    if (s.empty()) break;
    if (s.front() == ',') {  // empty list elements are allowed (RFC 7230 #rule)
      s.remove_prefix(1);
      continue;
    }
    size_t n = 0;
    while (n < s.size() && IsTokenChar(s[n])) ++n;
    if (n == 0) return std::nullopt;
    std::string name(s.substr(0, n));
    std::transform(name.begin(), name.end(), name.begin(), Lower);
    s.remove_prefix(n);
    skip_ows();
    if (s.empty() || s.front() != '=') return std::nullopt;
    s.remove_prefix(1);
    skip_ows();
    std::string value;
    if (!s.empty() && s.front() == '"') {
      size_t i = 1;
      for (; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && ++i == s.size()) return std::nullopt;
        value.push_back(s[i]);
      }
      if (i == s.size()) return std::nullopt;  // unterminated
      s.remove_prefix(i + 1);
    } else {
      size_t m = 0;
      while (m < s.size() && IsTokenChar(s[m])) ++m;
      if (m == 0) return std::nullopt;
      value.assign(s.substr(0, m));
      s.remove_prefix(m);
    }
    if (Param(params, name) != nullptr) return std::nullopt;
    params.emplace_back(std::move(name), std::move(value));
    skip_ows();
    if (s.empty()) break;
    if (s.front() != ',') return std::nullopt;
    s.remove_prefix(1);
  }
  if (params.empty()) return std::nullopt;
  return params;
}

std::optional<DigestChallenge> DigestChallengeOf(std::string_view http_response) {
  const size_t end = http_response.substr(0, kMaxHeadBytes).find("\r\n\r\n");
  if (!http_response.starts_with("HTTP/1.") || end == std::string_view::npos) return std::nullopt;
  std::string_view lines = http_response.substr(0, end);
  lines.remove_prefix(std::min(lines.size(), lines.find("\r\n")));  // the status line
  // A server may offer several schemes, one header each: the first Digest we can answer.
  while (!lines.empty()) {
    lines.remove_prefix(std::min<size_t>(2, lines.size()));  // CRLF
    const size_t eol = lines.find("\r\n");
    const std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(std::min(lines.size(), line.size()));
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos ||
        !EqualsNoCase(Trim(line.substr(0, colon)), "WWW-Authenticate")) {
      continue;
    }
    const auto params = ParseDigestAuthorization(line.substr(colon + 1));
    if (!params) continue;
    const std::string* nonce = Param(*params, "nonce");
    const std::string* algorithm = Param(*params, "algorithm");
    if (nonce == nullptr || nonce->empty() || (algorithm && !EqualsNoCase(*algorithm, "MD5"))) {
      continue;
    }
    DigestChallenge c;
    c.nonce = *nonce;
    if (const std::string* realm = Param(*params, "realm")) c.realm = *realm;
    if (const std::string* opaque = Param(*params, "opaque")) c.opaque = *opaque;
    if (const std::string* qop = Param(*params, "qop")) {
      // A list such as "auth,auth-int": auth is the one we answer.
      std::string_view rest = *qop;
      while (!rest.empty() && !c.qop_auth) {
        const size_t comma = rest.find(',');
        c.qop_auth = Trim(rest.substr(0, comma)) == "auth";
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
      }
      if (!c.qop_auth) continue;
    }
    return c;
  }
  return std::nullopt;
}

std::string DigestAuthorization(const DigestChallenge& challenge, std::string_view method,
                                std::string_view uri, std::string_view user,
                                std::string_view password, std::string_view cnonce) {
  constexpr std::string_view kNc = "00000001";  // the first (only) request on this nonce
  auto joined = [](std::initializer_list<std::string_view> parts) {
    std::string out;
    for (std::string_view p : parts) {
      if (!out.empty()) out += ':';
      out += p;
    }
    return out;
  };
  const std::string ha1 = Md5Hex(joined({user, challenge.realm, password}));
  const std::string ha2 = Md5Hex(joined({method, uri}));
  const std::string response =
      challenge.qop_auth ? Md5Hex(joined({ha1, challenge.nonce, kNc, cnonce, "auth", ha2}))
                         : Md5Hex(joined({ha1, challenge.nonce, ha2}));
  std::string out = "Digest username=" + Quoted(user) + ", realm=" + Quoted(challenge.realm) +
                    ", nonce=" + Quoted(challenge.nonce) + ", uri=" + Quoted(uri) +
                    ", algorithm=MD5, response=" + Quoted(response);
  if (challenge.qop_auth) {
    out += ", qop=auth, nc=";
    out += kNc;
    out += ", cnonce=" + Quoted(cnonce);
  }
  if (!challenge.opaque.empty()) out += ", opaque=" + Quoted(challenge.opaque);
  return out;
}

}  // namespace asicmon
