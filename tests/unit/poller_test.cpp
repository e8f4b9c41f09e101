// The poller against small in-test servers on 127.61.x.y (each test its own
// address): fingerprinting, the ports it tries, and the framings it reads.
// Families that read their own documents (Whatsminer v3, HTTP) have their own
// tests next to their fixtures; here the protocol paths every family shares.
#include "asicmon/poller.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "asicmon/http_digest.h"
#include "loopback_server.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using testing::LoopbackServer;
using testing::SendAll;

ExchangeOptions Fast() {
  ExchangeOptions o;
  o.connect_timeout = 500ms;
  o.deadline = 2000ms;
  return o;
}

// A real S9 (bmminer) reply to the generic poll, served once per connection.
LoopbackServer::Behaviour Serves(std::string reply) {
  return [reply = std::move(reply)](int fd, const std::string&) { SendAll(fd, reply); };
}

TEST(Poller, FingerprintsACgminerAlikeWithTheGenericPoll) {
  std::vector<std::string> requests;
  LoopbackServer server("127.61.0.1", [&requests](int fd, const std::string& r) {
    requests.push_back(r);
    SendAll(fd, testing::ReadFixture("antminer-s9-stats.json"));
  });
  const PollResult r = PollOnce({"127.61.0.1", 4028}, {}, Fast());
  // The generic poll, then the recognised antminer family's own questions at once.
  EXPECT_EQ(requests, (std::vector<std::string>{R"({"command":"summary+stats+pools"})",
                                                R"({"command":"summary+pools+version"})",
                                                R"({"command":"stats","new_api":true})"}));
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_TRUE(r.connected);
  EXPECT_FALSE(r.foreign);
  EXPECT_EQ(r.record.family, "antminer");
  EXPECT_EQ(r.record.model, "Antminer S9");
  EXPECT_EQ(r.record.ip, "127.61.0.1");
  EXPECT_EQ(r.record.port, 4028);
  EXPECT_GT(r.record.ts, 0);
  EXPECT_TRUE(r.record.poll_ms.has_value());
  EXPECT_EQ(server.accepted(), 3);
}

