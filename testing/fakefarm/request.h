// A request to the fake miner's API, read as cgminer reads it (api.c): JSON
// {"command":...,"parameter":...} parsed with jansson, or the text form
// "command|parameter".
#pragma once

#include <string>
#include <string_view>

namespace asicmon::fakefarm {

enum class ParseOutcome { kOk, kInvalidJson, kMissingCommand, kCommandNotString };

struct Request {
  std::string command;
  std::string parameter;
  bool has_parameter = false;
  // Bitmain's top-level "new_api": true (stock firmware of 2022 on answers it
  // with its new layout; older firmware, like cgminer, ignores the member).
  bool new_api = false;
  // Whatsminer's keys (JSON only): btminer reads "cmd" for its own commands
  // (status, get_*) and API v3 "cmd" and "param"; text values only.
  std::string cmd;
  std::string param;
};

// Fills `out` (reused, so answering does not allocate) from `request`, whose
// trailing NULs and newlines the caller has removed. JSON when its first
// byte is '{': integer parameters become text as jansson's "%d", reals as
// "%f"; nesting deeper than cgminer would take is Invalid JSON, and so are
// text that is not UTF-8, integers past int64 and "\u0000", as jansson's
// json_loadb refuses them (cgminer answers MSG_INVJSON). Text:
// everything before '|' (up to a NUL) is the command, the rest the parameter.
ParseOutcome ParseRequest(std::string_view request, Request& out);

}  // namespace asicmon::fakefarm
