#include "asicmon/miner_api.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "asicmon/clock.h"
#include "json_repair.h"
#include "normalise.h"

namespace asicmon {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

// Maps a socket errno to what it means for the miner.
MinerStatus StatusForErrno(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL:
      return MinerStatus::kRefused;
    case ETIMEDOUT:
      return MinerStatus::kTimeout;
    default:
      return MinerStatus::kReset;
  }
}

}  // namespace

Result<MinerEndpoint> ParseEndpoint(std::string_view text) {
  MinerEndpoint ep;
  std::string_view host = text;
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    std::string_view port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return Status::InvalidArgument("bad port in '" + std::string(text) + "'");
    }
    ep.port = static_cast<uint16_t>(port);
  }
  in_addr addr{};
  const std::string host_str(host);
  if (inet_pton(AF_INET, host_str.c_str(), &addr) != 1) {
    return Status::InvalidArgument(Quoted(text) + " is not an IPv4 address[:port]");
  }
  ep.ip = host_str;
  return ep;
}

struct MinerClient::Exchange {
  uint64_t id = 0;
  int fd = -1;
  bool connected = false;
  MinerEndpoint endpoint;
  std::string request;
  Framing framing = Framing::kCgminer;
  bool port_closed = false;
  size_t sent = 0;
  std::string reply;
  Callback done;
  Clock::time_point started;
  Clock::time_point connect_deadline;
  Clock::time_point deadline;
};

Result<std::unique_ptr<MinerClient>> MinerClient::Create(const ExchangeOptions& options) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Status::IoError(std::string("epoll_create1: ") + std::strerror(errno));
  return std::unique_ptr<MinerClient>(new MinerClient(options, fd));
}

MinerClient::MinerClient(const ExchangeOptions& options, int epoll_fd)
    : options_(options), epoll_fd_(epoll_fd) {}

MinerClient::~MinerClient() {
  for (auto& slot : slots_) {
    if (slot && slot->fd >= 0) close(slot->fd);
  }
  close(epoll_fd_);
}

MinerClient::Exchange* MinerClient::Find(uint64_t id) {
  const auto index = static_cast<uint32_t>(id);
  if (index >= slots_.size()) return nullptr;
  Exchange* ex = slots_[index].get();
  return ex && ex->id == id && ex->done ? ex : nullptr;
}

void MinerClient::Start(const MinerEndpoint& endpoint, std::string request, Callback done,
                        Framing framing, std::optional<std::chrono::milliseconds> deadline) {
  ++counters_.started;
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<Exchange>());
  }
  Exchange& ex = *slots_[index];
  // The high half counts reuses of the slot, so a stale event or timer for
  // an earlier exchange in the same slot is recognised and ignored.
  ex.id = (((ex.id >> 32) + 1) << 32) | index;
  ex.fd = -1;
  ex.connected = false;
  ex.endpoint = endpoint;
  ex.request = std::move(request);
  ex.framing = framing;
  ex.port_closed = false;
  ex.sent = 0;
  ex.reply.clear();
  ex.done = std::move(done);
  ex.started = Clock::now();
  ex.deadline = ex.started + deadline.value_or(options_.deadline);
  ex.connect_deadline = std::min(ex.deadline, ex.started + options_.connect_timeout);
  ++live_;

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(endpoint.port);
  if (inet_pton(AF_INET, endpoint.ip.c_str(), &addr.sin_addr) != 1) {
    Finish(ex, MinerStatus::kRefused, "'" + endpoint.ip + "' is not an IPv4 address");
    return;
  }
  ex.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ex.fd < 0) {
    Finish(ex, MinerStatus::kRefused, std::string("no local socket: ") + std::strerror(errno));
    return;
  }
  if (connect(ex.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    ex.port_closed = err == ECONNREFUSED;
    Finish(ex, StatusForErrno(err), std::string("connect: ") + std::strerror(err));
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = ex.id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ex.fd, &ev) != 0) {
    Finish(ex, MinerStatus::kRefused, std::string("epoll_ctl: ") + std::strerror(errno));
    return;
  }
  timers_.push({ex.connect_deadline, ex.id});
  if (ex.deadline != ex.connect_deadline) timers_.push({ex.deadline, ex.id});
}

