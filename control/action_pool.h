// A fixed set of threads running posted tasks in order of arrival: control's
// write commands, each of which blocks on one miner for up to its bound.
//
// Thread-safety: Post may be called from any thread. The destructor runs
// every task already posted to its end, then joins the threads; nothing may
// be posted once it has started.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace asicmon::control {

class ActionPool {
 public:
  explicit ActionPool(int threads);
  ~ActionPool();
  ActionPool(const ActionPool&) = delete;
  ActionPool& operator=(const ActionPool&) = delete;

  void Post(std::function<void()> task);

 private:
  void Work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  bool stop_ = false;                        // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace asicmon::control
