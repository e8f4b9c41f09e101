#include "http_guard.h"

#include <pistache/peer.h>

#include <string_view>
#include <utility>

namespace asicmon::control {
namespace {

using namespace Pistache;
using Http::Private::State;

// The bytes received and not yet parsed, from the cursor on.
std::string_view Unparsed(const StreamCursor& cursor) {
  return {cursor.offset(), cursor.remaining()};
}

// Pistache's step `Base`, with any exception other than its own HttpError
// (which it answers with the status it carries) turned into a 400; every
// refusal is told to `on_refused` first.
template <typename Base>
class Guarded : public Base {
 public:
  Guarded(Http::Request* request, const OnRefused& on_refused)
      : Base(request), on_refused_(on_refused) {}
  State apply(StreamCursor& cursor) override {
    try {
      return Base::apply(cursor);
    } catch (const Http::HttpError& refused) {
      if (on_refused_) on_refused_(refused.code());
      throw;
    } catch (const std::exception&) {
      Refuse("Malformed request", Http::Code::Bad_Request);
    }
    return State::Again;  // not reached: Refuse throws
  }

 protected:
  [[noreturn]] void Refuse(const char* reason, Http::Code code) {
    if (on_refused_) on_refused_(static_cast<int>(code));
    Http::Private::Step::raise(reason, code);
    __builtin_unreachable();  // raise throws; Pistache 0.0.5 does not declare it [[noreturn]]
  }

 private:
  const OnRefused& on_refused_;  // the handler's, which outlives its parsers
};

// Pistache's step `Base`, bounded: waiting for more although `end` (what
// ends the part it parses) has arrived means it cannot read the part (400);
// a part longer than `max_bytes`, whole or still arriving, is `too_long`.
template <typename Base>
class Bounded : public Guarded<Base> {
 public:
  Bounded(Http::Request* request, const OnRefused& on_refused, std::string_view end,
          size_t max_bytes, Http::Code too_long)
      : Guarded<Base>(request, on_refused), end_(end), max_bytes_(max_bytes), too_long_(too_long) {}
  State apply(StreamCursor& cursor) override {
    const size_t start = cursor;
    const State state = Guarded<Base>::apply(cursor);
    const std::string_view rest = Unparsed(cursor);
    if (state == State::Again && rest.find(end_) != std::string_view::npos) {
      this->Refuse("Malformed request", Http::Code::Bad_Request);
    }
    if ((state == State::Again ? rest.size() : static_cast<size_t>(cursor) - start) > max_bytes_) {
      this->Refuse("Request line or header section too long", too_long_);
    }
    return state;
  }

 private:
  std::string_view end_;
  size_t max_bytes_;
  Http::Code too_long_;
};

class BodyStep : public Guarded<Http::Private::BodyStep> {
 public:
  BodyStep(Http::Request* request, const OnRefused& on_refused, size_t max_body_bytes)
      : Guarded(request, on_refused), request_(request), max_body_bytes_(max_body_bytes) {}
  State apply(StreamCursor& cursor) override {
    const Http::Header::Collection& headers = std::as_const(*message).headers();
    if (headers.has<Http::Header::TransferEncoding>()) {
      Refuse("Send the body with a Content-Length", Http::Code::Length_Required);
    }
    const auto length = headers.tryGet<Http::Header::ContentLength>();
    const bool long_body_route =
        request_->method() == Http::Method::Post && request_->resource() == kLongBodyRoute;
    if (length && length->value() > (long_body_route ? max_body_bytes_ : kMaxBodyBytes)) {
      Refuse("Request body larger than the limit", Http::Code::Request_Entity_Too_Large);
    }
    return Guarded::apply(cursor);
  }

 private:
  const Http::Request* request_;
  size_t max_body_bytes_;
};

class RequestParser : public Http::RequestParser {
 public:
  RequestParser(size_t max_request_bytes, const OnRefused& on_refused)
      : Http::RequestParser(max_request_bytes) {
    // The steps keep pointing at `request`, which reset() reassigns in place.
    // Pistache reads a request line's target up to a space, and a header's
    // name up to a colon: without them it would wait for its header timeout.
    allSteps[0] = std::make_unique<Bounded<Http::Private::RequestLineStep>>(
        &request, on_refused, "\n", kMaxRequestLineBytes, Http::Code::RequestURI_Too_Long);
    allSteps[1] = std::make_unique<Bounded<Http::Private::HeadersStep>>(
        &request, on_refused, "\r\n\r\n", kMaxHeaderBytes, Http::Code::Request_Header_Fields_Too_Large);
    allSteps[2] = std::make_unique<BodyStep>(&request, on_refused, max_request_bytes);
  }
};

class RouterHandler : public Rest::Private::RouterHandler {
 public:
  HTTP_PROTOTYPE(RouterHandler)
  RouterHandler(const Rest::Router& routes, std::shared_ptr<const OnRefused> on_refused)
      : Rest::Private::RouterHandler(routes), on_refused_(std::move(on_refused)) {}

 private:
  // All that Http::Handler::onConnection does, with our parser.
  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    peer->putData(ParserData, std::make_shared<RequestParser>(getMaxRequestSize(), *on_refused_));
  }

  // Shared by the clones, so it outlives every parser they made.
  std::shared_ptr<const OnRefused> on_refused_;
};

}  // namespace

std::shared_ptr<Http::Handler> GuardedHandler(const Rest::Router& router, OnRefused on_refused) {
  return std::make_shared<RouterHandler>(router,
                                         std::make_shared<const OnRefused>(std::move(on_refused)));
}

}  // namespace asicmon::control
