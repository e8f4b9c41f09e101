#include "asicmon/shutdown.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace asicmon {
namespace {

std::atomic<int> g_signal{0};
int g_write_fd = -1;

extern "C" void OnSignal(int sig) {
  const int saved_errno = errno;
  g_signal.store(sig);
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);  // async-signal-safe
  errno = saved_errno;
}

int g_hangup_write_fd = -1;

extern "C" void OnHangup(int) {
  const int saved_errno = errno;
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_hangup_write_fd, &byte, 1);  // async-signal-safe
  errno = saved_errno;
}

}  // namespace

Result<ShutdownSignal*> ShutdownSignal::Install() {
  static ShutdownSignal* instance = nullptr;
  if (instance) return instance;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("pipe2: ") + std::strerror(errno));
  }
  g_write_fd = fds[1];
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer closing early is an error value, not a death
  instance = new ShutdownSignal(fds[0]);
  return instance;
}

bool ShutdownSignal::requested() const { return g_signal.load() != 0; }
int ShutdownSignal::signal_number() const { return g_signal.load(); }

Result<HangupSignal*> HangupSignal::Install() {
  static HangupSignal* instance = nullptr;
  if (instance) return instance;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("pipe2: ") + std::strerror(errno));
  }
  g_hangup_write_fd = fds[1];
  struct sigaction sa {};
  sa.sa_handler = OnHangup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  instance = new HangupSignal(fds[0]);
  return instance;
}

bool HangupSignal::Take() {
  char buffer[64];
  bool any = false;
  while (read(read_fd_, buffer, sizeof buffer) > 0) any = true;
  return any;
}

}  // namespace asicmon
