// push's HTTP sender against a real HTTP server on loopback (127.37.1.x, one
// address per test): headers, keep-alive, Retry-After in both forms, the
// answer size cap, timeouts, refusals and aborts; and https with a private
// CA against a small Python TLS server (skipped without python3 and openssl).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "asicmon/http_sender.h"
#include "http_server.h"
#include "testlib.h"

namespace asicmon::http {
namespace {

using asicmon::testing::HttpAnswer;
using asicmon::testing::HttpRequest;
using asicmon::testing::TestHttpServer;
using namespace std::chrono_literals;

std::unique_ptr<HttpSender> MakeSender(const std::string& url, std::string api_key = "",
                                       std::chrono::milliseconds timeout = 5s) {
  HttpOptions options;
  options.url = url;
  options.api_key = std::move(api_key);
  options.timeout = timeout;
  Result<std::unique_ptr<HttpSender>> sender = HttpSender::Create(options);
  EXPECT_TRUE(sender.ok()) << sender.status().ToString();
  return sender.ok() ? std::move(*sender) : nullptr;
}

TEST(HttpSenderTest, PostsWithItsHeadersOverOneKeptAliveConnection) {
  TestHttpServer server("127.37.1.1");
  auto sender = MakeSender(server.Url(), "s3cret");
  for (int i = 0; i < 5; ++i) {
    const std::string body = "[{\"n\":" + std::to_string(i) + "}]";
    HttpReply reply = sender->Post(body, "application/json", "push-1:" + std::to_string(i));
    EXPECT_EQ(reply.status, 200) << reply.error;
    EXPECT_EQ(reply.body, "ok");
  }
  const std::vector<HttpRequest> requests = server.Requests();
  ASSERT_EQ(requests.size(), 5u);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, "POST");
    EXPECT_EQ(requests[i].target, "/ingest");
    EXPECT_EQ(requests[i].body, "[{\"n\":" + std::to_string(i) + "}]");
    EXPECT_EQ(requests[i].Header("content-type"), "application/json");
    EXPECT_EQ(requests[i].Header("authorization"), "Bearer s3cret");
    EXPECT_EQ(requests[i].Header("idempotency-key"), "push-1:" + std::to_string(i));
    EXPECT_EQ(requests[i].Header("expect"), "");
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(sender->connections_opened(), 1);
}

TEST(HttpSenderTest, NoAuthorizationHeaderWithoutAKey) {
  TestHttpServer server("127.37.1.2");
  auto sender = MakeSender(server.Url());
  EXPECT_EQ(sender->Post("x", "text/plain", "k").status, 200);
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.Requests()[0].headers.count("authorization"), 0u);
}

TEST(HttpSenderTest, ReadsRetryAfterInSecondsAndAsADate) {
  TestHttpServer server("127.37.1.3");
  auto sender = MakeSender(server.Url());
  server.Answer(HttpAnswer{429, "slow down", {{"Retry-After", "7"}}});
  HttpReply reply = sender->Post("x", "text/plain", "k");
  EXPECT_EQ(reply.status, 429);
  ASSERT_TRUE(reply.retry_after);
  EXPECT_EQ(*reply.retry_after, 7s);

  char date[64];
  const std::time_t in_30s = std::time(nullptr) + 30;
  std::tm tm{};
  gmtime_r(&in_30s, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server.Answer(HttpAnswer{503, "maintenance", {{"Retry-After", date}}});
  reply = sender->Post("x", "text/plain", "k");
  EXPECT_EQ(reply.status, 503);
  ASSERT_TRUE(reply.retry_after) << date;
  EXPECT_GE(*reply.retry_after, 27s);
  EXPECT_LE(*reply.retry_after, 31s);

  server.Answer(HttpAnswer{429, "", {{"Retry-After", "soon, maybe"}}});
  EXPECT_FALSE(sender->Post("x", "text/plain", "k").retry_after);
  server.Answer(HttpAnswer{500, "", {}});
  EXPECT_FALSE(sender->Post("x", "text/plain", "k").retry_after);
}

TEST(HttpSenderTest, AHugeAnswerIsCappedAndTheConnectionStillServes) {
  TestHttpServer server("127.37.1.4");
  auto sender = MakeSender(server.Url());
  server.Answer(HttpAnswer{400, std::string(8 << 20, 'x'), {}});
  HttpReply reply = sender->Post("x", "text/plain", "k");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body.size(), 64u * 1024);
  server.Answer(HttpAnswer{});
  EXPECT_EQ(sender->Post("x", "text/plain", "k").status, 200);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpSenderTest, AHangingReceiverTimesOut) {
  TestHttpServer server("127.37.1.5");
  auto sender = MakeSender(server.Url(), "", 300ms);
  server.Answer(HttpAnswer::Hang());
  const auto start = std::chrono::steady_clock::now();
  HttpReply reply = sender->Post("x", "text/plain", "k");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.status, 0);
  EXPECT_FALSE(reply.error.empty());
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(HttpSenderTest, ARefusedConnectIsNoAnswer) {
  TestHttpServer server("127.37.1.6");
  auto sender = MakeSender(server.Url());
  server.Refuse();
  HttpReply reply = sender->Post("x", "text/plain", "k");
  EXPECT_EQ(reply.status, 0);
  EXPECT_FALSE(reply.error.empty());
  server.Listen();
  EXPECT_EQ(sender->Post("x", "text/plain", "k").status, 200);
}

