#include "format.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace asicmon::push {
namespace {

// Integer fields carry line protocol's "i" suffix; floats are written with
// enough digits to round-trip.
void AppendField(std::string& out, bool& first, std::string_view key, std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return;
  out += first ? ' ' : ',';
  first = false;
  fmt::format_to(std::back_inserter(out), "{}={}", key, *v);
}

void AppendField(std::string& out, bool& first, std::string_view key, std::optional<int64_t> v) {
  if (!v) return;
  out += first ? ' ' : ',';
  first = false;
  fmt::format_to(std::back_inserter(out), "{}={}i", key, *v);
}

void AppendTag(std::string& out, std::string_view key, std::string_view value) {
  const std::string escaped = EscapeInfluxTag(value);
  if (escaped.empty()) return;
  out += ',';
  out += key;
  out += '=';
  out += escaped;
}

}  // namespace


std::optional<Format> ParseFormat(std::string_view word) {
  if (word == "json") return Format::kJson;
  if (word == "ndjson") return Format::kNdjson;
  if (word == "influx") return Format::kInflux;
  return std::nullopt;
}

std::string_view ToString(Format format) {
  switch (format) {
    case Format::kJson: return "json";
    case Format::kNdjson: return "ndjson";
    case Format::kInflux: return "influx";
  }
  return "json";
}

std::string_view ContentType(Format format) {
  switch (format) {
    case Format::kJson: return "application/json";
    case Format::kNdjson: return "application/x-ndjson";
    case Format::kInflux: return "text/plain; charset=utf-8";
  }
  return "application/json";
}

std::string EscapeInfluxTag(std::string_view value) {
  // A trailing backslash would escape the separator after it, and line
  // protocol has no escape for a backslash itself: drop it.
  while (!value.empty() && value.back() == '\\') value.remove_suffix(1);
  std::string out;
  out.reserve(value.size() + 4);
  for (char c : value) {
    if (c == ',' || c == '=' || c == ' ') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += "\\ ";  // a newline would end the line; control bytes read as a space
    } else {
      out += c;
    }
  }
  return out;
}

std::string QuoteInfluxString(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  out += '"';
  return out;
}

void AppendInfluxLine(const Record& r, std::string& out) {
  out += "miner";
  AppendTag(out, "ip", r.ip);
  AppendTag(out, "model", r.model);
  AppendTag(out, "worker", r.worker);
  AppendTag(out, "firmware", r.firmware);
  // status is always there, so a line never lacks a field.
  out += " status=";
  out += QuoteInfluxString(ToString(r.status));
  bool first = false;
  AppendField(out, first, "hashrate", r.hashrate);
  AppendField(out, first, "hashrate_avg", r.hashrate_avg);
  AppendField(out, first, "hashrate_expected", r.hashrate_expected);
  AppendField(out, first, "temp_max", r.temp_max);
  AppendField(out, first, "power_w", r.power_w);
  AppendField(out, first, "poll_ms", r.poll_ms);
  AppendField(out, first, "uptime_s", r.uptime_s);
  AppendField(out, first, "accepted", r.accepted);
  AppendField(out, first, "rejected", r.rejected);
  AppendField(out, first, "hw_errors", r.hw_errors);
  AppendField(out, first, "port", std::optional<int64_t>(r.port));
  AppendField(out, first, "seq", std::optional<int64_t>(static_cast<int64_t>(r.seq)));
  // A field, not a tag: a miner's series stays one series as it sleeps and wakes.
  out += r.sleeping ? ",sleeping=true" : ",sleeping=false";
  out += ",producer_id=";
  out += QuoteInfluxString(r.producer_id);
  if (std::isfinite(r.ts) && r.ts >= 0 && r.ts < 9.2e9) {
    // Whole seconds apart from the fraction: ts * 1e9 in one double would
    // lose the last digits.
    const double seconds = std::floor(r.ts);
    const int64_t ns = static_cast<int64_t>(seconds) * 1000000000 +
                       std::llround((r.ts - seconds) * 1e9);
    fmt::format_to(std::back_inserter(out), " {}", ns);
  }
}

void FormatBatch(Format format, std::span<const Record> records, std::string& body) {
  body.clear();
  if (format == Format::kJson) body += '[';
  for (size_t i = 0; i < records.size(); ++i) {
    switch (format) {
      case Format::kJson:
        if (i > 0) body += ',';
        AppendRecordJson(records[i], body);
        break;
      case Format::kNdjson:
        AppendRecordJson(records[i], body);
        body += '\n';
        break;
      case Format::kInflux:
        AppendInfluxLine(records[i], body);
        body += '\n';
        break;
    }
  }
  if (format == Format::kJson) body += ']';
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace asicmon::push
