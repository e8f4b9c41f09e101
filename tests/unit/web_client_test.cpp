// The drivers' HTTP requests (WebCall) reach the miner they name and no other
// machine: not a proxy the environment names (an operator's shell or a CI
// runner often sets http_proxy), not a redirect's target.
#include "asicmon/web_client.h"

#include <stdlib.h>
#include <sys/socket.h>

#include <string>

#include <gtest/gtest.h>

#include "loopback_server.h"

namespace asicmon::driver {
namespace {

constexpr uint16_t kPort = 18080;

WebRequest Get(const std::string& path) {
  WebRequest request;
  request.path = path;
  return request;
}

testing::LoopbackServer::Behaviour Answers(std::string head) {
  return [head](int fd, const std::string&) {
    const std::string reply = head + "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    (void)send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  };
}

class WebCallTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* var : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) unsetenv(var);
  }
  DriverOptions Options() const {
    DriverOptions options;
    options.http_port = kPort;
    options.http_timeout = std::chrono::seconds(5);
    return options;
  }
};

TEST_F(WebCallTest, GoesToTheMinerWhateverProxyTheEnvironmentNames) {
  testing::LoopbackServer miner("127.99.0.1", Answers("HTTP/1.1 200 OK\r\n"), 64, kPort);
  testing::LoopbackServer proxy("127.99.0.2", Answers("HTTP/1.1 200 OK\r\n"), 64, kPort);
  const std::string via = "http://127.99.0.2:" + std::to_string(kPort);
  for (const char* var : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) {
    setenv(var, via.c_str(), 1);
  }
  const WebReply reply = WebCall(Options(), "127.99.0.1", Get("/api/v1/info"));
  EXPECT_TRUE(reply.ok()) << reply.error;
  EXPECT_EQ(miner.accepted(), 1);
  EXPECT_EQ(proxy.accepted(), 0);
}

TEST_F(WebCallTest, ARedirectElsewhereIsNotFollowed) {
  testing::LoopbackServer miner(
      "127.99.0.3",
      Answers("HTTP/1.1 302 Found\r\nLocation: http://127.99.0.4:" + std::to_string(kPort) +
              "/\r\n"),
      64, kPort);
  testing::LoopbackServer elsewhere("127.99.0.4", Answers("HTTP/1.1 200 OK\r\n"), 64, kPort);
  const WebReply reply = WebCall(Options(), "127.99.0.3", Get("/"));
  EXPECT_EQ(reply.http_status, 302);
  EXPECT_EQ(miner.accepted(), 1);
  EXPECT_EQ(elsewhere.accepted(), 0);
}

}  // namespace
}  // namespace asicmon::driver
