// A small real HTTP/1.1 server for tests and benches of HTTP clients (push):
// listens on a loopback address (port 0: an ephemeral one), keeps
// connections alive, reads Content-Length bodies, records every request, and
// answers as the test says: any status with headers and body, after a delay,
// or never (hang). Refuse() closes the listening socket and every connection,
// so connects are refused until Listen() opens the same port again.
//
// Thread-safety: all methods may be called from any thread; a thread per
// connection serves requests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asicmon::testing {

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int connection = 0;  // which connection carried it (1, 2, ...): keep-alive shows as one
  int answered = 0;    // the status answered; 0 while hanging or never answered
  std::chrono::steady_clock::time_point received;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpAnswer {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // wait this long before answering
  bool hang = false;                   // never answer (until Refuse or the server ends)

  static HttpAnswer Status(int status, std::string body = "",
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    a.headers = std::move(headers);
    return a;
  }
  static HttpAnswer Hang() {
    HttpAnswer a;
    a.hang = true;
    return a;
  }
};

class TestHttpServer {
 public:
  // Listens on ip:port (port 0: any free one). Throws std::runtime_error
  // when it cannot.
  explicit TestHttpServer(std::string ip = "127.0.0.1", uint16_t port = 0);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/ingest") const;

  // How every request is answered from now on (default: 200 "ok").
  void Answer(HttpAnswer answer);
  // Or per request; the request is already recorded when `handler` runs.
  void Answer(std::function<HttpAnswer(const HttpRequest&)> handler);

  // false: requests are recorded without their bodies (a bench's memory).
  void KeepBodies(bool keep);

  // Closes the listener and every open connection: clients see refused
  // connects (and resets) until Listen().
  void Refuse();
  void Listen();

  // Requests received so far, from index `from` on (in arrival order).
  std::vector<HttpRequest> Requests(size_t from = 0) const;
  HttpRequest Request(size_t index) const;  // REQUIRES: index < request_count()
  size_t request_count() const;
  int connections() const;
  // Waits until `done(requests)` holds or `timeout` passes.
  bool WaitFor(const std::function<bool(const std::vector<HttpRequest>&)>& done,
               std::chrono::milliseconds timeout) const;

 private:
  void AcceptLoop(int listen_fd);
  void Serve(int fd, int connection);
  void CloseAll();

  const std::string ip_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::function<HttpAnswer(const HttpRequest&)> handler_;
  std::vector<HttpRequest> requests_;
  std::set<int> open_fds_;
  int listen_fd_ = -1;
  int connections_ = 0;
  bool keep_bodies_ = true;
  uint64_t epoch_ = 0;  // bumped by Refuse: hanging answers of older connections end
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace asicmon::testing
