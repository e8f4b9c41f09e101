#include "asicmon/status.h"

namespace asicmon {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kParseError: name = "parse error"; break;
    case Code::kIoError: name = "I/O error"; break;
    case Code::kTimeout: name = "timeout"; break;
    case Code::kUnavailable: name = "unavailable"; break;
    case Code::kInternal: name = "internal error"; break;
  }
  return std::string(name) + ": " + message_;
}

std::string Shown(std::string_view text) {
  std::string shown = Quoted(text.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return shown;
}

}  // namespace asicmon
