#include "request_pipeline.h"

#include <curl/curl.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "actions.h"
#include "asicmon/clock.h"
#include "asicmon/events.h"
#include "http_guard.h"
#include "validate.h"

namespace asicmon::control {
namespace {

using namespace Pistache;

// `raw` with its %XX sequences decoded (others left as they are); nullopt
// only when memory runs out.
std::optional<std::string> PercentDecoded(std::string_view raw) {
  int length = 0;
  char* decoded = curl_easy_unescape(nullptr, raw.data(), static_cast<int>(raw.size()), &length);
  if (!decoded) return std::nullopt;
  std::string out(decoded, static_cast<size_t>(length));
  curl_free(decoded);
  return out;
}

}  // namespace

// Large bodies go chunked, a megabyte at a time: ResponseWriter::send grows
// its buffer from 512 bytes by copying, which cost ~300 ms for the 23 MB of
// /metrics at 10,000 miners (chunked: ~50 ms).
void SendBody(Http::ResponseWriter& response, int status, const std::string& body) {
  constexpr size_t kChunk = 1 << 20;
  if (body.size() <= kChunk) {
    response.send(static_cast<Http::Code>(status), body);
    return;
  }
  Http::ResponseStream stream = response.stream(static_cast<Http::Code>(status), kChunk + 4096);
  for (size_t at = 0; at < body.size(); at += kChunk) {
    stream.write(body.data() + at, static_cast<std::streamsize>(std::min(kChunk, body.size() - at)));
    stream.flush();
  }
  stream.ends();
}

std::optional<std::string> Query(const Rest::Request& request, const std::string& name) {
  std::optional<std::string> raw = request.query().get(name);
  if (!raw) return raw;
  std::replace(raw->begin(), raw->end(), '+', ' ');
  return PercentDecoded(*raw);
}

// Pistache routes on the raw path and hands the segment over raw: decoded
// once, validation then judges what the client meant, so "w%0d%0a" is
// refused as a control byte and "%40" matches '@'. "" (undecodable) is
// accepted by no validation.
std::string PathParam(const Rest::Request& request, const std::string& name) {
  return PercentDecoded(request.param(name).as<std::string>()).value_or("");
}

std::optional<double> QueryDouble(const Rest::Request& request, const std::string& name,
                                  std::string& error) {
  const std::optional<std::string> text = Query(request, name);
  if (!text) return std::nullopt;
  try {
    size_t used = 0;
    const double value = std::stod(*text, &used);
    if (used == text->size() && std::isfinite(value)) return value;
  } catch (const std::exception&) {
  }
  error = "query parameter '" + name + "' must be a number";
  return std::nullopt;
}

// Pistache 0.0.5 answers 408 and drops a connection whose answer is not
// sent within the header timeout (10 s) of the request's end: its idle check
// takes a peer with a request in hand, whose parser waits for the next
// request line, for a slow client. A command on a miner takes longer
// (set_miner_conf.cgi alone ~21 s on some firmware, a reboot minutes), so
// the peer is marked idle and the keep-alive bound, which outlasts the
// longest command, applies instead. The peer's state is the transport
// thread's, hence the thread that runs the handler.
std::shared_ptr<Http::ResponseWriter> AnswerLater(Http::ResponseWriter&& response) {
  try {
    response.peer()->setIdle(true);
  } catch (const std::runtime_error&) {
    // The client is gone: the answer will go nowhere, which Pistache handles.
  }
  return std::make_shared<Http::ResponseWriter>(std::move(response));
}

RequestPipeline::RequestPipeline(std::string token, bool auth_read, Metrics& metrics, DbPool& db)
    : auth_read_(auth_read), keys_(std::move(token), db), metrics_(metrics), db_(db) {}

void RequestPipeline::Answer(Http::ResponseWriter& response, std::string_view route, int status,
                             const nlohmann::json& body) {
  AnswerText(response, route, status,
             body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void RequestPipeline::AnswerText(Http::ResponseWriter& response, std::string_view route,
                                 int status, const std::string& body) {
  metrics_.CountRequest(route, status);
  response.headers().add<Http::Header::ContentType>(MIME(Application, Json));
  SendBody(response, status, body);
}

void RequestPipeline::Error(Http::ResponseWriter& response, std::string_view route, int status,
                            std::string_view error, std::string_view detail) {
  Answer(response, route, status, ErrorBody(error, detail));
}

void RequestPipeline::NotFound(const Rest::Request& request, Http::ResponseWriter response) {
  Error(response, "other", 404, "not found",
        "no route for " + std::string(Http::methodString(request.method())) + " " +
            request.resource());
}

std::optional<Caller> RequestPipeline::Authorize(const Rest::Request& request,
                                                Http::ResponseWriter& response,
                                                std::string_view route, Role needed,
                                                bool key_required) {
  const std::string peer = request.address().host();
  if (needed == Role::kViewer && !auth_read_ && !key_required) {
    return Caller{"", Role::kViewer, peer};
  }
  const double now = UnixNow();
  if (const std::optional<double> wait = throttle_.HeldBack(peer, now)) {
    metrics_.CountAuthRefusal("throttled");
    response.headers().add<RetryAfter>(static_cast<int>(std::ceil(*wait)));
    Error(response, route, 429, "too many wrong keys",
          fmt::format("this address sent wrong keys {} times in a row; try again in {:.0f} s",
                      AuthThrottle::kFreeFailures, std::ceil(*wait)));
    return std::nullopt;
  }
  std::string presented;
  if (auto auth = request.headers().tryGet<Http::Header::Authorization>()) {
    const std::string value = auth->value();
    if (value.starts_with("Bearer ")) presented = value.substr(7);
  }
  const KeyRing::Found found = keys_.Authenticate(presented, peer, now);
  if (!found.caller) {
    const std::string_view reason = ToString(found.refusal);
    metrics_.CountAuthRefusal(reason);
    if (found.refusal == Refusal::kStoreDown) {
      Error(response, route, 503, "store unavailable", "API keys cannot be checked now");
      return std::nullopt;
    }
    // A request without a key is not a guess; a wrong one is.
    if (found.refusal != Refusal::kMissing) throttle_.Failed(peer, now);
    response.headers().add<WwwAuthenticateBearer>();
    Error(response, route, 401, "unauthorized",
          found.refusal == Refusal::kMissing
              ? "send 'Authorization: Bearer <key>' (asicmon-control keys add NAME --role ROLE "
                "makes one; CONTROL_TOKEN is the bootstrap admin key)"
              : fmt::format("the key is {}", reason == "unknown" ? "not known" : reason));
    return std::nullopt;
  }
  throttle_.Succeeded(peer);
  if (!Permits(*found.caller, needed, response, route, route)) return std::nullopt;
  return found.caller;
}

bool RequestPipeline::Permits(const Caller& caller, Role needed, Http::ResponseWriter& response,
                              std::string_view route, std::string_view what) {
  if (caller.role >= needed) return true;
  metrics_.CountAuthRefusal("forbidden");
  Error(response, route, 403, "forbidden",
        fmt::format("key '{}' is {} and {} needs {}", caller.name, ToString(caller.role), what,
                    ToString(needed)));
  return false;
}

bool RequestPipeline::MinerPath(const Rest::Request& request, Http::ResponseWriter& response,
                                std::string_view route, std::string& ip, std::string& worker) {
  ip = PathParam(request, ":ip");
  worker = PathParam(request, ":worker");
  for (const Status& s : {ValidateIp(ip), ValidateWorker(worker)}) {
    if (!s.ok()) {
      Error(response, route, 400, "bad request", s.message());
      return false;
    }
  }
  return true;
}

void RequestPipeline::SetEvents(zmq::socket_t events) {
  std::lock_guard lock(events_mutex_);
  events_ = std::move(events);
}

void RequestPipeline::CloseEvents() {
  std::lock_guard lock(events_mutex_);
  events_.reset();
}

void RequestPipeline::Audit(AuditEntry entry) {
  entry.ts = UnixNow();
  metrics_.CountAction(entry.action, entry.result);
  spdlog::info("audit: {} {} {} worker={} {} -> {} {}", entry.actor, entry.action, entry.ip,
               entry.worker, entry.detail, entry.http_status, entry.result);
  Status s = db_.With([&](StoreDb& store) { return store.AppendAudit(entry); });
  if (!s.ok()) spdlog::error("audit row not written: {}", s.ToString());
  PublishEvent(entry);
}

void RequestPipeline::PublishEvent(const AuditEntry& entry,
                                   std::optional<std::chrono::seconds> bound) {
  nlohmann::json event = {{"producer_id", sequencer_.producer_id()},
                          {"ts", entry.ts},
                          {kEventTypeKey, kEventControl},
                          {"kind", kEventControl},  // the previous form, for readers not upgraded
                          {"action", entry.action},
                          {"ip", entry.ip},
                          {"worker", entry.worker},
                          {"actor", entry.actor},
                          {"detail", entry.detail},
                          {"http_status", entry.http_status},
                          {"result", entry.result}};
  if (bound) event["timeout_s"] = bound->count();
  std::lock_guard lock(events_mutex_);
  event["seq"] = sequencer_.Next();
  const std::vector<uint8_t> body = nlohmann::json::to_msgpack(event);
  if (!events_ || !bus::TrySend(*events_, bus::kTopicEvent,
                                std::string_view(reinterpret_cast<const char*>(body.data()),
                                                 body.size()))) {
    spdlog::warn("event for {} {} not sent: the store's ingest is not taking messages",
                 entry.action, entry.ip);
  }
}

void RequestPipeline::PublishHealth(const HealthEvent& event) {
  std::lock_guard lock(events_mutex_);
  if (!events_ || !bus::TrySend(*events_, bus::kTopicEvent, EncodeHealthEvent(event))) {
    spdlog::warn("{} event for {} not sent: the store's ingest is not taking messages",
                 event.kind, event.ip);
  }
}

}  // namespace asicmon::control