void MinerClient::Finish(Exchange& ex, MinerStatus status, std::string error) {
  if (ex.fd >= 0) {
    close(ex.fd);  // also removes it from the epoll set
    ex.fd = -1;
  }
  ExchangeResult result;
  result.status = status;
  result.error = std::move(error);
  result.reply = std::move(ex.reply);
  result.elapsed_ms = MillisSince(ex.started);
  result.connected = ex.connected;
  result.port_closed = ex.port_closed;
  ++counters_.completed[static_cast<size_t>(status)];
  completed_.emplace_back(std::move(ex.done), std::move(result));
  ex.done = nullptr;
  ex.reply = std::string();
  ex.request = std::string();
  free_slots_.push_back(static_cast<uint32_t>(ex.id));
  --live_;
}

void MinerClient::OnWritable(Exchange& ex) {
  if (!ex.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(ex.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ex.port_closed = err == ECONNREFUSED;
      Finish(ex, StatusForErrno(err), std::string("connect: ") + std::strerror(err));
      return;
    }
    ex.connected = true;
  }
  while (ex.sent < ex.request.size()) {
    ssize_t n = send(ex.fd, ex.request.data() + ex.sent, ex.request.size() - ex.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // wait for EPOLLOUT again
      const int err = errno;
      Finish(ex, StatusForErrno(err), std::string("send: ") + std::strerror(err));
      return;
    }
    ex.sent += static_cast<size_t>(n);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = ex.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, ex.fd, &ev);
}

void MinerClient::OnReadable(Exchange& ex) {
  while (true) {
    const size_t old_size = ex.reply.size();
    // Read at most one byte past the cap, enough to know the cap was passed.
    const size_t room = options_.max_reply_bytes + 1 - old_size;
    const size_t want = std::min(kReadChunk, room);
    ex.reply.resize(old_size + want);
    ssize_t n = recv(ex.fd, ex.reply.data() + old_size, want, 0);
    if (n < 0) {
      ex.reply.resize(old_size);
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      const int err = errno;
      Finish(ex, StatusForErrno(err),
             std::string("recv: ") + std::strerror(err) + " after " + std::to_string(old_size) +
                 " bytes");
      return;
    }
    ex.reply.resize(old_size + static_cast<size_t>(n));
    counters_.bytes_received += static_cast<uint64_t>(n);
    if (n == 0) {  // the miner closed: the reply is what came
      Finish(ex, MinerStatus::kOk, {});
      return;
    }
    if (ex.framing == Framing::kCgminer) {
      // CGMiner ends a reply with NUL and may keep the socket open.
      if (size_t nul = ex.reply.find('\0', old_size); nul != std::string::npos) {
        ex.reply.resize(nul);
        Finish(ex, MinerStatus::kOk, {});
        return;
      }
    } else if (const std::optional<size_t> whole = CompleteReplySize(ex.framing, ex.reply);
               whole && ex.reply.size() >= *whole && *whole <= options_.max_reply_bytes) {
      ex.reply.resize(*whole);  // a length prefix or Content-Length says it is all here
      Finish(ex, MinerStatus::kOk, {});
      return;
    }
    if (ex.reply.size() > options_.max_reply_bytes) {
      Finish(ex, MinerStatus::kTooLarge,
             "reply larger than " + std::to_string(options_.max_reply_bytes) + " bytes");
      return;
    }
  }
}

