// A poll of one miner, whatever its firmware: the questions its family is
// asked (one or several exchanges, on the ports and framings the family
// speaks), or, when the family is not known yet, fingerprinting it. One
// record per poll. collect, discover and control all poll through this, so
// a miner is read the same way everywhere.
//
// Fingerprinting (no family, or the known family stopped answering as it
// did: re-fingerprinted on anything but a timeout):
//   0. a target on a family's own port (Whatsminer API v3's 4433): that
//      family first;
//   1. the generic cgminer poll (summary+stats+pools) on the target's port;
//   2. an HTTP answer there (ePIC serves its web API on 4028): the families
//      that speak HTTP on that port are tried;
//   3. a recognised family with its own questions: they are asked at once,
//      so the first record is already complete;
//   4. nothing usable (the port closed, or error replies): the families on
//      other ports (Whatsminer API v3 on 4433; HTTP on 80) that `ports`
//      allows are tried in registry order.
// The first `ok` record wins; otherwise the generic poll's outcome stands.
// With PollerOptions::web enabled, a fingerprinted family's web identity
// (Family::identify) is then read into the record where the API gave no MAC.
// A connect timeout ends the poll at once: no host there to try again.
// The client's deadline bounds the whole poll, every exchange included: an
// exchange that would start after it is not made.
//
// Thread-safety: a Poller belongs to the thread of its MinerClient.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/miner_api.h"
#include "asicmon/record.h"

namespace asicmon {

// The miner's web interface, where a family keeps identity its API does not
// report (stock Antminer: MAC, serial and hostname in get_system_info.cgi,
// behind Digest auth). The same settings as control's web actions.
struct WebIdentity {
  bool enabled = false;           // off: a poll never touches the web interface
  uint16_t port = 80;             // MINER_HTTP_PORT
  std::string user = "root";      // MINER_HTTP_USER (stock firmware's default)
  std::string password = "root";  // MINER_HTTP_PASSWORD
};

struct PollerOptions {
  // Ports fingerprinting may try besides the target's own (DISCOVER_PORTS).
  // Default: the Whatsminer API v3 port; add 80 for HTTP-only miners (Bitaxe).
  std::vector<uint16_t> ports{kWhatsminerV3Port};
  // When enabled (discover's sweep), a fingerprint that found a family with
  // web identity and no MAC in the API asks the web interface too: one GET,
  // a second with Digest credentials after a 401, both inside the poll's
  // deadline. Whatever fails there leaves the record as the API made it.
  // Polls of a known family (collect's) never ask.
  WebIdentity web = {};
};

struct PollResult {
  Record record;  // ip, port, ts and poll_ms set; producer_id and seq left to the caller
  // The target's port answered in another protocol no family speaks (an HTTP
  // or HTML server that is not a miner's API).
  bool foreign = false;
  bool connected = false;  // some port of the host accepted a connection
};

class Poller {
 public:
  using Done = std::function<void(PollResult&&)>;

  // `client` outlives the Poller; its Poll() drives the exchanges.
  explicit Poller(MinerClient& client, PollerOptions options = {});

  // Polls `endpoint` as a miner of `family` (Record::family; "" or a name
  // this build does not know: fingerprint). `done` runs once, from a later
  // client Poll().
  void Poll(const MinerEndpoint& endpoint, std::string_view family, Done done);

  MinerClient& client() { return client_; }

  // A miner whose family's lean plan suffices is asked the full plan again
  // once in this many polls, so a firmware upgrade is seen.
  static constexpr uint32_t kFullPollEvery = 64;

 private:
  struct Run;
  // Miners (by "ip:port") whose last full poll showed their family's lean
  // plan suffices: polls since. Shared with runs in flight.
  using LeanMemory = std::unordered_map<std::string, uint32_t>;
  MinerClient& client_;
  PollerOptions options_;
  std::shared_ptr<LeanMemory> lean_ = std::make_shared<LeanMemory>();
};

// One poll, blocking the calling thread until it ends (control's reads,
// `asicmon-collect --once`).
PollResult PollOnce(const MinerEndpoint& endpoint, std::string_view family,
                    const ExchangeOptions& exchange, const PollerOptions& options = {});

// The names of the families this build reads, in registry order.
std::vector<std::string_view> FamilyNames();

}  // namespace asicmon
