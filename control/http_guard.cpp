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
// (which it answers with the status it carries) turned into a 400.
template <typename Base>
class Guarded : public Base {
 public:
  using Base::Base;
  State apply(StreamCursor& cursor) override {
    try {
      return Base::apply(cursor);
    } catch (const Http::HttpError&) {
      throw;
    } catch (const std::exception&) {
      Http::Private::Step::raise("Malformed request");
    }
    return State::Again;  // not reached: raise throws
  }
};

class RequestLineStep : public Guarded<Http::Private::RequestLineStep> {
 public:
  using Guarded::Guarded;
  State apply(StreamCursor& cursor) override {
    const size_t start = cursor;
    const State state = Guarded::apply(cursor);
    const std::string_view rest = Unparsed(cursor);
    if (state == State::Again && rest.find('\n') != std::string_view::npos) {
      // Pistache reads the target up to a space, so a line without one would
      // wait for the header timeout: a whole line it could not take is bad.
      raise("Malformed request line");
    }
    if ((state == State::Again ? rest.size() : static_cast<size_t>(cursor) - start) >
        kMaxRequestLineBytes) {
      raise("Request line too long", Http::Code::RequestURI_Too_Long);
    }
    return state;
  }
};

class HeadersStep : public Guarded<Http::Private::HeadersStep> {
 public:
  using Guarded::Guarded;
  State apply(StreamCursor& cursor) override {
    const size_t start = cursor;
    const State state = Guarded::apply(cursor);
    const std::string_view rest = Unparsed(cursor);
    if (state == State::Again && rest.find("\r\n\r\n") != std::string_view::npos) {
      // The section ended, yet Pistache waits: a line without a colon.
      raise("Malformed header section");
    }
    if ((state == State::Again ? rest.size() : static_cast<size_t>(cursor) - start) >
        kMaxHeaderBytes) {
      raise("Header section too large", Http::Code::Request_Header_Fields_Too_Large);
    }
    return state;
  }
};

class BodyStep : public Guarded<Http::Private::BodyStep> {
 public:
  BodyStep(Http::Message* request, size_t max_body_bytes)
      : Guarded(request), max_body_bytes_(max_body_bytes) {}
  State apply(StreamCursor& cursor) override {
    const Http::Header::Collection& headers = std::as_const(*message).headers();
    if (headers.has<Http::Header::TransferEncoding>()) {
      raise("Send the body with a Content-Length", Http::Code::Length_Required);
    }
    const auto length = headers.tryGet<Http::Header::ContentLength>();
    if (length && length->value() > max_body_bytes_) {
      raise("Request body larger than the limit", Http::Code::Request_Entity_Too_Large);
    }
    return Guarded::apply(cursor);
  }

 private:
  size_t max_body_bytes_;
};

class RequestParser : public Http::RequestParser {
 public:
  explicit RequestParser(size_t max_request_bytes) : Http::RequestParser(max_request_bytes) {
    // The steps keep pointing at `request`, which reset() reassigns in place.
    allSteps[0] = std::make_unique<RequestLineStep>(&request);
    allSteps[1] = std::make_unique<HeadersStep>(&request);
    allSteps[2] = std::make_unique<BodyStep>(&request, max_request_bytes);
  }
};

class RouterHandler : public Rest::Private::RouterHandler {
 public:
  HTTP_PROTOTYPE(RouterHandler)
  using Rest::Private::RouterHandler::RouterHandler;

 private:
  // All that Http::Handler::onConnection does, with our parser.
  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    peer->putData(ParserData, std::make_shared<RequestParser>(getMaxRequestSize()));
  }
};

}  // namespace

std::shared_ptr<Http::Handler> GuardedHandler(const Rest::Router& router) {
  return std::make_shared<RouterHandler>(router);
}

}  // namespace asicmon::control
