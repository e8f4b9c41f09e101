#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace asicmon::testing {
namespace {

using namespace std::chrono_literals;

// Requests larger than this are answered 413 and the connection closed.
constexpr size_t kMaxRequestBytes = 64 << 20;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TestHttpServer::TestHttpServer(std::string ip, uint16_t port) : ip_(std::move(ip)), port_(port) {
  handler_ = [](const HttpRequest&) { return HttpAnswer{}; };
  Listen();
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  CloseAll();
  changed_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

std::string TestHttpServer::Url(const std::string& path) const {
  return "http://" + ip_ + ":" + std::to_string(port_) + path;
}

void TestHttpServer::Answer(HttpAnswer answer) {
  Answer([answer](const HttpRequest&) { return answer; });
}

void TestHttpServer::Answer(std::function<HttpAnswer(const HttpRequest&)> handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
  changed_.notify_all();
}

void TestHttpServer::KeepBodies(bool keep) {
  std::lock_guard lock(mu_);
  keep_bodies_ = keep;
}

void TestHttpServer::Listen() {
  if (acceptor_.joinable()) acceptor_.join();  // the previous listener's loop has ended
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    throw std::runtime_error("bad address " + ip_);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0) {
    close(fd);
    throw std::runtime_error("cannot listen on " + ip_ + ":" + std::to_string(port_));
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  {
    std::lock_guard lock(mu_);
    listen_fd_ = fd;
  }
  acceptor_ = std::thread([this, fd] { AcceptLoop(fd); });
}

void TestHttpServer::Refuse() {
  CloseAll();
  if (acceptor_.joinable()) acceptor_.join();
}

void TestHttpServer::CloseAll() {
  std::lock_guard lock(mu_);
  if (listen_fd_ >= 0) {
    // shutdown wakes the acceptor's poll; it closes the descriptor itself.
    shutdown(listen_fd_, SHUT_RDWR);
    listen_fd_ = -1;
  }
  for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  ++epoch_;
  changed_.notify_all();
}

void TestHttpServer::AcceptLoop(int listen_fd) {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (listen_fd_ != listen_fd || stopping_) break;
    }
    pollfd p{listen_fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    if (listen_fd_ != listen_fd || stopping_) {
      close(fd);
      break;
    }
    open_fds_.insert(fd);
    const int connection = ++connections_;
    workers_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
  close(listen_fd);
}

void TestHttpServer::Serve(int fd, int connection) {
  std::string in;
  uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    epoch = epoch_;
  }
  auto read_more = [&]() {
    char buf[65536];
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      const int r = poll(&p, 1, 50);
      if (r < 0) return false;
      if (r == 0) continue;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<size_t>(n));
      return true;
    }
    return false;
  };
  bool open = true;
  while (open) {
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > kMaxRequestBytes || !read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    HttpRequest request;
    request.connection = connection;
    const std::string head = in.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t sp1 = request_line.find(' ');
    const size_t sp2 = request_line.find(' ', sp1 + 1);
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (line_end != std::string::npos) {
      const size_t next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next - line_end - 2);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        request.headers[Lower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
      }
      line_end = next;
    }
    const size_t length = std::strtoull(request.Header("content-length").c_str(), nullptr, 10);
    in.erase(0, header_end + 4);
    while (in.size() < length && length <= kMaxRequestBytes) {
      if (!read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    if (length > kMaxRequestBytes) {
      SendAll(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    request.body = in.substr(0, length);
    in.erase(0, length);
    request.received = std::chrono::steady_clock::now();

    size_t index = 0;
    std::function<HttpAnswer(const HttpRequest&)> handler;
    {
      std::lock_guard lock(mu_);
      index = requests_.size();
      requests_.push_back(request);
      if (!keep_bodies_) requests_.back().body.clear();
      handler = handler_;
      changed_.notify_all();
    }
    const HttpAnswer answer = handler(request);
    if (answer.hang) {
      // Until the client gives up (closes), Refuse, or the server ends.
      while (!stopping_) {
        {
          std::lock_guard lock(mu_);
          if (epoch_ != epoch) break;
        }
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        if (poll(&p, 1, 50) > 0) {
          char c;
          if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0 ||
              recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
            break;
          }
        }
      }
      break;
    }
    if (answer.delay > 0ms) {
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, answer.delay, [&] { return stopping_ || epoch_ != epoch; })) {
        break;
      }
    }
    std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " " +
                           Reason(answer.status) + "\r\nContent-Length: " +
                           std::to_string(answer.body.size()) + "\r\n";
    for (const auto& [name, value] : answer.headers) response += name + ": " + value + "\r\n";
    response += "\r\n" + answer.body;
    {
      std::lock_guard lock(mu_);
      requests_[index].answered = answer.status;
      changed_.notify_all();
    }
    if (!SendAll(fd, response)) break;
    open = Lower(request.Header("connection")) != "close";
  }
  std::lock_guard lock(mu_);
  open_fds_.erase(fd);
  close(fd);
}

std::vector<HttpRequest> TestHttpServer::Requests(size_t from) const {
  std::lock_guard lock(mu_);
  if (from >= requests_.size()) return {};
  return std::vector<HttpRequest>(requests_.begin() + static_cast<std::ptrdiff_t>(from),
                                  requests_.end());
}

HttpRequest TestHttpServer::Request(size_t index) const {
  std::lock_guard lock(mu_);
  return requests_.at(index);
}

size_t TestHttpServer::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

int TestHttpServer::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

bool TestHttpServer::WaitFor(const std::function<bool(const std::vector<HttpRequest>&)>& done,
                             std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return done(requests_); });
}

}  // namespace asicmon::testing
