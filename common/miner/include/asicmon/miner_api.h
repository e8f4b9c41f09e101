// The CGMiner/BMMiner API client: many request/reply exchanges with miners
// on TCP 4028 at once, on one thread, with non-blocking sockets and epoll.
//
// Every exchange is bounded: a connect timeout, an overall deadline and a
// reply size cap; its outcome is a MinerStatus, never an exception. A reply
// ends at a NUL byte or when the miner closes; what ends early is handed on
// as it is (the parser then calls it parse_error, nothing is invented).
//
// Thread-safety: a MinerClient belongs to one thread. Callbacks run inside
// Poll(), on that thread; they may call Start() again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>


#include "asicmon/protocol.h"
#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon {

struct MinerEndpoint {
  std::string ip;  // dotted IPv4
  uint16_t port = kMinerApiPort;
  std::string ToString() const { return ip + ":" + std::to_string(port); }
};

// "10.0.0.5" or "10.0.0.5:4029". InvalidArgument for anything else.
Result<MinerEndpoint> ParseEndpoint(std::string_view text);

struct ExchangeOptions {
  // Time allowed to establish the TCP connection. A LAN miner connects in
  // milliseconds or not at all. Default: 3 s.
  std::chrono::milliseconds connect_timeout{3000};
  // Time allowed for the whole exchange, connect included. A miner that
  // answers within it is ok however slow (POLL_TIMEOUT). Default: 5 s.
  std::chrono::milliseconds deadline{5000};
  // Replies longer than this end the exchange as too_large. The largest real
  // reply seen (Whatsminer M3 stats) is 67 KB. Default: 1 MiB.
  size_t max_reply_bytes = 1 << 20;
};

// The transport outcome of one exchange. status is kOk when a reply arrived
// whole by the transport's rules (NUL or close); whether it is good JSON is
// for the parser to say.
struct ExchangeResult {
  MinerStatus status = MinerStatus::kOk;
  std::string error;
  std::string reply;
  double elapsed_ms = 0;
  bool connected = false;  // the TCP connection was made (something listens there)
  bool port_closed = false;  // the host answered the connect with a reset: up, but nothing listens
};

// Counters since the client was made; for logs and /metrics.
struct ClientCounters {
  uint64_t started = 0;
  uint64_t completed[kMinerStatusCount] = {};  // by MinerStatus
  uint64_t bytes_received = 0;
};

class MinerClient {
 public:
  using Callback = std::function<void(ExchangeResult&&)>;

  // IoError when the kernel refuses an epoll instance.
  static Result<std::unique_ptr<MinerClient>> Create(const ExchangeOptions& options);
  ~MinerClient();
  MinerClient(const MinerClient&) = delete;
  MinerClient& operator=(const MinerClient&) = delete;

  // Begins an exchange: connect, send `request` (already framed), read the
  // reply until `framing` says it is whole, within `deadline` (default: the
  // options' deadline; a poll of several exchanges gives each what is left
  // of its own). `done` runs exactly once, from a later Poll(), with the outcome.
  void Start(const MinerEndpoint& endpoint, std::string request, Callback done,
             Framing framing = Framing::kCgminer,
             std::optional<std::chrono::milliseconds> deadline = std::nullopt);

  // Moves every exchange forward for up to `max_wait` (0: do what is ready
  // and return) and runs the callbacks of those that finished. Returns how many.
  size_t Poll(std::chrono::milliseconds max_wait);

  // Polls until no exchange is left.
  void RunUntilIdle();

  size_t in_flight() const { return live_; }
  // An fd that is readable when Poll has socket work, to wait on it together
  // with other fds (zmq::poll); deadlines also need NextDeadlineIn().
  int fd() const { return epoll_fd_; }
  // Time until the nearest deadline (max_wait when there is none).
  std::chrono::milliseconds NextDeadlineIn(std::chrono::milliseconds max_wait) const;
  const ClientCounters& counters() const { return counters_; }
  const ExchangeOptions& options() const { return options_; }

 private:
  struct Exchange;
  struct Timer {
    std::chrono::steady_clock::time_point at;
    uint64_t id;
    bool operator>(const Timer& o) const { return at > o.at; }
  };

  MinerClient(const ExchangeOptions& options, int epoll_fd);
  Exchange* Find(uint64_t id);
  void OnEvent(Exchange& ex, uint32_t events);
  void OnWritable(Exchange& ex);
  void OnReadable(Exchange& ex);
  void Finish(Exchange& ex, MinerStatus status, std::string error);
  void FireTimers(std::chrono::steady_clock::time_point now);
  size_t RunCompleted();

  ExchangeOptions options_;
  int epoll_fd_;
  std::vector<std::unique_ptr<Exchange>> slots_;  // index = low 32 bits of an id
  std::vector<uint32_t> free_slots_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::vector<std::pair<Callback, ExchangeResult>> completed_;
  size_t live_ = 0;
  ClientCounters counters_;
};

// One exchange, blocking the calling thread until it ends; `request` framed
// already (FrameRequest), the reply ended by `framing`.
ExchangeResult ExchangeOnce(const MinerEndpoint& endpoint, std::string request,
                            const ExchangeOptions& options, Framing framing = Framing::kCgminer);

// The outcome of a command: the transport and the STATUS block together.
// status is auth_error for "Access denied", api_error for other error
// STATUS, parse_error for an unreadable reply; reply_json holds the reply as
// strict JSON text (after repair) whenever it could be parsed.
struct CommandResult {
  MinerStatus status = MinerStatus::kOk;
  std::string error;
  std::string reply_json;
  std::string status_letter;  // ReplyStatus::letter of a parsed reply, "" otherwise
};
CommandResult InterpretCommandReply(ExchangeResult&& exchange);

// Sends one command ("restart", "addpool" with "url,user,pass", ...) and
// waits for its interpreted reply.
CommandResult RunCommand(const MinerEndpoint& endpoint, std::string_view command,
                         std::string_view parameter, const ExchangeOptions& options);

// The request a poll sends: summary, stats and pools in one exchange.
inline constexpr std::string_view kPollCommand = "summary+stats+pools";

// Turns a poll's exchange into a record: transport status, repair and parse,
// normalisation. Sets ip, port, ts (now) and poll_ms; not producer_id or seq.
Record RecordFromExchange(const MinerEndpoint& endpoint, ExchangeResult&& exchange);

}  // namespace asicmon
