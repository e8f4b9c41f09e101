// The small part of HTTP/1.1 the simulated miners' web interface needs: a
// strict request parser with size caps, urlencoded forms, Digest access
// authentication (RFC 7616 with MD5 and qop=auth, as lighttpd on stock
// Antminer firmware does it) and response framing.
//
// Thread-safety: free functions are reentrant; a DigestAuth is immutable.
#pragma once

#include <fmt/format.h>

#include "asicmon/http_digest.h"  // Md5Hex, ParseDigestAuthorization

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asicmon::fakefarm {

// Caps on what a client may send. Stock firmware's forms are about 1 KiB.
inline constexpr size_t kMaxHttpHeaderBytes = 8 * 1024;  // request line and headers
inline constexpr size_t kMaxHttpBody = 16 * 1024;
inline constexpr size_t kMaxHttpHeaders = 64;

struct HttpRequest {
  std::string_view method;
  std::string_view target;  // as sent, query included
  std::string_view path;    // target up to '?'
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // value without OWS
  std::string_view body;
  bool expect_continue = false;  // "Expect: 100-continue"
  // The value of the first header called `name` (any case), nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;
};

enum class HttpParseState {
  kNeedHeaders,  // the header section is not complete yet
  kNeedBody,     // headers parsed, the body is not all in yet
  kComplete,     // `length` bytes form the request
  kError,        // answer `error_status` and close
};
struct HttpParseResult {
  HttpParseState state = HttpParseState::kNeedHeaders;
  int error_status = 0;  // 400, 413, 431, 501 or 505 with kError
  size_t length = 0;     // bytes of the whole request with kComplete
};

// Parses the request at the start of `in` (which may hold more bytes than one
// request). Only origin-form targets, HTTP/1.0 and 1.1, CRLF line ends, and
// bodies framed by Content-Length (Transfer-Encoding is refused). The views
// in `request` point into `in`. Never throws.
HttpParseResult ParseHttpRequest(std::string_view in, HttpRequest& request);

// An application/x-www-form-urlencoded body as name/value pairs in order,
// '+' read as a space and %XX decoded; nullopt when an escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body);

std::string_view ReasonPhrase(int status);

// Appends a whole response with Content-Length and "Connection: close";
// `extra_headers` are complete lines, each ending in CRLF.
void AppendHttpResponse(fmt::memory_buffer& out, int status, std::string_view content_type,
                        std::string_view body, std::string_view extra_headers = {});

// Digest access authentication for one user, one realm and one nonce.
class DigestAuth {
 public:
  DigestAuth(std::string realm, std::string_view user, std::string_view password,
             std::string nonce);
  // 32 hex digits from OpenSSL's CSPRNG.
  static std::string RandomNonce();

  enum class Verdict {
    kOk,
    kMissing,  // no Authorization header
    kDenied,   // another scheme, malformed, or wrong credentials, realm, uri or qop
    kStale,    // right credentials with a nonce that is not ours (RFC 7616 stale=true)
  };
  // Checks the Authorization of a request to `target` with `method`.
  Verdict Check(std::string_view method, std::string_view target,
                std::optional<std::string_view> authorization) const;
  // The value of WWW-Authenticate for a 401.
  std::string Challenge(bool stale) const;

  const std::string& realm() const { return realm_; }
  const std::string& nonce() const { return nonce_; }

 private:
  std::string realm_;
  std::string user_;
  std::string ha1_;  // MD5(user:realm:password), the same for every request
  std::string nonce_;
};

}  // namespace asicmon::fakefarm
