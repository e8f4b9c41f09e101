#include "asicmon/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace asicmon {
namespace {

const char* Get(const char* name) { return std::getenv(name); }

std::string Trimmed(const char* value) {
  std::string s(value);
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

Status Bad(const std::string& what, const std::string& value, const std::string& expected) {
  return Status::InvalidArgument(what + "='" + value + "': " + expected);
}

Result<double> ParseDouble(const std::string& text, const std::string& what, double min, double max) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return Bad(what, text, "not a number");
  }
  if (v < min || v > max) {
    return Bad(what, text, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

}  // namespace

Status EnvString(const char* name, std::string& out) {
  if (const char* v = Get(name)) out = Trimmed(v);
  return Status::Ok();
}

Status EnvInt(const char* name, int64_t& out, int64_t min, int64_t max) {
  const char* raw = Get(name);
  if (!raw) return Status::Ok();
  const std::string text = Trimmed(raw);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Bad(name, text, "not a whole number");
  }
  if (v < min || v > max) {
    return Bad(name, text, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = v;
  return Status::Ok();
}

Status EnvDouble(const char* name, double& out, double min, double max) {
  const char* raw = Get(name);
  if (!raw) return Status::Ok();
  Result<double> v = ParseDouble(Trimmed(raw), name, min, max);
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

Status EnvBool(const char* name, bool& out) {
  const char* raw = Get(name);
  if (!raw) return Status::Ok();
  std::string text = Trimmed(raw);
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
    out = true;
  } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
    out = false;
  } else {
    return Bad(name, text, "expected true or false");
  }
  return Status::Ok();
}

Result<std::chrono::milliseconds> ParseSeconds(const std::string& text, const std::string& what,
                                               double min_s, double max_s) {
  Result<double> v = ParseDouble(text, what, min_s, max_s);
  if (!v.ok()) return v.status();
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * 1000.0)));
}

Status EnvSeconds(const char* name, std::chrono::milliseconds& out, double min_s, double max_s) {
  const char* raw = Get(name);
  if (!raw) return Status::Ok();
  Result<std::chrono::milliseconds> v = ParseSeconds(Trimmed(raw), name, min_s, max_s);
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

}  // namespace asicmon
