// asicmon-fakefarm: serves N simulated Antminers, one per loopback address,
// from one single-threaded process. Data (the manifest with `-`, the READY
// line) goes to stdout; logs go to stderr.
//
// Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 failure, 2 bad configuration.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "asicmon/log.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "farm_server.h"

namespace {

using asicmon::fakefarm::FarmOptions;
using asicmon::fakefarm::FarmServer;
using asicmon::fakefarm::RestartReply;

constexpr const char* kFooter =
    R"(Fault kinds (--fault KIND=N or KIND=P%, repeatable; a miner has at most one;
which miners is a seeded shuffle, so the same --seed gives the same farm):
  slow       answers correctly, but only after --slow-ms
  silent     accepts and reads, never answers, holds the connection until the client closes
  reset      reads the request, then closes with RST (the client sees ECONNRESET)
  garbage    answers a few hundred random non-JSON bytes, then closes
  broken     answers the first half of a normal reply, then closes normally
  huge       answers --huge-bytes of a JSON stats reply that never ends, then closes
  flapping   listening socket closed and reopened every --flap-period-s (refused while down)
  deadboard  healthy replies except one hash board: no chips, no hashrate

Scenario (--scenario FILE): changes miners while the farm runs, for tests of health alerts.
One JSON object per line (blank lines skipped), each one timed change of one miner:
  {"at_s": 2.5, "miner": 0, "fault": "silent"}         at_s: seconds after READY; miner: 0-based
  {"at_s": 5, "ip": "127.44.0.3", "temp_offset": 30}   ... or ip names the miner
  {"at_s": 7, "miner": 1, "dead_board": true}          as the deadboard fault; false: it comes back
  {"at_s": 9, "miner": 2, "fans_stopped": 1}           that many fans at 0 rpm; 0: all turn again
  {"at_s": 4, "miner": 1, "sleeping": true}            asleep or awake as by the miner's own web
                                                       page (S17 and S19 families only)
  fault          any fault but deadboard (dead_board does that); exchanges under way finish
                 under the fault they began with; flapping starts with the miner going down
  temp_offset    whole °C added to every live board's pcb and chip temperatures; 0 is normal
A line may carry several changes. A bad line (bad JSON, unknown key, unknown miner, negative
at_s, no change) stops the farm at start with exit code 2, naming the line. Each change is
logged at info: "scenario: 127.44.0.3 temp_offset=30". The manifest stays the plan at start.

Protocol: {"command":"summary+stats+pools"}, {"command":"addpool","parameter":"url,user,pass"}
or "command|parameter" text; one reply per connection, then the miner closes. Read commands:
summary, stats, pools, version, devs. Privileged commands, which change the miner's state:
restart, addpool, switchpool, removepool, enablepool, disablepool. The S9 and L3+ end their
replies with a NUL byte; their stats carry the `}{` quirk of the real firmware. restart answers
as stock firmware does, with no STATUS block (--restart-reply), and the uptime starts again.
LuxOS (luxos-s19): logon opens the one session (a second is refused until logoff or a minute
unused); curtail, profileset, ledset, logoff, resetminer and rebootdevice take its id first
("<id>,sleep"), else code 45; curtail sleep answers first and stops hashing --halt-s later;
profiles and config read back; a profile's watts and hashrate ramp over --wake-ramp-s;
resetminer and rebootdevice take the miner down for --restart-s / --reboot-s.
Avalon (avalon1246, avalonq): ascset "0,softoff,1:<unix time>" / softon (idle or back at that
time), "0,led,1-1"/"1-0" (1246), "0,workmode,set,<0-2>" (Q: eco, standard, super), "0,reboot,0"
(down for --reboot-s), "0,help"; other options "ASC 0 set failed: Unknown option". The Q
closes the connection without answering softon.

