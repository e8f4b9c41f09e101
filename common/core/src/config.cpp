#include "asicmon/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace asicmon {
namespace {

Status Bad(const std::string& what, const std::string& value, const std::string& expected) {
  return Status::InvalidArgument(what + "='" + value + "': " + expected);
}

// Runs `parse` on the trimmed value of env var `name` when it is set.
template <typename T, typename Parse>
Status FromEnv(const char* name, T& out, Parse parse) {
  const char* raw = std::getenv(name);
  if (!raw) return Status::Ok();
  auto v = parse(Trimmed(raw));
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

}  // namespace

std::string Trimmed(std::string_view text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  const auto first = std::find_if(text.begin(), text.end(), not_space);
  const auto last = std::find_if(text.rbegin(), text.rend(), not_space).base();
  return first < last ? std::string(first, last) : std::string();
}

Result<int64_t> ParseInt(const std::string& text, const std::string& what, int64_t min,
                         int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Bad(what, text, "not a whole number");
  }
  if (v < min || v > max) {
    return Bad(what, text, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

Result<double> ParseDouble(const std::string& text, const std::string& what, double min,
                           double max) {
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

Result<bool> ParseBool(const std::string& text, const std::string& what) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return Bad(what, text, "expected true or false");
}

Result<std::chrono::milliseconds> ParseSeconds(const std::string& text, const std::string& what,
                                               double min_s, double max_s) {
  Result<double> v = ParseDouble(text, what, min_s, max_s);
  if (!v.ok()) return v.status();
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * 1000.0)));
}

Status EnvString(const char* name, std::string& out) {
  if (const char* v = std::getenv(name)) out = Trimmed(v);
  return Status::Ok();
}

Status EnvInt(const char* name, int64_t& out, int64_t min, int64_t max) {
  return FromEnv(name, out, [&](const std::string& t) { return ParseInt(t, name, min, max); });
}

Status EnvDouble(const char* name, double& out, double min, double max) {
  return FromEnv(name, out, [&](const std::string& t) { return ParseDouble(t, name, min, max); });
}

Status EnvBool(const char* name, bool& out) {
  return FromEnv(name, out, [&](const std::string& t) { return ParseBool(t, name); });
}

}  // namespace asicmon
