#include "asicmon/web_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cctype>
#include <memory>

namespace asicmon::driver {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t AppendCapped(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (body->size() + bytes > kMaxWebReplyBytes) return 0;  // curl ends with a write error
  body->append(data, bytes);
  return bytes;
}

}  // namespace

WebReply WebCall(const DriverOptions& options, const std::string& ip, const WebRequest& request) {
  WebReply reply;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    reply.error = "libcurl could not start";
    return reply;
  }
  const std::string url = fmt::format("http://{}:{}{}", ip, options.http_port, request.path);
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  switch (request.auth) {
    case WebAuth::kNone:
    case WebAuth::kBearer:
      break;
    case WebAuth::kDigest:
    case WebAuth::kBasic:
      curl_easy_setopt(c, CURLOPT_HTTPAUTH,
                       request.auth == WebAuth::kDigest ? CURLAUTH_DIGEST : CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, request.user.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, request.secret.c_str());
      break;
  }
  const auto timeout = request.write ? options.http_write_timeout : options.http_timeout;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.api.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are threaded
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // A miner on the LAN, never through a proxy http_proxy or ALL_PROXY names
  // (as the Braiins gRPC channel): the request goes to `ip` or nowhere.
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendCapped);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto header = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  if (!request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }
  if (request.method != "GET" && request.method != "POST") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method == "POST" && request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  if (!request.content_type.empty()) header("Content-Type: " + request.content_type);
  if (request.auth == WebAuth::kBearer) header("Authorization: Bearer " + request.secret);
  for (const std::string& line : request.headers) header(line);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    reply.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    reply.error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.http_status);
  return reply;
}

Outcome WebFailed(std::string step, const WebReply& reply) {
  if (reply.timed_out) return Outcome::Fail(Failure::kTimeout, std::move(step), reply.error);
  if (!reply.answered()) return Outcome::Fail(Failure::kUnreachable, std::move(step), reply.error);
  if (reply.http_status == 401 || reply.http_status == 403) {
    return Outcome::Fail(Failure::kCredentials, std::move(step),
                         fmt::format("HTTP {}: the miner refused the login", reply.http_status));
  }
  return Outcome::Fail(Failure::kRefused, std::move(step),
                       fmt::format("HTTP {}", reply.http_status));
}

std::string FormEscape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace asicmon::driver
