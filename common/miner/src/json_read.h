// Reading values out of a miner's (repaired, parsed) JSON without ever
// throwing: members, numbers that firmware writes as strings, words compared
// without case. Every JSON helper of normalisation and protocol is here.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace asicmon {

using Node = std::optional<simdjson::dom::element>;  // nullopt: the member is absent

// ---- Text ----

bool EqualsNoCase(std::string_view a, std::string_view b);
bool StartsWithNoCase(std::string_view s, std::string_view prefix);
bool ContainsNoCase(std::string_view haystack, std::string_view needle);
std::string_view Trim(std::string_view s);  // without surrounding spaces, tabs, CR, LF
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// The number a whole string spells, nullopt for "", "32.8K" or anything else.
std::optional<double> ParseNumber(std::string_view s);

// ---- JSON ----

// obj[key] when `obj` is an object that has `key`; nullopt otherwise.
Node MemberOf(simdjson::dom::element obj, std::string_view key);
std::optional<std::string_view> AsText(simdjson::dom::element value);
// Numbers and numeric strings ("504.56"); "", "inf", "nan", null and other
// types are "not reported".
std::optional<double> AsNumber(simdjson::dom::element value);
std::optional<double> OptNumber(simdjson::dom::element obj, std::string_view key);
std::optional<int64_t> OptInt(simdjson::dom::element obj, std::string_view key);
std::optional<int32_t> OptInt32(simdjson::dom::element obj, std::string_view key);
std::string OptString(simdjson::dom::element obj, std::string_view key);  // "" when absent
bool IsTrue(simdjson::dom::element obj, std::string_view key);           // true or "true"
// Elements of an array that are objects; nothing for anything else.
std::vector<simdjson::dom::element> Objects(const Node& array);

// Calls fn(key, value) for each member of `obj`; nothing when it is not an object.
template <typename Fn>
void ForEachMember(simdjson::dom::element obj, Fn fn) {
  simdjson::dom::object o;
  if (obj.get(o) != simdjson::SUCCESS) return;
  for (const simdjson::dom::key_value_pair member : o) fn(member.key, member.value);
}

}  // namespace asicmon
