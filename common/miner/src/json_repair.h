// Turns the bytes a miner sent into strict JSON, fixing only the quirks real
// firmware is known to produce, each at the token position where it occurs
// (a small tokenizer that knows whether it is inside a string, an object or an
// array), never by global search-and-replace, which would corrupt strings that
// happen to contain the pattern.
//
// Repaired: `}{` between objects (S9/L3+ stats), missing commas between
// values, trailing commas, bare inf/-inf/nan/NaN (Avalon) as null, `\'` and
// other invalid escapes (Whatsminer), raw control bytes inside strings,
// bytes that are not UTF-8 (as U+FFFD), stray control bytes and NULs
// between tokens or after the reply, several
// top-level documents glued together (returned as one JSON array).
// Not repaired: a reply cut short (unterminated string, unclosed object or
// array). That is a parse error: missing brackets or values are never invented.
//
// Parsing is simdjson's DOM: a poll reply of ~7 KB parses in a few µs, where a
// tree of std::map nodes took ~100 µs and capped a collect worker's poll rate.
//
// Thread-safety: RepairMinerJson is a pure function; a MinerJsonParser belongs
// to one thread.
#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "asicmon/status.h"

namespace asicmon {

// What a repair changed; all zero for a reply that was already strict JSON.
struct RepairStats {
  int commas_inserted = 0;
  int trailing_commas_removed = 0;
  int nonfinite_nulled = 0;       // inf / nan literals replaced by null
  int escapes_fixed = 0;          // invalid backslash escapes
  int control_bytes_escaped = 0;  // raw control bytes inside strings
  int invalid_utf8_replaced = 0;  // bytes that are not UTF-8, as U+FFFD
  int stray_bytes_dropped = 0;    // NULs and junk between tokens or at the end
  int documents_merged = 0;       // extra top-level documents folded into an array
  int wide_integers_widened = 0;  // integers beyond 64 bits written as doubles
  int total() const {
    return commas_inserted + trailing_commas_removed + nonfinite_nulled + escapes_fixed +
           control_bytes_escaped + invalid_utf8_replaced + stray_bytes_dropped + documents_merged +
           wide_integers_widened;
  }
};

// Strict JSON text for `raw`, or a ParseError that says what is wrong and at
// which byte offset.
Result<std::string> RepairMinerJson(std::string_view raw, RepairStats* stats = nullptr);

// Repairs and parses miner replies, reusing its buffers from one reply to the next.
class MinerJsonParser {
 public:
  // The document of `raw` after repair, or a ParseError. The element (and
  // text()) stay valid until the next Parse on this parser. Never throws.
  Result<simdjson::dom::element> Parse(std::string_view raw, RepairStats* stats = nullptr);
  // The strict JSON text of the last successful Parse.
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
};

}  // namespace asicmon
