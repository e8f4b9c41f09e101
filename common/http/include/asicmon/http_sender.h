// One HTTP(S) connection to the receiver, kept alive between requests: a
// single reused libcurl easy handle (a new handle per request costs ~35% of
// the request rate, see the style guide's figures).
//
// Thread-safety: one HttpSender per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "asicmon/status.h"

namespace asicmon::http {

struct HttpOptions {
  std::string url;      // http:// or https:// ($API_URL)
  std::string api_key;  // sent as "Authorization: Bearer <key>"; none when empty ($API_KEY)
  std::string ca_file;  // PEM bundle of a private CA for https; empty: the system's ($API_CA_FILE)
  // Whole request, connect included. Default: 5 s ($API_TIMEOUT).
  std::chrono::milliseconds timeout{5000};
  // Bytes of the receiver's answer kept; the rest is read and discarded, so
  // a huge answer costs time (bounded by timeout), never memory. Default: 64 KiB.
  size_t max_reply_bytes = 64 * 1024;
};

struct HttpReply {
  long status = 0;    // the HTTP status; 0 when no answer came
  std::string error;  // libcurl's reason when status is 0
  std::string body;   // at most max_reply_bytes of the answer
  std::optional<std::chrono::seconds> retry_after;  // Retry-After, seconds or HTTP date
};

class HttpSender {
 public:
  // InvalidArgument for a URL that is not http(s) or a handle that cannot be made.
  static Result<std::unique_ptr<HttpSender>> Create(const HttpOptions& options);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  // POSTs `body` with the given Content-Type and Idempotency-Key (none when
  // empty). Returns
  // early (status 0) once `*abort` becomes true.
  HttpReply Post(std::string_view body, std::string_view content_type,
                 std::string_view idempotency_key, const std::atomic<bool>* abort = nullptr);

  // TCP connections opened so far (1 while keep-alive holds).
  long connections_opened() const { return connections_opened_; }

 private:
  explicit HttpSender(HttpOptions options);

  HttpOptions options_;
  void* curl_ = nullptr;  // CURL*, kept out of this header
  long connections_opened_ = 0;
};

}  // namespace asicmon::http
