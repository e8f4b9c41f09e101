// The farm's event loop: listeners, connections, request framing, writing
// replies and the timers; what a reply is lives in farm_faults.cpp (API)
// and farm_web.cpp (web interface).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>

#include "asicmon/log.h"
#include "bos_grpc.h"
#include "farm_server_internal.h"
#include "miner_web.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

constexpr int kListenBacklog = 128;
// Requests longer than this are hostile: the connection is closed unanswered.
constexpr size_t kMaxRequestBytes = 64 * 1024;
// cgminer gives a client 10 s to send its request (SO_RCVTIMEO); the same
// bound frees connections a client leaves open without reading or writing.
constexpr int64_t kIdleTimeoutMs = 10'000;
constexpr int64_t kSweepPeriodMs = 1'000;
constexpr int kAcceptsPerWakeup = 64;

// Where an epoll event came from: kind in the top byte, the connection
// slot's generation (so an event for a closed connection is not taken for
// the slot's next one) and the index in the low 32 bits.
enum Kind : uint64_t {
  kListener = 1,
  kConn = 2,
  kStop = 3,
  kWebListener = 4,
  kV3Listener = 5,
  kBosQueue = 6,  // gRPC calls of the Braiins OS public API waiting for this thread
};
uint64_t EventData(uint64_t kind, uint32_t gen, uint32_t index) {
  return kind << 56 | (static_cast<uint64_t>(gen & 0xFFFFFF) << 32) | index;
}

}  // namespace

FarmServer::FarmServer(const FarmOptions& options) : options_(options) {}

FarmServer::~FarmServer() {
  bos_.reset();  // first: it refuses its waiting calls, then stops gRPC
  for (Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  for (Miner& m : miners_) {
    if (m.listen_fd >= 0) close(m.listen_fd);
    if (m.web_listen_fd >= 0) close(m.web_listen_fd);
    if (m.v3_listen_fd >= 0) close(m.v3_listen_fd);
  }
  if (spare_fd_ >= 0) close(spare_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (action_log_) std::fclose(action_log_);
}

Result<std::unique_ptr<FarmServer>> FarmServer::Create(const FarmOptions& options,
                                                       std::vector<MinerPlan> plans) {
  std::unique_ptr<FarmServer> server(new FarmServer(options));
  server->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (server->epoll_fd_ < 0) {
    return Status::IoError(fmt::format("epoll_create1: {}", std::strerror(errno)));
  }
  server->spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!options.action_log.empty()) {
    server->action_log_ = std::fopen(options.action_log.c_str(), "ae");
    if (!server->action_log_) {
      return Status::IoError(
          fmt::format("--action-log {}: {}", options.action_log, std::strerror(errno)));
    }
  }
  if (options.http_port != 0) {
    server->web_auth_.emplace(std::string(kWebRealm), options.http_user, options.http_password,
                              DigestAuth::RandomNonce());
  }
  const double now = UnixNow();
  server->started_ms_ = MonotonicMs();
  server->miners_.reserve(plans.size());
  bool any_huge = false;
  for (MinerPlan& plan : plans) {
    any_huge |= plan.fault == Fault::kHuge;
    uint64_t rng = plan.spec.seed ^ (0x6A09E667F3BCC909ULL * (plan.spec.index + 1));
    FakeMiner fake(plan.spec, now);
    server->miners_.push_back(
        Miner{std::move(plan), std::move(fake), -1, rng, -1, -1, false, false, 0});
  }
  if (any_huge) server->BuildHugeReply();
  const int64_t period_ms =
      std::max<int64_t>(1, static_cast<int64_t>(std::llround(options.flap_period_s * 1000)));
  for (uint32_t i = 0; i < server->miners_.size(); ++i) {
    Status status = server->Listen(i);
    if (!status.ok()) return status;
    if (server->miners_[i].plan.fault == Fault::kFlapping) {
      // Each flapping miner starts at its own point of its up/down cycle.
      const double phase = std::fmod(i * 0.6180339887498949, 1.0);
      const auto first = static_cast<int64_t>(static_cast<double>(period_ms) * (1 - phase));
      server->timers_.push_back(
          {server->started_ms_ + std::max<int64_t>(1, first), Timer::Kind::kFlap, i, 0});
    }
  }
  if (Status status = server->StartBos(); !status.ok()) return status;
  if (server->bos_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = EventData(kBosQueue, 0, 0);
    if (epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->bos_->event_fd(), &ev) != 0) {
      return Status::IoError(fmt::format("epoll_ctl(gRPC queue): {}", std::strerror(errno)));
    }
  }
  server->timers_.push_back({server->started_ms_ + kSweepPeriodMs, Timer::Kind::kSweep, 0, 0});
  std::make_heap(server->timers_.begin(), server->timers_.end(), std::greater<>());
  return server;
}

