// What every request to control's REST API goes through, whichever handler
// serves it: the caller's key and role (keys.h), the answer (JSON, counted per route in
// /metrics, large bodies chunked), the decoding of path and query
// parameters, and for writes the audit trail: a store row plus an event on
// the bus for each command a miner was sent.
//
// Thread-safety: every method may be called from any thread (request,
// action and bus threads); the events socket is behind a mutex.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <pistache/http.h>
#include <pistache/router.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/health.h"
#include "asicmon/store_db.h"
#include "db_pool.h"
#include "keys.h"
#include "metrics.h"

namespace asicmon::control {

// Sends `body` with `status`; over a megabyte it goes chunked.
void SendBody(Pistache::Http::ResponseWriter& response, int status, const std::string& body);

// A query parameter, percent- and '+'-decoded (Pistache hands them over raw).
std::optional<std::string> Query(const Pistache::Rest::Request& request, const std::string& name);

// A path parameter, percent-decoded once; "" when it cannot be decoded.
std::string PathParam(const Pistache::Rest::Request& request, const std::string& name);

// A query parameter as a finite number; nullopt when absent, and when it is
// not a number (then `error` says so).
std::optional<double> QueryDouble(const Pistache::Rest::Request& request, const std::string& name,
                                  std::string& error);

// Takes `response` to be answered later from another thread (a live poll,
// a command on a miner). Call it on the transport thread running the handler.
std::shared_ptr<Pistache::Http::ResponseWriter> AnswerLater(
    Pistache::Http::ResponseWriter&& response);

class RequestPipeline {
 public:
  // `token`: CONTROL_TOKEN, the bootstrap admin key (none when empty);
  // `auth_read` makes reads need a key too.
  RequestPipeline(std::string token, bool auth_read, Metrics& metrics, DbPool& db);

  // --- answers (each counted for `route` in /metrics) ----------------------
  void Answer(Pistache::Http::ResponseWriter& response, std::string_view route, int status,
              const nlohmann::json& body);
  // `body` is JSON text already.
  void AnswerText(Pistache::Http::ResponseWriter& response, std::string_view route, int status,
                  const std::string& body);
  // {"error": error, "detail": detail}
  void Error(Pistache::Http::ResponseWriter& response, std::string_view route, int status,
             std::string_view error, std::string_view detail);
  // The 404 for a request no route takes.
  void NotFound(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter response);

  // --- the caller -----------------------------------------------------------
  // The caller, when the request may go on: a read (`needed` viewer) is
  // open unless auth_read or `key_required`; anything else needs a key whose
  // role is at least `needed`. Otherwise answered: 401 (no key, or a wrong,
  // revoked or expired one), 403 (a role short of `needed`), 429 (a peer
  // held back after wrong keys), 503 (the store cannot be asked).
  std::optional<Caller> Authorize(const Pistache::Rest::Request& request,
                                  Pistache::Http::ResponseWriter& response, std::string_view route,
                                  Role needed, bool key_required = false);
  // For routes whose role depends on the body (a bulk job's action): whether
  // `caller` may do `what`; 403 answered when not.
  bool Permits(const Caller& caller, Role needed, Pistache::Http::ResponseWriter& response,
               std::string_view route, std::string_view what);
  // ip and worker from the path, validated; false (answered 400) when bad.
  bool MinerPath(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
                 std::string_view route, std::string& ip, std::string& worker);

  // --- the audit trail and the bus ------------------------------------------
  // Where events go (the store's ingest); until then, and after
  // CloseEvents, an event is logged as not sent.
  void SetEvents(zmq::socket_t events);
  void CloseEvents();
  // A command's row in the store (ts now), counted, logged, and published.
  void Audit(AuditEntry entry);
  // A control event on the bus. `bound`, for an announcement: the longest
  // the command can take (timeout_s).
  void PublishEvent(const AuditEntry& entry,
                    std::optional<std::chrono::seconds> bound = std::nullopt);
  // A health event (remediation_failed) to the store, which stores and relays it.
  void PublishHealth(const HealthEvent& event);

 private:
  const bool auth_read_;
  KeyRing keys_;
  AuthThrottle throttle_;
  Metrics& metrics_;
  DbPool& db_;
  std::mutex events_mutex_;  // the PUSH socket is used from action threads
  std::optional<zmq::socket_t> events_;
  bus::Sequencer sequencer_{bus::DefaultProducerId("control")};
};

}  // namespace asicmon::control