Whatsminers (m31s, m60s): btminer's privileged API v2 on the API port: {"cmd":"get_token"},
then {"enc":1,"data":...} signed and AES-encrypted with the admin password "admin" (Whatsminer
API V2.0.5): restart_btminer (API down for --restart-s), reboot and adjust_power_limit (down for
--reboot-s), update_pools, set_led, power_off (answered, hashing until --halt-s later) /
power_on, set_low/normal/high_power. The m60s also takes API v3's set.* commands on 4433
(account and password "super"): set.system.reboot, set.miner.service restart/stop/start,
set.system.led, set.miner.pools, set.miner.power_mode, set.miner.power_limit (then down for
--reboot-s, as the v3 document says). A new power mode or limit moves watts and hashrate after --wake-idle-s;
a wrong password is refused (v2: Code 23 "json cmd err" in clear; v3: code -4 "no permission").

Web interface (--http-port N): every miner also serves stock firmware's CGI scripts on ip:N,
behind HTTP Digest auth (MD5, qop=auth, realm "antMiner Configuration", --http-user and
--http-password); faults other than flapping leave it alone:
  GET  /cgi-bin/reboot.cgi          200, then the miner's API and web ports refuse connections
                                    for --reboot-s; it comes back with uptime 0
  GET  /cgi-bin/get_miner_conf.cgi  the configuration as JSON: pools (url, user, pass), api-*,
                                    bitmain-*
  POST /cgi-bin/set_miner_conf.cgi  form _ant_pool1url, _ant_pool1user, _ant_pool1pw, ... pool3pw
                                    (other _ant_* fields ignored): pools with a url replace the
                                    miner's pools and its mining software restarts: the API
                                    refuses connections for --restart-s, then comes back with
                                    uptime 0; answers 200 "ok", and leaves the pools as they were
                                    when a url is not stratum+tcp://host:port. S17 and S19
                                    families also take the X19 JSON form with "miner-mode" 1
                                    (sleep) or 0 (wake, then no hashrate for --wake-idle-s and a
                                    rise to nominal over --wake-ramp-s)
Bad requests are 400, oversized ones 413 (body over 16 KiB) or 431 (headers over 8 KiB), unknown
paths 404, other methods 405; every answer closes the connection.

HTTP APIs (--models all, epic-s19xp, bitaxe-supra): models with no cgminer API answer HTTP/1.1
GETs of JSON documents instead, with the faults applied as to any API:
  epic-s19xp    ePIC UMC on the API port (--port): GET /summary, /capabilities, /network,
                /temps; anything that is not an HTTP request (a cgminer request) 400 at once
  bitaxe-supra  AxeOS on the web port (--http-port, else 80; nothing on --port):
                GET /api/system/info
Other methods on those paths are 405, other paths 404. No stock CGI on these models.

Vnish (vnish-s21pro): an S21 Pro on Vnish 1.2.7 answers the cgminer API as its captures (version
refused "Invalid command", a DevFee pool) and Vnish's HTTP API on the web port (--http-port, needed):
POST /api/v1/unlock {"pw":"admin"} gives a bearer token (a wrong one 403, a missing or bad bearer
401); POST mining/stop (hashing stops after --wake-idle-s), mining/start (idle, then --wake-ramp-s),
mining/restart (--restart-s), system/reboot (--reboot-s), find-miner (a toggle); GET/POST settings
(pools; overclock.preset, the draw and hashrate moving to the preset over --power-ramp-s);
GET autotune/presets and status (miner_state, find_miner).

Braiins OS public API (--bos-grpc-port, 50051; 0 for none): each Braiins OS miner (bos-s19xp)
also serves gRPC braiins.bos.v1 on ip:50051: Login (--http-user/--http-password; a wrong one is
UNAUTHENTICATED "Bad credentials") gives the token the other calls send as "authorization";
PauseMining, ResumeMining, Restart, Reboot, SetLocateDeviceStatus, SetPoolGroups, SetPowerTarget
(100-5000 W; the tuner's watts and the hashrate follow over --power-ramp-s), and GetTunerState,
GetLocateDeviceStatus, GetMinerDetails to read back. Logged with port 50051.

Output: with --manifest -, one JSON line per miner on stdout (with "http_port" when the web
interface is on); then "READY <count>" once every miner listens. Each privileged command, and
each reboot and set_miner_conf of the web interface, is logged on stderr and, with --action-log,
appended to that file as {"ts","ip","port","command","parameter","result":"ok"|"denied"|"error"}
(port: the one the command came in on).)";