Status FarmServer::Listen(uint32_t index) {
  Miner& m = miners_[index];
  if (m.listen_fd < 0) {
    auto api = OpenListener(m, m.plan.port, kListener, index);
    if (!api.ok()) return api.status();
    m.listen_fd = *api;
  }
  if (m.plan.http_port != 0 && m.web_listen_fd < 0) {
    auto web = OpenListener(m, m.plan.http_port, kWebListener, index);
    if (!web.ok()) {
      Unlisten(index);
      return web.status();
    }
    m.web_listen_fd = *web;
  }
  if (HasWhatsminerV3(m.plan.spec.model) && m.v3_listen_fd < 0) {
    auto v3 = OpenListener(m, kWhatsminerV3Port, kV3Listener, index);
    if (!v3.ok()) {
      Unlisten(index);
      return v3.status();
    }
    m.v3_listen_fd = *v3;
  }
  return Status::Ok();
}

Result<int> FarmServer::OpenListener(const Miner& m, uint16_t port, uint64_t kind, uint32_t index) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(fmt::format("socket: {}", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Clients speak first and once per connection, so let the kernel hand over
  // a connection only with its request in: one wakeup and no epoll_ctl for
  // most exchanges.
  const int defer_s = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(m.plan.ip);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoError(
        fmt::format("listen on {}:{}: {}", m.plan.ip_text, port, std::strerror(err)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = EventData(kind, 0, index);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    close(fd);
    return Status::IoError(fmt::format("epoll_ctl: {}", std::strerror(err)));
  }
  return fd;
}

void FarmServer::Unlisten(uint32_t index) {
  Miner& m = miners_[index];
  if (m.listen_fd >= 0) close(m.listen_fd);
  if (m.web_listen_fd >= 0) close(m.web_listen_fd);
  if (m.v3_listen_fd >= 0) close(m.v3_listen_fd);
  m.listen_fd = -1;
  m.web_listen_fd = -1;
  m.v3_listen_fd = -1;
}

uint64_t FarmServer::exchanges() const {
  uint64_t total = 0;
  for (uint64_t n : served_) total += n;
  return total;
}

std::string FarmServer::Summary() const {
  const double seconds = static_cast<double>(MonotonicMs() - started_ms_) / 1000;
  std::string s = fmt::format("served {} exchanges for {} miners in {:.1f} s", exchanges(),
                              miners_.size(), seconds);
  std::string parts;
  for (int i = 0; i < kFaultCount; ++i) {
    if (served_[i] == 0) continue;
    fmt::format_to(std::back_inserter(parts), "{}{} {}", parts.empty() ? "" : ", ",
                   i == 0 ? std::string_view("healthy") : ToString(static_cast<Fault>(i)),
                   served_[i]);
  }
  if (!parts.empty()) s += " (" + parts + ")";
  if (web_requests_ > 0) fmt::format_to(std::back_inserter(s), "; {} web requests", web_requests_);
  if (refused_accepts_ > 0) {
    fmt::format_to(std::back_inserter(s), "; {} connections dropped for lack of files",
                   refused_accepts_);
  }
  return s;
}

Status FarmServer::Run(int stop_fd) {
  if (stop_fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = EventData(kStop, 0, 0);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd, &ev) != 0) {
      return Status::IoError(fmt::format("epoll_ctl(stop): {}", std::strerror(errno)));
    }
  }
  scenario_start_ms_ = MonotonicMs();
  PlayScenario(scenario_start_ms_);
  std::array<epoll_event, 256> events;
  while (true) {
    int timeout = -1;
    if (!timers_.empty()) {
      timeout = static_cast<int>(
          std::clamp<int64_t>(timers_.front().at_ms - MonotonicMs(), 0, kSweepPeriodMs));
    }
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(fmt::format("epoll_wait: {}", std::strerror(errno)));
    }
    for (int k = 0; k < n; ++k) {
      const uint64_t data = events[k].data.u64;
      const auto index = static_cast<uint32_t>(data & 0xFFFFFFFF);
      const auto gen = static_cast<uint32_t>((data >> 32) & 0xFFFFFF);
      switch (data >> 56) {
        case kStop:
          return Status::Ok();
        case kBosQueue:
          DrainBos();
          break;
        case kListener:
        case kWebListener:
        case kV3Listener:
          OnAccept(index, data >> 56);
          break;
        case kConn: {
          if (index >= conns_.size() || (conns_[index].gen & 0xFFFFFF) != gen) break;
          const Conn::State state = conns_[index].state;
          if (state == Conn::State::kWriting) {
            OnWritable(index);
          } else if (state != Conn::State::kFree) {
            OnReadable(index);
          }
          break;
        }
        default:
          break;
      }
    }
    FireTimers(MonotonicMs());
  }
}

