// The fake farm's web interface without sockets: the HTTP request parser
// against well-formed, incomplete and hostile requests, form decoding,
// Digest auth against RFC 2617's worked example, and the CGI endpoints'
// answers and effects on a FakeMiner.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_miner.h"
#include "http.h"
#include "miner_web.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

constexpr double kNow = 1.7e9;

HttpParseResult Parse(std::string_view in, HttpRequest& request) {
  return ParseHttpRequest(in, request);
}

int ErrorOf(std::string_view in) {
  HttpRequest request;
  const HttpParseResult r = Parse(in, request);
  return r.state == HttpParseState::kError ? r.error_status : 0;
}

TEST(HttpParserTest, ParsesARequestWithABodyAndLeavesWhatFollows) {
  const std::string in =
      "POST /cgi-bin/set_miner_conf.cgi?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "Content-Type:  application/x-www-form-urlencoded \r\nContent-Length: 5\r\n\r\na=b&cGET /";
  HttpRequest request;
  const HttpParseResult r = Parse(in, request);
  ASSERT_EQ(r.state, HttpParseState::kComplete);
  EXPECT_EQ(r.length, in.size() - 5);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/cgi-bin/set_miner_conf.cgi?x=1");
  EXPECT_EQ(request.path, "/cgi-bin/set_miner_conf.cgi");
  EXPECT_EQ(request.body, "a=b&c");
  EXPECT_EQ(request.Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(request.Header("HOST"), "127.0.0.1:8080");
  EXPECT_FALSE(request.Header("Authorization").has_value());
  EXPECT_FALSE(request.expect_continue);
}

TEST(HttpParserTest, ReportsWhatIsStillMissing) {
  HttpRequest request;
  EXPECT_EQ(Parse("", request).state, HttpParseState::kNeedHeaders);
  EXPECT_EQ(Parse("GET /cgi-bin/reboot.cgi HTT", request).state, HttpParseState::kNeedHeaders);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n", request).state, HttpParseState::kNeedHeaders);
  const std::string head =
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  EXPECT_EQ(Parse(head + "ab", request).state, HttpParseState::kNeedBody);
  EXPECT_TRUE(request.expect_continue);
  EXPECT_EQ(Parse(head + "abcd", request).state, HttpParseState::kComplete);
  // HTTP/1.0 needs no Host; no Content-Length means no body.
  EXPECT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", request).state, HttpParseState::kComplete);
  EXPECT_EQ(request.body, "");
}

TEST(HttpParserTest, RefusesHostileAndMalformedRequests) {
  const std::string ok_head = "GET / HTTP/1.1\r\nHost: a\r\n";
  // Garbage is refused as soon as its first line (or a non-HTTP byte) is in.
  EXPECT_EQ(ErrorOf("\x16\x03\x01\x02\x00\x01"), 400);  // a TLS ClientHello
  EXPECT_EQ(ErrorOf(std::string("GET /\0 HTTP/1.1", 15)), 400);
  EXPECT_EQ(ErrorOf("hello there\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\n\n"), 400);                   // bare LF
  EXPECT_EQ(ErrorOf("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);   // two spaces
  EXPECT_EQ(ErrorOf("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);  // absolute form
  EXPECT_EQ(ErrorOf("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\n\r\n"), 400);                       // no Host
  EXPECT_EQ(ErrorOf(ok_head + "Host: b\r\n\r\n"), 400);                    // two Hosts
  EXPECT_EQ(ErrorOf(ok_head + "Bad Name: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "NoColon\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + " folded: x\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "X: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: abc\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: 1 2\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: \r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx"), 400);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: 16385\r\n\r\n"), 413);
  EXPECT_EQ(ErrorOf(ok_head + "Content-Length: 99999999999999999999999999\r\n\r\n"), 413);
  EXPECT_EQ(ErrorOf(ok_head + "Transfer-Encoding: chunked\r\n\r\n"), 501);
  // Header section over 8 KiB, whether it ever ends or not; too many headers.
  EXPECT_EQ(ErrorOf(ok_head + "X: " + std::string(9000, 'a')), 431);
  EXPECT_EQ(ErrorOf(ok_head + "X: " + std::string(9000, 'a') + "\r\n\r\n"), 431);
  std::string many = ok_head;
  for (int i = 0; i < 70; ++i) many += fmt::format("X{}: 1\r\n", i);
  EXPECT_EQ(ErrorOf(many + "\r\n"), 431);
  // Every byte value as a header value or as a request never crashes the parser.
  for (int b = 0; b < 256; ++b) {
    HttpRequest request;
    const std::string byte(1, static_cast<char>(b));
    Parse(ok_head + "X: " + byte + "\r\n\r\n", request);
    Parse(byte + byte + "\r\n\r\n", request);
  }
}

TEST(HttpFormTest, DecodesPlusAndPercentAndRefusesBadEscapes) {
  auto form = ParseForm("_ant_pool1url=stratum%2Btcp%3A%2F%2Fa.example%3A3333&_ant_pool1user=w+1%25"
                        "&empty=&bare&&%5F=%c3%a9");
  ASSERT_TRUE(form.has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"_ant_pool1url", "stratum+tcp://a.example:3333"},
      {"_ant_pool1user", "w 1%"},
      {"empty", ""},
      {"bare", ""},
      {"_", "\xc3\xa9"}};
  EXPECT_EQ(*form, expected);
  EXPECT_FALSE(ParseForm("a=%").has_value());
  EXPECT_FALSE(ParseForm("a=%4").has_value());
  EXPECT_FALSE(ParseForm("a=%zz").has_value());
  EXPECT_TRUE(ParseForm("").has_value());
}

// RFC 2617 section 3.5: the worked example, response included.
constexpr std::string_view kRfcAuthorization =
    R"(Digest username="Mufasa", realm="testrealm@host.com",)"
    R"( nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,)"
    R"( nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",)"
    R"( opaque="5ccc069c403ebaf9f0171e9517f40e41")";

TEST(DigestAuthTest, Md5IsTheRealOne) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(DigestAuthTest, AcceptsRfc2617WorkedExample) {
  const DigestAuth auth("testrealm@host.com", "Mufasa", "Circle Of Life",
                        "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  EXPECT_EQ(auth.Check("GET", "/dir/index.html", kRfcAuthorization), DigestAuth::Verdict::kOk);
  EXPECT_EQ(auth.Check("GET", "/dir/index.html", std::nullopt), DigestAuth::Verdict::kMissing);
  // The same digest for another method or path, or a changed response, fails.
  EXPECT_EQ(auth.Check("POST", "/dir/index.html", kRfcAuthorization), DigestAuth::Verdict::kDenied);
  EXPECT_EQ(auth.Check("GET", "/dir/other.html", kRfcAuthorization), DigestAuth::Verdict::kDenied);
  std::string tampered(kRfcAuthorization);
  tampered.replace(tampered.find("6629fae4"), 8, "6629fae5");
  EXPECT_EQ(auth.Check("GET", "/dir/index.html", tampered), DigestAuth::Verdict::kDenied);
  // Right digest but an older nonce: stale, so the client retries with ours.
  const DigestAuth restarted("testrealm@host.com", "Mufasa", "Circle Of Life", "0123abcd");
  EXPECT_EQ(restarted.Check("GET", "/dir/index.html", kRfcAuthorization),
            DigestAuth::Verdict::kStale);
  EXPECT_EQ(restarted.Challenge(true),
            R"(Digest realm="testrealm@host.com", nonce="0123abcd", qop="auth", stale=true)");
  // Wrong password, user or realm.
  for (const DigestAuth& other :
       {DigestAuth("testrealm@host.com", "Mufasa", "circle of life", "dcd98b7102dd2f0e8b11d0f600bfb0c093"),
        DigestAuth("testrealm@host.com", "mufasa", "Circle Of Life", "dcd98b7102dd2f0e8b11d0f600bfb0c093"),
        DigestAuth("antMiner Configuration", "Mufasa", "Circle Of Life",
                   "dcd98b7102dd2f0e8b11d0f600bfb0c093")}) {
    EXPECT_EQ(other.Check("GET", "/dir/index.html", kRfcAuthorization), DigestAuth::Verdict::kDenied);
  }
}

TEST(DigestAuthTest, RefusesMalformedAndDowngradedHeaders) {
  const DigestAuth auth("testrealm@host.com", "Mufasa", "Circle Of Life",
                        "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  const std::string rfc(kRfcAuthorization);
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = rfc;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  for (const std::string& header : {
           std::string("Basic TXVmYXNhOkNpcmNsZSBPZiBMaWZl"),
           std::string("Digest"),
           std::string("Digest username"),
           with("qop=auth,", "qop=auth-int,"),
           with("qop=auth,", ""),
           with(R"(cnonce="0a4f113b",)", ""),
           with("nc=00000001,", ""),
           with(R"(username="Mufasa",)", R"(username="Mufasa", username="Mufasa",)"),
           with(R"(response="6629fae49393a05397450978507c4ef1")",
                R"(response="6629fae49393a05397450978507c4ef1)"),
           rfc + R"(, algorithm=SHA-256)",
           rfc + ", =x",
       }) {
    SCOPED_TRACE(header);
    EXPECT_EQ(auth.Check("GET", "/dir/index.html", header), DigestAuth::Verdict::kDenied);
  }
  // Scheme and parameter names are case-insensitive, algorithm=MD5 is the default.
  std::string upper = with("Digest username", "DIGEST UserName");
  EXPECT_EQ(auth.Check("GET", "/dir/index.html", upper + ", algorithm=MD5"),
            DigestAuth::Verdict::kOk);
}

TEST(DigestAuthTest, ParsesQuotedStringsWithEscapesAndTokens) {
  auto params = ParseDigestAuthorization(R"(Digest a="x\"y\\z", b=tok , c="")");
  ASSERT_TRUE(params.has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"a", "x\"y\\z"}, {"b", "tok"}, {"c", ""}};
  EXPECT_EQ(*params, expected);
  EXPECT_FALSE(ParseDigestAuthorization(R"(Digest a="open)").has_value());
  EXPECT_FALSE(ParseDigestAuthorization("Digest a=b c=d").has_value());
}

TEST(DigestAuthTest, RandomNoncesAreHexAndDiffer) {
  const std::string a = DigestAuth::RandomNonce();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  })) << a;
  EXPECT_NE(a, DigestAuth::RandomNonce());
}

// ---------------------------------------------------------------------------
// The endpoints, with Authorization computed here the way a client does.

class MinerWebTest : public ::testing::Test {
 protected:
  MinerWebTest() : auth_(std::string(kWebRealm), "root", "root", "feedface") {
    UseModel(ModelId::kS19Pro);
  }

  void UseModel(ModelId model) {
    FakeMinerSpec spec;
    spec.model = model;
    spec.index = 4;
    spec.uptime_s = 7200;
    miner_ = std::make_unique<FakeMiner>(spec, kNow);
  }

  static std::string Authorization(std::string_view method, std::string_view uri,
                                   std::string_view password = "root") {
    const std::string ha1 = Md5Hex(fmt::format("root:{}:{}", kWebRealm, password));
    const std::string ha2 = Md5Hex(fmt::format("{}:{}", method, uri));
    const std::string response =
        Md5Hex(fmt::format("{}:feedface:00000001:c0ffee:auth:{}", ha1, ha2));
    return fmt::format(
        R"(Digest username="root", realm="{}", nonce="feedface", uri="{}", qop=auth, )"
        R"(nc=00000001, cnonce="c0ffee", response="{}")",
        kWebRealm, uri, response);
  }

  // The whole response to a request built from the parts.
  std::string Send(std::string_view method, std::string_view uri, std::string_view authorization,
                   std::string_view body = {},
                   std::string_view type = "application/x-www-form-urlencoded") {
    request_text_ = fmt::format("{} {} HTTP/1.1\r\nHost: x\r\n", method, uri);
    if (!authorization.empty()) request_text_ += fmt::format("Authorization: {}\r\n", authorization);
    if (!body.empty()) {
      request_text_ += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", type, body.size());
    }
    request_text_ += "\r\n";
    request_text_ += body;
    HttpRequest request;
    EXPECT_EQ(ParseHttpRequest(request_text_, request).state, HttpParseState::kComplete);
    fmt::memory_buffer out;
    effect_ = HandleWebRequest(request, auth_, *miner_, "127.0.0.1", now_, out, actions_);
    return fmt::to_string(out);
  }

  std::string Get(std::string_view uri) { return Send("GET", uri, Authorization("GET", uri)); }
  std::string Post(std::string_view uri, std::string_view body,
                   std::string_view type = "application/x-www-form-urlencoded") {
    return Send("POST", uri, Authorization("POST", uri), body, type);
  }
  nlohmann::json MinerConf() {
    return nlohmann::json::parse(Body(Get("/cgi-bin/get_miner_conf.cgi")));
  }
  nlohmann::json ApiSummary() {
    auto parsed = testing::ParseMinerJson(miner_->Handle("summary", now_));
    EXPECT_OK(parsed);
    return parsed.ok() ? (*parsed)["SUMMARY"][0] : nlohmann::json();
  }

  static std::string StatusLine(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
  }
  static std::string Body(const std::string& response) {
    return response.substr(response.find("\r\n\r\n") + 4);
  }
  nlohmann::json ApiPools() {
    auto parsed = testing::ParseMinerJson(miner_->Handle("pools", now_));
    EXPECT_OK(parsed);
    return parsed.ok() ? (*parsed)["POOLS"] : nlohmann::json();
  }
  int64_t ApiElapsed() {
    auto parsed = testing::ParseMinerJson(miner_->Handle("summary", now_));
    EXPECT_OK(parsed);
    return parsed.ok() ? (*parsed)["SUMMARY"][0]["Elapsed"].get<int64_t>() : -1;
  }

  DigestAuth auth_;
  std::unique_ptr<FakeMiner> miner_;
  double now_ = kNow + 100;
  std::string request_text_;
  WebEffect effect_ = WebEffect::kNone;
  std::vector<PrivilegedAction> actions_;
};

TEST_F(MinerWebTest, RoutesMethodsAndAuthInThatOrder) {
  EXPECT_EQ(StatusLine(Send("GET", "/index.html", "")), "HTTP/1.1 404 Not Found");
  const std::string wrong_method = Send("POST", "/cgi-bin/reboot.cgi", "", "a=b");
  EXPECT_EQ(StatusLine(wrong_method), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(wrong_method.find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_NE(Send("GET", "/cgi-bin/set_miner_conf.cgi", "").find("\r\nAllow: POST\r\n"),
            std::string::npos);

  const std::string challenge = Send("GET", "/cgi-bin/reboot.cgi", "");
  EXPECT_EQ(StatusLine(challenge), "HTTP/1.1 401 Unauthorized");
  EXPECT_NE(challenge.find("\r\nWWW-Authenticate: Digest realm=\"antMiner Configuration\", "
                           "nonce=\"feedface\", qop=\"auth\"\r\n"),
            std::string::npos)
      << challenge;
  const std::string wrong = Send("GET", "/cgi-bin/reboot.cgi",
                                 Authorization("GET", "/cgi-bin/reboot.cgi", "admin"));
  EXPECT_EQ(StatusLine(wrong), "HTTP/1.1 401 Unauthorized");
  // A digest made for another path does not open this one.
  EXPECT_EQ(StatusLine(Send("GET", "/cgi-bin/reboot.cgi",
                            Authorization("GET", "/cgi-bin/get_miner_conf.cgi"))),
            "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(effect_, WebEffect::kNone);
  EXPECT_TRUE(actions_.empty());
}

TEST_F(MinerWebTest, RebootAnswersAndLeavesTheRestartToTheServer) {
  const std::string response = Get("/cgi-bin/reboot.cgi");
  EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(Body(response).find("<html>"), std::string::npos);
  EXPECT_EQ(effect_, WebEffect::kReboot);
  ASSERT_EQ(actions_.size(), 1u);
  EXPECT_EQ(actions_[0].command, "reboot");
  EXPECT_EQ(actions_[0].result, ActionResult::kOk);
  EXPECT_GE(ApiElapsed(), 7200) << "the miner itself is restarted when it comes back";
}

TEST_F(MinerWebTest, GetMinerConfIsTheStockLayoutWithTheMinersPools) {
  const std::string response = Get("/cgi-bin/get_miner_conf.cgi");
  EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  const std::string body = Body(response);
  const nlohmann::ordered_json conf = nlohmann::ordered_json::parse(body);
  std::vector<std::string> keys;
  for (const auto& item : conf.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"pools", "api-listen", "api-network", "api-groups",
                                            "api-allow", "bitmain-use-vil", "bitmain-freq",
                                            "bitmain-voltage", "bitmain-fan-ctrl",
                                            "bitmain-fan-pwm", "bitmain-work-mode"}));
  const nlohmann::json api = ApiPools();
  ASSERT_EQ(conf["pools"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(conf["pools"][i]["url"], api[i]["URL"]);
    EXPECT_EQ(conf["pools"][i]["user"], api[i]["User"]);
    EXPECT_EQ(conf["pools"][i]["pass"], "x");
  }
  EXPECT_EQ(conf["api-allow"], "A:0/0,W:*");
  EXPECT_EQ(conf["bitmain-fan-ctrl"], false);
  EXPECT_EQ(conf["bitmain-work-mode"], "0");
  // Priority order after a switchpool: the pool in use comes first.
  miner_->Handle("switchpool|2", now_);
  const nlohmann::json after = nlohmann::json::parse(Body(Get("/cgi-bin/get_miner_conf.cgi")));
  EXPECT_EQ(after["pools"][0]["url"], "stratum+tcp://pool-c.example:700");
}

TEST_F(MinerWebTest, GetMinerConfEscapesStrings) {
  const std::string user = "we\"ird\\user\x01";
  miner_->Reconfigure({{"stratum+tcp://a.example:1", user, "p\"w"}}, now_);
  const nlohmann::json conf = nlohmann::json::parse(Body(Get("/cgi-bin/get_miner_conf.cgi")));
  EXPECT_EQ(conf["pools"][0]["user"], user);
  EXPECT_EQ(conf["pools"][0]["pass"], "p\"w");
}

TEST_F(MinerWebTest, SetMinerConfReplacesPoolsAndRestarts) {
  ASSERT_GE(ApiElapsed(), 7200);
  const std::string form =
      "_ant_pool1url=stratum%2Btcp%3A%2F%2Fnew-a.example%3A3333&_ant_pool1user=acct.rig+7"
      "&_ant_pool1pw=p%26w&_ant_pool2url=&_ant_pool2user=ignored&_ant_pool2pw="
      "&_ant_pool3url=stratum%2Btcp%3A%2F%2F10.0.0.9%3A25&_ant_pool3user=acct.rig7&_ant_pool3pw=x"
      "&_ant_nobeeper=false&_ant_freq=600&_ant_voltage=0706";
  const std::string response =
      Send("POST", "/cgi-bin/set_miner_conf.cgi",
           Authorization("POST", "/cgi-bin/set_miner_conf.cgi"), form);
  EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(response), "ok");
  ASSERT_EQ(actions_.size(), 1u);
  EXPECT_EQ(actions_[0].command, "set_miner_conf");
  EXPECT_EQ(actions_[0].parameter,
            "stratum+tcp://new-a.example:3333,acct.rig 7,p&w;stratum+tcp://10.0.0.9:25,acct.rig7,x");
  EXPECT_EQ(actions_[0].result, ActionResult::kOk);

  const nlohmann::json pools = ApiPools();
  ASSERT_EQ(pools.size(), 2u);
  EXPECT_EQ(pools[0]["URL"], "stratum+tcp://new-a.example:3333");
  EXPECT_EQ(pools[0]["User"], "acct.rig 7");
  EXPECT_EQ(pools[0]["Stratum Active"], true);
  EXPECT_EQ(pools[1]["URL"], "stratum+tcp://10.0.0.9:25");
  EXPECT_EQ(pools[1]["Stratum Active"], false);
  EXPECT_EQ(ApiElapsed(), 0);
  EXPECT_EQ(miner_->worker(), "acct.rig 7");
}

TEST_F(MinerWebTest, SetMinerConfWithABadUrlAnswersLikeFirmwareButKeepsThePools) {
  const nlohmann::json before = ApiPools();
  for (const std::string& form : {
           std::string("_ant_pool1url=http%3A%2F%2Fpool.example%3A3333&_ant_pool1user=a"),
           std::string("_ant_pool1url=stratum%2Btcp%3A%2F%2Fpool.example&_ant_pool1user=a"),
           std::string("_ant_pool1url=stratum%2Btcp%3A%2F%2Fpool.example%3A70000"),
           std::string("_ant_pool1url=stratum%2Btcp%3A%2F%2F%3A3333"),
           std::string("_ant_pool1url=stratum%2Btcp%3A%2F%2Fa.example%3A1"
                       "&_ant_pool2url=stratum%2Btcp%3A%2F%2Fb+c%3A1"),
           std::string("_ant_pool1url=&_ant_freq=600"),
       }) {
    SCOPED_TRACE(form);
    actions_.clear();
    const std::string response =
        Send("POST", "/cgi-bin/set_miner_conf.cgi",
             Authorization("POST", "/cgi-bin/set_miner_conf.cgi"), form);
    EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
    EXPECT_EQ(Body(response), "ok");
    ASSERT_EQ(actions_.size(), 1u);
    EXPECT_EQ(actions_[0].result, ActionResult::kError);
  }
  EXPECT_EQ(ApiPools(), before);
  EXPECT_GE(ApiElapsed(), 7200);
}

TEST_F(MinerWebTest, SetMinerConfRefusesABodyThatIsNotAForm) {
  const std::string uri = "/cgi-bin/set_miner_conf.cgi";
  EXPECT_EQ(StatusLine(Post(uri, "a=%zz")), "HTTP/1.1 400 Bad Request");
  // The X19 JSON form must be a JSON object.
  for (const char* body : {"{\"pools\":", "[1]", "{} x"}) {
    EXPECT_EQ(StatusLine(Post(uri, body, "application/json")), "HTTP/1.1 400 Bad Request") << body;
  }
  // S9 and L3+ firmware reads the urlencoded form only.
  for (ModelId model : {ModelId::kS9, ModelId::kL3Plus}) {
    UseModel(model);
    EXPECT_EQ(
        StatusLine(Post(uri, R"({"pools":[{"url":"stratum+tcp://a:1"}]})", "application/json")),
        "HTTP/1.1 400 Bad Request");
  }
  EXPECT_TRUE(actions_.empty());
}

// The X19 form: miner-mode 1 stops hashing, 0 resumes it; each restarts the
// mining software and reads back as bitmain-work-mode.
TEST_F(MinerWebTest, X19JsonPutsToSleepAndWakes) {
  const std::string uri = "/cgi-bin/set_miner_conf.cgi";
  const std::string sleep =
      R"({"bitmain-fan-ctrl":false,"bitmain-fan-pwm":"100","freq-level":"100","miner-mode":1,)"
      R"("pools":[{"url":"stratum+tcp://new-a.example:3333","user":"acct.rig4","pass":"x"},)"
      R"({"url":"","user":"","pass":""},{"url":"","user":"","pass":""}]})";
  const std::string response = Post(uri, sleep, "application/json");
  EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(Body(response)),
            nlohmann::json({{"stats", "success"}, {"code", "M000"}, {"msg", "OK!"}}));
  EXPECT_TRUE(miner_->sleeping());
  ASSERT_EQ(actions_.size(), 2u);
  EXPECT_EQ(actions_[0].command, "set_miner_conf");
  EXPECT_EQ(actions_[0].parameter, "stratum+tcp://new-a.example:3333,acct.rig4,x");
  EXPECT_EQ(actions_[1].command, "sleep");
  EXPECT_EQ(actions_[1].result, ActionResult::kOk);
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "1");
  EXPECT_EQ(ApiPools().size(), 1u);
  now_ += 60;
  const nlohmann::json asleep = ApiSummary();
  EXPECT_EQ(asleep["Elapsed"], 60) << "the mining software restarted";
  EXPECT_EQ(asleep["GHS 5s"], 0.0);
  EXPECT_EQ(asleep["Accepted"], 0);

  // Waking, without a content type and without pools: the pools stay.
  actions_.clear();
  EXPECT_EQ(StatusLine(Post(uri, R"( {"miner-mode":"0"})", "text/plain")), "HTTP/1.1 200 OK");
  EXPECT_FALSE(miner_->sleeping());
  ASSERT_EQ(actions_.size(), 2u);
  EXPECT_EQ(actions_[1].command, "wake");
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "0");
  EXPECT_EQ(ApiPools()[0]["URL"], "stratum+tcp://new-a.example:3333");
  now_ += 60;
  EXPECT_NEAR(ApiSummary()["GHS 5s"].get<double>(), 110000, 110000 * 0.02);
}

TEST_F(MinerWebTest, X19JsonWithABadModeOrPoolAnswersLikeFirmwareButChangesNothing) {
  const std::string uri = "/cgi-bin/set_miner_conf.cgi";
  const nlohmann::json before = ApiPools();
  for (const char* body : {
           R"({"miner-mode":2})",
           R"({"miner-mode":true})",
           R"({"miner-mode":"sleep"})",
           R"({"miner-mode":1,"pools":[{"url":"http://a.example:1","user":"u"}]})",
           R"({"miner-mode":1,"pools":[{"url":""}]})",
           R"({"miner-mode":1,"pools":{"url":"stratum+tcp://a:1"}})",
       }) {
    SCOPED_TRACE(body);
    actions_.clear();
    const std::string response = Post(uri, body, "application/json");
    EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
    EXPECT_NE(Body(response).find("M000"), std::string::npos);
    ASSERT_EQ(actions_.size(), 1u);
    EXPECT_EQ(actions_[0].command, "set_miner_conf");
    EXPECT_EQ(actions_[0].result, ActionResult::kError);
    EXPECT_FALSE(miner_->sleeping());
  }
  EXPECT_EQ(ApiPools(), before);
  EXPECT_GE(ApiElapsed(), 7200);
}

// miner-mode 3, low power, on the S21 (pyasic's MiningModeLPM): read back
// as bitmain-work-mode "3", the hashrate at the mode's once its ramp is
// over; 0 brings the nominal back. A model without it takes nothing.
TEST_F(MinerWebTest, LowPowerModeOnlyWhereTheModelHasIt) {
  const std::string uri = "/cgi-bin/set_miner_conf.cgi";
  UseModel(ModelId::kS21);
  const double nominal = GetModel(ModelId::kS21).hashrate_nominal / 1e9;  // GH/s
  now_ += 60;
  EXPECT_NEAR(ApiSummary()["GHS 5s"].get<double>(), nominal, nominal * 0.03);
  EXPECT_NE(Body(Post(uri, R"({"miner-mode":3})", "application/json")).find("M000"),
            std::string::npos);
  ASSERT_EQ(actions_.size(), 2u);
  EXPECT_EQ(actions_[1].command, "low_power");
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "3");
  now_ += 60;
  EXPECT_NEAR(ApiSummary()["GHS 5s"].get<double>(), nominal * 0.8, nominal * 0.03);
  Post(uri, R"({"miner-mode":"0"})", "application/json");
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "0");
  now_ += 60;
  EXPECT_NEAR(ApiSummary()["GHS 5s"].get<double>(), nominal, nominal * 0.03);

  UseModel(ModelId::kS19Pro);
  actions_.clear();
  Post(uri, R"({"miner-mode":3})", "application/json");
  ASSERT_EQ(actions_.size(), 1u);
  EXPECT_EQ(actions_[0].result, ActionResult::kError);
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "0");
}

