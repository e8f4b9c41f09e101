#include "asicmon/bus.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <iterator>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "asicmon/config.h"
#include "asicmon/events.h"
#include "asicmon/outbox.h"
#include "asicmon/record.h"

namespace asicmon::bus {
namespace {

constexpr std::array<std::string_view, 5> kKnownTopics = {kTopicRecord, kTopicInventory, kTopicEvent,
                                                          kTopicJob, kTopicAck};

Status PrepareIpcDir(const std::string& endpoint) {
  constexpr std::string_view kIpc = "ipc://";
  if (endpoint.rfind(kIpc, 0) != 0) return Status::Ok();
  const std::filesystem::path dir = std::filesystem::path(endpoint.substr(kIpc.size())).parent_path();
  if (dir.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

// ZMQ_ZAP_ENFORCE_DOMAIN: a draft option in 4.3's zmq.h, but built into
// Debian's libzmq5. With it a Curve server refuses handshakes when no ZAP
// handler answers, instead of letting every client key in.
constexpr int kZapEnforceDomain = 93;

bool IsTcp(const std::string& endpoint) { return endpoint.rfind("tcp://", 0) == 0; }

// Checks the keys this side needs before any socket exists.
Status CheckCurve(zmq::context_t& context, const std::string& endpoint,
                  const SocketOptions& options, bool bind) {
  const CurveSettings& curve = *options.curve;
  if (bind) {
    if (!curve.authorized) {
      return Status::InvalidArgument("binding " + endpoint +
                                     " with ASICMON_CURVE_KEY needs ASICMON_CURVE_AUTHORIZED "
                                     "(the client keys to let in)");
    }
    if (options.zap == nullptr || !options.zap->Serves(context)) {
      return Status::Internal("binding " + endpoint + " with Curve keys before its ZAP handler");
    }
  } else if (!curve.server_key) {
    return Status::InvalidArgument("connecting to " + endpoint +
                                   " with ASICMON_CURVE_KEY needs ASICMON_CURVE_SERVER (the "
                                   "server's public key)");
  }
  return Status::Ok();
}

void SetCurve(zmq::socket_t& socket, const CurveSettings& curve, bool bind) {
  socket.set(zmq::sockopt::curve_secretkey, curve.keypair->secret_key);
  socket.set(zmq::sockopt::curve_publickey, curve.keypair->public_key);
  if (bind) {
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::zap_domain, kZapDomain);
    const int enforce = 1;
    // Refused by a libzmq without the option: the handler bound first
    // (CheckCurve) is then the only guard.
    (void)zmq_setsockopt(socket.handle(), kZapEnforceDomain, &enforce, sizeof enforce);
  } else {
    socket.set(zmq::sockopt::curve_serverkey, *curve.server_key);
  }
}

Result<zmq::socket_t> Open(zmq::context_t& context, zmq::socket_type type,
                           const std::string& endpoint, const SocketOptions& options, bool bind) {
  const bool curve = options.curve != nullptr && options.curve->keypair.has_value();
  if (curve) {
    if (Status s = CheckCurve(context, endpoint, options, bind); !s.ok()) return s;
  }
  if (Status s = PrepareIpcDir(endpoint); !s.ok()) return s;
  try {
    zmq::socket_t socket(context, type);
    socket.set(zmq::sockopt::linger, options.linger_ms);
    socket.set(zmq::sockopt::sndhwm, options.sndhwm);
    socket.set(zmq::sockopt::rcvhwm, options.rcvhwm);
    if (options.immediate) socket.set(zmq::sockopt::immediate, 1);
    if (curve) {
      SetCurve(socket, *options.curve, bind);
      spdlog::info("bus {} {}: CurveZMQ {}, public key {}", bind ? "bind" : "connect", endpoint,
                   bind ? "server" : "client", options.curve->keypair->public_key);
    } else if (IsTcp(endpoint)) {
      // ipc:// stays on this host behind file permissions; tcp:// does not.
      spdlog::warn("bus {} {}: insecure, plain tcp:// is neither encrypted nor authenticated "
                   "(set ASICMON_CURVE_KEY and the other ASICMON_CURVE_* variables)",
                   bind ? "bind" : "connect", endpoint);
    }
    if (bind) {
      socket.bind(endpoint);
    } else {
      socket.connect(endpoint);
    }
    return socket;
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string(bind ? "bind " : "connect ") + endpoint + ": " + e.what());
  }
}

}  // namespace

Result<std::unique_ptr<ZapHandler>> StartZapHandler(zmq::context_t& context,
                                                    const CurveSettings& curve) {
  if (!curve.keypair) return std::unique_ptr<ZapHandler>();
  if (!curve.authorized) {
    return Status::InvalidArgument(
        "binding with ASICMON_CURVE_KEY needs ASICMON_CURVE_AUTHORIZED (the client keys to let in)");
  }
  return ZapHandler::Start(context, *curve.authorized);
}

Status LoadEndpoints(Endpoints& endpoints) {
  std::string run_dir = "run";
  if (Status s = EnvString("ASICMON_RUN_DIR", run_dir); !s.ok()) return s;
  endpoints.run_dir = run_dir.empty() ? "." : run_dir;
  const std::string base = "ipc://" + endpoints.run_dir;
  endpoints.jobs = base + "/jobs.sock";
  endpoints.ingest = base + "/ingest.sock";
  endpoints.publish = base + "/publish.sock";
  for (Status s : {EnvString("ASICMON_JOBS", endpoints.jobs), EnvString("ASICMON_INGEST", endpoints.ingest),
                   EnvString("ASICMON_PUBLISH", endpoints.publish)}) {
    if (!s.ok()) return s;
  }
  for (const std::string* e : {&endpoints.jobs, &endpoints.ingest, &endpoints.publish}) {
    if (e->find("://") == std::string::npos) {
      return Status::InvalidArgument("'" + *e + "' is not a zmq endpoint (ipc://path or tcp://host:port)");
    }
  }
  return LoadCurveSettings(endpoints.curve);
}

std::optional<std::string> AckPathWarning(const Endpoints& endpoints) {
  if (endpoints.ingest.starts_with("ipc://") || !endpoints.publish.starts_with("ipc://")) {
    return std::nullopt;
  }
  return "records go to " + endpoints.ingest + " but the store's acknowledgements are awaited on " +
         endpoints.publish + ": set ASICMON_PUBLISH to that store's publish endpoint, or what is in "
         "flight when it restarts cannot be resent (counted as unacked_dropped)";
}

Result<zmq::socket_t> Bind(zmq::context_t& context, zmq::socket_type type,
                           const std::string& endpoint, const SocketOptions& options) {
  return Open(context, type, endpoint, options, true);
}

Result<zmq::socket_t> Connect(zmq::context_t& context, zmq::socket_type type,
                              const std::string& endpoint, const SocketOptions& options) {
  return Open(context, type, endpoint, options, false);
}

namespace {

template <typename Topics>
Status SubscribeAll(zmq::socket_t& socket, const Topics& topics) {
  try {
    for (const auto& topic : topics) socket.set(zmq::sockopt::subscribe, std::string_view(topic));
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("subscribe: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

Status Subscribe(zmq::socket_t& socket, std::initializer_list<std::string_view> topics) {
  return SubscribeAll(socket, topics);
}

Status Subscribe(zmq::socket_t& socket, const std::vector<std::string>& topics) {
  return SubscribeAll(socket, topics);
}

bool TrySend(zmq::socket_t& socket, std::string_view topic, std::string_view body) {
  try {
    // A multipart message is queued whole or not at all, so only the first
    // frame can meet the high-water mark.
    if (!socket.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    socket.send(zmq::buffer(body), zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t&) {
    return false;  // ETERM while shutting down
  }
}

Result<std::optional<Message>> TryReceive(zmq::socket_t& socket) {
  try {
    zmq::message_t first;
    if (!socket.recv(first, zmq::recv_flags::dontwait)) return std::optional<Message>();
    Message message{first.to_string(), {}};
    int frames = 1;
    bool oversized = false;
    while (first.more()) {
      zmq::message_t next;
      (void)socket.recv(next, zmq::recv_flags::none);  // the rest of a multipart is already here
      ++frames;
      if (frames == 2) {
        if (next.size() > kMaxBodyBytes) {
          oversized = true;
        } else {
          message.body = next.to_string();
        }
      }
      first.swap(next);
    }
    if (frames != 2) {
      return Status::ParseError("bus message of " + std::to_string(frames) + " frames (expected 2)");
    }
    if (oversized) return Status::ParseError("bus message body over the cap");
    bool known = false;
    for (std::string_view t : kKnownTopics) known = known || t == message.topic;
    if (!known) return Status::ParseError("unknown topic " + Shown(message.topic));
    return std::optional<Message>(std::move(message));
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("recv: ") + e.what());
  }
}

uint64_t SeqTracker::Observe(const std::string& producer, uint64_t seq) {
  auto [it, inserted] = last_.try_emplace(producer, seq);
  if (inserted) return 0;  // a producer's first message: what came before is not ours to know
  uint64_t gap = 0;
  if (seq > it->second + 1) gap = seq - it->second - 1;
  if (seq > it->second || it->second - seq >= kResendWindow) it->second = seq;
  missed_ += gap;
  return gap;
}

void SeqTracker::Resume(const std::string& producer, uint64_t seq) {
  uint64_t& last = last_[producer];
  last = std::max(last, seq);
}

std::string DefaultProducerId(std::string_view stage) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  return std::string(stage) + "-" + host + "-" + std::to_string(getpid());
}

std::string StageStats::ToLogFields() const {
  std::string out;
  for (const auto& [name, value] : values) {
    if (!out.empty()) out.push_back(' ');
    fmt::format_to(std::back_inserter(out), "{}={}", name, value);
  }
  return out;
}

std::string EncodeStageStats(const StageStats& stats) {
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, value] : stats.values) counters[name] = value;
  // "kind" too: the previous form, which stages not upgraded yet read.
  const nlohmann::json event = {{kEventTypeKey, kEventStats},
                                {"kind", kEventStats},
                                {"stage", stats.stage},
                                {"producer_id", stats.producer_id},
                                {"ts", stats.ts},
                                {"counters", std::move(counters)}};
  const std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(event);
  return std::string(bytes.begin(), bytes.end());
}

Result<StageStats> StageStatsFromJson(const nlohmann::json& event) {
  const auto stage = event.find("stage");
  const auto producer = event.find("producer_id");
  const auto ts = event.find("ts");
  const auto counters = event.find("counters");
  if (stage == event.end() || !stage->is_string() || producer == event.end() ||
      !producer->is_string() || ts == event.end() || !ts->is_number() ||
      counters == event.end() || !counters->is_object()) {
    return Status::ParseError("stats event lacks stage, producer_id, ts or counters");
  }
  auto valid_name = [](std::string_view name) {
    return !name.empty() && name.size() <= 64 &&
           std::all_of(name.begin(), name.end(), [](char c) {
             return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
           });
  };
  StageStats stats;
  stats.stage = stage->get<std::string>();
  stats.producer_id = producer->get<std::string>();
  stats.ts = ts->get<double>();
  if (!valid_name(stats.stage) || stats.producer_id.size() > 256) {
    return Status::ParseError("stats event has a bad stage or producer_id");
  }
  for (const auto& [name, value] : counters->items()) {
    if (!valid_name(name) || !value.is_number()) {
      return Status::ParseError("stats event has a bad counter " + Shown(name));
    }
    stats.values.emplace_back(name, value.get<double>());
  }
  return stats;
}

bool TrySendStageStats(zmq::socket_t& socket, const StageStats& stats) {
  return TrySend(socket, kTopicEvent, EncodeStageStats(stats));
}

}  // namespace asicmon::bus
