// A control driver per firmware family: how to act on one miner (restart,
// reboot, pools, fault light, sleep, power) and how to read back what it is
// set to. One driver per family (common/driver/src/<family>.cpp), found by
// the family name the poller fingerprinted (Record::family).
//
// A driver only sends and reads: it never waits for an effect to show. The
// control stage confirms every command the same way for every family, by
// polling the miner and ReadSettings until the state it asked for shows.
//
// Every call blocks the calling thread for at most the options' bounds, talks
// to exactly one miner (ctx.ip, on the ports of the options), and treats what
// the miner answers as hostile. Drivers hold no state: one const instance
// serves every thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/miner_api.h"
#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon::driver {

// What control can ask of a miner. ToString gives the names GET /miners
// lists ("reset", "reboot", "pool", "locate", "sleep", "wake",
// "power_mode", "power_limit").
enum class Action { kReset, kReboot, kPools, kLocate, kSleep, kWake, kPowerMode, kPowerLimit };
inline constexpr Action kAllActions[] = {Action::kReset,     Action::kReboot,    Action::kPools,
                                         Action::kLocate,    Action::kSleep,     Action::kWake,
                                         Action::kPowerMode, Action::kPowerLimit};
std::string_view ToString(Action action);

// Farm-level power modes; each driver maps them to its firmware's own.
enum class PowerMode { kLow, kNormal, kHigh };
std::string_view ToString(PowerMode mode);  // "low", "normal", "high"
std::optional<PowerMode> ParsePowerMode(std::string_view text);

// One pool; a list's order is its priority (first = in use while it works).
struct PoolSetting {
  std::string url;
  std::string user;
  std::string password;
  bool operator==(const PoolSetting&) const = default;
};
inline constexpr size_t kMaxPools = 3;  // what every family's config holds

// A login for a miner's privileged interface. Never logged.
struct Credentials {
  std::string user;
  std::string password;
};

struct DriverOptions {
  ExchangeOptions api;                // each API exchange (POLL_TIMEOUT)
  uint16_t api_port = kMinerApiPort;  // the cgminer-style API (MINER_PORT)
  uint16_t http_port = 80;            // the web UI or HTTP API (MINER_HTTP_PORT)
  // A read of the web UI or HTTP API (MINER_HTTP_TIMEOUT).
  std::chrono::milliseconds http_timeout{10000};
  // A request that changes something (MINER_HTTP_WRITE_TIMEOUT): firmware may
  // answer only once it has rewritten its config and restarted (~21 s on some
  // S19j Pro), so a read's bound would call a change that went through a failure.
  std::chrono::milliseconds http_write_timeout{45000};
};

// One miner to act on.
struct Context {
  std::string ip;
  const Record& record;  // the live poll that identified it: family, model, firmware
  const DriverOptions& options;
  const Credentials& credentials;  // this family's, at this miner's site
};

// Why a driver call did not get its command taken.
enum class Failure {
  kNone,
  kUnsupported,  // this miner's firmware cannot do it (control answers 501)
  kCredentials,  // the miner refused the login or token (502 naming the step)
  kConflict,     // the miner's present state forbids it: a read-only API (409)
  kRefused,      // the miner answered with an error (502)
  kUnreachable,  // no connection, reset, closed early (502)
  kTimeout,      // no answer within the bound (504)
  kBadReply,     // an answer that is not what the firmware sends (502)
};
std::string_view ToString(Failure failure);

// A driver call's outcome. `step` names the request: the one that failed
// ("POST /cgi-bin/set_miner_conf.cgi", "get_token", "logon"), or when the
// command was taken, how it was sent (the answer's "via").
struct Outcome {
  Failure failure = Failure::kNone;
  std::string step;
  std::string detail;

  bool ok() const { return failure == Failure::kNone; }
  static Outcome Done(std::string via) { return {Failure::kNone, std::move(via), {}}; }
  static Outcome Fail(Failure failure, std::string step, std::string detail) {
    return {failure, std::move(step), std::move(detail)};
  }
};

// What a miner is set to, as its firmware reports it now: what read-back
// compares. A field the firmware does not report stays empty.
struct Settings {
  std::optional<bool> sleeping;
  std::optional<PowerMode> power_mode;
  std::optional<int> power_limit_w;
  std::optional<bool> locate_on;
};

struct PowerLimitRange {
  int min_w = 0;
  int max_w = 0;
};

// What one miner (its model and firmware, from its record) can do.
struct Capabilities {
  // Each action it cannot do, with why (the detail of control's 501).
  std::map<Action, std::string> unsupported;
  std::vector<PowerMode> power_modes;            // the modes kPowerMode accepts
  std::optional<PowerLimitRange> power_limit;    // what kPowerLimit accepts

  bool Supports(Action action) const { return !unsupported.contains(action); }
  // The supported actions' names, in kAllActions' order.
  std::vector<std::string> Names() const;
};

class MinerDriver {
 public:
  virtual ~MinerDriver() = default;

  // The family it drives: a Record::family value.
  virtual std::string_view family() const = 0;
  // The login stock firmware ships with, used where config names none.
  virtual Credentials StockCredentials() const = 0;
  virtual Capabilities Describe(const Record& record) const = 0;

  // Each sends its command and returns once the miner took it or refused it.
  // The defaults answer kUnsupported; a driver overrides what its firmware can do.
  virtual Outcome Restart(const Context& ctx) const;  // the mining software only
  virtual Outcome Reboot(const Context& ctx) const;
  // `pools`: 1..kMaxPools, in priority order; replaces the miner's list.
  virtual Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const;
  virtual Outcome Locate(const Context& ctx, bool on) const;
  virtual Outcome Sleep(const Context& ctx, bool sleep) const;
  virtual Outcome SetPowerMode(const Context& ctx, PowerMode mode) const;
  virtual Outcome SetPowerLimit(const Context& ctx, int watts) const;
  // What the firmware reports it is set to, beyond what a poll's record says.
  virtual Result<Settings> ReadSettings(const Context& ctx) const;

 protected:
  // The kUnsupported outcome for `action`, with Describe's reason.
  Outcome Unsupported(const Context& ctx, Action action) const;
};

// The driver of `family`, or nullptr when asicmon cannot act on it.
const MinerDriver* FindDriver(std::string_view family);
// Every driver, for docs and tests.
std::span<const MinerDriver* const> AllDrivers();

}  // namespace asicmon::driver
