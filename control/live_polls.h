// Live polls for the REST API's summary endpoint: one thread runs a
// MinerClient, so a thousand slow or silent miners in flight cost a
// thousand sockets, not a thousand threads, and each request still ends by
// its miner's own deadline.
//
// Thread-safety: Submit may be called from any thread; callbacks run on the
// poll thread and must not block.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "asicmon/miner_api.h"
#include "asicmon/poller.h"
#include "asicmon/status.h"

namespace asicmon::control {

class LivePolls {
 public:
  using Callback = std::function<void(Record&&)>;

  static Result<std::unique_ptr<LivePolls>> Start(const ExchangeOptions& options);
  ~LivePolls();  // ends the thread; polls still in flight are abandoned
  LivePolls(const LivePolls&) = delete;
  LivePolls& operator=(const LivePolls&) = delete;

  // Polls `endpoint` (fingerprinting its family: poller.h) and hands the
  // record to `done`.
  void Submit(const MinerEndpoint& endpoint, Callback done);

 private:
  struct Job {
    MinerEndpoint endpoint;
    Callback done;
  };
  LivePolls(std::unique_ptr<MinerClient> client, int wake_fd);
  void Run();

  std::unique_ptr<MinerClient> client_;
  Poller poller_;  // through client_, on the thread
  int wake_fd_;  // eventfd: Submit and the destructor wake the thread
  std::mutex mutex_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace asicmon::control
