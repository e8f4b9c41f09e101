// What configures a curtailment, from hostile text: POST /curtail's body and
// the CURTAIL_WINDOWS file. Only parsing here (no I/O but reading the file),
// so the fuzz targets can take it alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"
#include "curtail_plan.h"
#include "fleet_requests.h"

namespace asicmon::control {

// POST /curtail's body.
struct CurtailRequest {
  double target_w = 0;  // "target_kw" × 1000
  CurtailStrategy strategy = CurtailStrategy::kLeastEfficientFirst;
  std::optional<double> ramp_w_per_min;  // "ramp_kw_per_min" × 1000; none: at once
  std::optional<double> until;           // unix s; none: until DELETE
  bool dry_run = false;                  // answer the plan, act on nothing
  int max_parallel = 50;                 // miners acted on at once, 1..500
  bool replace = false;                  // change the active one in place
};
// InvalidArgument naming the field; unknown fields are refused.
Result<CurtailRequest> ParseCurtailRequest(std::string_view body, double now);

// A daily time-of-use window: from..to (UTC) the farm is held at target_w.
struct CurtailWindow {
  QuietWindow when;
  double target_w = 0;
  std::optional<double> ramp_w_per_min;
};
// {"windows": [{"from": "17:00", "to": "21:00", "target_kw": 500,
//               "ramp_kw_per_min": 100}]}; InvalidArgument naming the field.
Result<std::vector<CurtailWindow>> ParseCurtailWindows(std::string_view text);
Result<std::vector<CurtailWindow>> LoadCurtailWindows(const std::string& path);

}  // namespace asicmon::control
