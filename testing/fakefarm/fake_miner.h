// One simulated Bitmain Antminer's CGMiner/BMMiner API, apart from any socket:
// request bytes in, reply bytes out, in the layouts real firmware sends
// (copied from the captures in tests/data, quirks included), with state that
// privileged commands really change.
//
// Thread-safety: a FakeMiner is a plain value; use one from one thread at a time.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models.h"
#include "request.h"

namespace asicmon::fakefarm {

class ReplyWriter;
struct AvalonFacts;
struct WhatsminerFacts;
struct BraiinsFacts;
struct LuxosFacts;
struct EpicFacts;
struct BitaxeFacts;
struct VnishFacts;

// What the API answers to `restart`; neither form has a STATUS block. From
// cgminer 4.x's api.c (dorestart writes JSON_START JSON_RESTART, then the id)
// and the field report in issue 17 of builds that answer a STATUS word.
enum class RestartReply : uint8_t {
  kCgminer,     // {"RESTART","id":1}: not even JSON
  kStatusWord,  // {"STATUS":"RESTART"}
};

struct FakeMinerSpec {
  ModelId model = ModelId::kS9;
  int index = 0;                 // 0-based; the worker is farm.w<index + 1>
  uint32_t ip = 0;               // its address (host byte order), where a reply names it
  uint64_t seed = 1;             // with index, drives every pseudo-random value
  bool deny_privileged = false;  // read-only API, as stock firmware ships
  RestartReply restart_reply = RestartReply::kCgminer;
  bool dead_board = false;  // one hash board reports no chips and no hashrate
  double uptime_s = 3600;   // Elapsed at construction
  // Woken, the mining software starts over (see SetSleeping): no hashrate
  // for wake_idle_s, chains answering with every chip 'o', then a linear
  // rise to nominal over wake_ramp_s. No capture of a waking miner exists:
  // the shape is the issue 17 report's ("boards come up with chips but
  // hashrate rising"), the lengths are short for tests (real X19s take
  // minutes). Defaults: 5 s, 10 s.
  double wake_idle_s = 5;
  double wake_ramp_s = 10;
  // Braiins OS: how long the tuner takes to move the draw (and hashrate) to
  // a new power target. Default: 10 s (see SetPowerTarget).
  double power_ramp_s = 10;
  // btminer's power_off and LUXminer's curtail sleep: how long after its
  // reply the miner goes on hashing while it winds down (see HaltAt).
  // Default: 3 s.
  double halt_s = 3;
};

// A privileged command the miner received, for the action log.
enum class ActionResult { kOk, kDenied, kError };
std::string_view ToString(ActionResult result);  // "ok", "denied", "error"
struct PrivilegedAction {
  std::string command;
  std::string parameter;
  ActionResult result = ActionResult::kOk;
};

// What an API command sets off beyond its reply, for the farm to carry out
// once the reply is on its way (btminer's reboot and restart_btminer).
// What a command does to the connection or the miner once handled:
// kSilence holds the connection without answering (the reply is dropped), as
// btminer does after a mining-mode command (whatsminer_control.cpp).
enum class ApiEffect : uint8_t { kNone, kRestart, kReboot, kSilence };

// One pool as the firmware's configuration holds it.
struct PoolConfig {
  std::string url;
  std::string user;
  std::string pass;
};

// Request commands this miner treats as privileged.
bool IsPrivilegedCommand(std::string_view command);

class FakeMiner {
 public:
  FakeMiner(const FakeMinerSpec& spec, double now);

  // Appends to `out` the reply to `request` (JSON or "command|parameter"
  // text, trailing NULs and newlines ignored) at unix time `now`, including
  // the trailing NUL of the models that send one. Privileged commands, allowed
  // or not, are appended to `actions` when given. Never throws for any input.
  void Handle(std::string_view request, double now, fmt::memory_buffer& out,
              std::vector<PrivilegedAction>* actions = nullptr);
  std::string Handle(std::string_view request, double now);
  // Appends the Whatsminer API v3 reply (4-byte little-endian length, then
  // JSON) to the v3 request `request` (its JSON, the length prefix removed)
  // at unix time `now`; a model without API v3 refuses every command. Its
  // set.* commands, allowed or not, are appended to `actions` when given.
  // Never throws for any input.
  void HandleV3(std::string_view request, double now, fmt::memory_buffer& out,
                std::vector<PrivilegedAction>* actions = nullptr);
  // Appends the whole HTTP/1.1 response of a model whose API is HTTP
  // (HasHttpApi: ePIC, AxeOS) to `method` `path` (the target without its
  // query) at unix time `now`: its JSON documents to GET, 405 to another
  // method there, 404 to any other path; a model of another family answers
  // 404 to everything. Never throws for any input.
  void HandleHttp(std::string_view method, std::string_view path, double now,
                  fmt::memory_buffer& out);

