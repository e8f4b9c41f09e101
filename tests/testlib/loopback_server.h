// A blocking in-test TCP server on one loopback address and port: accepts,
// reads the request (up to 4 KB, one recv), runs `behave` on a thread of its
// own per connection, then closes. Miner client and poller tests serve
// canned replies with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace asicmon::testing {

class LoopbackServer {
 public:
  using Behaviour = std::function<void(int fd, const std::string& request)>;

  // Binds ip:port (SO_REUSEADDR); a null `behave` listens but never accepts.
  LoopbackServer(const std::string& ip, Behaviour behave, int backlog = 64,
                 uint16_t port = 4028);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int accepted() const { return accepted_; }

 private:
  void Loop();

  int fd_;
  Behaviour behave_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
};

// Sends all of `data` (stops quietly when the peer goes away).
void SendAll(int fd, std::string_view data);

}  // namespace asicmon::testing
