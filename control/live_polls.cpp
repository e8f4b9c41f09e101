#include "live_polls.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace asicmon::control {

Result<std::unique_ptr<LivePolls>> LivePolls::Start(const ExchangeOptions& options) {
  Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(options);
  if (!client.ok()) return client.status();
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) return Status::IoError(std::string("eventfd: ") + std::strerror(errno));
  return std::unique_ptr<LivePolls>(new LivePolls(std::move(*client), wake));
}

LivePolls::LivePolls(std::unique_ptr<MinerClient> client, int wake_fd)
    : client_(std::move(client)),
      poller_(*client_),
      wake_fd_(wake_fd),
      thread_([this] { Run(); }) {}

LivePolls::~LivePolls() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  thread_.join();
  close(wake_fd_);
}

void LivePolls::Submit(const MinerEndpoint& endpoint, Callback done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({endpoint, std::move(done)});
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void LivePolls::Run() {
  std::deque<Job> jobs;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      jobs.swap(queue_);
    }
    for (Job& job : jobs) {
      // Fingerprinted each time: a live read is rare, and must not trust a
      // family the miner may since have changed (new firmware).
      poller_.Poll(job.endpoint, {}, [done = std::move(job.done)](PollResult&& result) {
        done(std::move(result.record));
      });
    }
    jobs.clear();
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {client_->fd(), POLLIN, 0}};
    const auto wait = client_->NextDeadlineIn(std::chrono::milliseconds(1000));
    ::poll(fds, 2, static_cast<int>(wait.count()));
    if (fds[0].revents & POLLIN) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
    }
    client_->Poll(std::chrono::milliseconds(0));
  }
}

}  // namespace asicmon::control