  // Restarts the mining software at unix time `now`, as the API's restart
  // and a power cycle do: uptime and share counters start again from zero.
  // A restart during a wake's ramp-up starts the ramp-up again.
  void Restart(double now);
  // The pools in priority order, as the web configuration shows them.
  std::vector<PoolConfig> PoolsByPriority() const;
  // Replaces every pool (the first becomes the active one) and restarts, as
  // applying a configuration through the web interface does. `pools` must
  // not be empty.
  void Reconfigure(const std::vector<PoolConfig>& pools, double now);

  const FakeMinerSpec& spec() const { return spec_; }
  double started_at() const { return start_time_; }  // unix time of the last (re)start
  const ModelSpec& model() const { return *model_; }
  std::string_view worker() const;  // the user of the pool in use
  // Who the machine is whatever its address, from the seed and index as the
  // worker is (get_system_info.cgi): a MAC written in upper case as stock
  // firmware does, unique within a farm; a serial; a hostname.
  const std::string& mac() const { return mac_; }
  const std::string& serial() const { return serial_; }
  const std::string& hostname() const { return hostname_; }
  int pool_count() const { return static_cast<int>(pools_.size()); }
  // Chain number of the dead board as the firmware numbers it, -1 when none.
  int dead_chain() const;

  // Changes a farm scenario makes while the miner runs; each shows in every
  // reply from the next one on.
  // Kills (true) or revives (false) the board dead_chain() names when dead.
  void SetDeadBoard(bool dead);
  // °C added to every live board's pcb and chip sensors; 0 is normal.
  void SetTempOffset(int celsius);
  // The first `count` fans report 0 rpm (at most FanCount(model)); 0: all turn.
  void SetFansStopped(int count);

  // Sleep (true) stops hashing at unix time `now`, as "miner-mode" 1 does on
  // stock firmware; false resumes it, ramping up as the spec says from `now`
  // (or from the next Restart, when the web interface restarts the mining
  // software to wake it). Ignored unless CanSleep(model). While asleep the
  // API still answers, with zero hashrate, shares that no longer grow, and
  // the idle sensors of the model's sleeping captures (S19: fans at idle and
  // boards near ambient; S17 family: every fan and sensor 0, "Mode" 254).
  void SetSleeping(bool asleep, double now);
  bool sleeping() const { return sleeping_; }
  // Stock Bitmain firmware's work mode, "miner-mode" 0 (normal) or 3 (low
  // power, where the model has it) as of unix time `now`: the hashrate (and
  // the watts, where reported) move to the mode's over spec().wake_ramp_s.
  // False, nothing changed, for a mode the model lacks.
  bool SetWorkMode(int mode, double now);
  int work_mode() const { return am_mode_; }
  // Braiins OS's pause and resume (its API's pause/resume, the public API's
  // PauseMining/ResumeMining): hashing stops at once, and resumes ramping
  // up as a wake does.
  void Pause(bool paused, double now) { Halt(paused, now); }
  // Braiins OS's tuner power target (W) from unix time `now`: the draw the
  // tuner reports, and the hashrate with it, move linearly from where they
  // were to the target over spec().power_ramp_s, never above the model's
  // draw at nominal hashrate. Braiins OS bounds the ramp by its quick
  // ramping times (quick_ramping_time_up_s/down_s, bos-plus-api
  // performance.proto); a real tuner takes minutes, the fake's default is
  // short for tests. Ignored for other firmware.
  void SetPowerTarget(int watts, double now);
  // The target set (the model's PowerLimit until one is), 0 for other firmware.
  int power_target() const;
  // Vnish's HTTP API (vnish_web.cpp) acting on the miner (vnish_replies.cpp).
  // The state its /status and the API's stats show: "stopped",
  // "shutting-down", "initializing", "starting", "auto-tuning" or "mining".
  std::string_view VnishState(double now);
  // mining/stop: hashing goes on while it shuts down (spec().wake_idle_s),
  // then stops; mining/start: up again as a wake (idle, then the ramp).
  void VnishStop(double now);
  void VnishStart(double now);
  // The autotune preset in use: "disabled" (stock clocks) or its watts.
  std::string VnishPresetName() const;
  // Selects a preset by name; false (nothing changes) for one not listed.
  // The draw and the hashrate move to it over spec().power_ramp_s.
  bool VnishSetPreset(std::string_view name, double now);
  // A new bearer token for an unlock; true when `token` is one given.
  std::string VnishUnlock();
  // Vnish's document answers unlock 429 {"unlock_timeout"} after wrong
  // passwords (meta/vnish/v1.2.7/api-doc.json in asic-rs @ fdcd101); how many
  // and for how long it does not say: kVnishFreeUnlocks in a row lock it for
  // kVnishLockoutS (chosen figures). Seconds it stays locked, 0 when open.
  static constexpr int kVnishFreeUnlocks = 3;
  static constexpr double kVnishLockoutS = 60;
  double VnishUnlockLockedFor(double now) const;
  void VnishUnlockFailed(double now);
  bool VnishTokenValid(std::string_view token) const;
  // The fault LED a locate request turns on or off; it changes no reply.
  void SetBlinking(bool on) { blinking_ = on; }
  bool blinking() const { return blinking_; }
  // What the last Handle set off, cleared by reading it.
  ApiEffect TakeEffect() { return std::exchange(effect_, ApiEffect::kNone); }

