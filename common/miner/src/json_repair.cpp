#include "json_repair.h"

#include <cstdio>
#include <vector>

namespace asicmon {
namespace {

// Deeper than any miner reply; bounds the work a hostile reply can cause.
constexpr size_t kMaxDepth = 64;

// Where the tokenizer stands, so a repair is only made where it is unambiguous.
enum class Expect {
  kKeyOrEnd,    // after '{'
  kKey,         // after ',' in an object
  kColon,       // after a key
  kValue,       // after ':' in an object, or after ',' in an array
  kValueOrEnd,  // after '['
  kCommaOrEnd,  // after a complete value inside a container
};

bool IsSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsTokenChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '+' || c == '.';
}
bool IsHex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Length of the valid UTF-8 sequence starting at s[i], 0 when invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
  }
  return len;
}

bool IsNonFinite(std::string_view token) {
  if (!token.empty() && (token[0] == '-' || token[0] == '+')) token.remove_prefix(1);
  std::string lower(token);
  for (char& c : lower) c = static_cast<char>(c | 0x20);
  return lower == "inf" || lower == "infinity" || lower == "nan";
}

// An integer literal outside int64 (negative) or uint64 (positive), which
// simdjson rejects rather than rounds.
bool IsWideInteger(std::string_view number) {
  const bool negative = !number.empty() && number[0] == '-';
  if (negative) number.remove_prefix(1);
  for (char c : number) {
    if (c < '0' || c > '9') return false;
  }
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  return number.size() > limit.size() || (number.size() == limit.size() && number > limit);
}

class Repairer {
 public:
  Repairer(std::string_view raw, RepairStats& stats) : raw_(raw), stats_(stats) {
    out_.reserve(raw.size() + 16);
  }

  Result<std::string> Run() {
    while (pos_ < raw_.size()) {
      const auto c = static_cast<unsigned char>(raw_[pos_]);
      if (IsSpace(c)) {
        ++pos_;
      } else if (c == '"') {
        if (stack_.empty() && have_document_ && raw_.find('"', pos_ + 1) == std::string_view::npos) {
          // A lone quote after a complete reply (seen on Avalon): junk, not a cut-short value.
          stats_.stray_bytes_dropped += static_cast<int>(raw_.size() - pos_);
          break;
        }
        if (Status s = BeginValueOrKey(); !s.ok()) return s;
        if (Status s = CopyString(); !s.ok()) return s;
      } else if (c == '{' || c == '[') {
        if (Status s = BeginValue(); !s.ok()) return s;
        if (stack_.size() >= kMaxDepth) return Error("nesting deeper than 64");
        stack_.push_back(c == '{' ? '}' : ']');
        expect_ = c == '{' ? Expect::kKeyOrEnd : Expect::kValueOrEnd;
        out_.push_back(static_cast<char>(c));
        ++pos_;
      } else if (c == '}' || c == ']') {
        if (Status s = Close(static_cast<char>(c)); !s.ok()) return s;
      } else if (c == ':') {
        if (stack_.empty() || expect_ != Expect::kColon) return Error("unexpected ':'");
        out_.push_back(':');
        expect_ = Expect::kValue;
        ++pos_;
      } else if (c == ',') {
        Comma();
      } else if (IsTokenChar(c)) {
        if (Status s = BeginValue(); !s.ok()) return s;
        if (Status s = CopyToken(); !s.ok()) return s;
      } else if (c < 0x20 || c == 0x7F) {
        // NUL terminators and line noise between tokens carry no meaning.
        ++stats_.stray_bytes_dropped;
        ++pos_;
      } else {
        return Error("unexpected byte " + Hex(c));
      }
    }
    if (!stack_.empty()) {
      return Status::ParseError("reply ends inside " +
                                std::string(stack_.back() == '}' ? "an object" : "an array") +
                                " after " + std::to_string(raw_.size()) + " bytes (cut short)");
    }
    if (!have_document_) return Status::ParseError("empty reply");
    if (stats_.documents_merged > 0) {
      out_.insert(out_.begin(), '[');
      out_.push_back(']');
    }
    return std::move(out_);
  }

