// Checks for everything a REST request hands control, done before any miner
// is contacted. Each returns InvalidArgument with a message fit for the
// client ("ip '10.0.0.300' is not a dotted IPv4 address").
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "actions.h"
#include "asicmon/status.h"
#include "asicmon/targets.h"

namespace asicmon::control {

// Longest worker, pool user or password accepted. Real ones are tens of bytes;
// cgminer's own limits are near this.
inline constexpr size_t kMaxFieldBytes = 128;
inline constexpr size_t kMaxPoolUrlBytes = 256;

// A dotted-quad IPv4 address, each part 0-255 without leading zeros (which
// some resolvers read as octal). No hostnames.
Status ValidateIp(std::string_view ip);

// A worker name as pools know it: printable ASCII, no spaces, no commas
// (cgminer splits API parameters at commas), no quotes or backslashes
// (they would break out of the API's JSON), 1..kMaxFieldBytes.
Status ValidateWorker(std::string_view worker);

// stratum+tcp://host:port (also stratum+ssl, stratum2+tcp), host a DNS name
// or IPv4, port 1-65535, nothing after the port.
Status ValidatePoolUrl(std::string_view url);

// A pool user or password: `what` names it in the message. Letters, digits
// and . _ - @ + = : / % only (no separator of the API's parameters, no
// quote, no shell metacharacter: stock firmware's CGI scripts are shell);
// the password may be empty.
Status ValidatePoolField(std::string_view what, std::string_view value, bool may_be_empty);

// A pool change from one pool {"url", "user", "password"} (password
// optional) or {"pools": [1..3 such pools, in priority order]}, every field
// validated as above.
Result<PoolChange> PoolChangeFromJson(const nlohmann::json& body);
// {"mode": "low"|"normal"|"high"} or {"limit_w": N}.
Result<PowerChange> PowerChangeFromJson(const nlohmann::json& body);
// For the audit: the parameters, never a password.
std::string PoolChangeDetail(const PoolChange& change);
std::string PowerChangeDetail(const PowerChange& change);

// `a` equals `b`, in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace asicmon::control
