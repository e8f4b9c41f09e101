// The ZeroMQ bus: endpoints, socket setup with explicit high-water marks and
// bounded linger, two-frame messages (topic, msgpack body), and the
// producer-id + sequence bookkeeping every consumer uses to count what it missed.
//
// Topology (one well-known address per hop; stable ends bind):
//   jobs     discover binds PUSH   -> collectors connect PULL   (poll jobs)
//   ingest   store binds PULL      <- collectors, discover, control connect PUSH
//   publish  store binds PUB       -> push, control, tap, discover, collect connect SUB
// Topics on publish (first frame): "record", "inventory", "event", and "ack"
// (store's acknowledgements to producers, outbox.h); on jobs: "job".
//
// Thread-safety: zmq sockets belong to one thread; the helpers here are
// plain functions over a socket the caller owns. SeqTracker and Sequencer are
// not synchronised.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <zmq.hpp>

#include "asicmon/bus_security.h"
#include "asicmon/status.h"

namespace asicmon::bus {

inline constexpr std::string_view kTopicRecord = "record";
inline constexpr std::string_view kTopicInventory = "inventory";
inline constexpr std::string_view kTopicEvent = "event";
inline constexpr std::string_view kTopicJob = "job";

// Bodies larger than this are refused on receipt (a record is ~300 bytes).
inline constexpr size_t kMaxBodyBytes = 1 << 20;

struct Endpoints {
  std::string run_dir;  // ASICMON_RUN_DIR: the sockets' directory, and discover's state
  std::string jobs;     // Default: ipc://$ASICMON_RUN_DIR/jobs.sock
  std::string ingest;   // Default: ipc://$ASICMON_RUN_DIR/ingest.sock
  std::string publish;  // Default: ipc://$ASICMON_RUN_DIR/publish.sock
  // This process's CurveZMQ keys (bus_security.h). Default: none, plain ZMTP.
  CurveSettings curve;
};

// Fills endpoints from ASICMON_RUN_DIR (default "run") and the overrides
// ASICMON_JOBS, ASICMON_INGEST, ASICMON_PUBLISH (any zmq endpoint, e.g. tcp://),
// and the Curve keys from ASICMON_CURVE_* (LoadCurveSettings).
Status LoadEndpoints(Endpoints& endpoints);

// For a producer (collect, discover): a warning when its records go to a
// store elsewhere (ingest not ipc://) but it listens for the store's
// acknowledgements on a local ipc:// publish endpoint, where none arrive:
// what a store restart had in flight could not be resent. nullopt when fine.
std::optional<std::string> AckPathWarning(const Endpoints& endpoints);

struct SocketOptions {
  // Messages queued per peer before the socket's mark is reached. What
  // happens then depends on the type: PUB drops (consumers see seq gaps),
  // PUSH refuses the send (our senders use dontwait and count it).
  int sndhwm = 1000;
  int rcvhwm = 1000;
  // How long close waits to deliver what is queued. Bounded so a stage
  // always exits promptly on SIGTERM. Default: 1000 ms.
  int linger_ms = 1000;
  // PUSH/SUB that connect: queue only to peers that are really connected,
  // so nothing piles up for a peer that is gone.
  bool immediate = false;
  // Keys for CurveZMQ; the pointee need only live through Bind/Connect.
  // nullptr or no keypair: plain ZMTP, announced as insecure on tcp://.
  // Default: nullptr.
  const CurveSettings* curve = nullptr;
  // Bind with a keypair REQUIRES the ZAP handler of the same context
  // (StartZapHandler): without it libzmq would let any client key in.
  const ZapHandler* zap = nullptr;
};

// The ZAP handler a process needs before it binds with Curve keys; nullptr
// when `curve` has no keypair. InvalidArgument when it has a keypair but no
// authorized keys (binding with a key authenticates clients by them).
Result<std::unique_ptr<ZapHandler>> StartZapHandler(zmq::context_t& context,
                                                    const CurveSettings& curve);

// A socket of `type`, options set, bound (Bind) or connected (Connect) to
// `endpoint`, as a Curve server (Bind) or client (Connect) when
// options.curve has a keypair. ipc:// directories are created. Errors as
// Status (InvalidArgument when keys needed for that side are missing);
// zmq's exceptions never escape.
Result<zmq::socket_t> Bind(zmq::context_t& context, zmq::socket_type type,
                           const std::string& endpoint, const SocketOptions& options);
Result<zmq::socket_t> Connect(zmq::context_t& context, zmq::socket_type type,
                              const std::string& endpoint, const SocketOptions& options);

// Subscribes a SUB socket to `topics`; IoError instead of cppzmq's exception
// (a closed context, a socket of another type), so no caller's thread ends
// on a throw.
Status Subscribe(zmq::socket_t& socket, std::initializer_list<std::string_view> topics);
Status Subscribe(zmq::socket_t& socket, const std::vector<std::string>& topics);

// Sends [topic][body] without blocking. false when the socket is at its
// high-water mark (or has no peer, for PUSH): nothing was sent.
bool TrySend(zmq::socket_t& socket, std::string_view topic, std::string_view body);

struct Message {
  std::string topic;
  std::string body;
};

// Receives one message without blocking: nullopt when nothing waits; a
// ParseError when what arrived is not [known topic][body within the cap]
// (the whole multipart message is consumed either way).
Result<std::optional<Message>> TryReceive(zmq::socket_t& socket);

// Stamps producer id and sequence numbers on what a process sends.
class Sequencer {
 public:
  explicit Sequencer(std::string producer_id) : producer_id_(std::move(producer_id)) {}
  const std::string& producer_id() const { return producer_id_; }
  uint64_t Next() { return ++last_; }
  uint64_t last() const { return last_; }

