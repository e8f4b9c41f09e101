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

// JSON, written straight from the Record: RecordToJson builds a DOM of maps
// first, 27 us a record (bench/record_bench), which capped push below
// 40,000 records/s; this writes the same object in a fraction of that.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;  // our own keys: plain ASCII
    out_ += "\":";
  }
  void Open(char bracket) {
    out_ += bracket;
    first_ = true;
  }
  void Close(char bracket) {
    out_ += bracket;
    first_ = false;
  }
  void Element() {
    if (!first_) out_ += ',';
    first_ = false;
  }

  void String(std::string_view s) {
    // Plain printable ASCII goes as it is; anything else (escapes, UTF-8,
    // invalid bytes from a miner) through nlohmann's serializer, which
    // escapes and replaces exactly as RecordToJson does.
    const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
      return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
    });
    if (plain) {
      out_ += '"';
      out_ += s;
      out_ += '"';
    } else {
      out_ += nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace);
    }
  }
  void Number(double v) {
    if (!std::isfinite(v)) {
      out_ += "null";  // as nlohmann writes it
      return;
    }
    const size_t at = out_.size();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    // A float stays a float for typed receivers: 3250 -> 3250.0.
    if (out_.find_first_of(".e", at) == std::string::npos) out_ += ".0";
  }
  template <typename Int>
  void Number(Int v) {
    fmt::format_to(std::back_inserter(out_), "{}", v);
  }
  template <typename T>
  void Number(const std::optional<T>& v) {
    if (v) {
      Number(*v);
    } else {
      out_ += "null";
    }
  }
  void Bool(bool v) { out_ += v ? "true" : "false"; }

  template <typename T>
  void Field(std::string_view key, const T& v) {
    Key(key);
    Number(v);
  }
  void TextField(std::string_view key, std::string_view v) {
    Key(key);
    String(v);
  }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace

void AppendRecordJson(const Record& r, std::string& out) {
  JsonWriter w(out);
  w.Open('{');
  w.Field("schema_version", r.schema_version);
  w.TextField("producer_id", r.producer_id);
  w.Field("seq", r.seq);
  w.Field("ts", r.ts);
  w.TextField("ip", r.ip);
  w.Field("port", r.port);
  w.TextField("status", ToString(r.status));
  w.TextField("error", r.error);
  w.TextField("model", r.model);
  w.TextField("firmware", r.firmware);
  w.TextField("firmware_build", r.firmware_build);
  w.TextField("algorithm", r.algorithm);
  w.TextField("worker", r.worker);
  w.Field("hashrate", r.hashrate);
  w.Field("hashrate_avg", r.hashrate_avg);
  w.Field("hashrate_expected", r.hashrate_expected);
  w.Field("uptime_s", r.uptime_s);
  w.Field("accepted", r.accepted);
  w.Field("rejected", r.rejected);
  w.Field("hw_errors", r.hw_errors);
  w.Field("temp_max", r.temp_max);
  w.Key("fans");
  w.Open('[');
  for (int32_t rpm : r.fans) {
    w.Element();
    w.Number(rpm);
  }
  w.Close(']');
  w.Key("boards");
  w.Open('[');
  for (const BoardStats& b : r.boards) {
    w.Element();
    w.Open('{');
    w.Field("index", b.index);
    w.Field("hashrate", b.hashrate);
    w.Field("hashrate_expected", b.hashrate_expected);
    w.Field("temp_board", b.temp_board);
    w.Field("temp_chip", b.temp_chip);
    w.Field("chips", b.chips);
    w.Field("chips_ok", b.chips_ok);
    w.Field("chips_failed", b.chips_failed);
    w.Field("freq_mhz", b.freq_mhz);
    w.Field("hw_errors", b.hw_errors);
    w.Close('}');
  }
  w.Close(']');
  w.Key("pools");
  w.Open('[');
  for (const PoolInfo& p : r.pools) {
    w.Element();
    w.Open('{');
    w.Field("index", p.index);
    w.TextField("url", p.url);
    w.TextField("user", p.user);
    w.TextField("status", p.status);
    w.Field("priority", p.priority);
    w.Field("accepted", p.accepted);
    w.Field("rejected", p.rejected);
    w.Field("stale", p.stale);
    w.Key("active");
    w.Bool(p.active);
    w.Close('}');
  }
  w.Close(']');
  w.Field("power_w", r.power_w);
  w.Field("poll_ms", r.poll_ms);
  w.Close('}');
}

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

}  // namespace asicmon::push