 private:
  Status Error(const std::string& what) const {
    return Status::ParseError(what + " at byte " + std::to_string(pos_));
  }
  static std::string Hex(unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", c);
    return buf;
  }

  // A string in key position is a key; anywhere else it is a value.
  Status BeginValueOrKey() {
    if (!stack_.empty() && stack_.back() == '}') {
      if (expect_ == Expect::kCommaOrEnd) {
        // `"a":1 "b":2`: a comma the firmware forgot.
        out_.push_back(',');
        ++stats_.commas_inserted;
        expect_ = Expect::kKey;
      }
      if (expect_ == Expect::kKeyOrEnd || expect_ == Expect::kKey) {
        expect_ = Expect::kColon;
        return Status::Ok();
      }
    }
    return BeginValue();
  }

  // Moves the state past the start of a value, inserting the comma that
  // `}{` (S9/L3+ stats) or glued documents leave out.
  Status BeginValue() {
    if (stack_.empty()) {
      if (have_document_) {
        out_.push_back(',');
        ++stats_.documents_merged;
      }
      have_document_ = true;
      return Status::Ok();
    }
    if (stack_.back() == ']') {
      if (expect_ == Expect::kCommaOrEnd) {
        out_.push_back(',');
        ++stats_.commas_inserted;
      } else if (expect_ != Expect::kValue && expect_ != Expect::kValueOrEnd) {
        return Error("value out of place");
      }
    } else if (expect_ != Expect::kValue) {
      return Error(expect_ == Expect::kColon ? "missing ':' after key" : "value where a key belongs");
    }
    expect_ = Expect::kCommaOrEnd;
    return Status::Ok();
  }

  Status Close(char closer) {
    if (stack_.empty() || stack_.back() != closer) return Error(std::string("unmatched '") + closer + "'");
    if (expect_ == Expect::kColon || (closer == '}' && expect_ == Expect::kValue)) {
      return Error("object ends before its value");
    }
    if (expect_ == Expect::kKey || (closer == ']' && expect_ == Expect::kValue)) {
      // `[1,2,]` / `{"a":1,}`: the comma just written goes.
      out_.pop_back();
      ++stats_.trailing_commas_removed;
    }
    stack_.pop_back();
    out_.push_back(closer);
    expect_ = Expect::kCommaOrEnd;
    ++pos_;
    return Status::Ok();
  }

  void Comma() {
    if (!stack_.empty() && expect_ == Expect::kCommaOrEnd) {
      out_.push_back(',');
      expect_ = stack_.back() == '}' ? Expect::kKey : Expect::kValue;
    } else {
      ++stats_.stray_bytes_dropped;  // `,,` or a comma outside any container
    }
    ++pos_;
  }

  Status CopyToken() {
    const size_t start = pos_;
    while (pos_ < raw_.size() && IsTokenChar(static_cast<unsigned char>(raw_[pos_]))) ++pos_;
    const std::string_view token = raw_.substr(start, pos_ - start);
    if (token == "true" || token == "false" || token == "null") {
      out_.append(token);
    } else if (IsNonFinite(token)) {
      out_.append("null");  // JSON has no inf/nan; "not reported" is the honest reading
      ++stats_.nonfinite_nulled;
    } else if (token[0] == '-' || (token[0] >= '0' && token[0] <= '9') ||
               (token[0] == '+' && token.size() > 1 && token[1] >= '0' && token[1] <= '9')) {
      // A leading '+' is not JSON; some firmware prints it on signed fields.
      // Dropped only before a digit: a bare "+" would leave no value at all.
      const std::string_view number = token[0] == '+' ? token.substr(1) : token;
      out_.append(number);
      // Difficulty counters outgrow 64 bits on some firmware; as a double they
      // keep their magnitude instead of failing the whole reply.
      if (IsWideInteger(number)) {
        out_.append(".0");
        ++stats_.wide_integers_widened;
      }
    } else {
      pos_ = start;
      return Error("unknown word '" + std::string(token.substr(0, 32)) + "'");
    }
    return Status::Ok();
  }

