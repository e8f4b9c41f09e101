#include "fake_miner.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <numbers>

namespace asicmon::fakefarm {
namespace {

constexpr ModelSpec kModels[] = {
    {ModelId::kS9, "s9", "Antminer S9", 13.5e12, 3, 63, 6, true},
    {ModelId::kS17Pro, "s17pro", "Antminer S17 Pro", 53e12, 3, 48, 1, false},
    {ModelId::kS19Pro, "s19pro", "Antminer S19 Pro", 110e12, 3, 114, 1, false},
    {ModelId::kS19jPro, "s19jpro", "Antminer S19j Pro", 104e12, 3, 126, 1, false},
    {ModelId::kL3Plus, "l3plus", "Antminer L3+", 504e6, 4, 72, 1, true},
};

// Firmware facts per model, from the captures in tests/data (the S19j Pro has
// no capture: it reuses the S19 Pro build with its own Type and date).
struct Firmware {
  std::string_view miner_key;      // "BMMiner" or "CGMiner", the first key of VERSION
  std::string_view miner_version;  // its value
  std::string_view miner;          // "Miner": Bitmain's firmware version
  std::string_view compile_time;
  std::string_view description;  // STATUS Description
  std::string_view msg_prefix;   // "BMMiner stats" / "CGMiner stats"
  std::string_view stats_id;     // STATS[1] "ID"
  bool spaced;                   // ", " and ": " between tokens (S19 family)
  bool ghs_5s_string;            // "GHS 5s" is a string ("13883.81"), else a number
  int chip_group;                // chips per group in the chain_acs strings
  double ghs_unit;               // H/s per unit of the "GHS" labels (L3+: MH/s)
  int frequency;                 // MHz
  int pcb_base;                  // °C
  int chip_base;
  int fan_base;  // rpm
  int fans;
  int fan_first;  // fan number of the first populated fan slot
  std::string_view pool_diff_text;
  double pool_diff;
  BlinkApi blink;  // the web interface's fault LED, if any
  bool can_sleep;  // "miner-mode" 1 stops hashing
  int fan_idle;    // rpm while asleep (S17 family: fans off)
};

constexpr Firmware kFirmware[] = {
    // s9: antminer-s9-bmminer-version.json, antminer-s9-stats.json
    {"BMMiner", "2.0.0", "16.8.1.3", "Fri Nov 17 17:37:49 CST 2017", "bmminer 1.0.0", "BMMiner",
     "BC50", false, true, 8, 1e9, 650, 62, 75, 3960, 2, 5, "32.8K", 32768, BlinkApi::kForm, false,
     0},
    // s17pro: antminer-s17pro-version.json, antminer-s17pro-stats.json; asleep as
    // antminer-s17plus-stats-sleeping.json (fans and sensors 0).
    {"BMMiner", "1.0.0", "19.10.1.3", "Tue Aug 20 10:37:07 CST 2019", "cgminer 1.0.0", "CGMiner",
     "BTM_SOC0", false, true, 8, 1e9, 565, 50, 76, 2760, 4, 1, "39.5K", 39491, BlinkApi::kForm,
     true, 0},
    // s19pro: antminer-s19pro-version-b.json, antminer-s19pro-stats-overheating.json;
    // asleep as antminer-s19-stats-sleeping.json (fans idle near 1560 rpm).
    {"BMMiner", "1.0.0", "49.0.1.3", "Mon Oct 26 17:55:33 CST 2020", "cgminer 1.0.0", "CGMiner",
     "BTM_SOC0", true, false, 3, 1e9, 525, 62, 70, 5640, 4, 1, "32.8K", 32768, BlinkApi::kJson,
     true, 1560},
    // s19jpro: no capture; the S19 layout.
    {"BMMiner", "1.0.0", "49.0.1.3", "Mon Mar 15 10:26:02 CST 2021", "cgminer 1.0.0", "CGMiner",
     "BTM_SOC0", true, false, 3, 1e9, 500, 60, 68, 5280, 4, 1, "32.8K", 32768, BlinkApi::kJson,
     true, 1560},
    // l3plus: antminer-l3plus-version.json, antminer-l3plus-stats.json
    {"CGMiner", "4.9.0", "1.0.1.3", "Fri Aug 25 17:28:57 CST 2017", "cgminer 4.9.0", "CGMiner",
     "L30", false, true, 8, 1e6, 384, 46, 55, 3840, 2, 1, "65.5K", 65536, BlinkApi::kNone, false,
     0},
};

const Firmware& FirmwareOf(ModelId id) { return kFirmware[static_cast<size_t>(id)]; }

// Per-chip nonce timing as S9 firmware prints it, {X0=58,X1=59,...}: the
// same text on every simulated S9, so built once.
std::string_view S9Xtime(int board) {
  static const std::array<std::string, 3> kText = [] {
    std::array<std::string, 3> text;
    for (int b = 0; b < 3; ++b) {
      text[b] = "{";
      for (int x = 0; x < 63; ++x) {
        fmt::format_to(std::back_inserter(text[b]), "{}X{}={}", x ? "," : "", x,
                       55 + (x * 5 + b * 3) % 7);
      }
      text[b] += "}";
    }
    return text;
  }();
  return kText[board];
}

constexpr std::string_view kPrivileged[] = {"restart",    "addpool",    "switchpool",
                                            "removepool", "enablepool", "disablepool"};

// A cap on pools a miner keeps, so a loop of addpool cannot grow it without end.
constexpr int kMaxPools = 32;
// A cap on the parts of one multi-command (cgminer's own buffer holds 256 bytes).
constexpr int kMaxJoinParts = 32;
constexpr int kMaxJsonDepth = 64;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// cgminer reads pool ids with atoi(): leading blanks, a sign, digits, and 0
// for anything else.
int Atoi(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  int64_t value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    value = std::min<int64_t>(value * 10 + (s[i] - '0'), 1LL << 31);
  }
  return static_cast<int>(negative ? -value : std::min<int64_t>(value, INT32_MAX));
}

// The host part of a stratum URL, as cgminer shows it in "Stratum URL".
std::string_view UrlHost(std::string_view url) {
  if (size_t p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  return url.substr(0, url.find_first_of(":/"));
}

// The request's command and parameter. JSON as cgminer parses it with jansson
// (string parameters, integers as "%d", reals as "%f"), or the text form
// "command|parameter".
enum class ParseOutcome { kOk, kInvalidJson, kMissingCommand, kCommandNotString };

class RequestParser {
 public:
  explicit RequestParser(std::string_view s) : s_(s) {}

  ParseOutcome Parse(std::string& command, std::string& parameter, bool& has_parameter) {
    bool have_command = false;
    bool command_is_string = false;
    SkipWs();
    if (!Eat('{')) return ParseOutcome::kInvalidJson;
    SkipWs();
    if (!Eat('}')) {
      while (true) {
        SkipWs();
        if (!ParseString(&key_)) return ParseOutcome::kInvalidJson;
        SkipWs();
        if (!Eat(':')) return ParseOutcome::kInvalidJson;
        SkipWs();
        Kind kind;
        std::string* into = key_ == "command"     ? &command
                            : key_ == "parameter" ? &parameter
                                                  : nullptr;
        if (!ParseValue(0, &kind, into)) return ParseOutcome::kInvalidJson;
        if (key_ == "command") {
          have_command = true;
          command_is_string = kind == Kind::kString;
        } else if (key_ == "parameter") {
          has_parameter = kind == Kind::kString || kind == Kind::kInteger || kind == Kind::kReal;
          if (kind == Kind::kInteger) {
            int64_t v = 0;
            std::from_chars(parameter.data(), parameter.data() + parameter.size(), v);
            parameter = fmt::format("{}", static_cast<int>(v));
          } else if (kind == Kind::kReal) {
            parameter = fmt::format("{:f}", std::strtod(parameter.c_str(), nullptr));
          }
        }
        SkipWs();
        if (Eat(',')) continue;
        if (Eat('}')) break;
        return ParseOutcome::kInvalidJson;
      }
    }
    SkipWs();
    if (pos_ != s_.size()) return ParseOutcome::kInvalidJson;
    if (!have_command) return ParseOutcome::kMissingCommand;
    if (!command_is_string) return ParseOutcome::kCommandNotString;
    return ParseOutcome::kOk;
  }

 private:
  enum class Kind { kString, kInteger, kReal, kOther };

  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Hex4(uint32_t& cp) {
    if (s_.size() - pos_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9') {
        cp |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        cp |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        cp |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  // A JSON string, decoded into `out` (cleared first) when given.
  bool ParseString(std::string* out) {
    if (!Eat('"')) return false;
    if (out) out->clear();
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      char plain = 0;
      switch (e) {
        case '"':
          plain = '"';
          break;
        case '\\':
          plain = '\\';
          break;
        case '/':
          plain = '/';
          break;
        case 'b':
          plain = '\b';
          break;
        case 'f':
          plain = '\f';
          break;
        case 'n':
          plain = '\n';
          break;
        case 'r':
          plain = '\r';
          break;
        case 't':
          plain = '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (!Eat('\\') || !Eat('u') || !Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          if (out) AppendUtf8(*out, cp);
          continue;
        }
        default:
          return false;
      }
      if (out) out->push_back(plain);
    }
    return false;
  }
  bool ParseNumber(Kind* kind, std::string* out) {
    size_t start = pos_;
    bool real = false;
    Eat('-');
    if (Eat('0')) {
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    } else {
      return false;
    }
    if (Eat('.')) {
      real = true;
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    if (Eat('e') || Eat('E')) {
      real = true;
      if (!Eat('+')) Eat('-');
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    *kind = real ? Kind::kReal : Kind::kInteger;
    if (out) out->assign(s_.substr(start, pos_ - start));
    return true;
  }
  bool ParseLiteral(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  // Any JSON value; strings and numbers land in `out` when given. Nesting is
  // bounded so a hostile request cannot exhaust the stack.
  bool ParseValue(int depth, Kind* kind, std::string* out) {
    *kind = Kind::kOther;
    if (pos_ >= s_.size() || depth > kMaxJsonDepth) return false;
    char c = s_[pos_];
    if (c == '"') {
      *kind = Kind::kString;
      return ParseString(out);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(kind, out);
    if (c == 't') return ParseLiteral("true");
    if (c == 'f') return ParseLiteral("false");
    if (c == 'n') return ParseLiteral("null");
    if (c != '{' && c != '[') return false;
    const char close = c == '{' ? '}' : ']';
    ++pos_;
    SkipWs();
    if (Eat(close)) return true;
    while (true) {
      SkipWs();
      if (close == '}') {
        if (!ParseString(nullptr)) return false;
        SkipWs();
        if (!Eat(':')) return false;
        SkipWs();
      }
      Kind inner;
      if (!ParseValue(depth + 1, &inner, nullptr)) return false;
      SkipWs();
      if (Eat(',')) continue;
      return Eat(close);
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string key_;
};

}  // namespace

// Writes JSON tokens with the separators of one firmware family: `,` and `:`
// (cgminer), or `, ` and `: ` (the S19 captures).
class FakeMiner::Writer {
 public:
  Writer(fmt::memory_buffer& out, bool spaced) : out_(out), spaced_(spaced) {}

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
  void FixedStrN(std::string_view prefix, int n, double v, int decimals) {
    Key(prefix, n);
    FixedStr(v, decimals);
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
  void Escaped(std::string_view s) {
    out_.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        fmt::format_to(fmt::appender(out_), "\\u{:04x}", static_cast<unsigned>(c));
      } else {
        out_.push_back(c);
      }
    }
    out_.push_back('"');
  }

  fmt::memory_buffer& out_;
  bool spaced_;
  bool need_sep_ = false;
};

std::span<const ModelSpec> AllModels() { return kModels; }

const ModelSpec& GetModel(ModelId id) { return kModels[static_cast<size_t>(id)]; }

const ModelSpec* FindModel(std::string_view key) {
  for (const auto& m : kModels) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

int FanCount(ModelId id) { return FirmwareOf(id).fans; }

BlinkApi BlinkApiOf(ModelId id) { return FirmwareOf(id).blink; }

bool CanSleep(ModelId id) { return FirmwareOf(id).can_sleep; }

std::string_view ToString(ActionResult result) {
  switch (result) {
    case ActionResult::kOk:
      return "ok";
    case ActionResult::kDenied:
      return "denied";
    case ActionResult::kError:
      return "error";
  }
  return "error";
}

bool IsPrivilegedCommand(std::string_view command) {
  return std::find(std::begin(kPrivileged), std::end(kPrivileged), command) !=
         std::end(kPrivileged);
}

FakeMiner::FakeMiner(const FakeMinerSpec& spec, double now)
    : spec_(spec),
      model_(&GetModel(spec.model)),
      start_time_(now - spec.uptime_s),
      rng_(spec.seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(spec.index)) {
  av_offset_ = (Uniform() * 2 - 1) * 0.005;
  miner_id_ = fmt::format("{:016x}", spec.seed * 0x9E3779B97F4A7C15ULL + spec.index);
  temp_phase_ = Uniform() * 2 * std::numbers::pi;
  const std::string worker = fmt::format("farm.w{:04d}", spec.index + 1);
  constexpr std::string_view kUrls[] = {"stratum+tcp://pool-a.example:3333",
                                        "stratum+tcp://pool-b.example:443",
                                        "stratum+tcp://pool-c.example:700"};
  for (int i = 0; i < 3; ++i) {
    pools_.push_back(Pool{std::string(kUrls[i]), worker, "x", i, true, 0});
  }
  // Shares found before construction belong to the first pool.
  now_ = now;
  SettleShares();
}

void FakeMiner::Restart(double now) {
  if (now < ramp_start_ + spec_.wake_idle_s + spec_.wake_ramp_s) ramp_start_ = now;
  now_ = now;
  start_time_ = now;
  slept_s_ = 0;
  sleep_since_ = now;
  settled_accepted_ = 0;
  for (Pool& p : pools_) p.accepted = 0;
  snap_valid_ = false;
}

std::vector<PoolConfig> FakeMiner::PoolsByPriority() const {
  std::vector<const Pool*> order;
  for (const Pool& p : pools_) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(),
                   [](const Pool* a, const Pool* b) { return a->priority < b->priority; });
  std::vector<PoolConfig> configs;
  for (const Pool* p : order) configs.push_back({p->url, p->user, p->pass});
  return configs;
}

void FakeMiner::Reconfigure(const std::vector<PoolConfig>& pools, double now) {
  pools_.clear();
  for (const PoolConfig& p : pools) {
    pools_.push_back(Pool{p.url, p.user, p.pass, static_cast<int>(pools_.size()), true, 0});
  }
  Restart(now);
}

std::string_view FakeMiner::worker() const { return pools_[ActivePool()].user; }

void FakeMiner::SetDeadBoard(bool dead) {
  spec_.dead_board = dead;
  snap_valid_ = false;
}

void FakeMiner::SetTempOffset(int celsius) {
  temp_offset_ = celsius;
  snap_valid_ = false;
}

void FakeMiner::SetFansStopped(int count) {
  fans_stopped_ = std::clamp(count, 0, FirmwareOf(spec_.model).fans);
  snap_valid_ = false;
}

void FakeMiner::SetSleeping(bool asleep, double now) {
  if (!CanSleep(spec_.model) || asleep == sleeping_) return;
  if (!asleep) slept_s_ += std::max(0.0, now - std::max(sleep_since_, start_time_));
  sleeping_ = asleep;
  sleep_since_ = now;
  if (!asleep) ramp_start_ = now;
  snap_valid_ = false;
}

double FakeMiner::RampShare() const {
  const double rising_s = now_ - ramp_start_ - spec_.wake_idle_s;
  if (!(rising_s > 0)) return 0;
  return rising_s >= spec_.wake_ramp_s ? 1 : rising_s / spec_.wake_ramp_s;
}

int FakeMiner::DeadBoard() const { return spec_.dead_board ? spec_.index % model_->boards : -1; }

int FakeMiner::dead_chain() const {
  return spec_.dead_board ? model_->first_chain + DeadBoard() : -1;
}

std::string_view FakeMiner::Description() const { return FirmwareOf(spec_.model).description; }

double FakeMiner::Uniform() { return static_cast<double>(SplitMix64(rng_) >> 11) * 0x1.0p-53; }

int FakeMiner::ActivePool() const {
  int best = 0;
  bool found = false;
  for (int i = 0; i < static_cast<int>(pools_.size()); ++i) {
    const Pool& p = pools_[i];
    if (p.enabled && (!found || p.priority < pools_[best].priority)) {
      best = i;
      found = true;
    }
  }
  return best;
}

void FakeMiner::SettleShares() {
  snap_valid_ = false;
  const int64_t accepted = Snap().accepted;
  pools_[ActivePool()].accepted += accepted - settled_accepted_;
  settled_accepted_ = accepted;
}

const FakeMiner::Snapshot& FakeMiner::Snap() {
  if (snap_valid_) return snap_;
  const Firmware& fw = FirmwareOf(spec_.model);
  Snapshot& s = snap_;
  s = Snapshot{};
  s.when = static_cast<int64_t>(now_);
  s.elapsed = std::max<int64_t>(0, static_cast<int64_t>(now_ - start_time_));
  // Seconds spent hashing since the start: shares and errors grow with it only.
  const double asleep_now =
      sleeping_ ? std::max(0.0, now_ - std::max(sleep_since_, start_time_)) : 0;
  const int64_t hashing_s =
      std::max<int64_t>(0, s.elapsed - static_cast<int64_t>(slept_s_ + asleep_now));
  const int dead = DeadBoard();
  const double per_board = model_->hashrate_nominal / model_->boards;
  // Temperatures drift slowly (a 15-minute cycle) with a little noise on top.
  const double drift = 3 * std::sin(now_ * 2 * std::numbers::pi / 900 + temp_phase_);
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    s.board_rate[b] = per_board * (1 + (Uniform() * 2 - 1) * 0.02);
    s.board_ideal[b] = per_board;
    s.rate_5s += s.board_rate[b];
    s.rate_ideal += per_board;
    s.temp_pcb[b] =
        static_cast<int>(std::lround(fw.pcb_base + drift + b + Uniform() * 2 - 1)) + temp_offset_;
    s.temp_chip[b] =
        static_cast<int>(std::lround(fw.chip_base + drift + b + Uniform() * 2 - 1)) + temp_offset_;
    s.board_hw[b] = hashing_s / (97 + 31 * b);
    s.hw_errors += s.board_hw[b];
  }
  s.rate_av = s.rate_ideal * (1 + av_offset_);
  if (const double share = RampShare(); share < 1) {
    for (double& rate : s.board_rate) rate *= share;
    s.rate_5s *= share;
    s.rate_av *= share;
  }
  for (int f = 0; f < fw.fans; ++f) {
    const int rpm =
        fw.fan_base + 60 * static_cast<int>(std::lround((Uniform() * 2 - 1) * 3)) + 120 * f;
    // Drawn even for a stopped fan, so stopping one leaves the other values as they were.
    s.fans[f] = f < fans_stopped_ ? 0 : rpm;
  }
  if (sleeping_) {
    // The sleeping captures: nothing hashes, the S19's boards sit near
    // ambient (40 °C) with fans at idle, the S17 family's read 0 throughout.
    s.rate_5s = s.rate_av = 0;
    s.board_rate = {};
    if (fw.fan_idle == 0) s.rate_ideal = 0;
    for (int b = 0; b < model_->boards; ++b) {
      const bool sensing = b != dead && fw.fan_idle > 0;
      s.temp_pcb[b] = sensing ? 39 + (b + spec_.index) % 2 : 0;
      s.temp_chip[b] = s.temp_pcb[b];
    }
    for (int f = 0; f < fw.fans; ++f) {
      if (s.fans[f] > 0) s.fans[f] = fw.fan_idle > 0 ? fw.fan_idle - 60 * (f % 2) : 0;
    }
  }
  s.accepted = hashing_s / 10;
  s.rejected = s.accepted / 400;
  s.getworks = hashing_s / 28 + 1;
  s.discarded = hashing_s * 3 / 7;
  snap_valid_ = true;
  return s;
}

void FakeMiner::Handle(std::string_view request, double now, fmt::memory_buffer& out,
                       std::vector<PrivilegedAction>* actions) {
  now_ = now;
  snap_valid_ = false;
  while (!request.empty() && (request.back() == '\0' || request.back() == '\n' ||
                              request.back() == '\r' || request.back() == ' ')) {
    request.remove_suffix(1);
  }
  std::string& command = command_;
  std::string& parameter = parameter_;
  command.clear();
  parameter.clear();
  bool has_parameter = false;
  Writer w(out, FirmwareOf(spec_.model).spaced);
  auto error_reply = [&](int code, std::string_view msg) {
    w.Open('{');
    WriteStatus(w, 'E', code, msg);
    w.Int("id", 1);
    w.Close('}');
  };

  ParseOutcome outcome = ParseOutcome::kOk;
  size_t first = request.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && request[first] == '{') {
    outcome = RequestParser(request).Parse(command, parameter, has_parameter);
  } else {
    size_t bar = request.find('|');
    command.assign(request.substr(0, bar));
    if (bar != std::string_view::npos) {
      parameter.assign(request.substr(bar + 1));
      has_parameter = true;
    }
    // Text requests end at the first NUL, as C string handling makes them.
    if (size_t nul = command.find('\0'); nul != std::string::npos) command.resize(nul);
  }

  switch (outcome) {
    case ParseOutcome::kInvalidJson:
      error_reply(23, "Invalid JSON");
      break;
    case ParseOutcome::kMissingCommand:
      error_reply(24, "Missing JSON 'command'");
      break;
    case ParseOutcome::kCommandNotString:
      error_reply(14, "Invalid command");
      break;
    case ParseOutcome::kOk:
      if (command.find('+') == std::string::npos) {
        Command(w, command, has_parameter ? &parameter : nullptr, actions);
        break;
      }
      // Multi-command: {"summary":[<reply>],"stats":[<reply>],...,"id":1}, no
      // parameter, each command once, privileged commands refused.
      w.Open('{');
      {
        std::array<std::string_view, kMaxJoinParts> seen;
        int parts = 0;
        std::string_view rest = command;
        while (!rest.empty() && parts < kMaxJoinParts) {
          size_t plus = rest.find('+');
          std::string_view part = rest.substr(0, plus);
          rest = plus == std::string_view::npos ? std::string_view() : rest.substr(plus + 1);
          if (part.empty() ||
              std::find(seen.begin(), seen.begin() + parts, part) != seen.begin() + parts) {
            continue;
          }
          seen[parts++] = part;
          w.EscKey(part);
          w.Open('[');
          if (IsPrivilegedCommand(part)) {
            scratch_.clear();
            fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", part);
            error_reply(45, std::string_view(scratch_.data(), scratch_.size()));
            if (actions) actions->push_back({std::string(part), "", ActionResult::kDenied});
          } else {
            Command(w, part, nullptr, actions);
          }
          w.Close(']');
        }
      }
      w.Int("id", 1);
      w.Close('}');
      break;
  }
  if (model_->nul_terminated) out.push_back('\0');
}

std::string FakeMiner::Handle(std::string_view request, double now) {
  fmt::memory_buffer out;
  Handle(request, now, out);
  return std::string(out.data(), out.size());
}

void FakeMiner::Command(Writer& w, std::string_view command, const std::string* parameter,
                        std::vector<PrivilegedAction>* actions) {
  if (command == "summary") {
    WriteSummary(w);
  } else if (command == "stats") {
    WriteStats(w);
  } else if (command == "pools") {
    WritePools(w);
  } else if (command == "version") {
    WriteVersion(w);
  } else if (command == "devs") {
    WriteDevs(w);
  } else if (IsPrivilegedCommand(command)) {
    Privileged(w, command, parameter, actions);
  } else {
    w.Open('{');
    WriteStatus(w, 'E', 14, "Invalid command");
    w.Int("id", 1);
    w.Close('}');
  }
}

void FakeMiner::WriteStatus(Writer& w, char severity, int code, std::string_view msg) {
  const char sev[2] = {severity, '\0'};
  w.Key("STATUS");
  w.Open('[');
  w.Open('{');
  w.Str("STATUS", sev);
  w.Int("When", Snap().when);
  w.Int("Code", code);
  w.Key("Msg");
  w.EscStr(msg);
  w.Str("Description", Description());
  w.Close('}');
  w.Close(']');
}

void FakeMiner::Privileged(Writer& w, std::string_view command, const std::string* parameter,
                           std::vector<PrivilegedAction>* actions) {
  ActionResult result;
  if (spec_.deny_privileged) {
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", command);
    w.Open('{');
    WriteStatus(w, 'E', 45, std::string_view(scratch_.data(), scratch_.size()));
    w.Int("id", 1);
    w.Close('}');
    result = ActionResult::kDenied;
  } else {
    result = RunPrivileged(w, command, parameter);
  }
  if (actions) {
    actions->push_back({std::string(command), parameter ? *parameter : "", result});
  }
}

ActionResult FakeMiner::RunPrivileged(Writer& w, std::string_view command,
                                      const std::string* parameter) {
  // Each outcome is cgminer's message for it (api.c codes[]).
  char severity = 'S';
  int code = 0;
  ActionResult result = ActionResult::kOk;
  scratch_.clear();
  auto msg = [&]<typename... Args>(char sev, int c, fmt::format_string<Args...> text,
                                   Args&&... args) {
    severity = sev;
    code = c;
    fmt::format_to(fmt::appender(scratch_), text, std::forward<Args>(args)...);
    if (sev == 'E') result = ActionResult::kError;
  };
  const int total = static_cast<int>(pools_.size());
  const bool missing = parameter == nullptr || parameter->empty();
  const int id = missing ? -1 : Atoi(*parameter);
  const bool pool_command = command != "restart" && command != "addpool";

  SettleShares();
  if (pool_command && missing) {
    msg('E', 25, "Missing pool id parameter");
  } else if (pool_command && (id < 0 || id >= total)) {
    msg('E', 26, "Invalid pool id {} - range is 0 - {}", id, total - 1);
  } else if (command == "removepool" && total <= 1) {
    msg('E', 66, "Cannot remove last pool {}:'{}'", id, pools_[id].url);
  } else if (command == "restart") {
    // Stock firmware answers with no STATUS block (see RestartReply): a
    // client that wants one sees a failure; only the uptime tells.
    Restart(now_);
    w.Open('{');
    if (spec_.restart_reply == RestartReply::kCgminer) {
      w.Str("RESTART");
      w.Int("id", 1);
    } else {
      w.Str("STATUS", "RESTART");
    }
    w.Close('}');
    return result;
  } else if (command == "addpool") {
    std::string_view p = missing ? std::string_view() : std::string_view(*parameter);
    size_t c1 = p.find(',');
    size_t c2 = c1 == std::string_view::npos ? c1 : p.find(',', c1 + 1);
    if (missing) {
      msg('E', 52, "Missing addpool details");
    } else if (c2 == std::string_view::npos || c1 == 0) {
      msg('E', 53, "Invalid addpool details '{}'", p);
    } else if (total >= kMaxPools) {
      msg('E', 54, "Reached maximum number of pools ({})", kMaxPools);
    } else {
      pools_.push_back(Pool{std::string(p.substr(0, c1)),
                            std::string(p.substr(c1 + 1, c2 - c1 - 1)),
                            std::string(p.substr(c2 + 1)), total, true, 0});
      msg('S', 55, "Added pool {}: '{}'", total, pools_.back().url);
    }
  } else if (command == "switchpool") {
    Pool& pool = pools_[id];
    pool.enabled = true;
    for (Pool& other : pools_) {
      if (other.priority < pool.priority) ++other.priority;
    }
    pool.priority = 0;
    msg('S', 27, "Switching to pool {}:'{}'", id, pool.url);
  } else if (command == "removepool") {
    if (id == ActivePool()) {
      msg('E', 67, "Cannot remove active pool {}:'{}'", id, pools_[id].url);
    } else {
      msg('S', 68, "Removed pool {}:'{}'", id, pools_[id].url);
      for (Pool& other : pools_) {
        if (other.priority > pools_[id].priority) --other.priority;
      }
      // cgminer moves the last pool into the hole, so ids stay dense.
      if (id != total - 1) pools_[id] = std::move(pools_.back());
      pools_.pop_back();
    }
  } else if (command == "enablepool") {
    Pool& pool = pools_[id];
    if (pool.enabled) {
      msg('I', 49, "Pool {}:'{}' already enabled", id, pool.url);
    } else {
      pool.enabled = true;
      msg('S', 47, "Enabling pool {}:'{}'", id, pool.url);
    }
  } else {  // disablepool
    Pool& pool = pools_[id];
    const auto enabled =
        std::count_if(pools_.begin(), pools_.end(), [](const Pool& p) { return p.enabled; });
    if (!pool.enabled) {
      msg('I', 50, "Pool {}:'{}' already disabled", id, pool.url);
    } else if (enabled <= 1) {
      msg('E', 51, "Cannot disable last active pool {}:'{}'", id, pool.url);
    } else {
      pool.enabled = false;
      msg('S', 48, "Disabling pool {}:'{}'", id, pool.url);
    }
  }
  // The reply and every later request see the new state.
  snap_valid_ = false;
  w.Open('{');
  WriteStatus(w, severity, code, std::string_view(scratch_.data(), scratch_.size()));
  w.Int("id", 1);
  w.Close('}');
  return result;
}

void FakeMiner::WriteSummary(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const bool c = !w.spaced();  // cgminer's fixed decimals, else the S19's shorter ones
  const double minutes = std::max<double>(1, static_cast<double>(s.elapsed)) / 60;
  const double diff_accepted = static_cast<double>(s.accepted) * fw.pool_diff;
  const double diff_rejected = static_cast<double>(s.rejected) * fw.pool_diff;
  const int64_t diff1 = static_cast<int64_t>(diff_accepted + diff_rejected);
  const double hw_pct = diff1 > 0 ? 100.0 * static_cast<double>(s.hw_errors) /
                                        static_cast<double>(diff1 + s.hw_errors)
                                  : 0;
  const double rej_pct = diff1 > 0 ? 100.0 * diff_rejected / static_cast<double>(diff1) : 0;
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("Elapsed", s.elapsed);
  w.Key("GHS 5s");
  if (fw.ghs_5s_string) {
    w.FixedStr(s.rate_5s / fw.ghs_unit, 2);
  } else {
    w.Fixed(s.rate_5s / fw.ghs_unit, 2);
  }
  w.Fixed("GHS av", s.rate_av / fw.ghs_unit, 2);
  w.Int("Found Blocks", 0);
  w.Int("Getworks", s.getworks);
  w.Int("Accepted", s.accepted);
  w.Int("Rejected", s.rejected);
  w.Int("Hardware Errors", s.hw_errors);
  w.Fixed("Utility", static_cast<double>(s.accepted) / minutes, 2);
  w.Int("Discarded", s.discarded);
  w.Int("Stale", 0);
  w.Int("Get Failures", 0);
  w.Int("Local Work", s.discarded + s.getworks * 7);
  w.Int("Remote Failures", 0);
  w.Int("Network Blocks", s.elapsed / 600);
  w.Fixed("Total MH", s.rate_av * static_cast<double>(s.elapsed) / 1e6, c ? 4 : 1);
  w.Fixed("Work Utility", static_cast<double>(diff1) / minutes, 2);
  w.Fixed("Difficulty Accepted", diff_accepted, c ? 8 : 1);
  w.Fixed("Difficulty Rejected", diff_rejected, c ? 8 : 1);
  w.Fixed("Difficulty Stale", 0, c ? 8 : 1);
  w.Int("Best Share", 1000003 + s.accepted * 4093);
  w.Fixed("Device Hardware%", hw_pct, 4);
  w.Fixed("Device Rejected%", rej_pct, 4);
  w.Fixed("Pool Rejected%", rej_pct, 4);
  w.Fixed("Pool Stale%", 0, 4);
  w.Int("Last getwork", s.when);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteVersionFields(Writer& w, bool with_api) {
  const Firmware& fw = FirmwareOf(spec_.model);
  w.Str(fw.miner_key, fw.miner_version);
  if (with_api) w.Str("API", "3.1");
  w.Str("Miner", fw.miner);
  w.Str("CompileTime", fw.compile_time);
  w.Str("Type", model_->name);
}

void FakeMiner::WriteVersion(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} versions", fw.msg_prefix);
  w.Open('{');
  WriteStatus(w, 'S', 22, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("VERSION");
  w.Open('[');
  w.Open('{');
  WriteVersionFields(w, true);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteStats(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} stats", fw.msg_prefix);
  w.Open('{');
  WriteStatus(w, 'S', 70, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("STATS");
  w.Open('[');
  w.Open('{');
  WriteVersionFields(w, false);
  w.Close('}');
  // S9 bmminer and L3+ cgminer 4.9.0 glue STATS[0] and STATS[1] as `}{`.
  if (spec_.model == ModelId::kS9 || spec_.model == ModelId::kL3Plus) w.Glue();
  w.Open('{');
  const Snapshot& s = Snap();
  w.Int("STATS", 0);
  w.Str("ID", fw.stats_id);
  w.Int("Elapsed", s.elapsed);
  w.Int("Calls", 0);
  if (w.spaced()) {
    w.Int("Wait", 0);
    w.Int("Max", 0);
    w.Int("Min", 99999999);
  } else {
    w.Fixed("Wait", 0, 6);
    w.Fixed("Max", 0, 6);
    w.Fixed("Min", 99999999, 6);
  }
  w.Key("GHS 5s");
  if (fw.ghs_5s_string) {
    w.FixedStr(s.rate_5s / fw.ghs_unit, 2);
  } else {
    w.Fixed(s.rate_5s / fw.ghs_unit, 2);
  }
  w.Fixed("GHS av", s.rate_av / fw.ghs_unit, 2);
  switch (spec_.model) {
    case ModelId::kS9:
      WriteStatsS9(w);
      break;
    case ModelId::kS17Pro:
      WriteStatsS17(w);
      break;
    case ModelId::kS19Pro:
    case ModelId::kS19jPro:
      WriteStatsS19(w);
      break;
    case ModelId::kL3Plus:
      WriteStatsL3(w);
      break;
  }
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// " oooooooo oooooooo ...": one letter per chip, 'x' for a chip that does not
// answer, all of them on a dead board and on a sleeping S19's boards.
void FakeMiner::AppendChipStatus(Writer& w, int board) {
  const char chip = board == DeadBoard() || sleeping_ ? 'x' : 'o';
  const int group = FirmwareOf(spec_.model).chip_group;
  scratch_.clear();
  for (int i = 0; i < model_->chips_per_board; ++i) {
    if (i % group == 0) scratch_.push_back(' ');
    scratch_.push_back(chip);
  }
  w.Str(std::string_view(scratch_.data(), scratch_.size()));
}

// antminer-s9-stats.json: 16 slots per family of keys, chains 6-8 populated.
void FakeMiner::WriteStatsS9(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const int first = model_->first_chain;
  const int last = first + model_->boards - 1;
  const int dead = dead_chain();
  auto board = [&](int slot) { return slot - first; };
  auto populated = [&](int slot) { return slot >= first && slot <= last; };
  auto alive = [&](int slot) { return populated(slot) && slot != dead; };
  int max_temp = 0;
  for (int b = 0; b < model_->boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Int("miner_count", model_->boards);
  w.Int("frequency", fw.frequency);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= 8; ++i) {
    const int f = i - fw.fan_first;
    w.IntN("fan", i, f >= 0 && f < fw.fans ? s.fans[f] : 0);
  }
  w.Int("temp_num", model_->boards);
  for (int i = 1; i <= 16; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[board(i)] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[board(i)] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp3_", i, 0);
  for (int i = 1; i <= 16; ++i) {
    w.FixedN("freq_avg", i, alive(i) ? fw.frequency + 0.1 * (i % 7) : 0, 2);
  }
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 2);
  w.Fixed("total_freqavg", fw.frequency + 0.3, 2);
  w.Int("total_acn", (model_->boards - (dead >= 0 ? 1 : 0)) * model_->chips_per_board);
  w.Fixed("total_rate", s.rate_5s / fw.ghs_unit, 2);
  for (int i = 1; i <= 16; ++i) {
    w.FixedN("chain_rateideal", i, alive(i) ? s.board_ideal[board(i)] / fw.ghs_unit : 0, 2);
  }
  w.Int("temp_max", max_temp);
  w.Fixed("Device Hardware%", 0.0184, 4);
  w.Int("no_matching_work", s.hw_errors);
  for (int i = 1; i <= 16; ++i) w.IntN("chain_acn", i, alive(i) ? model_->chips_per_board : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("chain_acs", i);
    if (populated(i)) {
      AppendChipStatus(w, board(i));
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= 16; ++i) w.IntN("chain_hw", i, alive(i) ? s.board_hw[board(i)] : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("chain_rate", i);
    if (populated(i)) {
      w.FixedStr(s.board_rate[board(i)] / fw.ghs_unit, 2);
    } else {
      w.Str("");
    }
  }
  for (int i = first; i <= last; ++i)
    w.StrN("chain_xtime", i, alive(i) ? S9Xtime(i - first) : "{}");
  for (int i = first; i <= last; ++i) w.StrN("chain_offside_", i, "0");
  for (int i = first; i <= last; ++i) w.StrN("chain_opencore_", i, "0");
  w.Str("miner_version", fw.miner);
}

// antminer-s17pro-stats.json: 16 slots, chains 1-3, "a-b-c-d" sensor strings.
void FakeMiner::WriteStatsS17(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  // Asleep, the firmware lists no chain (antminer-s17plus-stats-sleeping.json).
  auto populated = [&](int i) { return !sleeping_ && i >= 1 && i <= boards; };
  auto alive = [&](int i) { return populated(i) && i != dead; };
  int max_temp = 0;
  for (int b = 0; b < boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Fixed("GHS 30m", s.rate_av * (1 - 0.004) / fw.ghs_unit, 2);
  w.Int("Mode", sleeping_ ? 254 : 1);
  w.Int("miner_count", boards);
  w.Str("frequency", "");
  w.Int("fan_num", sleeping_ ? 0 : fw.fans);
  for (int i = 1; i <= 16; ++i) w.IntN("fan", i, i <= fw.fans ? s.fans[i - 1] : 0);
  w.Int("temp_num", boards);
  for (int i = 1; i <= 16; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp3_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("temp_pcb", i);
    const int p = alive(i) ? s.temp_pcb[i - 1] : 0;
    if (p == 0) {
      w.Str("0-0-0-0");
    } else {
      w.Sensors(p - 28, p + 3, p - 29, p);
    }
  }
  for (int i = 1; i <= 16; ++i) {
    w.Key("temp_chip", i);
    const int c = alive(i) ? s.temp_chip[i - 1] : 0;
    if (c == 0) {
      w.Str("0-0-0-0");
    } else {
      w.Sensors(c - 32, c, c - 31, c - 10);
    }
  }
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 2);
  w.Str("rate_unit", "GH");
  w.Fixed("total_freqavg", 0, 2);
  w.Int("total_acn", sleeping_ ? 0 : (boards - (dead >= 0 ? 1 : 0)) * model_->chips_per_board);
  w.Fixed("total_rate", s.rate_5s / fw.ghs_unit, 2);
  for (int i = 1; i <= 16; ++i) w.FixedN("chain_rateideal", i, 0, 2);
  w.Int("temp_max", max_temp);
  w.Int("no_matching_work", s.hw_errors);
  for (int i = 1; i <= 16; ++i) w.IntN("chain_acn", i, alive(i) ? model_->chips_per_board : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("chain_acs", i);
    if (populated(i)) {
      AppendChipStatus(w, i - 1);
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= 16; ++i) w.IntN("chain_hw", i, alive(i) ? s.board_hw[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("chain_rate", i);
    if (populated(i)) {
      w.FixedStr(s.board_rate[i - 1] / fw.ghs_unit, 2);
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= boards; ++i) w.StrN("chain_xtime", i, "{}");
  for (int i = 1; i <= boards; ++i) w.StrN("chain_offside_", i, "");
  for (int i = 1; i <= boards; ++i) w.StrN("chain_opencore_", i, "1");
  for (int i = 1; i <= 16; ++i) w.IntN("freq", i, alive(i) ? fw.frequency - 5 + i * 2 : 0);
  w.Str("miner_version", fw.miner);
  w.Str("miner_id", miner_id_);
}

// antminer-s19pro-stats-*.json: 4 slots, temp{i}/temp2_{i} pairs only for
// chains that report (as antminer-s19-stats-sleeping.json shows), sensor
// strings, "total rate" with a space.
void FakeMiner::WriteStatsS19(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  auto populated = [&](int i) { return i >= 1 && i <= boards; };
  auto alive = [&](int i) { return populated(i) && i != dead; };
  const int alive_boards = boards - (dead >= 0 ? 1 : 0);

  w.Fixed("rate_30m", s.rate_av * (1 + 0.002) / fw.ghs_unit, 2);
  w.Int("Mode", 2);
  w.Int("miner_count", boards);
  w.Int("frequency", fw.frequency);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= fw.fans; ++i) w.IntN("fan", i, s.fans[i - 1]);
  w.Int("temp_num", alive_boards);
  for (int i = 1; i <= boards; ++i) {
    if (!alive(i)) continue;
    w.IntN("temp", i, s.temp_pcb[i - 1]);
    w.IntN("temp2_", i, s.temp_chip[i - 1]);
  }
  auto sensors = [&](std::string_view key, int offset) {
    for (int i = 1; i <= 4; ++i) {
      w.Key(key, i);
      if (!alive(i)) {
        w.Str("0-0-0-0");
        continue;
      }
      const int t = (key == "temp_pcb" ? s.temp_pcb[i - 1] : s.temp_chip[i - 1]) + offset;
      if (sleeping_) {
        w.Sensors(t, t - 2, t + 1, t);  // a cold board reads alike everywhere: "39-37-40-39"
      } else {
        w.Sensors(t - 36, t - 25, t - 13, t);
      }
    }
  };
  sensors("temp_pcb", 0);
  sensors("temp_chip", 0);
  sensors("temp_pic", sleeping_ ? 0 : -15);
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 1);
  w.Str("rate_unit", "GH");
  w.Int("total_freqavg", fw.frequency);
  w.Int("total_acn", alive_boards * model_->chips_per_board);
  w.Fixed("total rate", s.rate_av / fw.ghs_unit, 2);
  w.Int("temp_max", 0);
  w.Int("no_matching_work", s.hw_errors);
  for (int i = 1; i <= 4; ++i) w.IntN("chain_acn", i, alive(i) ? model_->chips_per_board : 0);
  for (int i = 1; i <= 4; ++i) {
    w.Key("chain_acs", i);
    if (populated(i)) {
      AppendChipStatus(w, i - 1);
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= 4; ++i) w.IntN("chain_hw", i, alive(i) ? s.board_hw[i - 1] : 0);
  for (int i = 1; i <= 4; ++i) {
    w.Key("chain_rate", i);
    if (populated(i)) {
      w.FixedStr(s.board_rate[i - 1] / fw.ghs_unit, 2);
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= 4; ++i) w.IntN("freq", i, alive(i) ? fw.frequency : 0);
  w.Str("miner_version", fw.miner);
  w.Str("miner_id", miner_id_);
}

// antminer-l3plus-stats.json: scrypt, the "GHS" labels carry MH/s.
void FakeMiner::WriteStatsL3(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  auto alive = [&](int i) { return i != dead; };
  int max_temp = 0;
  for (int b = 0; b < boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Int("miner_count", boards);
  w.Key("frequency");
  w.FixedStr(fw.frequency, 0);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= fw.fans; ++i) w.IntN("fan", i, s.fans[i - 1]);
  w.Int("temp_num", boards);
  for (int i = 1; i <= boards; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[i - 1] : 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp3", i, 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp4_", i, 0);
  w.Int("temp_max", max_temp);
  w.Fixed("Device Hardware%", 0, 4);
  w.Int("no_matching_work", s.hw_errors);
  for (int i = 1; i <= boards; ++i) w.IntN("chain_acn", i, alive(i) ? model_->chips_per_board : 0);
  for (int i = 1; i <= boards; ++i) {
    w.Key("chain_acs", i);
    AppendChipStatus(w, i - 1);
  }
  for (int i = 1; i <= boards; ++i) w.IntN("chain_hw", i, alive(i) ? s.board_hw[i - 1] : 0);
  for (int i = 1; i <= boards; ++i) {
    w.FixedStrN("chain_rate", i, s.board_rate[i - 1] / fw.ghs_unit, 2);
  }
}

void FakeMiner::WritePools(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const bool c = !w.spaced();
  const int active = ActivePool();
  const int total = static_cast<int>(pools_.size());
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Pool(s)", total);
  w.Open('{');
  WriteStatus(w, 'S', 7, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("POOLS");
  w.Open('[');
  for (int i = 0; i < total; ++i) {
    const Pool& p = pools_[i];
    const bool in_use = i == active;
    const int64_t accepted = p.accepted + (in_use ? s.accepted - settled_accepted_ : 0);
    const int64_t rejected = accepted / 400;
    const double diff_accepted = static_cast<double>(accepted) * fw.pool_diff;
    const double diff_rejected = static_cast<double>(rejected) * fw.pool_diff;
    w.Open('{');
    w.Int("POOL", i);
    w.EscStr("URL", p.url);
    w.Str("Status", p.enabled ? "Alive" : "Disabled");
    w.Int("Priority", p.priority);
    w.Int("Quota", 1);
    w.Str("Long Poll", "N");
    w.Int("Getworks", in_use ? s.getworks : s.getworks / 9);
    w.Int("Accepted", accepted);
    w.Int("Rejected", rejected);
    w.Int("Discarded", in_use ? s.discarded : 0);
    w.Int("Stale", 0);
    w.Int("Get Failures", 0);
    w.Int("Remote Failures", 0);
    w.EscStr("User", p.user);
    w.Str("Last Share Time", in_use ? "0:00:05" : "0");
    w.Str("Diff", p.enabled ? fw.pool_diff_text : "");
    w.Int("Diff1 Shares", 0);
    w.Str("Proxy Type", "");
    w.Str("Proxy", "");
    w.Fixed("Difficulty Accepted", diff_accepted, c ? 8 : 1);
    w.Fixed("Difficulty Rejected", diff_rejected, c ? 8 : 1);
    w.Fixed("Difficulty Stale", 0, c ? 8 : 1);
    w.Fixed("Last Share Difficulty", in_use ? fw.pool_diff : 0, c ? 8 : 1);
    w.Bool("Has Stratum", true);
    w.Bool("Stratum Active", in_use);
    w.EscStr("Stratum URL", in_use ? UrlHost(p.url) : "");
    w.Bool("Has GBT", false);
    if (c) {
      w.Int("Best Share", accepted > 0 ? 1000003 + accepted * 4093 : 0);
    } else {
      w.Fixed("Best Share", accepted > 0 ? 1000003.0 + static_cast<double>(accepted) * 4093 : 0, 1);
    }
    const double rej_pct = accepted + rejected > 0 ? 100.0 * static_cast<double>(rejected) /
                                                         static_cast<double>(accepted + rejected)
                                                   : 0;
    w.Fixed("Pool Rejected%", rej_pct, c ? 4 : 1);
    // The S19 firmware prints this key through printf, doubling the %.
    w.Fixed(c ? "Pool Stale%" : "Pool Stale%%", 0, c ? 4 : 1);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteDevs(Writer& w) {
  const Firmware& fw = FirmwareOf(spec_.model);
  const Snapshot& s = Snap();
  const int dead = dead_chain();
  // cgminer's device rates are MH/s whatever the algorithm.
  constexpr double mhs_unit = 1e6;
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} ASC(s)", model_->boards);
  w.Open('{');
  WriteStatus(w, 'S', 9, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("DEVS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    const bool alive = model_->first_chain + b != dead;
    const double elapsed = static_cast<double>(std::max<int64_t>(1, s.elapsed));
    const int64_t accepted = s.accepted / model_->boards;
    w.Open('{');
    w.Int("ASC", b);
    w.Str("Name", fw.stats_id.substr(0, 3));
    w.Int("ID", model_->first_chain + b);
    w.Str("Enabled", "Y");
    w.Str("Status", alive ? "Alive" : "Dead");
    w.Fixed("Temperature", alive ? s.temp_chip[b] : 0, 2);
    w.Fixed("MHS av", sleeping_ ? 0 : s.board_ideal[b] * (1 + av_offset_) / mhs_unit, 2);
    w.Fixed("MHS 5s", s.board_rate[b] / mhs_unit, 2);
    w.Int("Accepted", accepted);
    w.Int("Rejected", accepted / 400);
    w.Int("Hardware Errors", s.board_hw[b]);
    w.Fixed("Utility", static_cast<double>(accepted) * 60 / elapsed, 2);
    w.Int("Last Share Pool", ActivePool());
    w.Int("Last Share Time", alive ? s.when - 5 : 0);
    w.Fixed("Total MH", s.board_ideal[b] * elapsed / 1e6, 4);
    w.Int("Diff1 Work", static_cast<int64_t>(static_cast<double>(accepted) * fw.pool_diff));
    w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * fw.pool_diff, 8);
    w.Fixed("Difficulty Rejected", static_cast<double>(accepted / 400) * fw.pool_diff, 8);
    w.Fixed("Last Share Difficulty", alive ? fw.pool_diff : 0, 8);
    w.Int("Last Valid Work", alive ? s.when : 0);
    w.Fixed("Device Hardware%", 0, 4);
    w.Fixed("Device Rejected%", 0, 4);
    w.Int("Device Elapsed", s.elapsed);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
