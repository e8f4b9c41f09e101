// What the fake farm's server files share: its connection, miner and timer
// records and its clocks. Only the farm_*.cpp files include it.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "asicmon/clock.h"
#include "farm_server.h"

namespace asicmon::fakefarm {

inline int64_t MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

struct FarmServer::Miner {
  MinerPlan plan;
  FakeMiner fake;
  int listen_fd = -1;
  uint64_t rng = 0;  // for garbage bytes
  int web_listen_fd = -1;
  int v3_listen_fd = -1;    // Whatsminer API v3 (kWhatsminerV3Port), on models that have it
  bool rebooting = false;   // down until its reboot timer fires
  bool restarting = false;  // API down until its restart timer fires
  // Flap timers carry the cycle they belong to: a scenario that ends a
  // miner's flapping and starts it again outdates the old cycle's timer.
  uint32_t flap_cycle = 0;
};

struct FarmServer::Conn {
  enum class State : uint8_t { kFree, kReading, kWaiting, kWriting, kSilent };
  int fd = -1;
  uint32_t miner = 0;
  uint32_t gen = 0;
  State state = State::kFree;
  bool registered = false;  // in the epoll set
  // Request framing: a JSON object ends when its braces balance outside
  // strings; text ("summary|x") ends with what one read brought, as
  // cgminer's single recv() does, or at a NUL or newline.
  bool started = false;
  bool json = false;
  bool in_string = false;
  bool escape = false;
  int depth = 0;
  size_t scanned = 0;
  size_t request_end = 0;  // > 0 once a whole request is in
  std::string in;
  std::string out;           // the reply, when it outlives one attempt to send
  std::string_view pending;  // what is left to send: in `out` or the shared huge reply
  int64_t idle_deadline_ms = 0;
  bool web = false;            // an HTTP client of the web interface
  bool v3 = false;             // a Whatsminer API v3 client: length-prefixed both ways
  bool http = false;           // a client of an HTTP API (ePIC, AxeOS): HTTP framing both ways
  bool continue_sent = false;  // "100 Continue" answered an Expect
  int web_error = 0;           // status the HTTP parser refused the request with
};

struct FarmServer::Timer {
  enum class Kind : uint8_t { kSlowReply, kFlap, kSweep, kRebootDone, kRestartDone, kScenario };
  int64_t at_ms;
  Kind kind;
  uint32_t index;
  uint32_t gen;
  bool operator>(const Timer& other) const { return at_ms > other.at_ms; }
};

}  // namespace asicmon::fakefarm
