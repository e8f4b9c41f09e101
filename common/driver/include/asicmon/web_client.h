// Blocking HTTP/1.1 requests to one miner's web UI or HTTP API (libcurl), for
// the control drivers: Digest auth (stock Antminer CGI), Basic, a bearer
// token (Vnish, Braiins) or none; JSON or form bodies; replies capped.
//
// Thread-safety: every call is independent (its own curl handle).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "asicmon/driver.h"

namespace asicmon::driver {

enum class WebAuth { kNone, kDigest, kBasic, kBearer };

struct WebRequest {
  std::string method = "GET";  // a body makes it POST unless method says otherwise
  std::string path;            // "/cgi-bin/get_miner_conf.cgi"
  std::string body;
  std::string content_type;    // default for a body: application/x-www-form-urlencoded
  WebAuth auth = WebAuth::kNone;
  std::string user;            // Digest and Basic
  std::string secret;          // the password, or the bearer token
  std::vector<std::string> headers;  // more "Name: value" lines
  // A request that changes something: bounded by http_write_timeout.
  bool write = false;
};

struct WebReply {
  long http_status = 0;  // 0 when no HTTP answer came
  std::string body;
  bool timed_out = false;
  std::string error;  // transport failure, "" when an HTTP answer came

  bool answered() const { return error.empty(); }
  bool ok() const { return answered() && http_status / 100 == 2; }
};

// The miner's web replies are a few KB; more is not a miner.
inline constexpr size_t kMaxWebReplyBytes = 256 << 10;

// One request to http://ip:options.http_port/path.
WebReply WebCall(const DriverOptions& options, const std::string& ip, const WebRequest& request);

// The outcome for a request that did not answer 2xx: kTimeout, kUnreachable,
// kCredentials for 401/403 (the step named), kRefused for the rest.
Outcome WebFailed(std::string step, const WebReply& reply);

// `value` escaped for an application/x-www-form-urlencoded body.
std::string FormEscape(std::string_view value);

}  // namespace asicmon::driver
