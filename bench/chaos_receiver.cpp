// The push receiver of bench/chaos.sh: an HTTP/1.1 server (tests/testlib's)
// that takes asicmon-push's JSON batches and appends one line per record,
// "<producer_id> <seq> <ts> <ip> <status>", to --out before it answers 200.
// A batch it cannot parse is answered 400 (push dead-letters it, which the
// chaos run then counts as a push loss). The script counts records unique by
// (producer_id, seq) and the duplicates (resends) from the file, so this
// process may be stopped and started again (the receiver's outage): it
// appends. Runs until SIGTERM or SIGINT; prints READY once it listens.
//
// Usage: chaos_receiver --ip 127.82.0.1 --port 18080 --out records.txt
#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "http_server.h"

namespace {

using asicmon::testing::HttpAnswer;
using asicmon::testing::HttpRequest;
using asicmon::testing::TestHttpServer;

// The lines of one batch, or why it is refused.
bool BatchLines(const std::string& body, std::string& lines, std::string& error) {
  const nlohmann::json batch = nlohmann::json::parse(body, nullptr, false);
  if (!batch.is_array()) {
    error = "body is not a JSON array";
    return false;
  }
  for (const nlohmann::json& r : batch) {
    if (!r.is_object() || !r.contains("producer_id") || !r.contains("seq") ||
        !r["producer_id"].is_string() || !r["seq"].is_number_unsigned()) {
      error = "a record without producer_id and seq";
      return false;
    }
    fmt::format_to(std::back_inserter(lines), "{} {} {} {} {}\n",
                   r["producer_id"].get<std::string>(), r["seq"].get<uint64_t>(),
                   r.value("ts", 0.0), r.value("ip", std::string("-")),
                   r.value("status", std::string("-")));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ip = "127.82.0.1";
  uint16_t port = 18080;
  std::string out_path;
  CLI::App app{"chaos_receiver: records every record asicmon-push delivers, one line each"};
  app.add_option("--ip", ip, "Loopback address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port")->capture_default_str();
  app.add_option("--out", out_path, "File the record lines are appended to")->required();
  CLI11_PARSE(app, argc, argv);

  std::FILE* out = std::fopen(out_path.c_str(), "a");
  if (out == nullptr) {
    std::perror(out_path.c_str());
    return 1;
  }
  // Signals are taken by sigwait below, not by the server's threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::mutex out_mutex;
  try {
    TestHttpServer server(ip, port);
    server.KeepBodies(false);
    server.Answer([&](const HttpRequest& request) {
      std::string lines;
      std::string error;
      if (!BatchLines(request.body, lines, error)) {
        std::fprintf(stderr, "refused a batch: %s\n", error.c_str());
        return HttpAnswer::Status(400, error);
      }
      std::lock_guard lock(out_mutex);
      // Written before the 200: what push counts as delivered is on file.
      if (std::fwrite(lines.data(), 1, lines.size(), out) != lines.size() ||
          std::fflush(out) != 0) {
        return HttpAnswer::Status(503, "cannot write " + out_path);
      }
      return HttpAnswer{};
    });
    std::printf("READY %s:%u\n", ip.c_str(), server.port());
    std::fflush(stdout);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    server.Refuse();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chaos_receiver: %s\n", e.what());
    return 1;
  }
  std::fclose(out);  // the server and its threads are gone by now
  return 0;
}
