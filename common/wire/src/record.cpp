#include "asicmon/record.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace asicmon {
namespace {

constexpr std::array<std::string_view, kMinerStatusCount> kStatusWords = {
    "ok", "timeout", "refused", "reset", "parse_error", "too_large", "auth_error", "api_error"};

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Caps for hostile bytes: no record has anywhere near these many elements.
msgpack::unpack_limit DecodeLimits() {
  return msgpack::unpack_limit(/*array=*/4096, /*map=*/256, /*str=*/64 * 1024, /*bin=*/64 * 1024,
                               /*ext=*/1024, /*depth=*/8);
}

}  // namespace

std::string_view ToString(MinerStatus status) {
  const auto index = static_cast<size_t>(status);
  return index < kStatusWords.size() ? kStatusWords[index] : std::string_view("unknown");
}

std::optional<MinerStatus> ParseMinerStatus(std::string_view word) {
  for (size_t i = 0; i < kStatusWords.size(); ++i) {
    if (kStatusWords[i] == word) return static_cast<MinerStatus>(i);
  }
  return std::nullopt;
}

namespace {

// Decodes one versioned msgpack array into T. Hostile input is a ParseError.
template <typename T>
Result<T> DecodeVersioned(std::string_view bytes, const char* what) {
  if (bytes.size() > kMaxRecordBytes) {
    return Status::ParseError(std::string(what) + " of " + std::to_string(bytes.size()) +
                              " bytes exceeds the cap");
  }
  try {
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, DecodeLimits());
    const msgpack::object& obj = handle.get();
    if (obj.type != msgpack::type::ARRAY || obj.via.array.size == 0) {
      return Status::ParseError(std::string(what) + " is not a msgpack array");
    }
    const msgpack::object& version = obj.via.array.ptr[0];
    if (version.type != msgpack::type::POSITIVE_INTEGER || version.via.u64 == 0) {
      return Status::ParseError(std::string(what) + " has no schema version");
    }
    T value;
    obj.convert(value);
    return value;
  } catch (const std::exception& e) {
    // msgpack throws on truncated input, wrong types and exceeded limits alike.
    return Status::ParseError(std::string("bad msgpack ") + what + ": " + e.what());
  }
}

}  // namespace

// The stream every message is packed into.
struct StringWriter {
  std::string* s;
  void write(const char* data, size_t n) { s->append(data, n); }
};

}  // namespace asicmon

// msgpack-c 4.1.3 packs a whole double as an integer when
// d <= double(UINT64_MAX), but that bound rounds up to 2^64, and converting
// 2^64 itself to uint64_t is undefined behaviour (fuzz_bus_message found it:
// a poll job decoded with ts 2^64, then encoded again). Our packer keeps
// msgpack-c's encoding, byte for byte, with the bound made strict.
template <>
inline msgpack::packer<asicmon::StringWriter>&
msgpack::packer<asicmon::StringWriter>::pack_double(double d) {
  if (d >= 0 && d < 0x1p64 && d == static_cast<double>(static_cast<uint64_t>(d))) {
    return pack_unsigned_long_long(static_cast<uint64_t>(d));
  }
  if (d < 0 && d >= -0x1p63 && d == static_cast<double>(static_cast<int64_t>(d))) {
    return pack_long_long(static_cast<int64_t>(d));
  }
  char buf[9];
  buf[0] = static_cast<char>(0xcbu);
  _msgpack_store64(&buf[1], std::bit_cast<uint64_t>(d));
  append_buffer(buf, 9);
  return *this;
}

namespace asicmon {
namespace {

template <typename T>
void Encode(const T& value, std::string& out) {
  StringWriter writer{&out};
  msgpack::pack(writer, value);
}

}  // namespace

void EncodeRecord(const Record& record, std::string& out) { Encode(record, out); }

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.reserve(512);
  EncodeRecord(record, out);
  return out;
}

Result<Record> DecodeRecord(std::string_view bytes) { return DecodeVersioned<Record>(bytes, "record"); }

std::string_view ToString(InventoryChange change) {
  switch (change) {
    case InventoryChange::kFound: return "found";
    case InventoryChange::kChanged: return "changed";
    case InventoryChange::kGone: return "gone";
  }
  return "unknown";
}

