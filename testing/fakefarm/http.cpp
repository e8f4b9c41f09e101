#include "http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <stdexcept>

namespace asicmon::fakefarm {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Bytes allowed in a header value: visible ASCII, space, tab and obs-text.
bool IsFieldChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7F);
}

// True when `section` (the start of a header section, perhaps cut short)
// holds only bytes of header lines, with CR and LF only as CRLF pairs: any
// other byte (a NUL, a bare LF, DEL) marks the request as not HTTP at once.
bool IsHeaderSectionText(std::string_view section) {
  for (size_t i = 0; i < section.size(); ++i) {
    const char c = section[i];
    if (c == '\r') {
      if (i + 1 < section.size() && section[i + 1] != '\n') return false;
    } else if (c == '\n') {
      if (i == 0 || section[i - 1] != '\r') return false;
    } else if (!IsFieldChar(c)) {
      return false;
    }
  }
  return true;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> DecodeFormPart(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "METHOD SP origin-form SP HTTP/d.d": 0 when valid, else the status to answer.
int ParseRequestLine(std::string_view line, HttpRequest& request) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 400;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 400;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return 400;
  if (target.empty() || target.front() != '/') return 400;
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return 400;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      HexValue(version[5]) < 0 || HexValue(version[5]) > 9 || HexValue(version[7]) < 0 ||
      HexValue(version[7]) > 9) {
    return 400;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return 505;
  request.method = method;
  request.target = target;
  request.path = target.substr(0, target.find('?'));
  return 0;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

HttpParseResult ParseHttpRequest(std::string_view in, HttpRequest& request) {
  // Field by field, so a reused request keeps its header vector's capacity.
  request.method = request.target = request.path = request.body = {};
  request.headers.clear();
  request.expect_continue = false;
  auto error = [](int status) { return HttpParseResult{HttpParseState::kError, status, 0}; };
  const std::string_view window = in.substr(0, kMaxHttpHeaderBytes);
  const size_t end = window.find("\r\n\r\n");
  const std::string_view section = end == std::string_view::npos ? window : window.substr(0, end);
  if (!IsHeaderSectionText(section)) return error(400);
  const size_t line_end = section.find("\r\n");
  if (end == std::string_view::npos) {
    // Judge the request line as soon as it is in, so garbage is refused at once;
    // its method as soon as a byte of it cannot be one (a cgminer request's
    // '{' on ePIC's port), as strict servers do, rather than waiting for a
    // line end that never comes.
    if (line_end != std::string_view::npos) {
      if (const int status = ParseRequestLine(section.substr(0, line_end), request)) {
        return error(status);
      }
    } else if (!std::all_of(section.begin(),
                            section.begin() + static_cast<std::ptrdiff_t>(
                                                  std::min(section.find(' '), section.size())),
                            IsTokenChar)) {
      return error(400);
    }
    if (in.size() >= kMaxHttpHeaderBytes) return error(431);
    return {};
  }
  const std::string_view request_line = section.substr(0, line_end);
  if (const int status = ParseRequestLine(request_line, request)) return error(status);
  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view() : section.substr(line_end + 2);
  std::optional<uint64_t> content_length;
  int hosts = 0;
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return error(400);
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (request.headers.size() == kMaxHttpHeaders) return error(431);
    request.headers.emplace_back(name, value);
    if (EqualsIgnoreCase(name, "Content-Length")) {
      uint64_t length = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (content_length || value.empty() || ptr != value.data() + value.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        return error(400);
      }
      if (ec == std::errc::result_out_of_range || length > kMaxHttpBody) return error(413);
      content_length = length;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      return error(501);
    } else if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "Expect")) {
      request.expect_continue = EqualsIgnoreCase(value, "100-continue");
    }
  }
  if (hosts > 1 || (hosts == 0 && request_line.ends_with("HTTP/1.1"))) return error(400);
  const size_t header_bytes = end + 4;
  const size_t body_bytes = content_length.value_or(0);
  if (in.size() - header_bytes < body_bytes) return {HttpParseState::kNeedBody, 0, 0};
  request.body = in.substr(header_bytes, body_bytes);
  return {HttpParseState::kComplete, 0, header_bytes + body_bytes};
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> fields;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view part = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    auto name = DecodeFormPart(part.substr(0, eq));
    auto value = DecodeFormPart(eq == std::string_view::npos ? std::string_view()
                                                              : part.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    fields.emplace_back(std::move(*name), std::move(*value));
  }
  return fields;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
  }
}

void AppendHttpResponse(fmt::memory_buffer& out, int status, std::string_view content_type,
                        std::string_view body, std::string_view extra_headers) {
  fmt::format_to(fmt::appender(out),
                 "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                 "Connection: close\r\n{}\r\n",
                 status, ReasonPhrase(status), content_type, body.size(), extra_headers);
  out.append(body);
}

DigestAuth::DigestAuth(std::string realm, std::string_view user, std::string_view password,
                       std::string nonce)
    : realm_(std::move(realm)),
      user_(user),
      ha1_(Md5Hex(fmt::format("{}:{}:{}", user, realm_, password))),
      nonce_(std::move(nonce)) {}

std::string DigestAuth::RandomNonce() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  std::string hex;
  for (unsigned char b : bytes) fmt::format_to(std::back_inserter(hex), "{:02x}", b);
  return hex;
}

DigestAuth::Verdict DigestAuth::Check(std::string_view method, std::string_view target,
                                      std::optional<std::string_view> authorization) const {
  if (!authorization) return Verdict::kMissing;
  const auto params = ParseDigestAuthorization(*authorization);
  if (!params) return Verdict::kDenied;
  auto get = [&](std::string_view name) -> const std::string* {
    for (const auto& [key, value] : *params) {
      if (key == name) return &value;
    }
    return nullptr;
  };
  const std::string* username = get("username");
  const std::string* realm = get("realm");
  const std::string* nonce = get("nonce");
  const std::string* uri = get("uri");
  const std::string* response = get("response");
  const std::string* qop = get("qop");
  const std::string* nc = get("nc");
  const std::string* cnonce = get("cnonce");
  const std::string* algorithm = get("algorithm");
  if (!username || !realm || !nonce || !uri || !response || !qop || !nc || !cnonce) {
    return Verdict::kDenied;
  }
  if ((algorithm && !EqualsIgnoreCase(*algorithm, "MD5")) || *qop != "auth" ||
      *username != user_ || *realm != realm_ || *uri != target) {
    return Verdict::kDenied;
  }
  const std::string ha2 = Md5Hex(fmt::format("{}:{}", method, *uri));
  const std::string expected =
      Md5Hex(fmt::format("{}:{}:{}:{}:{}:{}", ha1_, *nonce, *nc, *cnonce, *qop, ha2));
  std::string given = *response;
  std::transform(given.begin(), given.end(), given.begin(), Lower);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return Verdict::kDenied;
  }
  return *nonce == nonce_ ? Verdict::kOk : Verdict::kStale;
}

std::string DigestAuth::Challenge(bool stale) const {
  return fmt::format(R"(Digest realm="{}", nonce="{}", qop="auth"{})", realm_, nonce_,
                     stale ? ", stale=true" : "");
}

}  // namespace asicmon::fakefarm
