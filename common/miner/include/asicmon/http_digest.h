// HTTP Digest access authentication (RFC 7616 with MD5 and qop=auth, as
// lighttpd on stock Antminer firmware asks for it): the client's side for
// the poller's web identity (a 401's challenge, then the Authorization of
// the second GET), and the pieces the fake farm's server side shares.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asicmon {

// MD5 of `data` as 32 lowercase hex digits (OpenSSL EVP); "" where OpenSSL
// refuses MD5 (FIPS mode), which no server accepts.
std::string Md5Hex(std::string_view data);

// The parameters of a "Digest k=v, k=\"v\", ..." header value (Authorization
// or WWW-Authenticate), names lowercased, quoted strings unescaped; nullopt
// for another scheme or a malformed or repeated parameter.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseDigestAuthorization(
    std::string_view header);

// What a server's Digest challenge asks the client to answer.
struct DigestChallenge {
  std::string realm;
  std::string nonce;
  std::string opaque;  // echoed back when sent
  bool qop_auth = false;  // qop="auth" offered; false: RFC 2069's form without qop
};

// The Digest challenge of an HTTP response (its WWW-Authenticate headers);
// nullopt when it has none this client can answer (no header, another
// scheme, no nonce, an algorithm other than MD5, only qop=auth-int).
std::optional<DigestChallenge> DigestChallengeOf(std::string_view http_response);

// The value of the Authorization header answering `challenge` for a request
// with `method` to `uri` (nc 00000001, `cnonce` as given).
std::string DigestAuthorization(const DigestChallenge& challenge, std::string_view method,
                                std::string_view uri, std::string_view user,
                                std::string_view password, std::string_view cnonce);

}  // namespace asicmon
