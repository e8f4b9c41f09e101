// Clean shutdown on SIGINT/SIGTERM: the handler writes to a self-pipe whose
// read end the process waits on with its sockets (epoll or zmq::poll), so a
// loop wakes at once and leaves by its normal path.
//
// Thread-safety: one ShutdownSignal per process; requested() from any thread.
#pragma once

#include "asicmon/status.h"

namespace asicmon {

class ShutdownSignal {
 public:
  // Installs the handlers. IoError when the pipe cannot be made.
  static Result<ShutdownSignal*> Install();

  // Readable once a signal arrived; never drained, so it stays readable.
  int fd() const { return read_fd_; }
  bool requested() const;
  // The signal that asked for shutdown (0 if none yet).
  int signal_number() const;

 private:
  ShutdownSignal(int read_fd) : read_fd_(read_fd) {}
  int read_fd_;
};

// SIGHUP, "read your configuration again", as a readable fd the process
// polls with its shutdown fd.
//
// Thread-safety: one HangupSignal per process; Take() from one thread.
class HangupSignal {
 public:
  static Result<HangupSignal*> Install();

  int fd() const { return read_fd_; }
  // Whether SIGHUP came since the last call; empties the fd.
  bool Take();

 private:
  explicit HangupSignal(int read_fd) : read_fd_(read_fd) {}
  int read_fd_;
};

}  // namespace asicmon