 private:
  struct Pool {
    std::string url;
    std::string user;
    std::string pass;
    int priority = 0;
    bool enabled = true;
    int64_t accepted = 0;  // shares credited while this pool was in use
  };
  // Telemetry of one moment, shared by all parts of one multi-command reply.
  struct Snapshot {
    int64_t when = 0;
    int64_t elapsed = 0;
    double rate_5s = 0;  // H/s
    double rate_av = 0;
    double rate_ideal = 0;
    std::array<double, kMaxBoards> board_rate{};  // H/s, 0 for the dead board
    std::array<double, kMaxBoards> board_ideal{};
    std::array<int, kMaxBoards> temp_pcb{};  // °C
    std::array<int, kMaxBoards> temp_chip{};
    std::array<int64_t, kMaxBoards> board_hw{};
    std::array<int, kMaxFans> fans{};
    int64_t accepted = 0;
    int64_t rejected = 0;
    int64_t hw_errors = 0;
    int64_t getworks = 0;
    int64_t discarded = 0;
  };

  void Command(ReplyWriter& w, std::string_view command, const std::string* parameter,
               std::vector<PrivilegedAction>* actions, bool joined = false);
  void Privileged(ReplyWriter& w, std::string_view command, const std::string* parameter,
                  std::vector<PrivilegedAction>* actions);
  ActionResult RunPrivileged(ReplyWriter& w, std::string_view command,
                             const std::string* parameter);
  void WriteStatus(ReplyWriter& w, char severity, int code, std::string_view msg);
  // {"STATUS":[...],"id":1}: the whole reply of an error or a command's outcome.
  void WriteStatusReply(ReplyWriter& w, char severity, int code, std::string_view msg);
  void WriteDenied(ReplyWriter& w, std::string_view command);
  void WriteSummary(ReplyWriter& w);
  void WriteStats(ReplyWriter& w);
  void WriteStatsS9(ReplyWriter& w);
  void WriteStatsS17(ReplyWriter& w);
  void WriteStatsS19(ReplyWriter& w);
  void WriteStatsL3(ReplyWriter& w);
  void WritePools(ReplyWriter& w);
  void WriteVersion(ReplyWriter& w);
  void WriteDevs(ReplyWriter& w);
  // Bitmain's new API layout (antminer_new_api_replies.cpp): true when
  // `command` is one the model answers in it.
  bool WriteNewApi(ReplyWriter& w, std::string_view command);
  void WriteNewApiHead(ReplyWriter& w, std::string_view msg);
  void WriteStatsNewApi(ReplyWriter& w);
  void WriteSummaryNewApi(ReplyWriter& w);
  void WriteVersionFields(ReplyWriter& w, bool with_api);
  // Canaan's own forms (avalon_replies.cpp): true when this is an AvalonMiner
  // and `command` one it answers its own way (summary, stats, estats,
  // litestats, version); pools and devs are cgminer's.
  bool WriteAvalon(ReplyWriter& w, std::string_view command, const std::string* parameter,
                   std::vector<PrivilegedAction>* actions);
  // Canaan's ascset (avalon_control.cpp): softoff/softon at a time (HaltAt),
  // led, workmode, reboot, help.
  void WriteAvalonAscset(ReplyWriter& w, const AvalonFacts& a, std::string_view param,
                         std::vector<PrivilegedAction>* actions);
  // The Q's work mode's share of the eco rate (and watts); 1 for other models.
  double AvalonModeShare() const;
  void WriteAvalonSummary(ReplyWriter& w, const AvalonFacts& a);
  void WriteAvalonStats(ReplyWriter& w, const AvalonFacts& a, bool lite);
  void WriteAvalonModule(const AvalonFacts& a);  // the "MM ID0" string, into scratch_
  void WriteAvalonBoardInfo();                   // 2025 firmware's "HBinfo", into scratch_
  void WriteAvalonVersion(ReplyWriter& w, const AvalonFacts& a);
  // MicroBT's btminer (whatsminer_replies.cpp): true when this is a
  // Whatsminer and `command` one it answers its own way; `joined` when it
  // is part of a "+" multi-command, which btminer's own commands are not.
  bool WriteWhatsminer(ReplyWriter& w, std::string_view command, bool joined);
  void WriteWhatsminerSummary(ReplyWriter& w, const WhatsminerFacts& f);
  void WriteWhatsminerDevs(ReplyWriter& w, const WhatsminerFacts& f);
  void WriteWhatsminerPools(ReplyWriter& w, const WhatsminerFacts& f);
  void WriteWhatsminerDetails(ReplyWriter& w, const WhatsminerFacts& f);
  // status and the get_* commands: STATUS a string, Msg an object.
  void WriteBtminerOwn(ReplyWriter& w, const WhatsminerFacts& f, std::string_view command);
  void WriteV3DeviceInfo(ReplyWriter& w, const WhatsminerFacts& f);
  void WriteV3MinerStatus(ReplyWriter& w, std::string_view sections);
  std::string_view WhatsminerMac(const WhatsminerFacts& f);  // into scratch_
  // btminer's privileged API v2 (whatsminer_control.cpp): get_token, and
  // an {"enc":1,"data":...} request; false when `request` is not one.
  void WriteBtminerToken(ReplyWriter& w);
  bool WriteBtminerPrivileged(ReplyWriter& w, std::string_view request,
                              std::vector<PrivilegedAction>* actions);
  std::string WhatsminerSalt() const;
  std::string WhatsminerV3Salt() const;  // get.device.info's "salt"
  // API v3's set.* commands (whatsminer_control.cpp): token checked, then done.
  void WriteV3Set(ReplyWriter& w, std::string_view request, std::vector<PrivilegedAction>* actions);
  static int WhatsminerInitialMode(const WhatsminerFacts& f);  // 0 low, 1 normal, 2 high
  std::string_view WhatsminerModeName(bool lower) const;
  // Share of its nominal watts and hashrate the power mode and limit leave
  // a Whatsminer now (1 for other families).
  double WhatsminerPowerShare() const;
  // Braiins OS+ (braiins_replies.cpp): true when this miner runs it and
  // `command` is one bosminer answers its own way (every command but the
  // pool ones, which fall to cgminer's).
  bool WriteBraiins(ReplyWriter& w, std::string_view command,
                    std::vector<PrivilegedAction>* actions);
  void WriteBraiinsSummary(ReplyWriter& w);
  void WriteBraiinsDevs(ReplyWriter& w);
  void WriteBraiinsPools(ReplyWriter& w);
  void WriteBraiinsStats(ReplyWriter& w);
  void WriteBraiinsFans(ReplyWriter& w);
  void WriteBraiinsTemps(ReplyWriter& w);
  void WriteBraiinsDevdetails(ReplyWriter& w, const BraiinsFacts& b);
  void WriteBraiinsTuner(ReplyWriter& w, const BraiinsFacts& b);
  void WriteBraiinsVersion(ReplyWriter& w, const BraiinsFacts& b);
  // LuxOS (luxos_replies.cpp): the same for LUXminer's own commands.
  bool WriteLuxos(ReplyWriter& w, std::string_view command, const std::string* parameter,
                  std::vector<PrivilegedAction>* actions);
  void WriteLuxosStatus(ReplyWriter& w, char severity, int code, std::string_view msg);
  void WriteLuxosVersion(ReplyWriter& w);
  void WriteLuxosPower(ReplyWriter& w, const LuxosFacts& l);
  void WriteLuxosFans(ReplyWriter& w, const LuxosFacts& l);
  void WriteLuxosTemps(ReplyWriter& w);
  // LUXminer's session and its control commands (luxos_control.cpp):
  // logon, session, logoff, curtail, profileset, ledset, resetminer,
  // rebootdevice, and the profiles and config they read back through
  // (config answered from WriteLuxos).
  bool WriteLuxosControl(ReplyWriter& w, std::string_view command, const std::string* parameter,
                         std::vector<PrivilegedAction>* actions);
  // Vnish 1.x (vnish_replies.cpp): true when this miner runs it; Vnish then
  // answers every command itself, as its captures show.
  bool WriteVnish(ReplyWriter& w, std::string_view command);
  void WriteVnishSummary(ReplyWriter& w, const VnishFacts& v);
  void WriteVnishStats(ReplyWriter& w, const VnishFacts& v);
  void WriteVnishPools(ReplyWriter& w);
  void WriteVnishDevdetails(ReplyWriter& w, const VnishFacts& v);
  // The preset's draw at `now` on its way to the one selected, and its
  // share of the stock draw (1 for other firmware).
  double VnishWatts(double now) const;
  double VnishPowerShare() const;
  // ePIC's UMC documents (epic_replies.cpp) and AxeOS's (bitaxe_replies.cpp),
  // into scratch_: the HTTP status of the answer to `method` `path`, 200
  // with the document written.
  int WriteEpic(const EpicFacts& e, std::string_view method, std::string_view path);
  void WriteEpicSummary(ReplyWriter& w, const EpicFacts& e);
  void WriteEpicCapabilities(ReplyWriter& w, const EpicFacts& e);
  void WriteEpicNetwork(ReplyWriter& w);
  void WriteEpicTemps(ReplyWriter& w);
  int WriteBitaxe(const BitaxeFacts& b, std::string_view method, std::string_view path);
  void WriteLuxosSession(ReplyWriter& w, bool logon);
  void WriteLuxosProfiles(ReplyWriter& w, const LuxosFacts& l);
  void WriteLuxosConfig(ReplyWriter& w);
  void WriteLuxosProfileSet(ReplyWriter& w, std::string_view name, ActionResult& result);
  // The share of its nominal hashrate the LuxOS profile in use gives at
  // now_ (ramping from the previous one), and the same for its watts; 1 for
  // every other family.
  double ProfileRateShare() const;
  double ProfileWattShare(const LuxosFacts& l) const;
  double ProfileStepNow() const;
  // Stops (true) or resumes hashing at `now` whatever the web interface can
  // do: SetSleeping for stock firmware, pause/resume (Braiins OS+) through
  // the API. Drops any change HaltAt left pending.
  void Halt(bool asleep, double now);
  // The one way a power command whose effect trails its reply is carried
  // out: hashing stops (or resumes) at unix time `at`, replacing any change
  // still pending; a time not after now_ applies at once. Avalon's
  // softoff/softon (at the time asked), btminer's power_off and
  // set.miner.service stop and LUXminer's curtail sleep (spec().halt_s
  // after the reply), Vnish's mining/stop (VnishStop), their wakes at once.
  void HaltAt(bool asleep, double at);
  // Applies a pending HaltAt whose time has come; every request begins with it.
  void HaltTick();
  void AppendChipStatus(ReplyWriter& w, int board);
  void WriteChains(ReplyWriter& w, int slots, bool listed);