TEST(HttpSenderTest, AnAbortEndsARequestInFlight) {
  TestHttpServer server("127.37.1.7");
  auto sender = MakeSender(server.Url(), "", 30s);
  server.Answer(HttpAnswer::Hang());
  std::atomic<bool> abort{false};
  std::thread aborter([&] {
    std::this_thread::sleep_for(200ms);
    abort = true;
  });
  const auto start = std::chrono::steady_clock::now();
  HttpReply reply = sender->Post("x", "text/plain", "k", &abort);
  aborter.join();
  EXPECT_EQ(reply.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

// A TLS receiver: Python's http.server behind ssl, answering every POST
// "tls ok"; prints its port.
constexpr const char* kTlsServer = R"(
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"tls ok")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((sys.argv[1], 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
)";

TEST(HttpSenderTest, HttpsTrustsAPrivateCaFromApiCaFile) {
  if (access("/usr/bin/python3", X_OK) != 0 || access("/usr/bin/openssl", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3 and /usr/bin/openssl";
  }
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("tls_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  std::ofstream(dir / "server.py") << kTlsServer;
  // A self-signed certificate for the address: its own CA.
  asicmon::testing::Subprocess make_cert(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
       "-out", cert, "-days", "1", "-subj", "/CN=127.37.1.8", "-addext",
       "subjectAltName=IP:127.37.1.8"},
      /*capture_stderr=*/true);
  ASSERT_EQ(make_cert.Wait(30s), 0) << make_cert.stderr_text();
  asicmon::testing::Subprocess server(
      {"/usr/bin/python3", (dir / "server.py").string(), "127.37.1.8", cert, key},
      /*capture_stderr=*/true);
  ASSERT_TRUE(server.WaitForStdout("\n", 10s)) << server.stderr_text();
  const std::string url = "https://127.37.1.8:" + server.stdout_text().substr(
                                                      0, server.stdout_text().find('\n')) +
                          "/ingest";

  HttpOptions options;
  options.url = url;
  options.ca_file = cert;
  Result<std::unique_ptr<HttpSender>> trusting = HttpSender::Create(options);
  ASSERT_OK(trusting);
  HttpReply reply = (*trusting)->Post("[]", "application/json", "k");
  EXPECT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.body, "tls ok");

  options.ca_file.clear();  // the system's CAs do not know it
  Result<std::unique_ptr<HttpSender>> system_cas = HttpSender::Create(options);
  ASSERT_OK(system_cas);
  reply = (*system_cas)->Post("[]", "application/json", "k");
  EXPECT_EQ(reply.status, 0);
  EXPECT_NE(reply.error.find("certificate"), std::string::npos) << reply.error;
  std::filesystem::remove_all(dir);
}

TEST(HttpSenderTest, OnlyHttpAndHttpsUrls) {
  HttpOptions options;
  for (const char* url : {"ftp://example.com/", "file:///etc/passwd", "127.0.0.1:80", ""}) {
    options.url = url;
    Result<std::unique_ptr<HttpSender>> sender = HttpSender::Create(options);
    ASSERT_FALSE(sender.ok()) << url;
    EXPECT_EQ(sender.status().code(), Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace asicmon::http