 private:
  std::string producer_id_;
  uint64_t last_ = 0;
};

// Counts messages missed per producer from their sequence numbers.
class SeqTracker {
 public:
  // How many messages of `producer` were missed just before `seq` (0 when
  // none). A seq at or below the last seen is not a gap: a late message
  // (resent after a store restart, outbox.h; it may fill a gap counted
  // before) or a duplicate, or, bus::kResendWindow or more below, a producer
  // restarted under the same PRODUCER_ID, whose new seqs are followed from there.
  uint64_t Observe(const std::string& producer, uint64_t seq);
  // Starts `producer` at `seq` as if it had been seen (a restart resuming
  // from what it stored), so what is missing after it counts as missed.
  void Resume(const std::string& producer, uint64_t seq);
  uint64_t missed() const { return missed_; }
  size_t producers() const { return last_.size(); }

 private:
  std::unordered_map<std::string, uint64_t> last_;
  uint64_t missed_ = 0;
};

// A stage's counters at one moment. Each stage logs them ("name=value ...")
// and sends them as an event (type "stats", a msgpack map) every
// STATS_INTERVAL, so asicmon-control serves every stage's counters on
// /metrics. No sequence number: a lost one is replaced by the next.
struct StageStats {
  std::string stage;        // "collect", "discover", "store", "push"
  std::string producer_id;
  double ts = 0;
  std::vector<std::pair<std::string, double>> values;  // names: [a-z0-9_]

  std::string ToLogFields() const;  // "jobs=12 ok=11 ..."
};
std::string EncodeStageStats(const StageStats& stats);
// The stats in the body of an event of kind kStats (DecodeEvent);
// ParseError for a malformed one.
Result<StageStats> StageStatsFromJson(const nlohmann::json& body);
// Sends `stats` as an event without blocking; false when the socket refused.
bool TrySendStageStats(zmq::socket_t& socket, const StageStats& stats);

// A default producer id: "<stage>-<hostname>-<pid>".
std::string DefaultProducerId(std::string_view stage);

}  // namespace asicmon::bus