  int DeadBoard() const;  // 0-based board index, -1 when none
  const Snapshot& Snap();
  double Uniform();  // [0, 1)
  int ActivePool() const;
  // Share of the nominal hashrate a waking miner has reached at now_ (1
  // when it is not waking).
  double RampShare() const;
  // Braiins OS: the tuner's target at `now` on its way to power_target(),
  // and the share of nominal hashrate it allows (1 for other firmware).
  double TargetWatts(double now) const;
  double BraiinsPowerShare() const;  // 1 for other firmware
  double WorkModeShare() const;      // stock Bitmain's low power mode, else 1
  // The share of nominal watts and hashrate the miner's power settings leave
  // it now, whatever its family (1 where nothing limits it).
  double PowerShare() const {
    return BraiinsPowerShare() * WhatsminerPowerShare() * VnishPowerShare() * WorkModeShare();
  }
  void SettleShares();  // credits the shares found so far to the pool in use
  std::string_view Description() const;

  FakeMinerSpec spec_;
  const ModelSpec* model_;
  double start_time_;  // unix time of the last (re)start
  double now_ = 0;     // time of the request being answered
  uint64_t rng_;
  double av_offset_;  // this unit's steady deviation from nominal
  double temp_phase_;
  std::string miner_id_;  // S17/S19 "miner_id", 16 hex digits
  std::string mac_;
  std::string serial_;
  std::string hostname_;
  int64_t settled_accepted_ = 0;
  std::vector<Pool> pools_;
  int temp_offset_ = 0;  // °C
  int fans_stopped_ = 0;
  bool sleeping_ = false;
  double sleep_since_ = 0;  // unix time hashing last stopped (or the start, when later)
  double slept_s_ = 0;      // seconds asleep since the start, sleeps that ended
  double ramp_start_ = -std::numeric_limits<double>::infinity();  // of the last wake
  bool blinking_ = false;
  std::string lux_session_;  // LuxOS: the session logon opened, "" when none
  int power_target_w_ = 0;   // Braiins OS: the target set, 0 until one is
  double power_from_w_ = 0;  // the tuner's target when it was set
  double power_set_at_ = 0;  // unix time it was set
  // Whatsminer: what btminer's privileged API set, and the tokens it gave.
  struct WhatsminerState {
    bool ready = false;  // Init ran
    int mode = 1;        // 0 low, 1 normal, 2 high
    int limit = 0;       // W
    int old_mode = 1;    // before the last change, shown until it takes
    int old_limit = 0;
    double changed_at = -std::numeric_limits<double>::infinity();
    std::vector<std::string> signs;  // the signs of the tokens given, oldest first
    void Init(const WhatsminerFacts& f);
  };
  WhatsminerState wm_;
  ApiEffect effect_ = ApiEffect::kNone;
  double lux_session_used_ = 0;  // when it was last used: it lapses a minute later
  // LuxOS: the profile in use, in 25 MHz steps from "default", and the one
  // before it with when the change began (profileset ramps to it).
  int lux_step_ = 0;
  int lux_step_from_ = 0;
  double lux_step_since_ = -std::numeric_limits<double>::infinity();
  // Stock Bitmain: the work mode (0 or 3), the one before and when it changed.
  int am_mode_ = 0;
  int am_mode_from_ = 0;
  double am_mode_since_ = -std::numeric_limits<double>::infinity();
  // Avalon: the work mode set (the Q: 0 eco, 1 standard, 2 super).
  int avalon_mode_ = 0;
  // Vnish: the preset in use (watts, 0 for "disabled"), the draw when it was
  // selected and when; the bearer tokens given, oldest first.
  int vnish_preset_w_ = 0;
  double vnish_from_w_ = 0;
  double vnish_set_at_ = -std::numeric_limits<double>::infinity();
  std::vector<std::string> vnish_tokens_;
  int vnish_wrong_unlocks_ = 0;  // in a row
  double vnish_unlock_locked_until_ = 0;
  // A HaltAt waiting for its time (pending_halt_at_ < 0: none).
  double pending_halt_at_ = -1;
  bool pending_halt_asleep_ = false;
  Snapshot snap_;
  bool snap_valid_ = false;
  // Reused across requests so answering does not allocate.
  Request request_;
  fmt::memory_buffer scratch_;
};

}  // namespace asicmon::fakefarm
