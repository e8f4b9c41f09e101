// The client side of HTTP Digest auth (http_digest.h): reading a 401's
// challenge and answering it, checked against RFC 2617's worked example and
// the fake farm's server side (lighttpd's behaviour on stock Antminers).
#include "asicmon/http_digest.h"

#include <gtest/gtest.h>

#include "http.h"
#include "miner_web.h"

namespace asicmon {
namespace {

std::string Unauthorized(std::string_view headers) {
  return "HTTP/1.1 401 Unauthorized\r\n" + std::string(headers) +
         "Content-Length: 0\r\n\r\n";
}

// RFC 2617 section 3.5: the response its example request carries.
TEST(HttpDigest, AnswersRfc2617sExample) {
  const std::optional<DigestChallenge> c = DigestChallengeOf(Unauthorized(
      "WWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->realm, "testrealm@host.com");
  EXPECT_TRUE(c->qop_auth);
  const std::string header =
      DigestAuthorization(*c, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", "0a4f113b");
  const auto params = ParseDigestAuthorization(header);
  ASSERT_TRUE(params.has_value()) << header;
  auto get = [&](std::string_view name) {
    for (const auto& [k, v] : *params) {
      if (k == name) return v;
    }
    return std::string("<absent>");
  };
  EXPECT_EQ(get("response"), "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(get("username"), "Mufasa");
  EXPECT_EQ(get("uri"), "/dir/index.html");
  EXPECT_EQ(get("qop"), "auth");
  EXPECT_EQ(get("nc"), "00000001");
  EXPECT_EQ(get("cnonce"), "0a4f113b");
  EXPECT_EQ(get("opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
}

// What the fake farm's lighttpd stand-in accepts, a client answers with.
TEST(HttpDigest, FakeFarmAcceptsTheAnswerToItsChallenge) {
  const fakefarm::DigestAuth server(std::string(fakefarm::kWebRealm), "root", "s3cret",
                                    "0123abcd");
  const auto c = DigestChallengeOf(
      Unauthorized("WWW-Authenticate: " + server.Challenge(false) + "\r\n"));
  ASSERT_TRUE(c.has_value());
  const std::string uri = "/cgi-bin/get_system_info.cgi";
  EXPECT_EQ(server.Check("GET", uri, DigestAuthorization(*c, "GET", uri, "root", "s3cret", "c1")),
            fakefarm::DigestAuth::Verdict::kOk);
  EXPECT_EQ(server.Check("GET", uri, DigestAuthorization(*c, "GET", uri, "root", "root", "c1")),
            fakefarm::DigestAuth::Verdict::kDenied);
  // A name or password with a quote or backslash stays one quoted-string.
  const fakefarm::DigestAuth odd(std::string(fakefarm::kWebRealm), "a\"b", "p\\w", "n");
  EXPECT_EQ(odd.Check("GET", uri, DigestAuthorization(*c, "GET", uri, "a\"b", "p\\w", "c2")),
            fakefarm::DigestAuth::Verdict::kStale);  // right credentials, the other nonce
}

// RFC 2069's form (no qop): response = MD5(HA1:nonce:HA2), no nc or cnonce.
TEST(HttpDigest, ChallengeWithoutQop) {
  const auto c =
      DigestChallengeOf(Unauthorized("WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"));
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->qop_auth);
  const std::string header = DigestAuthorization(*c, "GET", "/x", "u", "p", "cn");
  const std::string ha1 = Md5Hex("u:r:p");
  const std::string ha2 = Md5Hex("GET:/x");
  EXPECT_NE(header.find("response=\"" + Md5Hex(ha1 + ":n:" + ha2) + "\""), std::string::npos)
      << header;
  EXPECT_EQ(header.find("cnonce"), std::string::npos);
}

// Only a Digest challenge this client can answer counts; the first of several.
TEST(HttpDigest, ChallengesThatCannotBeAnswered) {
  EXPECT_FALSE(DigestChallengeOf(Unauthorized("WWW-Authenticate: Basic realm=\"x\"\r\n")));
  EXPECT_FALSE(DigestChallengeOf(
      Unauthorized("WWW-Authenticate: Digest realm=\"x\", nonce=\"n\", algorithm=MD5-sess\r\n")));
  EXPECT_FALSE(DigestChallengeOf(
      Unauthorized("WWW-Authenticate: Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"\r\n")));
  EXPECT_FALSE(DigestChallengeOf(Unauthorized("WWW-Authenticate: Digest realm=\"x\"\r\n")));
  EXPECT_FALSE(DigestChallengeOf(Unauthorized("WWW-Authenticate: Digest realm=\"open\r\n")));
  EXPECT_FALSE(DigestChallengeOf(Unauthorized("")));
  EXPECT_FALSE(DigestChallengeOf("not http at all\r\n\r\n"));
  EXPECT_FALSE(DigestChallengeOf("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest "
                                 "realm=\"x\", nonce=\"n\"\r\n"));  // headers never end
  const auto second = DigestChallengeOf(
      Unauthorized("www-authenticate: Basic realm=\"x\"\r\n"
                   "WWW-Authenticate:Digest realm=\"y\", nonce=\"m\", algorithm=md5\r\n"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->realm, "y");
  EXPECT_EQ(second->nonce, "m");
}

}  // namespace
}  // namespace asicmon
