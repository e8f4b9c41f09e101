#include "asicmon/record.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "decode_limits.h"

namespace asicmon {
namespace {

constexpr std::array<std::string_view, kMinerStatusCount> kStatusWords = {
    "ok", "timeout", "refused", "reset", "parse_error", "too_large", "auth_error", "api_error"};

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
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
        msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, wire::DecodeLimits());
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
    case InventoryChange::kMoved: return "moved";
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

std::string_view RateUnitOf(std::string_view algorithm) {
  return algorithm.starts_with("equihash") ? "Sol/s" : "H/s";
}

std::string FormatRate(double per_second, std::string_view algorithm) {
  static constexpr const char* kPrefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  size_t prefix = 0;
  double value = per_second;
  while (std::abs(value) >= 1000 && prefix + 1 < std::size(kPrefixes)) {
    value /= 1000;
    ++prefix;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", value, kPrefixes[prefix]);
  return buf + std::string(RateUnitOf(algorithm));
}

nlohmann::json InventoryToJson(const InventoryEntry& e) {
  return {{"schema_version", e.schema_version}, {"producer_id", e.producer_id}, {"seq", e.seq},
          {"ts", e.ts}, {"change", ToString(e.change)}, {"ip", e.ip}, {"port", e.port},
          {"identified", e.identified}, {"model", e.model}, {"firmware", e.firmware},
          {"worker", e.worker}, {"family", e.family}, {"mac", e.mac}, {"serial", e.serial},
          {"hostname", e.hostname}, {"previous_ip", e.previous_ip}};
}

namespace {

template <typename T>
concept HasFields = requires { T::Fields(); };

// A field's JSON value: null for "not reported", status as its word, nested
// structs as objects of their own Fields().
struct JsonDom {
  template <typename T>
  static nlohmann::json Of(const T& v) {
    if constexpr (HasFields<T>) {
      nlohmann::json object = nlohmann::json::object();
      ForEachField<T>([&](const auto& f) { object[std::string(f.name)] = Of(v.*f.member); });
      return object;
    } else {
      return v;
    }
  }
  static nlohmann::json Of(MinerStatus status) { return ToString(status); }
  template <typename T>
  static nlohmann::json Of(const std::optional<T>& v) {
    return OrNull(v);
  }
  template <typename T>
  static nlohmann::json Of(const std::vector<T>& items) {
    nlohmann::json array = nlohmann::json::array();
    for (const T& item : items) array.push_back(Of(item));
    return array;
  }
};

}  // namespace

nlohmann::json RecordToJson(const Record& r) { return JsonDom::Of(r); }

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

  // A field's value as RecordToJson writes it.
  void Value(const std::string& v) { String(v); }
  void Value(MinerStatus v) { String(ToString(v)); }
  void Value(bool v) { Bool(v); }
  template <typename T>
  void Value(const T& v) {
    if constexpr (HasFields<T>) {
      Open('{');
      ForEachField<T>([&](const auto& f) {
        Key(f.name);
        Value(v.*f.member);
      });
      Close('}');
    } else {
      Number(v);  // numbers and optional numbers
    }
  }
  template <typename T>
  void Value(const std::vector<T>& items) {
    Open('[');
    for (const T& item : items) {
      Element();
      Value(item);
    }
    Close(']');
  }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace

void AppendRecordJson(const Record& r, std::string& out) { JsonWriter(out).Value(r); }

std::string RecordToJsonLine(const Record& record) {
  std::string line;
  AppendRecordJson(record, line);
  return line;
}

}  // namespace asicmon
