// The web interface of stock Antminer firmware (lighttpd and CGI scripts
// behind Digest auth), as far as a controller uses it: reboot, reading and
// writing the miner configuration when the API is read-only, sleep and
// wake, and the fault light (locate).
//
//   GET  /cgi-bin/reboot.cgi          200, a short HTML page; the caller then
//                                     takes the miner down (WebEffect::kReboot)
//   GET  /cgi-bin/get_miner_conf.cgi  200, the configuration as S9 firmware's JSON;
//                                     S17 and S19 families add "bitmain-work-mode":
//                                     "1" asleep, "0" hashing
//   POST /cgi-bin/set_miner_conf.cgi  every model, urlencoded: 200 "ok"; the form's
//                                     _ant_pool{1,2,3}{url,user,pw} replace the pools
//                                     and the mining software restarts. S9/L3+ refuse
//                                     any other body with 400 and have no sleep.
//                                     S17 and S19 families, a JSON body (Content-Type
//                                     application/json, or a body starting with '{'),
//                                     the X19 form {"miner-mode":1,"pools":[{"url":..,
//                                     "user":..,"pass":..},..],...}: 200
//                                     {"stats":"success","code":"M000","msg":"OK!"};
//                                     pools (when present) replace the pools, the
//                                     mining software restarts, "miner-mode" 1 (number
//                                     or string) puts it to sleep, 0 wakes it; other
//                                     keys are ignored. JSON that is not an object: 400
//   POST /cgi-bin/blink.cgi           the fault light. S19 family: JSON {"blink":true}
//                                     or {"blink":false}, 200 {"code":"B000"} when lit,
//                                     {"code":"B100"} when dark. S9, S17 family:
//                                     urlencoded action=startBlink | stopBlink |
//                                     onPageLoaded (reads it), 200 {"isBlinking":bool}
//                                     with the state after. Another body: 400.
//                                     L3+: 404, its firmware has no fault light
//   GET  /cgi-bin/get_blink_status.cgi  S19 family: 200 {"blink":bool}; others 404
//   GET  /cgi-bin/get_system_info.cgi  every model: 200, the layout of
//                                     antminer-s21-2024-get_system_info.cgi.json with
//                                     the machine's own macaddr, serinum and hostname
//                                     (FakeMiner::mac...) and the address it answers on
//
// A configuration with a bad pool url, no pool url or a miner-mode other than
// 0/1 is answered as a good one (stock CGIs check nothing) but not applied:
// the action log says "error". Actions logged: "reboot"; "set_miner_conf"
// (parameter: the pools, "url,user,pass;..."), then "sleep" or "wake" when a
// miner-mode came; "locate" with "on" or "off". Reading a state logs nothing.
// The blink answers' codes and the old form's {"isBlinking":..} are chosen for
// the fake (no capture of them); the rest follows the captures in tests/data.
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

enum class WebEffect {
  kNone,
  kReboot,   // the whole miner goes down for a while (reboot.cgi)
  kRestart,  // a configuration was applied: the mining software, and with it
             // the API, restarts (set_miner_conf.cgi)
};

// Answers `request` for `miner` (at `address`) at unix time `now`, appending a whole HTTP
// response to `out`. Unknown paths are 404, other methods 405, requests
// without valid Digest credentials 401 with the challenge. A new
// configuration, sleep, wake or fault light is applied to `miner` at once
// (a configuration also returns kRestart: the caller takes the API down for
// the restart); a reboot only answers and returns kReboot. Actions (see
// above) are appended to `actions`.
WebEffect HandleWebRequest(const HttpRequest& request, const DigestAuth& auth, FakeMiner& miner,
                           std::string_view address, double now, fmt::memory_buffer& out,
                           std::vector<PrivilegedAction>& actions);

// An error response with a short HTML body; `extra_headers` as for AppendHttpResponse.
void AppendHttpError(fmt::memory_buffer& out, int status, std::string_view extra_headers = {});

// "stratum+tcp://host:port": a host of letters, digits, '.', '-' and a port 1-65535.
bool IsStratumUrl(std::string_view url);

}  // namespace asicmon::fakefarm
