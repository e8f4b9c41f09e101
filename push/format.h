// The bodies push sends: one batch of records as a JSON array, as NDJSON
// (one JSON object per line), or as InfluxDB line protocol.
//
// Thread-safety: plain functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "asicmon/record.h"

namespace asicmon::push {

enum class Format { kJson, kNdjson, kInflux };

// "json", "ndjson", "influx".
std::optional<Format> ParseFormat(std::string_view word);
std::string_view ToString(Format format);
// The Content-Type header value for a body of `format`.
std::string_view ContentType(Format format);

// Appends `records` to `body` (cleared first) in `format`. JSON forms are
// RecordToJson's objects (invalid UTF-8 from miners replaced, never thrown).
void FormatBatch(Format format, std::span<const Record> records, std::string& body);

// One record in line protocol, no newline:
//   miner,ip=..,model=..,worker=..,firmware=.. hashrate=..,...,status="ok" <ts ns>
// Tags with an empty value are left out (line protocol has no empty tags);
// fields the miner did not report are left out, as are non-finite numbers.
void AppendInfluxLine(const Record& record, std::string& out);
// A tag value or key escaped for line protocol: backslash before comma,
// equals sign and space; newlines (which end a line) become spaces.
std::string EscapeInfluxTag(std::string_view value);
// A string field value, quoted, with backslash and double quote escaped.
std::string QuoteInfluxString(std::string_view value);

// `j` as one line of JSON text, invalid UTF-8 replaced (never thrown): what
// push writes to its own files (state, dead letters).
std::string DumpJson(const nlohmann::json& j);

}  // namespace asicmon::push