void FarmServer::OnAccept(uint32_t miner, uint64_t kind) {
  const Miner& m = miners_[miner];
  const bool web = kind == kWebListener;
  const int listen_fd = web ? m.web_listen_fd : kind == kV3Listener ? m.v3_listen_fd : m.listen_fd;
  if (listen_fd < 0) return;
  for (int k = 0; k < kAcceptsPerWakeup; ++k) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of files: take the connection with the spare and drop it, so
        // the listener does not stay readable and spin the loop.
        close(spare_fd_);
        const int dropped = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (dropped >= 0) close(dropped);
        spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (refused_accepts_++ % 1000 == 0) {
          spdlog::warn("out of open files: dropped a connection to {} ({} so far)",
                       miners_[miner].plan.ip_text, refused_accepts_);
        }
      }
      return;
    }
    uint32_t slot;
    if (!free_conns_.empty()) {
      slot = free_conns_.back();
      free_conns_.pop_back();
    } else {
      slot = static_cast<uint32_t>(conns_.size());
      conns_.emplace_back();
    }
    Conn& c = conns_[slot];
    c.fd = fd;
    c.miner = miner;
    c.web = web;
    c.v3 = kind == kV3Listener;
    c.http = kind == kListener && HasHttpApi(miners_[miner].plan.spec.model);
    // Faults shape the API only; the web interface of a faulty miner answers.
    c.state = !web && miners_[miner].plan.fault == Fault::kSilent ? Conn::State::kSilent
                                                                  : Conn::State::kReading;
    c.idle_deadline_ms = MonotonicMs() + kIdleTimeoutMs;
    // The request is often in already: read before paying for epoll_ctl.
    OnReadable(slot);
    if (c.state == Conn::State::kFree || c.registered) continue;
    epoll_event ev{};
    ev.events = c.state == Conn::State::kWriting ? EPOLLOUT : EPOLLIN;
    ev.data.u64 = EventData(kConn, c.gen, slot);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      spdlog::warn("epoll_ctl(add): {}", std::strerror(errno));
      CloseConn(slot, false);
      continue;
    }
    c.registered = true;
  }
}

void FarmServer::OnReadable(uint32_t slot) {
  Conn& c = conns_[slot];
  char buf[16384];
  while (true) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (c.state != Conn::State::kReading) continue;  // silent or waiting: read and forget
      if (c.in.size() + static_cast<size_t>(n) > kMaxRequestBytes) {
        CloseConn(slot, false);
        return;
      }
      c.in.append(buf, static_cast<size_t>(n));
      if (c.web || c.http ? ScanWebRequest(c) : c.v3 ? ScanV3Request(c) : ScanRequest(c)) {
        Respond(slot);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
      CloseConn(slot, false);
      return;
    }
    // End of stream: a request cut by it is complete; a slow miner's client
    // may only have half-closed, so its reply is still sent when due.
    if (c.state == Conn::State::kReading && c.started) {
      c.request_end = c.in.size();
      Respond(slot);
    } else if (c.state == Conn::State::kWaiting) {
      epoll_event ev{};
      ev.data.u64 = EventData(kConn, c.gen, slot);
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    } else {
      if (c.state == Conn::State::kSilent) ++served_[static_cast<size_t>(Fault::kSilent)];
      CloseConn(slot, false);
    }
    return;
  }
}

bool FarmServer::ScanRequest(Conn& c) {
  for (; c.scanned < c.in.size(); ++c.scanned) {
    const char ch = c.in[c.scanned];
    if (!c.started) {
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
      c.started = true;
      c.json = ch == '{';
    }
    if (!c.json) {
      if (ch == '\0' || ch == '\n') break;
    } else if (c.in_string) {
      if (c.escape) {
        c.escape = false;
      } else if (ch == '\\') {
        c.escape = true;
      } else if (ch == '"') {
        c.in_string = false;
      }
    } else if (ch == '"') {
      c.in_string = true;
    } else if (ch == '{') {
      ++c.depth;
    } else if ((ch == '}' && --c.depth <= 0) || ch == '\0') {
      break;
    }
  }
  if (c.scanned < c.in.size()) {
    c.request_end = c.scanned + 1;
  } else if (c.started && !c.json) {
    c.request_end = c.in.size();  // text: what one read brought, as cgminer's single recv()
  }
  return c.request_end > 0;
}

