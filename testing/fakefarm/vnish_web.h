// Vnish 1.x's HTTP API on the web port (/api/v1), as far as a controller uses
// it, from Vnish's own API documents (256foundation/asic-rs @ fdcd1018
// meta/vnish/v1.2.7/api-doc.json) and the S21 Pro's captures in tests/data:
//
//   POST /api/v1/unlock {"pw":..}     200 {"token":..}; a wrong password 403
//                                     {"unlock_timeout":null} (the documents'
//                                     AuthCheck; its value is not captured);
//                                     a body that is not {"pw": string} 400
//   GET  /api/v1/status               no auth: {"miner_state", "miner_state_time",
//                                     "reboot_required", "restart_required",
//                                     "find_miner", "unlocked"}
//   behind "Authorization: Bearer <token>" (else 401, no body):
//   POST /api/v1/mining/stop          200, no body; the miner shuts down over
//                                     --wake-idle-s, then stops hashing
//   POST /api/v1/mining/start         200, no body; idle, then the wake ramp
//   POST /api/v1/mining/restart       200, no body; the API restarts (--restart-s)
//   POST /api/v1/system/reboot        200 {"after":3}; down for --reboot-s
//   POST /api/v1/find-miner           a toggle (any body): 200 {"on":bool}
//   GET  /api/v1/settings             vnish-s21pro-web-settings.json's layout,
//                                     trimmed to cooling, overclock, pools, network
//   POST /api/v1/settings             {"miner":{"pools":[..]}} replaces the pools,
//                                     {"miner":{"overclock":{"preset":..}}} selects a
//                                     preset; 200 {"restart_required":false,
//                                     "reboot_required":false} whatever it took
//                                     (pyasic: "always ... even if unsuccessful");
//                                     JSON that is not an object 400
//   GET  /api/v1/autotune/presets     vnish-s21pro-web-autotune-presets.json's list
//                                     (without "disabled"'s tune_settings)
// Other paths 404, other methods 405. Actions logged: "unlock" (denied only),
// "mining/stop", "mining/start", "mining/restart", "system/reboot",
// "find-miner" on|off, "settings" with "pools <url,user,pass;..>" or
// "preset <name>" (error when not applied).
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "fake_miner.h"
#include "http.h"
#include "miner_web.h"

namespace asicmon::fakefarm {

// The password Vnish ships with (pyasic, asic-rs: "admin").
inline constexpr std::string_view kVnishPassword = "admin";

// Answers `request` for the Vnish `miner` at `address` at unix time `now`,
// appending a whole HTTP response to `out`; what it sets off for the farm to
// carry out (a reboot, a restart of the mining software) is returned.
WebEffect HandleVnishWebRequest(const HttpRequest& request, FakeMiner& miner,
                                std::string_view address, double now, fmt::memory_buffer& out,
                                std::vector<PrivilegedAction>& actions);

}  // namespace asicmon::fakefarm
