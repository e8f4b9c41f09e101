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
inline constexpr uint16_t kWhatsminerV3Port = 4433;  // Whatsminer API v3 (2024+ firmware)

// How the end of a reply is known on the wire, and how a request is framed.
enum class Framing : uint8_t {
  kCgminer,         // JSON text, sent bare; the reply ends at a NUL or when the miner closes
  kLengthPrefixed,  // 4-byte little-endian length then JSON, both ways (Whatsminer API v3)
  kHttp,            // an HTTP/1.1 GET; the reply ends at its Content-Length or the close
};

// One exchange of a poll: what to send where, and the name its document goes
// by when the family reads the poll's documents.
struct PollStep {
  std::string_view name;     // "summary+stats+pools", "get.device.info", "/api/system/info"
  Framing framing = Framing::kCgminer;
  uint16_t port = 0;         // 0: the port of the poll's target
  // kCgminer and kLengthPrefixed: the JSON request as sent (before any length
  // prefix); kHttp: the path to GET.
  std::string_view request;
};

// The request bytes of a step for `host` (the Host header of an HTTP GET);
// `extra_headers`, whole lines each ending in CRLF, join an HTTP GET's
// headers (an Authorization).
std::string FrameRequest(const PollStep& step, std::string_view host,
                         std::string_view extra_headers = {});

// The payload of a complete reply: the bytes after a length prefix, the body
// of an HTTP response (chunked transfer decoded), or the reply itself. An
// HTTP status other than 2xx, a short prefix or a broken chunk is an error.
struct Payload {
  bool ok = false;
  std::string text;   // the payload when ok, else why not
  int http_status = 0;
};
Payload ReplyPayload(Framing framing, std::string_view reply);

// The size of a complete reply once `received` shows it (length prefix, or
// HTTP headers with a Content-Length); nullopt while it cannot tell, and
// always for kCgminer, whose replies end at a NUL or the close.
std::optional<size_t> CompleteReplySize(Framing framing, std::string_view received);

// True when the bytes of a reply are an HTTP response (an HTTP server on a
// miner API port, as ePIC's firmware serves on 4028).
bool LooksLikeHttp(std::string_view reply);

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