int RunFarm(int argc, char** argv) {
  FarmOptions options;
  std::string models = "default";
  std::vector<std::string> faults;
  std::string deny = "none";
  std::string manifest;
  std::string scenario;
  asicmon::StageFlags stage;
  int port = options.port;
  int http_port = 0;

  CLI::App app{
      "asicmon-fakefarm: simulated Antminer farm speaking the CGMiner/BMMiner API, one "
      "miner per loopback address, all in one single-threaded process"};
  app.footer(kFooter);
  app.add_option("--base", options.base,
                 "Address of the first miner; miner i is at base+i "
                 "(must stay inside 127.0.0.0/8)")
      ->capture_default_str();
  app.add_option("--count", options.count, "Number of miners")
      ->required()
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--port", port, "TCP port every miner listens on")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--models", models,
                 "Models, assigned round-robin: a comma-separated list of "
                 "s9, s17pro, s19pro, s19jpro, l3plus, s21, ks7, z15, avalon1246, avalonq, m31s, "
                 "m60s, bos-s19xp, luxos-s19, epic-s19xp, bitaxe-supra, vnish-s21pro; default "
                 "(every model "
                 "with a cgminer-style API: all but epic-s19xp and bitaxe-supra); or all")
      ->capture_default_str();
  app.add_option("--machines", options.machines,
                 "The machine at each address, comma-separated (one per miner): a machine "
                 "keeps its model, worker, MAC and serial at whatever address, so restarting "
                 "with them reordered is a DHCP move or swap (default 0,1,2,...)")
      ->delimiter(',');
  app.add_option("--seed", options.seed,
                 "Seed of every pseudo-random choice (faults, "
                 "read-only miners, telemetry)")
      ->capture_default_str();
  app.add_option("--fault", faults,
                 "KIND=N or KIND=P%: give that fault to N miners or P% of "
                 "them (kinds below); repeatable");
  app.add_option("--slow-ms", options.slow_ms, "Delay of the slow fault's replies, ms")
      ->capture_default_str()
      ->check(CLI::Range(0, 600'000));
  app.add_option("--huge-bytes", options.huge_bytes, "Size of the huge fault's reply, bytes")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 31));
  app.add_option("--flap-period-s", options.flap_period_s,
                 "Time a flapping miner stays up, "
                 "then down, s")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--deny-privileged", deny,
                 "Miners whose API is read-only (they answer "
                 "privileged commands with Code 45 \"Access denied\"): none, all, N or P%")
      ->capture_default_str();
  app.add_option("--restart-reply", options.restart_reply,
                 "What the API answers to restart: cgminer ({\"RESTART\",\"id\":1}, "
                 "cgminer 4.x) or status ({\"STATUS\":\"RESTART\"}, other builds)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, RestartReply>{{"cgminer", RestartReply::kCgminer},
                                              {"status", RestartReply::kStatusWord}}))
      ->default_str("cgminer");
  app.add_option("--action-log", options.action_log,
                 "Append every privileged command received "
                 "to FILE as a JSON line, flushed at once");
  app.add_option("--http-port", http_port,
                 "Port of every miner's web interface (reboot, miner configuration); 0 for none")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--http-user", options.http_user, "User of the web interface's Digest auth")
      ->capture_default_str();
  app.add_option("--http-password", options.http_password,
                 "Password of the web interface's Digest auth")
      ->capture_default_str();
  app.add_option("--reboot-s", options.reboot_s,
                 "How long a reboot through the web interface keeps a miner down, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--restart-s", options.restart_s,
                 "How long a configuration written through the web interface (pools, sleep, "
                 "wake) keeps a miner's API down while its mining software restarts, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--wake-idle-s", options.wake_idle_s,
                 "How long a woken miner hashes nothing once its mining software is up, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--wake-ramp-s", options.wake_ramp_s,
                 "Then how long its hashrate takes to rise to nominal, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--power-ramp-s", options.power_ramp_s,
                 "How long a Braiins OS miner's draw and hashrate take to reach a new power "
                 "target, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--halt-s", options.halt_s,
                 "How long a Whatsminer (power_off, set.miner.service stop) or LuxOS miner "
                 "(curtail sleep) goes on hashing after answering its sleep command, s")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--bos-grpc-port", options.bos_grpc_port,
                 "Port of the Braiins OS public API (gRPC: login, pause/resume, restart, reboot, "
                 "locate, pools, power target) on every Braiins OS miner; 0 for none")
      ->capture_default_str();
  app.add_option("--conf-write-s", options.conf_write_s,
                 "How long set_miner_conf.cgi takes to answer, s (the change applies at once); "
                 "some S19j Pro firmware takes ~21")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--scenario", scenario,
                 "Timed changes of miners after READY (fault, temperature, dead board, stopped "
                 "fans), JSON lines in FILE; format below");
  app.add_option("--manifest", manifest,
                 "Write one JSON line per miner to FILE, or to stdout "
                 "before the READY line with -");
  asicmon::SettingsTable settings(app);
  asicmon::AddStageSettings(settings, stage, /*with_stats=*/false);
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "fakefarm", stage, settings.env_status())) {
    return *exit_code;
  }
  auto config_error = [](const asicmon::Status& s) {
    spdlog::error("{}", s.message());
    return 2;
  };
  options.port = static_cast<uint16_t>(port);
  options.http_port = static_cast<uint16_t>(http_port);
  auto parsed_models = asicmon::fakefarm::ParseModels(models);
  if (!parsed_models.ok()) return config_error(parsed_models.status());
  options.models = *parsed_models;
  for (const std::string& f : faults) {
    auto request = asicmon::fakefarm::ParseFaultRequest(f);
    if (!request.ok()) return config_error(request.status());
    options.faults.push_back(*request);
  }
  auto parsed_deny = asicmon::fakefarm::ParseDenyRequest(deny);
  if (!parsed_deny.ok()) return config_error(parsed_deny.status());
  options.deny = *parsed_deny;
  auto plans = asicmon::fakefarm::PlanFarm(options);
  if (!plans.ok()) return config_error(plans.status());
  if (!scenario.empty()) {
    std::ifstream in(scenario, std::ios::binary);
    if (!in.is_open()) {
      spdlog::error("--scenario {}: cannot open", scenario);
      return 2;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto steps = asicmon::fakefarm::ParseScenario(text, *plans);
    if (!steps.ok()) {
      spdlog::error("--scenario {}: {}", scenario, steps.status().message());
      return 2;
    }
    options.scenario = std::move(*steps);
  }

  if (asicmon::Status s =
          asicmon::fakefarm::RaiseFileLimit(asicmon::fakefarm::FilesNeeded(options));
      !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().message());
    return 1;
  }

  if (!manifest.empty()) {
    std::string lines;
    for (const auto& plan : *plans) lines += asicmon::fakefarm::ManifestLine(plan) + "\n";
    if (manifest == "-") {
      std::fwrite(lines.data(), 1, lines.size(), stdout);
    } else {
      std::ofstream out(manifest, std::ios::binary | std::ios::trunc);
      out << lines;
      if (!out.flush()) {
        spdlog::error("--manifest {}: cannot write", manifest);
        return 1;
      }
    }
  }

  auto server = FarmServer::Create(options, std::move(*plans));
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  spdlog::info("{} miners listening from {} on port {}{}", options.count, options.base,
               options.port,
               options.http_port != 0 ? fmt::format(", web interface on port {}", options.http_port)
                                      : std::string());
  std::printf("READY %d\n", options.count);
  std::fflush(stdout);

  asicmon::Status run = (*server)->Run((*shutdown)->fd());
  spdlog::info("{}", (*server)->Summary());
  if (!run.ok()) {
    spdlog::error("{}", run.message());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return RunFarm(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asicmon-fakefarm: fatal: %s\n", e.what());
    return 1;
  }
}
