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
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

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

// Nothing listens on any port tried: refused, and not `connected` (discover
// lists nothing there). Every port of the list was tried: the poll does not
// stop at the API port when the host answers there with a reset.
TEST(Poller, NothingListeningIsRefusedOnEveryPort) {
  const PollResult r = PollOnce({"127.61.0.3", 4028}, {}, Fast(), PollerOptions{{4433, 80}});
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
  PollResult r = PollOnce({"127.61.0.4", 4028}, {}, Fast(), PollerOptions{{}});
  EXPECT_TRUE(r.connected);
  EXPECT_TRUE(r.foreign);
  EXPECT_NE(r.record.status, MinerStatus::kOk);
  EXPECT_EQ(r.record.error, "an HTTP server, not a miner API");

  LoopbackServer markup("127.61.0.5", Serves("\r\n<?xml version=\"1.0\"?><root/>"));
  r = PollOnce({"127.61.0.5", 4028}, {}, Fast(), PollerOptions{{}});
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
      PollOnce({"127.61.0.6", 4028}, {}, options, PollerOptions{{kWhatsminerV3Port}});
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
