// The sweep: probes every target address with a poll that fingerprints the
// miner's family (poller.h: the API port, then the other DISCOVER_PORTS) and
// says what answers there.
//
// All probes run on one MinerClient (non-blocking connects, epoll), at most
// max_in_flight at a time, each holding one file descriptor. A refused
// address completes at once, so a /16 on a LAN or loopback sweeps in seconds;
// an address that never answers costs the connect timeout; a port that
// accepts gets the whole poll deadline to identify itself, so slow miners
// are found.
//
// Thread-safety: a Scanner belongs to one thread. The outcome callback runs
// inside Poll().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asicmon/miner_api.h"
#include "asicmon/poller.h"
#include "asicmon/status.h"

namespace asicmon::discover {

// What answered on one address's API port. Addresses where nothing accepted
// the connection (refused, unreachable, connect timeout) have no outcome.
struct ProbeOutcome {
  enum class Kind {
    kMiner,         // a valid API reply: identified
    kUnidentified,  // accepts, but no valid reply (timeout after connect, parse error, ...)
    kForeign,       // plainly another protocol (HTTP, HTML/XML): not a miner
  };
  Kind kind = Kind::kMiner;
  uint32_t address = 0;  // host byte order
  uint16_t port = kMinerApiPort;
  std::string model;
  std::string firmware;
  std::string worker;
  // What names the machine whatever its address, where the probe learnt it
  // (Record's fields of the same names); mac "" when it did not.
  std::string family;
  std::string mac;
  std::string serial;
  std::string hostname;
  std::string detail;  // unidentified: status and error; foreign: the reply's first bytes
};

struct ScannerOptions {
  uint16_t port = kMinerApiPort;
  // Probes open at once. On a LAN an absent host costs the connect timeout,
  // so 4096 at once sweep a /16 in about 16 timeouts. Default: 4096; the
  // caller keeps it below the open-file limit.
  size_t max_in_flight = 4096;
  // connect_timeout: SWEEP_CONNECT_TIMEOUT (1 s); deadline: POLL_TIMEOUT (5 s);
  // a poll's reply is at most tens of KB (Whatsminer M3 stats: 67 KB), so a
  // chatty foreign service is cut short.
  ExchangeOptions exchange{std::chrono::milliseconds(1000), std::chrono::milliseconds(5000),
                           256 * 1024};
  // The other ports fingerprinting may try (DISCOVER_PORTS).
  PollerOptions poller;
};

struct SweepProgress {
  size_t total = 0;         // addresses in this sweep
  size_t done = 0;          // probes finished
  size_t miners = 0;        // identified
  size_t unidentified = 0;  // accepting but not identified
  size_t foreign = 0;       // other protocols, skipped
  size_t found() const { return miners + unidentified; }
};

class Scanner {
 public:
  using OutcomeCallback = std::function<void(ProbeOutcome&&)>;

  // `addresses`: the expanded targets, swept in this order every time.
  // IoError when the kernel refuses an epoll instance.
  static Result<std::unique_ptr<Scanner>> Create(const ScannerOptions& options,
                                                 std::vector<uint32_t> addresses,
                                                 OutcomeCallback on_outcome);

  // Starts a sweep over every address. REQUIRES: !active().
  void Begin();
  // True from Begin() until every probe has finished.
  bool active() const { return active_; }

  // Moves the probes forward for up to `max_wait` and starts more while
  // there is room. Returns true when this call finished the sweep.
  bool Poll(std::chrono::milliseconds max_wait);

  // For an outer poll loop: readable when Poll has socket work.
  int fd() const { return client_->fd(); }
  std::chrono::milliseconds NextDeadlineIn(std::chrono::milliseconds max_wait) const;

  const SweepProgress& progress() const { return progress_; }
  // Seconds the current (or last) sweep has taken.
  double elapsed_s() const;

 private:
  Scanner(const ScannerOptions& options, std::vector<uint32_t> addresses,
          OutcomeCallback on_outcome, std::unique_ptr<MinerClient> client);
  void StartMore();
  void OnProbed(uint32_t address, PollResult&& result);

  ScannerOptions options_;
  std::vector<uint32_t> addresses_;
  OutcomeCallback on_outcome_;
  std::unique_ptr<MinerClient> client_;
  Poller poller_;  // through client_
  size_t next_ = 0;  // index of the next address to probe
  bool active_ = false;
  SweepProgress progress_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point finished_;
};

}  // namespace asicmon::discover
