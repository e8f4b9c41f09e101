#include "json_read.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace asicmon {
namespace {

using simdjson::dom::element;

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsNoCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::optional<double> ParseNumber(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

Node MemberOf(element obj, std::string_view key) {
  simdjson::dom::object o;
  element value;
  if (obj.get(o) != simdjson::SUCCESS || o.at_key(key).get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> AsText(element value) {
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

std::optional<double> AsNumber(element value) {
  double d = 0;
  if (value.get(d) == simdjson::SUCCESS) {  // integers convert too
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  if (const std::optional<std::string_view> text = AsText(value)) return ParseNumber(*text);
  return std::nullopt;
}

std::optional<double> OptNumber(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  return v ? AsNumber(*v) : std::nullopt;
}

std::optional<int64_t> OptInt(element obj, std::string_view key) {
  const std::optional<double> d = OptNumber(obj, key);
  if (!d || std::fabs(*d) > 9e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(*d));
}

std::optional<int32_t> OptInt32(element obj, std::string_view key) {
  const std::optional<double> d = OptNumber(obj, key);
  if (!d || std::fabs(*d) > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int32_t>(std::lround(*d));
}

std::string OptString(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  const std::optional<std::string_view> text = v ? AsText(*v) : std::nullopt;
  return text ? std::string(*text) : std::string();
}

bool IsTrue(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  if (!v) return false;
  bool b = false;
  if (v->get(b) == simdjson::SUCCESS) return b;
  const std::optional<std::string_view> text = AsText(*v);
  return text && EqualsNoCase(*text, "true");
}

std::vector<element> Objects(const Node& array) {
  std::vector<element> out;
  simdjson::dom::array list;
  if (!array || array->get(list) != simdjson::SUCCESS) return out;
  for (element e : list) {
    if (e.is_object()) out.push_back(e);
  }
  return out;
}

}  // namespace asicmon
