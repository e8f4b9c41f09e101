// asicmon-control's REST API (Pistache): reads from the store, live polls,
// and the write commands (reset, reboot, pool) with their safety rules:
// API keys with roles (keys.h), HTTPS when given a certificate, every input validated before a
// miner is contacted, one command at a time per miner, a reboot cooldown,
// and an audit row plus a bus event for every write.
//
// Threads: Pistache's request threads answer store reads and validate;
// live polls run on LivePolls' thread; write commands on a small pool of
// action threads (they block on the miner); one thread watches the bus for
// /metrics. Responses are sent from whichever thread finishes the work.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actions.h"
#include "curtail.h"
#include "asicmon/bus.h"
#include "asicmon/status.h"
#include "asicmon/store_db.h"

namespace asicmon::control {

struct ServiceOptions {
  std::string bind = "127.0.0.1:8000";  // CONTROL_BIND
  int threads = 2;                      // CONTROL_THREADS: Pistache request threads
  int action_threads = 16;              // CONTROL_ACTION_THREADS: concurrent write commands
  std::string token;                    // CONTROL_TOKEN: the bootstrap admin key ("" none)
  bool auth_read = false;               // CONTROL_AUTH_READ: reads need a key too
  std::string tls_cert, tls_key;        // CONTROL_TLS_CERT / _KEY (PEM): HTTPS when both set
  std::chrono::seconds reboot_cooldown{300};  // REBOOT_COOLDOWN_S
  StoreOptions db;                      // ASICMON_DB
  std::string web_dir;                  // ASICMON_WEB_DIR: openapi.json, swagger-ui/, dashboard/
  bus::Endpoints endpoints;             // events go to ingest, counters come from publish
  ActionOptions actions;
  // POST /actions may list up to 100,000 addresses; every other body is 16 KiB at most (http_guard.h).
  size_t max_request_bytes = 2 << 20;
  bool auto_actions = false;            // AUTO_ACTIONS: rules may act on their own
  std::string rules_file;               // REMEDIATION_RULES: the rules (JSON); "" = none
  std::chrono::milliseconds curtail_interval{15000};  // CURTAIL_INTERVAL_S: between plans
  std::vector<CurtailWindow> curtail_windows;         // CURTAIL_WINDOWS: time-of-use targets
};

class Service {
 public:
  // Opens the store (creating the schema it needs), binds the port, starts
  // every thread. IoError naming what failed.
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options);
  ~Service();  // Shutdown()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  uint16_t port() const;
  // Reads the rules file again (SIGHUP). A bad file keeps the old rules.
  Status ReloadRules();
  // Stops taking requests, waits for running commands to end, closes the bus.
  void Shutdown();

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The directory holding openapi.json, swagger-ui/ and dashboard/: $ASICMON_WEB_DIR, else
// share/asicmon/web beside or above the executable, else "" (not found).
std::string FindWebDir(const std::string& configured);

// What to warn of, at start and on /healthz, when `options` serve keys in
// clear text beyond loopback; "" when they do not.
std::string PlainTextWarning(const ServiceOptions& options);

}  // namespace asicmon::control