// S17 family: the same X19 form, asleep with "Mode":254 in its stats.
TEST_F(MinerWebTest, S17SleepsThroughTheJsonForm) {
  UseModel(ModelId::kS17Pro);
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "0");
  Post("/cgi-bin/set_miner_conf.cgi", R"({"miner-mode":1})", "application/json");
  EXPECT_TRUE(miner_->sleeping());
  EXPECT_EQ(MinerConf()["bitmain-work-mode"], "1");
  auto stats = testing::ParseMinerJson(miner_->Handle("stats", now_ + 30));
  ASSERT_OK(stats);
  EXPECT_EQ((*stats)["STATS"][1]["Mode"], 254);
}

// S9 and L3+ stock firmware has no sleep: a miner-mode changes nothing and
// the configuration has no bitmain-work-mode to read back.
TEST_F(MinerWebTest, FirmwareWithoutSleepIgnoresMinerMode) {
  for (ModelId model : {ModelId::kS9, ModelId::kL3Plus}) {
    SCOPED_TRACE(GetModel(model).key);
    UseModel(model);
    actions_.clear();
    const std::string form =
        "_ant_pool1url=stratum%2Btcp%3A%2F%2Fa.example%3A1&_ant_pool1user=u&miner-mode=1";
    EXPECT_EQ(Body(Post("/cgi-bin/set_miner_conf.cgi", form)), "ok");
    ASSERT_EQ(actions_.size(), 1u);
    EXPECT_EQ(actions_[0].command, "set_miner_conf");
    EXPECT_FALSE(miner_->sleeping());
    EXPECT_FALSE(MinerConf().contains("bitmain-work-mode"));
    now_ += 30;
    EXPECT_GT(ApiSummary()["GHS av"].get<double>(), 0);
  }
}

