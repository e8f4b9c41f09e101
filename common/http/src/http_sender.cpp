#include "asicmon/http_sender.h"

#include <curl/curl.h>

#include <mutex>

namespace asicmon::http {
namespace {

struct Transfer {
  std::string* body;
  size_t max_bytes;
  const std::atomic<bool>* abort;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->body->size() < t->max_bytes) t->body->append(data, std::min(n, t->max_bytes - t->body->size()));
  return n;  // the rest is read and dropped: keeps the connection usable
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->abort != nullptr && t->abort->load() ? 1 : 0;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<std::unique_ptr<HttpSender>> HttpSender::Create(const HttpOptions& options) {
  if (!StartsWith(options.url, "http://") && !StartsWith(options.url, "https://")) {
    return Status::InvalidArgument("API_URL " + Quoted(options.url) +
                                   " must start with http:// or https://");
  }
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<HttpSender> sender(new HttpSender(options));
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  sender->curl_ = curl;
  curl_easy_setopt(curl, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // a worker thread: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is the operator's to fix
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  return sender;
}

HttpSender::HttpSender(HttpOptions options) : options_(std::move(options)) {}

HttpSender::~HttpSender() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpReply HttpSender::Post(std::string_view body, std::string_view content_type,
                           std::string_view idempotency_key, const std::atomic<bool>* abort) {
  CURL* curl = static_cast<CURL*>(curl_);
  HttpReply reply;
  Transfer transfer{&reply.body, options_.max_reply_bytes, abort};

  curl_slist* headers = nullptr;
  auto add = [&headers](const std::string& line) { headers = curl_slist_append(headers, line.c_str()); };
  add("Content-Type: " + std::string(content_type));
  if (!idempotency_key.empty()) add("Idempotency-Key: " + std::string(idempotency_key));
  if (!options_.api_key.empty()) add("Authorization: Bearer " + options_.api_key);
  add("Expect:");  // no 100-continue round trip before large bodies

  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

  const CURLcode rc = curl_easy_perform(curl);
  long opened = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &opened);
  connections_opened_ += opened;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_off_t retry_after = -1;
    // libcurl parses both forms: delta seconds and an HTTP date.
    if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
      reply.retry_after = std::chrono::seconds(retry_after);
    }
  } else {
    reply.status = 0;
    reply.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  return reply;
}

}  // namespace asicmon::http