// A known family is asked its own questions at once; a family name this
// build does not know is fingerprinted, never refused.
TEST(Poller, KnownAndUnknownFamilyNames) {
  LoopbackServer server("127.61.0.2", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  PollResult known = PollOnce({"127.61.0.2", 4028}, "antminer", Fast());
  ASSERT_EQ(known.record.status, MinerStatus::kOk) << known.record.error;
  EXPECT_EQ(known.record.family, "antminer");
  PollResult unknown = PollOnce({"127.61.0.2", 4028}, "a-family-from-a-newer-build", Fast());
  ASSERT_EQ(unknown.record.status, MinerStatus::kOk) << unknown.record.error;
  EXPECT_EQ(unknown.record.family, "antminer");
  // Known: the antminer plan's two exchanges; unknown: the generic poll, then that plan.
  EXPECT_EQ(server.accepted(), 2 + 3);
}

// Firmware that answers new_api stats in the classic layout is asked one
// exchange from its second poll on, and the full plan again once in
// kFullPollEvery polls; firmware that answers the new layout keeps both.
TEST(Poller, ClassicFirmwareIsAskedTheLeanPlanAfterOneFullPoll) {
  auto requests_of = [](const std::string& ip, const std::string& reply, int polls) {
    std::vector<std::string> requests;
    LoopbackServer server(ip, [&requests, reply](int fd, const std::string& r) {
      requests.push_back(r);
      SendAll(fd, reply);
    });
    Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(Fast());
    EXPECT_TRUE(client.ok());
    Poller poller(**client);
    for (int i = 0; i < polls; ++i) {
      std::optional<PollResult> result;
      poller.Poll({ip, 4028}, "antminer", [&result](PollResult&& r) { result = std::move(r); });
      (*client)->RunUntilIdle();
      EXPECT_TRUE(result && result->record.status == MinerStatus::kOk) << i;
    }
    return requests;
  };
  const std::string full_first = R"({"command":"summary+pools+version"})";
  const std::string full_second = R"({"command":"stats","new_api":true})";
  const std::string lean = R"({"command":"summary+stats+pools+version"})";

  const std::vector<std::string> classic =
      requests_of("127.61.0.30", testing::ReadFixture("antminer-s9-stats.json"), 3);
  EXPECT_EQ(classic, (std::vector<std::string>{full_first, full_second, lean, lean}));
  // The S19 Pro writes a space after STATUS's colon.
  const std::vector<std::string> spaced =
      requests_of("127.61.0.33", testing::ReadFixture("antminer-s19pro-stats-cold.json"), 2);
  EXPECT_EQ(spaced, (std::vector<std::string>{full_first, full_second, lean}));

  const std::vector<std::string> modern =
      requests_of("127.61.0.31", testing::ReadFixture("antminer-s21-stats-newapi.json"), 3);
  EXPECT_EQ(modern.size(), 6u);
  EXPECT_EQ(std::count(modern.begin(), modern.end(), lean), 0);

  const int polls = static_cast<int>(Poller::kFullPollEvery) + 2;
  const std::vector<std::string> long_run =
      requests_of("127.61.0.32", testing::ReadFixture("antminer-s9-stats.json"), polls);
  // One full poll at the start and one after kFullPollEvery - 1 lean ones.
  EXPECT_EQ(std::count(long_run.begin(), long_run.end(), full_second), 2);
  EXPECT_EQ(std::count(long_run.begin(), long_run.end(), lean), polls - 2);
}

// Nothing listens on any port tried: refused, and not `connected` (discover
// lists nothing there). Every port of the list was tried: the poll does not
// stop at the API port when the host answers there with a reset.
TEST(Poller, NothingListeningIsRefusedOnEveryPort) {
  const PollResult r =
      PollOnce({"127.61.0.3", 4028}, {}, Fast(), PollerOptions{.ports = {4433, 80}});
  EXPECT_EQ(r.record.status, MinerStatus::kRefused);
  EXPECT_FALSE(r.connected);
  EXPECT_FALSE(r.foreign);
  EXPECT_TRUE(r.record.family.empty());
}

// A web server on the API port is foreign, not a broken miner, when no
// family speaks HTTP there; so is markup (a web UI or XML service).
TEST(Poller, HttpOrMarkupOnTheApiPortIsForeign) {
  LoopbackServer http("127.61.0.4",
                      Serves("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"));
  PollResult r = PollOnce({"127.61.0.4", 4028}, {}, Fast(), PollerOptions{.ports = {}});
  EXPECT_TRUE(r.connected);
  EXPECT_TRUE(r.foreign);
  EXPECT_NE(r.record.status, MinerStatus::kOk);
  EXPECT_EQ(r.record.error, "an HTTP server, not a miner API");

  LoopbackServer markup("127.61.0.5", Serves("\r\n<?xml version=\"1.0\"?><root/>"));
  r = PollOnce({"127.61.0.5", 4028}, {}, Fast(), PollerOptions{.ports = {}});
  EXPECT_TRUE(r.foreign);
  EXPECT_EQ(r.record.error, "markup (a web page or XML), not a miner API");
}

// A silent host ends the poll at its connect timeout: no other port is tried
// (an absent LAN host would otherwise cost one timeout per port).
TEST(Poller, ConnectTimeoutTriesNoOtherPort) {
  // A listener that never accepts: once its backlog is full the kernel drops
  // SYNs, so a connect hangs like one to a powered-off miner.
  LoopbackServer full("127.61.0.6", nullptr, /*backlog=*/0);
  LoopbackServer other("127.61.0.6", Serves("{}"), 64, kWhatsminerV3Port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(4028);
    inet_pton(AF_INET, "127.61.0.6", &addr.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);
  ExchangeOptions options = Fast();
  options.connect_timeout = 300ms;
  const PollResult r =
      PollOnce({"127.61.0.6", 4028}, {}, options, PollerOptions{.ports = {kWhatsminerV3Port}});
  for (int fd : fillers) close(fd);
  EXPECT_EQ(r.record.status, MinerStatus::kTimeout);
  EXPECT_FALSE(r.connected);
  EXPECT_EQ(other.accepted(), 0);  // 4433 never tried
}

// A length-prefixed reply (Whatsminer API v3) ends at its prefix's length
// while the server keeps the connection open, and a prefix with NUL bytes
// in it is not a cgminer NUL terminator.
TEST(Poller, LengthPrefixedReplyEndsAtItsLength) {
  const std::string body = R"({"code":0,"msg":{"miner":{"type":"M60S"}}})";
  std::string request;
  LoopbackServer server(
      "127.61.0.7",
      [&](int fd, const std::string& r) {
        request = r;
        const auto n = static_cast<uint32_t>(body.size());
        std::string framed{static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                           static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
        SendAll(fd, framed + body);
        std::this_thread::sleep_for(3s);
      },
      64, kWhatsminerV3Port);
  const PollStep step{"get.device.info", Framing::kLengthPrefixed, kWhatsminerV3Port,
                      R"({"cmd":"get.device.info"})"};
  ExchangeResult result;
  auto client = MinerClient::Create(Fast());
  ASSERT_OK(client);
  (*client)->Start({"127.61.0.7", kWhatsminerV3Port}, FrameRequest(step, "127.61.0.7"),
                   [&result](ExchangeResult&& r) { result = std::move(r); },
                   Framing::kLengthPrefixed);
  (*client)->RunUntilIdle();
  ASSERT_EQ(result.status, MinerStatus::kOk) << result.error;
  EXPECT_LT(result.elapsed_ms, 2500);  // ended by the prefix, not the close 3 s later
  EXPECT_EQ(request.size(), 4 + step.request.size());
  const Payload p = ReplyPayload(Framing::kLengthPrefixed, result.reply);
  ASSERT_TRUE(p.ok) << p.text;
  EXPECT_EQ(p.text, body);
}

// An HTTP reply ends at its Content-Length though the server keeps the
// connection open (keep-alive despite our Connection: close).
TEST(Poller, HttpReplyEndsAtContentLength) {
  const std::string body = R"({"power":14.2,"hashRate":512.3})";
  LoopbackServer server("127.61.0.8", [&](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
    std::this_thread::sleep_for(3s);
  });
  const PollStep step{"/api/system/info", Framing::kHttp, 0, "/api/system/info"};
  ExchangeResult result;
  auto client = MinerClient::Create(Fast());
  ASSERT_OK(client);
  (*client)->Start({"127.61.0.8", 4028}, FrameRequest(step, "127.61.0.8"),
                   [&result](ExchangeResult&& r) { result = std::move(r); }, Framing::kHttp);
  (*client)->RunUntilIdle();
  ASSERT_EQ(result.status, MinerStatus::kOk) << result.error;
  EXPECT_LT(result.elapsed_ms, 2500);
  const Payload p = ReplyPayload(Framing::kHttp, result.reply);
  ASSERT_TRUE(p.ok) << p.text;
  EXPECT_EQ(p.text, body);
}

// The deadline bounds the whole poll: a slow Antminer, asked its family's two
// questions, gets the second only for what is left, and the record keeps
// what the first brought.
TEST(Poller, DeadlineBoundsTheWholePoll) {
  LoopbackServer slow("127.61.0.9", [](int fd, const std::string& request) {
    std::this_thread::sleep_for(700ms);
    SendAll(fd, request.find("stats") != std::string::npos
                    ? testing::ReadFixture("antminer-s9-stats.json")
                    : testing::ReadFixture("antminer-s9-pools.json"));
  });
  ExchangeOptions options = Fast();
  options.deadline = 1000ms;
  const PollResult r = PollOnce({"127.61.0.9", 4028}, "antminer", options);
  EXPECT_LT(*r.record.poll_ms, 1300);  // two exchanges of 700 ms would be 1400
  EXPECT_EQ(slow.accepted(), 2);
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_FALSE(r.record.pools.empty());
  EXPECT_NE(r.record.error.find("stats new_api"), std::string::npos) << r.record.error;
}

// ---------------------------------------------------------------------------
// Web identity at fingerprint time: stock Antminer's get_system_info.cgi
// behind Digest auth, as lighttpd serves it (401 with the challenge, then
// the page to a request that answers it).

constexpr uint16_t kWebPort = 8080;

// A web interface that knows the password "root" and serves `page`; counts
// the requests that carried credentials.
LoopbackServer::Behaviour DigestProtected(std::string page, std::atomic<int>* authorized) {
  return [page = std::move(page), authorized](int fd, const std::string& request) {
    const std::string_view realm = "antMiner Configuration";
    const size_t at = request.find("Authorization: ");
    if (at == std::string::npos) {
      SendAll(fd, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"" +
                      std::string(realm) +
                      "\", nonce=\"4a5b\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    ++*authorized;
    const std::string header = request.substr(at + 15, request.find("\r\n", at) - at - 15);
    const auto params = ParseDigestAuthorization(header);
    std::map<std::string, std::string> p;
    if (params) p.insert(params->begin(), params->end());
    const std::string ha1 = Md5Hex("root:" + std::string(realm) + ":root");
    const std::string ha2 = Md5Hex("GET:" + p["uri"]);
    const std::string expected =
        Md5Hex(ha1 + ":4a5b:" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2);
    if (p["response"] != expected || p["uri"] != "/cgi-bin/get_system_info.cgi") {
      SendAll(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(page.size()) + "\r\n\r\n" + page);
  };
}

PollerOptions WithWebIdentity(std::string password = "root") {
  PollerOptions o;
  o.web.enabled = true;
  o.web.port = kWebPort;
  o.web.password = std::move(password);
  return o;
}

TEST(PollerWebIdentity, FingerprintReadsTheAntminersSystemInfo) {
  LoopbackServer api("127.61.1.1", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  std::atomic<int> authorized{0};
  LoopbackServer web(
      "127.61.1.1",
      DigestProtected(testing::ReadFixture("antminer-s21-2024-get_system_info.cgi.json"),
                      &authorized),
      64, kWebPort);
  const PollResult r = PollOnce({"127.61.1.1", 4028}, {}, Fast(), WithWebIdentity());
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_EQ(r.record.family, "antminer");
  // "macaddr":"02:50:53:09:DA:D9": upper case on the page, lower case in the record.
  EXPECT_EQ(r.record.mac, "02:50:53:09:da:d9");
  EXPECT_EQ(r.record.serial, "SMTTATUBDJAAI00A5");
  EXPECT_EQ(r.record.hostname, "Antminer");
  EXPECT_EQ(r.record.model, "Antminer S9");  // the API's, not the page's minertype
  EXPECT_EQ(web.accepted(), 2);              // the challenge, then the page
  EXPECT_EQ(authorized, 1);
}

// asic-rs's S21 capture has a MAC with a non-hex digit ("3M", anonymised by
// hand): no MAC is made up from it; serial and hostname still read.
TEST(PollerWebIdentity, BrokenMacIsNotInvented) {
  LoopbackServer api("127.61.1.2", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  std::atomic<int> authorized{0};
  LoopbackServer web(
      "127.61.1.2",
      DigestProtected(testing::ReadFixture("antminer-s21-get_system_info.cgi.json"), &authorized),
      64, kWebPort);
  const PollResult r = PollOnce({"127.61.1.2", 4028}, {}, Fast(), WithWebIdentity());
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_EQ(r.record.mac, "");
  EXPECT_EQ(r.record.serial, "THQING0BDJAB024NF");
  EXPECT_EQ(r.record.hostname, "Antminer");
}

// Wrong credentials are tried once; the miner is still found, with no MAC.
TEST(PollerWebIdentity, RefusedCredentialsLeaveTheRecordAsTheApiMadeIt) {
  LoopbackServer api("127.61.1.3", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  std::atomic<int> authorized{0};
  LoopbackServer web(
      "127.61.1.3",
      DigestProtected(testing::ReadFixture("antminer-s21-2024-get_system_info.cgi.json"),
                      &authorized),
      64, kWebPort);
  const PollResult r = PollOnce({"127.61.1.3", 4028}, {}, Fast(), WithWebIdentity("wrong"));
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_EQ(r.record.mac, "");
  EXPECT_EQ(r.record.serial, "");
  EXPECT_EQ(web.accepted(), 2);
  EXPECT_EQ(authorized, 1);
}

// No web interface listening: found at once, with no MAC.
TEST(PollerWebIdentity, ClosedWebPortStillFindsTheMiner) {
  LoopbackServer api("127.61.1.4", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  const PollResult r = PollOnce({"127.61.1.4", 4028}, {}, Fast(), WithWebIdentity());
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_EQ(r.record.mac, "");
  EXPECT_LT(*r.record.poll_ms, 500);
}

// Only a fingerprint asks, and only when told to: a poll of a known family
// (collect's), or one without web identity, never touches the web port.
TEST(PollerWebIdentity, KnownFamilyOrOptionOffNeverAsks) {
  LoopbackServer api("127.61.1.5", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  std::atomic<int> authorized{0};
  LoopbackServer web(
      "127.61.1.5",
      DigestProtected(testing::ReadFixture("antminer-s21-2024-get_system_info.cgi.json"),
                      &authorized),
      64, kWebPort);
  const PollResult known = PollOnce({"127.61.1.5", 4028}, "antminer", Fast(), WithWebIdentity());
  ASSERT_EQ(known.record.status, MinerStatus::kOk) << known.record.error;
  EXPECT_EQ(known.record.mac, "");
  const PollResult off = PollOnce({"127.61.1.5", 4028}, {}, Fast());
  ASSERT_EQ(off.record.status, MinerStatus::kOk) << off.record.error;
  EXPECT_EQ(off.record.mac, "");
  EXPECT_EQ(web.accepted(), 0);
}

// Replies name other machines (SealMiner's "IP":"10.0.13.179", ePIC's DHCP
// gateway 10.0.81.1, dns 8.8.8.8): data only. Every exchange of a poll goes
// to the target, and the record keeps the target's address.
TEST(Poller, AddressesInRepliesAreNeverContacted) {
  struct Case {
    std::string ip, family, reply;
  };
  const auto http = [](const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  };
  const Case cases[] = {
      {"127.61.0.10", "", testing::ReadFixture("sealminer-a2-stats.json")},
      {"127.61.0.11", "epic", http(testing::ReadFixture("epic-s19xp-network.json"))},
      // LuxOS's config names its gateway and broadcast address (192.168.86.x).
      {"127.61.0.12", "luxos", testing::ReadFixture("luxos-s19kpro-config.json")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ip);
    LoopbackServer server(c.ip, Serves(c.reply));
    auto client = MinerClient::Create(Fast());
    ASSERT_OK(client);
    Poller poller(**client, PollerOptions{{}});
    std::optional<PollResult> polled;
    poller.Poll({c.ip, 4028}, c.family, [&polled](PollResult&& r) { polled = std::move(r); });
    (*client)->RunUntilIdle();
    ASSERT_TRUE(polled.has_value());
    EXPECT_GE((*client)->counters().started, 1u);
    EXPECT_EQ((*client)->counters().started, static_cast<uint64_t>(server.accepted()))
        << "an exchange went somewhere other than the target";
    EXPECT_EQ(polled->record.ip, c.ip);
    EXPECT_EQ(polled->record.port, 4028);
  }
}

// The web identity page names the miner's own address (192.168.1.100 in the
// S21 capture): the fingerprint reads it as data and connects nowhere else.
TEST(PollerWebIdentity, TheAddressOnThePageIsNeverContacted) {
  LoopbackServer api("127.61.1.9", Serves(testing::ReadFixture("antminer-s9-stats.json")));
  std::atomic<int> authorized{0};
  LoopbackServer web(
      "127.61.1.9",
      DigestProtected(testing::ReadFixture("antminer-s21-get_system_info.cgi.json"), &authorized),
      64, kWebPort);
  auto client = MinerClient::Create(Fast());
  ASSERT_OK(client);
  Poller poller(**client, WithWebIdentity());
  std::optional<PollResult> polled;
  poller.Poll({"127.61.1.9", 4028}, {}, [&polled](PollResult&& r) { polled = std::move(r); });
  (*client)->RunUntilIdle();
  ASSERT_TRUE(polled.has_value());
  ASSERT_EQ(polled->record.status, MinerStatus::kOk) << polled->record.error;
  EXPECT_EQ(authorized, 1);
  EXPECT_EQ((*client)->counters().started,
            static_cast<uint64_t>(api.accepted() + web.accepted()))
      << "an exchange went somewhere other than the target";
  EXPECT_EQ(polled->record.ip, "127.61.1.9");
}

TEST(Poller, FamilyNamesListTheRegistry) {
  const std::vector<std::string_view> names = FamilyNames();
  EXPECT_GE(names.size(), 4u);
  for (std::string_view family : {"antminer", "whatsminer", "braiins", "avalon"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), family), names.end()) << family;
  }
}

TEST(Record, RatesForPeopleInTheAlgorithmsUnit) {
  EXPECT_EQ(FormatRate(110.5e12, "sha256d"), "110.50 TH/s");
  EXPECT_EQ(FormatRate(420e3, "equihash"), "420.00 kSol/s");
  EXPECT_EQ(FormatRate(504e6, "scrypt"), "504.00 MH/s");
  EXPECT_EQ(FormatRate(12, ""), "12.00 H/s");
  EXPECT_EQ(RateUnitOf("equihash"), "Sol/s");
}

}  // namespace
}  // namespace asicmon