void EncodeInventory(const InventoryEntry& entry, std::string& out) { Encode(entry, out); }

Result<InventoryEntry> DecodeInventory(std::string_view bytes) {
  return DecodeVersioned<InventoryEntry>(bytes, "inventory entry");
}

void EncodePollJob(const PollJob& job, std::string& out) { Encode(job, out); }

Result<PollJob> DecodePollJob(std::string_view bytes) {
  return DecodeVersioned<PollJob>(bytes, "poll job");
}

nlohmann::json DecodeEventBody(std::string_view body) {
  if (body.size() > kMaxRecordBytes) return nlohmann::json(nlohmann::json::value_t::discarded);
  try {
    // msgpack-c's unpacker keeps its own stack and enforces the depth limit.
    msgpack::unpack(body.data(), body.size(), nullptr, nullptr, DecodeLimits());
  } catch (const std::exception&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::from_msgpack(body, true, false);
}

nlohmann::json InventoryToJson(const InventoryEntry& e) {
  return {{"schema_version", e.schema_version}, {"producer_id", e.producer_id}, {"seq", e.seq},
          {"ts", e.ts}, {"change", ToString(e.change)}, {"ip", e.ip}, {"port", e.port},
          {"identified", e.identified}, {"model", e.model}, {"firmware", e.firmware},
          {"worker", e.worker}};
}

nlohmann::json RecordToJson(const Record& r) {
  nlohmann::json boards = nlohmann::json::array();
  for (const BoardStats& b : r.boards) {
    boards.push_back({{"index", b.index},
                      {"hashrate", OrNull(b.hashrate)},
                      {"hashrate_expected", OrNull(b.hashrate_expected)},
                      {"temp_board", OrNull(b.temp_board)},
                      {"temp_chip", OrNull(b.temp_chip)},
                      {"chips", OrNull(b.chips)},
                      {"chips_ok", OrNull(b.chips_ok)},
                      {"chips_failed", OrNull(b.chips_failed)},
                      {"freq_mhz", OrNull(b.freq_mhz)},
                      {"hw_errors", OrNull(b.hw_errors)}});
  }
  nlohmann::json pools = nlohmann::json::array();
  for (const PoolInfo& p : r.pools) {
    pools.push_back({{"index", p.index},
                     {"url", p.url},
                     {"user", p.user},
                     {"status", p.status},
                     {"priority", OrNull(p.priority)},
                     {"accepted", OrNull(p.accepted)},
                     {"rejected", OrNull(p.rejected)},
                     {"stale", OrNull(p.stale)},
                     {"active", p.active}});
  }
  return {{"schema_version", r.schema_version},
          {"producer_id", r.producer_id},
          {"seq", r.seq},
          {"ts", r.ts},
          {"ip", r.ip},
          {"port", r.port},
          {"status", ToString(r.status)},
          {"error", r.error},
          {"model", r.model},
          {"firmware", r.firmware},
          {"firmware_build", r.firmware_build},
          {"algorithm", r.algorithm},
          {"worker", r.worker},
          {"hashrate", OrNull(r.hashrate)},
          {"hashrate_avg", OrNull(r.hashrate_avg)},
          {"hashrate_expected", OrNull(r.hashrate_expected)},
          {"uptime_s", OrNull(r.uptime_s)},
          {"accepted", OrNull(r.accepted)},
          {"rejected", OrNull(r.rejected)},
          {"hw_errors", OrNull(r.hw_errors)},
          {"temp_max", OrNull(r.temp_max)},
          {"fans", r.fans},
          {"boards", std::move(boards)},
          {"pools", std::move(pools)},
          {"power_w", OrNull(r.power_w)},
          {"poll_ms", OrNull(r.poll_ms)},
          {"sleeping", r.sleeping}};
}

namespace {

// RecordToJson's object written straight from the Record: the DOM costs
// ~27 us a record, which capped push below 40,000 records/s and made
// control's /miners slow; this writes the same text in a fraction of that.
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
  w.Key("sleeping");
  w.Bool(r.sleeping);
  w.Close('}');
}

std::string RecordToJsonLine(const Record& record) {
  std::string line;
  AppendRecordJson(record, line);
  return line;
}

}  // namespace asicmon
