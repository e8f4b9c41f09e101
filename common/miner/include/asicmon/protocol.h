// The CGMiner/BMMiner API's message layer, apart from any socket: building
// requests, reading the STATUS block every reply carries, and splitting a
// multi-command reply ("summary+stats+pools") into its parts.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace asicmon {

inline constexpr uint16_t kMinerApiPort = 4028;

// {"command":"summary+stats+pools"} or {"command":"addpool","parameter":"url,user,pass"}.
std::string BuildRequest(std::string_view command, std::string_view parameter = {});

// The STATUS block of one reply. CGMiner sends [{"STATUS":"S",...}]; Whatsminer
// sometimes a bare "E" with Msg an object. S and I are success; W, E and F are
// errors, with "Access denied" (stock Antminer's read-only API) told apart.
struct ReplyStatus {
  enum class Kind { kOk, kDenied, kError, kMissing };
  Kind kind = Kind::kMissing;
  int code = -1;     // the miner's Code, -1 when absent
  std::string msg;   // the miner's Msg, as text
  // The STATUS as sent: CGMiner's letters S, I, W, E, F, or whatever text a
  // firmware put there instead (stock cgminer's {"STATUS":"RESTART"}).
  std::string letter;
  bool ok() const { return kind == Kind::kOk; }
};
ReplyStatus CheckReplyStatus(simdjson::dom::element reply);

// The part of a multi-command reply for `command` ("stats"): the first element
// of reply[command] when it is an array, else the value itself. When `reply`
// is a single-command reply (it has its own STATUS), it is returned for any
// command whose section (e.g. "STATS" for "stats") it carries. nullopt when absent.
std::optional<simdjson::dom::element> ReplyPart(simdjson::dom::element reply,
                                                std::string_view command);

}  // namespace asicmon