  Status CopyString() {
    const size_t start = pos_;
    out_.push_back('"');
    ++pos_;
    while (pos_ < raw_.size()) {
      const auto c = static_cast<unsigned char>(raw_[pos_]);
      if (c == '"') {
        out_.push_back('"');
        ++pos_;
        return Status::Ok();
      }
      if (c == '\\') {
        CopyEscape();
      } else if (c < 0x20) {
        // A raw newline or tab inside a string (e.g. in "Type"): escape it.
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_.append(buf);
        ++stats_.control_bytes_escaped;
        ++pos_;
      } else if (c < 0x80) {
        // Copy the run of plain ASCII in one go: most of a reply is this.
        size_t end = pos_ + 1;
        while (end < raw_.size()) {
          const auto b = static_cast<unsigned char>(raw_[end]);
          if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
          ++end;
        }
        out_.append(raw_.data() + pos_, end - pos_);
        pos_ = end;
      } else if (size_t len = Utf8SequenceLength(raw_, pos_); len > 0) {
        out_.append(raw_.substr(pos_, len));
        pos_ += len;
      } else {
        out_.append("\xEF\xBF\xBD");
        ++stats_.invalid_utf8_replaced;
        ++pos_;
      }
    }
    pos_ = start;
    return Error("string never ends (cut short)");
  }

  void CopyEscape() {
    if (pos_ + 1 >= raw_.size()) {  // a lone backslash at the very end: cut short
      ++pos_;
      return;
    }
    const char next = raw_[pos_ + 1];
    switch (next) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        out_.push_back('\\');
        out_.push_back(next);
        pos_ += 2;
        return;
      case 'u':
        if (pos_ + 5 < raw_.size() && IsHex(raw_[pos_ + 2]) && IsHex(raw_[pos_ + 3]) &&
            IsHex(raw_[pos_ + 4]) && IsHex(raw_[pos_ + 5])) {
          out_.append(raw_.substr(pos_, 6));
          pos_ += 6;
          return;
        }
        break;
      case '\'':
        // Whatsminer escapes single quotes; JSON does not.
        out_.push_back('\'');
        pos_ += 2;
        ++stats_.escapes_fixed;
        return;
      default:
        break;
    }
    // Any other backslash is meant literally.
    out_.append("\\\\");
    ++pos_;
    ++stats_.escapes_fixed;
  }

  std::string_view raw_;
  RepairStats& stats_;
  std::string out_;
  size_t pos_ = 0;
  std::vector<char> stack_;  // the closer each open container expects
  Expect expect_ = Expect::kValue;
  bool have_document_ = false;
};

}  // namespace

Result<std::string> RepairMinerJson(std::string_view raw, RepairStats* stats) {
  RepairStats local;
  return Repairer(raw, stats ? *stats : local).Run();
}

Result<simdjson::dom::element> MinerJsonParser::Parse(std::string_view raw, RepairStats* stats) {
  Result<std::string> text = RepairMinerJson(raw, stats);
  if (!text.ok()) return text.status();
  text_ = std::move(*text);
  // simdjson reads in SIMD blocks past the end: room for them saves it a copy.
  text_.reserve(text_.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element doc;
  if (const simdjson::error_code error =
          parser_.parse(text_.data(), text_.size(), /*realloc_if_needed=*/false).get(doc)) {
    // The tokenizer passes number-shaped tokens through; simdjson judges them.
    return Status::ParseError(std::string("reply is not valid JSON after repair: ") +
                              simdjson::error_message(error));
  }
  return doc;
}

}  // namespace asicmon
