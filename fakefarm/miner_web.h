// The web interface of stock Antminer firmware (lighttpd and CGI scripts
// behind Digest auth), as far as a controller uses it: reboot, and reading
// and writing the miner configuration when the API is read-only.
//
//   GET  /cgi-bin/reboot.cgi          200, a short HTML page; the caller then
//                                     takes the miner down (WebEffect::kReboot)
//   GET  /cgi-bin/get_miner_conf.cgi  200, the configuration as S9 firmware's JSON
//   POST /cgi-bin/set_miner_conf.cgi  200 "ok"; the form's _ant_pool{1,2,3}{url,user,pw}
//                                     replace the pools and the mining software restarts
//
// Thread-safety: stateless; the miner is used as FakeMiner allows.
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "fake_miner.h"
#include "http.h"

namespace asicmon::fakefarm {

// The realm of stock firmware's lighttpd, which clients may check.
inline constexpr std::string_view kWebRealm = "antMiner Configuration";

enum class WebEffect { kNone, kReboot };

// Answers `request` for `miner` at unix time `now`, appending a whole HTTP
// response to `out`. Unknown paths are 404, other methods 405, requests
// without valid Digest credentials 401 with the challenge. A new
// configuration is applied to `miner` at once; a reboot only answers and
// returns kReboot. Actions ("reboot", "set_miner_conf") are appended to
// `actions`.
WebEffect HandleWebRequest(const HttpRequest& request, const DigestAuth& auth, FakeMiner& miner,
                           double now, fmt::memory_buffer& out,
                           std::vector<PrivilegedAction>& actions);

// An error response with a short HTML body; `extra_headers` as for AppendHttpResponse.
void AppendHttpError(fmt::memory_buffer& out, int status, std::string_view extra_headers = {});

// "stratum+tcp://host:port": a host of letters, digits, '.', '-' and a port 1-65535.
bool IsStratumUrl(std::string_view url);

}  // namespace asicmon::fakefarm
