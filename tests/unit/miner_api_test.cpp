// The non-blocking miner client against small in-test servers on 127.31.x.y
// (each test its own address: ctest runs tests of one program side by side).
#include "asicmon/miner_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "loopback_server.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;

using TestServer = testing::LoopbackServer;
using testing::SendAll;

ExchangeOptions Fast() {
  ExchangeOptions o;
  o.connect_timeout = 500ms;
  o.deadline = 700ms;
  return o;
}

const std::string kSummary =
    R"({"STATUS":[{"STATUS":"S","When":1,"Code":11,"Msg":"Summary","Description":"bmminer 1.0.0"}],"SUMMARY":[{"Elapsed":100,"GHS 5s":"13883.81","GHS av":13890.36,"Accepted":10,"Rejected":1,"Hardware Errors":5}],"id":1})";

TEST(ParseEndpoint, Forms) {
  auto a = ParseEndpoint("127.0.0.1");
  ASSERT_OK(a);
  EXPECT_EQ(a->port, 4028);
  auto b = ParseEndpoint("127.0.0.2:4029");
  ASSERT_OK(b);
  EXPECT_EQ(b->ip, "127.0.0.2");
  EXPECT_EQ(b->port, 4029);
  for (const char* bad : {"", "host", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "1.2.3",
                          "127.0.0.1:40x", "::1"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

TEST(MinerClient, ReplyEndedByNulWhileSocketStaysOpen) {
  TestServer server("127.31.0.1", [](int fd, const std::string&) {
    SendAll(fd, kSummary + std::string(1, '\0'));
    std::this_thread::sleep_for(2s);  // keeps the connection open: the NUL must end it
  });
  ExchangeOptions options = Fast();
  ExchangeResult r = ExchangeOnce({"127.31.0.1", 4028}, BuildRequest("summary"), options);
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.reply, kSummary);
  EXPECT_LT(r.elapsed_ms, 700);
}

TEST(MinerClient, ReplyEndedByClose) {
  std::atomic<bool> got_request{false};
  TestServer server("127.31.0.2", [&](int fd, const std::string& request) {
    got_request = request == R"({"command":"summary+stats+pools"})";
    SendAll(fd, kSummary);
  });
  ExchangeResult r = ExchangeOnce({"127.31.0.2", 4028}, BuildRequest(kPollCommand), Fast());
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.reply, kSummary);
  EXPECT_TRUE(got_request);
}

TEST(MinerClient, RefusedWhenNothingListens) {
  ExchangeResult r = ExchangeOnce({"127.31.0.3", 4028}, BuildRequest("summary"), Fast());
  EXPECT_EQ(r.status, MinerStatus::kRefused);
  EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
}

TEST(MinerClient, SilentMinerTimesOutAtTheDeadline) {
  TestServer server("127.31.0.4", [](int, const std::string&) { std::this_thread::sleep_for(2s); });
  ExchangeResult r = ExchangeOnce({"127.31.0.4", 4028}, BuildRequest("summary"), Fast());
  EXPECT_EQ(r.status, MinerStatus::kTimeout);
  EXPECT_GE(r.elapsed_ms, 690);
  EXPECT_LT(r.elapsed_ms, 1900);  // the deadline, not the server, ended it
  EXPECT_NE(r.error.find("no complete reply"), std::string::npos) << r.error;
}

TEST(MinerClient, SlowButWithinDeadlineIsOk) {
  TestServer server("127.31.0.5", [](int fd, const std::string&) {
    std::this_thread::sleep_for(1200ms);  // slower than the seed's 1 s timeout
    SendAll(fd, kSummary);
  });
  ExchangeOptions options;  // the defaults: 5 s
  Record rec = RecordFromExchange({"127.31.0.5", 4028},
                                  ExchangeOnce({"127.31.0.5", 4028}, BuildRequest(kPollCommand), options));
  EXPECT_EQ(rec.status, MinerStatus::kOk) << rec.error;
  ASSERT_TRUE(rec.hashrate.has_value());
  EXPECT_GE(*rec.poll_ms, 1190);
}

TEST(MinerClient, ResetIsReset) {
  TestServer server("127.31.0.6", [](int fd, const std::string&) {
    linger l{1, 0};  // close with RST
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  });
  ExchangeResult r = ExchangeOnce({"127.31.0.6", 4028}, BuildRequest("summary"), Fast());
  EXPECT_EQ(r.status, MinerStatus::kReset) << r.error;
}

TEST(MinerClient, CutShortReplyIsParseErrorNeverCompleted) {
  TestServer server("127.31.0.7", [](int fd, const std::string&) {
    SendAll(fd, kSummary.substr(0, kSummary.size() / 2));
  });
  Record rec = RecordFromExchange({"127.31.0.7", 4028},
                                  ExchangeOnce({"127.31.0.7", 4028}, BuildRequest(kPollCommand), Fast()));
  EXPECT_EQ(rec.status, MinerStatus::kParseError);
  EXPECT_NE(rec.error.find("cut short"), std::string::npos) << rec.error;
  EXPECT_FALSE(rec.hashrate.has_value());
}

TEST(MinerClient, HugeReplyStopsAtTheCap) {
  TestServer server("127.31.0.8", [](int fd, const std::string&) {
    std::string chunk(64 * 1024, 'a');
    chunk[0] = '{';
    for (int i = 0; i < 160; ++i) SendAll(fd, chunk);  // 10 MB
  });
  ExchangeOptions options = Fast();
  options.max_reply_bytes = 256 * 1024;
  ExchangeResult r = ExchangeOnce({"127.31.0.8", 4028}, BuildRequest("summary"), options);
  EXPECT_EQ(r.status, MinerStatus::kTooLarge);
  EXPECT_LE(r.reply.size(), options.max_reply_bytes + 1);
}

TEST(MinerClient, GarbageIsParseError) {
  TestServer server("127.31.0.9", [](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  Record rec = RecordFromExchange({"127.31.0.9", 4028},
                                  ExchangeOnce({"127.31.0.9", 4028}, BuildRequest(kPollCommand), Fast()));
  EXPECT_EQ(rec.status, MinerStatus::kParseError);
}

TEST(MinerClient, ConnectTimeoutWhenBacklogIsFull) {
  // A listener that never accepts: once its backlog is full the kernel drops
  // SYNs, so a connect hangs like one to a powered-off miner.
  TestServer server("127.31.0.10", nullptr, /*backlog=*/0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(4028);
    inet_pton(AF_INET, "127.31.0.10", &addr.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);
  ExchangeOptions options = Fast();
  options.connect_timeout = 300ms;
  ExchangeResult r = ExchangeOnce({"127.31.0.10", 4028}, BuildRequest("summary"), options);
  for (int fd : fillers) close(fd);
  EXPECT_EQ(r.status, MinerStatus::kTimeout) << r.error;
  EXPECT_NE(r.error.find("no connection"), std::string::npos) << r.error;
}

TEST(MinerClient, AccessDeniedIsAuthError) {
  TestServer server("127.31.0.11", [](int fd, const std::string&) {
    SendAll(fd, R"({"STATUS":[{"STATUS":"E","When":1,"Code":45,"Msg":"Access denied to 'restart' command","Description":"bmminer 1.0.0"}],"id":1})");
  });
  CommandResult r = RunCommand({"127.31.0.11", 4028}, "restart", "", Fast());
  EXPECT_EQ(r.status, MinerStatus::kAuthError);
  EXPECT_NE(r.error.find("Access denied"), std::string::npos);
}

// One thread, many exchanges at once: 200 miners that each take 300 ms finish
// together, not one after another (that would take a minute).
TEST(MinerClient, ManyExchangesRunConcurrently) {
  TestServer server("127.31.0.12", [](int fd, const std::string&) {
    std::this_thread::sleep_for(300ms);
    SendAll(fd, kSummary);
  }, /*backlog=*/512);
  auto client = MinerClient::Create(ExchangeOptions{});
  ASSERT_OK(client);
  int ok = 0;
  int done = 0;
  for (int i = 0; i < 200; ++i) {
    (*client)->Start({"127.31.0.12", 4028}, BuildRequest("summary"), [&](ExchangeResult&& r) {
      ++done;
      ok += r.status == MinerStatus::kOk;
    });
  }
  EXPECT_EQ((*client)->in_flight(), 200u);
  const auto start = std::chrono::steady_clock::now();
  (*client)->RunUntilIdle();
  EXPECT_EQ(done, 200);
  EXPECT_EQ(ok, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);  // well inside one 5 s deadline
  EXPECT_EQ((*client)->counters().completed[static_cast<int>(MinerStatus::kOk)], 200u);
}

TEST(MinerClient, CallbackMayStartTheNextExchange) {
  TestServer server("127.31.0.13", [](int fd, const std::string&) { SendAll(fd, kSummary); });
  auto client = MinerClient::Create(Fast());
  ASSERT_OK(client);
  int remaining = 5;
  int ok = 0;
  std::function<void(ExchangeResult&&)> again = [&](ExchangeResult&& r) {
    ok += r.status == MinerStatus::kOk;
    if (--remaining > 0) (*client)->Start({"127.31.0.13", 4028}, BuildRequest("summary"), again);
  };
  (*client)->Start({"127.31.0.13", 4028}, BuildRequest("summary"), again);
  (*client)->RunUntilIdle();
  EXPECT_EQ(ok, 5);
}

}  // namespace
}  // namespace asicmon
