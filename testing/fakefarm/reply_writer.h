// The byte-exact writer of the fake miner's API replies. Not nlohmann: the
// replies must carry the bytes real firmware writes, which a JSON library
// does not produce: the S19 family's ", " and ": " separators, bmminer's
// `}{` between two objects with no comma (invalid JSON on purpose), keys
// that need no escaping and ones printf doubled ("Pool Stale%%"), numbers as
// printf's "%.Nf" (fixed decimals, never exponents) and numbers in strings
// ("GHS 5s":"13883.81"). Tests compare these bytes (fake_miner_test's
// RawBytesCarryTheFirmwareQuirks and KeysInOrder), and collect's JSON repair
// is exercised by them. It is also on every exchange of the farm, hence the
// direct buffer writes.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace asicmon::fakefarm {

// `s` as a JSON string, its bytes passed through as they are but for quotes,
// backslashes and control characters: a hostile request's bytes reach the
// reply and the action log as sent, where nlohmann would refuse invalid UTF-8.
inline void AppendJsonString(fmt::memory_buffer& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(fmt::appender(out), "\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// The host part of a stratum URL, as cgminer shows it in "Stratum URL".
inline std::string_view UrlHost(std::string_view url) {
  if (size_t p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  return url.substr(0, url.find_first_of(":/"));
}

// Writes JSON tokens with the separators of one firmware family: `,` and `:`
// (cgminer), or `, ` and `: ` (the S19 captures).
class ReplyWriter {
 public:
  ReplyWriter(fmt::memory_buffer& out, bool spaced) : out_(out), spaced_(spaced) {}

  void Open(char c) {
    Sep();
    out_.push_back(c);
  }
  void Close(char c) {
    out_.push_back(c);
    need_sep_ = true;
  }
  // The next value follows the previous one with no comma: bmminer's `}{`.
  void Glue() { need_sep_ = false; }
  void Key(std::string_view key) {
    Sep();
    out_.push_back('"');
    Append(key);
    out_.push_back('"');
    Colon();
  }
  void Key(std::string_view prefix, int n) {
    Sep();
    out_.push_back('"');
    Append(prefix);
    AppendInt(n);
    out_.push_back('"');
    Colon();
  }
  void EscKey(std::string_view key) {
    Sep();
    Escaped(key);
    Colon();
  }
  void Int(int64_t v) {
    Sep();
    AppendInt(v);
    need_sep_ = true;
  }
  void Fixed(double v, int decimals) {
    Sep();
    AppendFixed(v, decimals);
    need_sep_ = true;
  }
  // `s` is known to need no escaping.
  void Str(std::string_view s) {
    Sep();
    out_.push_back('"');
    Append(s);
    out_.push_back('"');
    need_sep_ = true;
  }
  void EscStr(std::string_view s) {
    Sep();
    Escaped(s);
    need_sep_ = true;
  }
  void FixedStr(double v, int decimals) {
    Sep();
    out_.push_back('"');
    AppendFixed(v, decimals);
    out_.push_back('"');
    need_sep_ = true;
  }
  // "a-b-c-d", the four sensors of one board as S17/S19 firmware prints them.
  void Sensors(int a, int b, int c, int d) {
    Sep();
    out_.push_back('"');
    for (int v : {a, b, c}) {
      AppendInt(v);
      out_.push_back('-');
    }
    AppendInt(d);
    out_.push_back('"');
    need_sep_ = true;
  }
  void Bool(bool b) {
    Sep();
    Append(b ? "true" : "false");
    need_sep_ = true;
  }
  // JSON null: ePIC's "no value" (null fan slots, no last error).
  void Null() {
    Sep();
    Append("null");
    need_sep_ = true;
  }

  void Int(std::string_view key, int64_t v) {
    Key(key);
    Int(v);
  }
  void Fixed(std::string_view key, double v, int decimals) {
    Key(key);
    Fixed(v, decimals);
  }
  void Str(std::string_view key, std::string_view v) {
    Key(key);
    Str(v);
  }
  void EscStr(std::string_view key, std::string_view v) {
    Key(key);
    EscStr(v);
  }
  void Bool(std::string_view key, bool v) {
    Key(key);
    Bool(v);
  }
  void Null(std::string_view key) {
    Key(key);
    Null();
  }
  // Members of numbered families: "fan5", "temp2_6", "chain_rate1".
  void IntN(std::string_view prefix, int n, int64_t v) {
    Key(prefix, n);
    Int(v);
  }
  void FixedN(std::string_view prefix, int n, double v, int decimals) {
    Key(prefix, n);
    Fixed(v, decimals);
  }
  void StrN(std::string_view prefix, int n, std::string_view v) {
    Key(prefix, n);
    Str(v);
  }

  bool spaced() const { return spaced_; }

 private:
  void Sep() {
    if (need_sep_) Append(spaced_ ? ", " : ",");
    need_sep_ = false;
  }
  void Colon() { Append(spaced_ ? ": " : ":"); }
  // Grows the buffer once and copies, instead of fmt's byte-wise append.
  void Append(std::string_view s) {
    if (s.empty()) return;  // an empty view may carry a null data(), which memcpy must not get
    const size_t at = out_.size();
    out_.try_resize(at + s.size());
    std::memcpy(out_.data() + at, s.data(), s.size());
  }
  void AppendInt(int64_t v) {
    fmt::format_int f(v);
    Append(std::string_view(f.data(), f.size()));
  }
  // printf("%.*f") for the magnitudes replies carry, in integer arithmetic:
  // several times faster than general float formatting, on every request.
  void AppendFixed(double v, int decimals) {
    static constexpr int64_t kPow10[] = {1,      10,      100,      1000,     10000,
                                         100000, 1000000, 10000000, 100000000};
    const double scaled =
        decimals >= 0 && decimals <= 8 ? v * static_cast<double>(kPow10[decimals]) : 1e300;
    if (!(std::fabs(scaled) < 9e18)) {
      fmt::format_to(fmt::appender(out_), "{:.{}f}", v, decimals);
      return;
    }
    const int64_t scale = kPow10[decimals];
    int64_t n = std::llround(scaled);
    if (n < 0) {
      out_.push_back('-');
      n = -n;
    }
    AppendInt(n / scale);
    if (decimals == 0) return;
    out_.push_back('.');
    char digits[8];
    int64_t frac = n % scale;
    for (int i = decimals - 1; i >= 0; --i, frac /= 10) {
      digits[i] = static_cast<char>('0' + frac % 10);
    }
    Append(std::string_view(digits, static_cast<size_t>(decimals)));
  }
  void Escaped(std::string_view s) { AppendJsonString(out_, s); }

  fmt::memory_buffer& out_;
  bool spaced_;
  bool need_sep_ = false;
};

}  // namespace asicmon::fakefarm