TEST_F(MinerWebTest, X19BlinkTurnsTheFaultLightOnAndOff) {
  const std::string uri = "/cgi-bin/blink.cgi";
  EXPECT_EQ(nlohmann::json::parse(Body(Get("/cgi-bin/get_blink_status.cgi"))),
            nlohmann::json({{"blink", false}}));
  const std::string on = Post(uri, R"({"blink":true})", "application/json");
  EXPECT_EQ(StatusLine(on), "HTTP/1.1 200 OK");
  EXPECT_EQ(nlohmann::json::parse(Body(on)), nlohmann::json({{"code", "B000"}}));
  EXPECT_TRUE(miner_->blinking());
  EXPECT_EQ(nlohmann::json::parse(Body(Get("/cgi-bin/get_blink_status.cgi"))),
            nlohmann::json({{"blink", true}}));
  const std::string off = Post(uri, R"({"blink":false})", "application/json");
  EXPECT_EQ(nlohmann::json::parse(Body(off)), nlohmann::json({{"code", "B100"}}));
  EXPECT_FALSE(miner_->blinking());
  ASSERT_EQ(actions_.size(), 2u);
  EXPECT_EQ(actions_[0].command, "locate");
  EXPECT_EQ(actions_[0].parameter, "on");
  EXPECT_EQ(actions_[1].parameter, "off");
  // Reading the state logs nothing; a body that is not {"blink":bool} is 400.
  actions_.clear();
  for (const char* body : {R"({"blink":1})", R"({})", "action=startBlink", "{"}) {
    EXPECT_EQ(StatusLine(Post(uri, body, "application/json")), "HTTP/1.1 400 Bad Request") << body;
  }
  EXPECT_EQ(StatusLine(Post(uri, "action=startBlink")), "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(actions_.empty());
  EXPECT_FALSE(miner_->blinking());
  // The status is read with GET, the light changed with POST.
  EXPECT_EQ(StatusLine(Send("GET", uri, Authorization("GET", uri))),
            "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(StatusLine(Send("GET", "/cgi-bin/get_blink_status.cgi", "")),
            "HTTP/1.1 401 Unauthorized");
}

TEST_F(MinerWebTest, OlderFirmwareBlinksThroughTheForm) {
  for (ModelId model : {ModelId::kS9, ModelId::kS17Pro}) {
    SCOPED_TRACE(GetModel(model).key);
    UseModel(model);
    actions_.clear();
    const std::string uri = "/cgi-bin/blink.cgi";
    auto state = [&](std::string_view form) {
      return nlohmann::json::parse(Body(Post(uri, form)));
    };
    EXPECT_EQ(state("action=onPageLoaded"), nlohmann::json({{"isBlinking", false}}));
    EXPECT_EQ(state("action=startBlink"), nlohmann::json({{"isBlinking", true}}));
    EXPECT_EQ(state("action=onPageLoaded"), nlohmann::json({{"isBlinking", true}}));
    EXPECT_EQ(state("action=stopBlink"), nlohmann::json({{"isBlinking", false}}));
    ASSERT_EQ(actions_.size(), 2u);
    EXPECT_EQ(actions_[0].command, "locate");
    EXPECT_EQ(actions_[0].parameter, "on");
    EXPECT_EQ(actions_[1].parameter, "off");
    EXPECT_EQ(StatusLine(Post(uri, "action=explode")), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(StatusLine(Post(uri, R"({"blink":true})", "application/json")),
              "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(StatusLine(Get("/cgi-bin/get_blink_status.cgi")), "HTTP/1.1 404 Not Found");
    EXPECT_FALSE(miner_->blinking());
  }
}

TEST_F(MinerWebTest, L3PlusHasNoFaultLight) {
  UseModel(ModelId::kL3Plus);
  EXPECT_EQ(StatusLine(Post("/cgi-bin/blink.cgi", "action=startBlink")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(StatusLine(Post("/cgi-bin/blink.cgi", R"({"blink":true})", "application/json")),
            "HTTP/1.1 404 Not Found");
  EXPECT_EQ(StatusLine(Get("/cgi-bin/get_blink_status.cgi")), "HTTP/1.1 404 Not Found");
  EXPECT_TRUE(actions_.empty());
}

TEST(MinerWebUrlTest, StratumUrls) {
  EXPECT_TRUE(IsStratumUrl("stratum+tcp://pool-a.example:3333"));
  EXPECT_TRUE(IsStratumUrl("stratum+tcp://10.1.2.3:1"));
  EXPECT_TRUE(IsStratumUrl("stratum+tcp://a:65535"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a:65536"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a:0"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a:"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a:+1"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a"));
  EXPECT_FALSE(IsStratumUrl("stratum+ssl://a:1"));
  EXPECT_FALSE(IsStratumUrl("pool.example:3333"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a_b:1"));
  EXPECT_FALSE(IsStratumUrl("stratum+tcp://a:1/path"));
}

// get_system_info.cgi in the layout of antminer-s21-2024-get_system_info.cgi.json,
// naming the machine (its MAC upper case, as the capture writes it) and the
// address it answers on; behind Digest auth like every page.
TEST_F(MinerWebTest, SystemInfoNamesTheMachine) {
  EXPECT_EQ(StatusLine(Send("GET", "/cgi-bin/get_system_info.cgi", "")),
            "HTTP/1.1 401 Unauthorized");
  const std::string response = Get("/cgi-bin/get_system_info.cgi");
  ASSERT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  const nlohmann::json info = nlohmann::json::parse(Body(response));
  EXPECT_EQ(info["minertype"], "Antminer S19 Pro");
  EXPECT_EQ(info["macaddr"], miner_->mac());
  EXPECT_EQ(info["serinum"], miner_->serial());
  EXPECT_EQ(info["hostname"], "antminer-w0005");
  EXPECT_EQ(info["ipaddress"], "127.0.0.1");
  EXPECT_EQ(miner_->mac(), "02:01:00:00:00:04");  // seed 1, index 4
  EXPECT_EQ(miner_->serial().size(), 17u);
  std::vector<std::string> keys;
  const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(Body(response));
  for (const auto& [key, value] : ordered.items()) keys.push_back(key);
  const std::vector<std::string> capture_order = {
      "minertype", "nettype", "netdevice", "macaddr", "hostname", "ipaddress", "netmask",
      "gateway", "dnsservers", "system_mode", "system_kernel_version",
      "system_filesystem_version", "firmware_type", "serinum"};
  EXPECT_EQ(keys, capture_order);
  EXPECT_EQ(StatusLine(Send("POST", "/cgi-bin/get_system_info.cgi",
                            Authorization("POST", "/cgi-bin/get_system_info.cgi"), "x=1")),
            "HTTP/1.1 405 Method Not Allowed");
  EXPECT_TRUE(actions_.empty()) << "reading the page is no action";
}

}  // namespace
}  // namespace asicmon::fakefarm