bool FarmServer::ScanV3Request(Conn& c) {
  c.started = true;
  if (c.in.size() < 4) return false;
  uint32_t length = 0;
  for (int i = 3; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(c.in[i]);
  // A length past the request bound never completes: OnReadable closes the
  // connection when the bytes pass kMaxRequestBytes, or the sweep when they stop.
  if (c.in.size() - 4 < length) return false;
  c.request_end = 4 + static_cast<size_t>(length);
  return true;
}

void FarmServer::StartWriting(uint32_t slot) {
  Conn& c = conns_[slot];
  const bool transient = c.pending.data() == reply_.data();
  c.state = Conn::State::kWriting;
  OnWritable(slot);
  if (c.state != Conn::State::kWriting) return;
  // The rest waits for EPOLLOUT; a reply in the shared build buffer moves
  // into the connection first.
  if (transient) {
    c.out.assign(c.pending.data(), c.pending.size());
    c.pending = c.out;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = EventData(kConn, c.gen, slot);
  if (epoll_ctl(epoll_fd_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    spdlog::warn("epoll_ctl(out): {}", std::strerror(errno));
    CloseConn(slot, false);
    return;
  }
  c.registered = true;
}

void FarmServer::OnWritable(uint32_t slot) {
  Conn& c = conns_[slot];
  while (!c.pending.empty()) {
    const ssize_t n = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.pending.remove_prefix(static_cast<size_t>(n));
      c.idle_deadline_ms = MonotonicMs() + kIdleTimeoutMs;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    CloseConn(slot, false);  // the client left
    return;
  }
  Finish(slot);
}

void FarmServer::Finish(uint32_t slot) {
  // Unread bytes at close() make the kernel send RST instead of FIN, which
  // can destroy the reply in flight: read what the client sent after its request.
  Conn& c = conns_[slot];
  char buf[4096];
  while (recv(c.fd, buf, sizeof buf, 0) > 0) {
  }
  CloseConn(slot, false);
}

void FarmServer::CloseConn(uint32_t slot, bool reset) {
  Conn& c = conns_[slot];
  if (reset) {
    const linger abortive{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  }
  close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.state = Conn::State::kFree;
  c.registered = false;
  c.started = c.json = c.in_string = c.escape = false;
  c.depth = 0;
  c.scanned = c.request_end = 0;
  c.in.clear();
  c.out.clear();
  // Keep small buffers for the slot's next connection, not a hostile one's 64 KiB.
  if (c.in.capacity() > 4096) std::string().swap(c.in);
  if (c.out.capacity() > 65536) std::string().swap(c.out);
  c.pending = {};
  c.web = c.continue_sent = c.v3 = c.http = false;
  c.web_error = 0;
  ++c.gen;
  free_conns_.push_back(slot);
}

void FarmServer::AddTimer(const Timer& timer) {
  timers_.push_back(timer);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void FarmServer::FireTimers(int64_t now_ms) {
  while (!timers_.empty() && timers_.front().at_ms <= now_ms) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    const Timer t = timers_.back();
    timers_.pop_back();
    switch (t.kind) {
      case Timer::Kind::kSlowReply: {
        Conn& c = conns_[t.index];
        if (c.gen != t.gen || c.state != Conn::State::kWaiting) break;
        c.pending = c.out;
        StartWriting(t.index);
        break;
      }
      case Timer::Kind::kFlap:
        Flap(t.index, t.gen, now_ms);
        break;
      case Timer::Kind::kRebootDone:
        FinishReboot(t.index);
        break;
      case Timer::Kind::kRestartDone:
        FinishRestart(t.index);
        break;
      case Timer::Kind::kScenario:
        PlayScenario(now_ms);
        break;
      case Timer::Kind::kSweep:
        for (uint32_t slot = 0; slot < conns_.size(); ++slot) {
          const Conn& c = conns_[slot];
          if ((c.state == Conn::State::kReading || c.state == Conn::State::kWriting) &&
              c.idle_deadline_ms <= now_ms) {
            CloseConn(slot, false);
          }
        }
        AddTimer({now_ms + kSweepPeriodMs, Timer::Kind::kSweep, 0, 0});
        break;
    }
  }
}

}  // namespace asicmon::fakefarm
