// The Pistache request handler asicmon-control serves with: the router's,
// with Pistache 0.0.5's request parser hardened against hostile clients.
//
// Pistache reserves a body of the declared Content-Length before reading
// it (a 100 GB claim in a 60-byte request was a 500 "std::bad_alloc"), lets
// exceptions of its header parsers out as 500s ("Host: :::" was "500 Invalid
// port"), and waits out its header timeout (then 408) on a request line
// without a space or a header line without a colon. Here, around Pistache's
// own parse steps:
//   - a Content-Length over kMaxBodyBytes is 413, before any reserve (over
//     the endpoint's request limit for POST kLongBodyRoute, a bulk job that
//     may list many addresses);
//   - Transfer-Encoding is 411 (our bodies are small; chunk sizes would be
//     reserved unchecked like Content-Length);
//   - a whole request line or header section Pistache cannot read is 400;
//   - a request line over kMaxRequestLineBytes is 414, a header section over
//     kMaxHeaderBytes 431 (whole or still arriving);
//   - any other exception of a parse step is 400: the request was malformed;
//   - each refusal is counted (OnRefused): none of them reaches a route.
//
// Thread-safety: as Pistache's handlers (one clone per reactor thread).
#pragma once

#include <pistache/http.h>
#include <pistache/router.h>

#include <functional>
#include <memory>
#include <string_view>

namespace asicmon::control {

inline constexpr size_t kMaxRequestLineBytes = 8 << 10;
inline constexpr size_t kMaxHeaderBytes = 8 << 10;
// A command's body is a pool change at most.
inline constexpr size_t kMaxBodyBytes = 16 << 10;
inline constexpr std::string_view kLongBodyRoute = "/actions";

// "WWW-Authenticate: Bearer", for 401s. A typed header: Pistache 0.0.5
// writes only those into a response, and silently drops headers added raw.
class WwwAuthenticateBearer : public Pistache::Http::Header::Header {
 public:
  NAME("WWW-Authenticate")
  void parse(const std::string&) override {}
  void write(std::ostream& os) const override { os << "Bearer"; }
};

// "Retry-After: <seconds>", for 429s (typed, as WwwAuthenticateBearer).
class RetryAfter : public Pistache::Http::Header::Header {
 public:
  NAME("Retry-After")
  RetryAfter() = default;
  explicit RetryAfter(int seconds) : seconds_(seconds) {}
  void parse(const std::string&) override {}
  void write(std::ostream& os) const override { os << seconds_; }

 private:
  int seconds_ = 1;
};

// Told the HTTP status of each request refused while it was parsed (it
// never reaches a route). Called on Pistache's reactor threads.
using OnRefused = std::function<void(int http_status)>;

// The handler for Http::Endpoint::setHandler, routing with `router`.
// Bodies over the endpoint's maxRequestSize are refused by their declared length.
std::shared_ptr<Pistache::Http::Handler> GuardedHandler(const Pistache::Rest::Router& router,
                                                        OnRefused on_refused);

}  // namespace asicmon::control