void MinerClient::OnEvent(Exchange& ex, uint32_t events) {
  if (events & EPOLLOUT) {
    OnWritable(ex);
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(ex);
}

void MinerClient::FireTimers(Clock::time_point now) {
  while (!timers_.empty() && timers_.top().at <= now) {
    const Timer timer = timers_.top();
    timers_.pop();
    Exchange* ex = Find(timer.id);
    if (!ex) continue;  // finished earlier
    if (!ex->connected && timer.at >= ex->connect_deadline) {
      Finish(*ex, MinerStatus::kTimeout, "no connection within " + Seconds(options_.connect_timeout));
    } else if (timer.at >= ex->deadline) {
      Finish(*ex, MinerStatus::kTimeout,
             "no complete reply within " + Seconds(options_.deadline) + " (" +
                 std::to_string(ex->reply.size()) + " bytes received)");
    }
  }
}

size_t MinerClient::RunCompleted() {
  // Callbacks may Start() new exchanges, which may complete at once and
  // append to completed_; swap first so this loop sees a stable list.
  std::vector<std::pair<Callback, ExchangeResult>> batch;
  batch.swap(completed_);
  for (auto& [callback, result] : batch) callback(std::move(result));
  return batch.size();
}

std::chrono::milliseconds MinerClient::NextDeadlineIn(std::chrono::milliseconds max_wait) const {
  if (!completed_.empty()) return std::chrono::milliseconds(0);
  if (timers_.empty()) return max_wait;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(timers_.top().at - Clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), max_wait);
}

size_t MinerClient::Poll(std::chrono::milliseconds max_wait) {
  epoll_event events[256];
  const auto wait = NextDeadlineIn(max_wait);
  int n = epoll_wait(epoll_fd_, events, 256, static_cast<int>(wait.count()));
  for (int i = 0; i < n; ++i) {
    if (Exchange* ex = Find(events[i].data.u64)) OnEvent(*ex, events[i].events);
  }
  FireTimers(Clock::now());
  return RunCompleted();
}

void MinerClient::RunUntilIdle() {
  while (live_ > 0 || !completed_.empty()) Poll(std::chrono::milliseconds(1000));
}

ExchangeResult ExchangeOnce(const MinerEndpoint& endpoint, std::string request,
                            const ExchangeOptions& options, Framing framing) {
  ExchangeResult out;
  Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(options);
  if (!client.ok()) {
    out.status = MinerStatus::kRefused;
    out.error = client.status().message();
    return out;
  }
  (*client)->Start(
      endpoint, std::move(request), [&out](ExchangeResult&& r) { out = std::move(r); }, framing);
  (*client)->RunUntilIdle();
  return out;
}

CommandResult InterpretCommandReply(ExchangeResult&& exchange) {
  CommandResult out;
  out.status = exchange.status;
  out.error = std::move(exchange.error);
  if (out.status != MinerStatus::kOk) return out;
  MinerJsonParser parser;
  Result<simdjson::dom::element> doc = parser.Parse(exchange.reply);
  if (!doc.ok()) {
    out.status = MinerStatus::kParseError;
    out.error = doc.status().message();
    return out;
  }
  out.reply_json = parser.text();
  const ReplyStatus status = CheckReplyStatus(*doc);
  out.status_letter = status.letter;
  if (status.kind == ReplyStatus::Kind::kDenied) {
    out.status = MinerStatus::kAuthError;
    out.error = status.msg;
  } else if (status.kind == ReplyStatus::Kind::kError) {
    out.status = MinerStatus::kApiError;
    out.error = status.msg;
  }
  return out;
}

CommandResult RunCommand(const MinerEndpoint& endpoint, std::string_view command,
                         std::string_view parameter, const ExchangeOptions& options) {
  return InterpretCommandReply(ExchangeOnce(endpoint, BuildRequest(command, parameter), options));
}

Record RecordFromExchange(const MinerEndpoint& endpoint, ExchangeResult&& exchange) {
  Record record;
  record.ip = endpoint.ip;
  record.port = endpoint.port;
  record.ts = UnixNow();
  record.poll_ms = exchange.elapsed_ms;
  record.status = exchange.status;
  record.error = std::move(exchange.error);
  if (record.status != MinerStatus::kOk) return record;
  NormaliseRawReply(exchange.reply, record);
  return record;
}

}  // namespace asicmon
