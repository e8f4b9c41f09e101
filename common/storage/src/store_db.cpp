#include "asicmon/store_db.h"

#include <array>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "asicmon/config.h"
#include "asicmon/targets.h"
#include "store_backends.h"

namespace asicmon {
namespace store_internal {

const std::string& StatusWord(MinerStatus status) {
  static const auto* const kWords = [] {
    auto* words = new std::array<std::string, kMinerStatusCount>();
    for (int i = 0; i < kMinerStatusCount; ++i) {
      (*words)[i] = std::string(ToString(static_cast<MinerStatus>(i)));
    }
    return words;
  }();
  const auto index = static_cast<size_t>(status);
  static const std::string kUnknown = "unknown";
  return index < kWords->size() ? (*kWords)[index] : kUnknown;
}

std::optional<int64_t> IpKey(const std::string& ip) {
  Result<uint32_t> address = ParseIpv4(ip);
  if (!address.ok()) return std::nullopt;
  return static_cast<int64_t>(*address);
}

int64_t HourOf(double ts) {
  return static_cast<int64_t>(std::floor(ts / static_cast<double>(kSecondsPerHour))) *
         kSecondsPerHour;
}

int64_t DayOf(double ts) {
  return static_cast<int64_t>(std::floor(ts / static_cast<double>(kSecondsPerDay))) *
         kSecondsPerDay;
}

std::vector<bool> NewestOfEachMiner(std::span<const Record> records) {
  struct MinerKey {
    std::string_view ip;
    uint16_t port;
    bool operator==(const MinerKey&) const = default;
  };
  struct MinerKeyHash {
    size_t operator()(const MinerKey& key) const {
      return std::hash<std::string_view>()(key.ip) * 31 + key.port;
    }
  };
  std::unordered_map<MinerKey, size_t, MinerKeyHash> newest;
  newest.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    auto [it, inserted] = newest.try_emplace(MinerKey{records[i].ip, records[i].port}, i);
    if (!inserted && records[i].ts >= records[it->second].ts) it->second = i;
  }
  std::vector<bool> out(records.size(), false);
  for (const auto& [key, index] : newest) out[index] = true;
  return out;
}

std::string PostgresParams(std::string_view sql) {
  std::string out(sql);
  for (char& c : out) {
    if (c == '?') c = '$';  // the texts hold no other '?'
  }
  return out;
}

}  // namespace store_internal

namespace {

Status Validate(const StoreOptions& options) {
  if (options.database.empty()) return Status::InvalidArgument("database is empty");
  if (options.busy_timeout.count() < 0 ||
      options.busy_timeout.count() > std::numeric_limits<int>::max()) {
    return Status::InvalidArgument("busy_timeout out of range");
  }
  if (options.cache_kib < 0) return Status::InvalidArgument("cache_kib must not be negative");
  if (options.raw_hours < 1) return Status::InvalidArgument("raw_hours must be at least 1");
  if (options.retention_days * 24 < options.raw_hours) {
    return Status::InvalidArgument("retention_days must cover raw_hours");
  }
  if (options.maintain_chunk_rows < 1) {
    return Status::InvalidArgument("maintain_chunk_rows must be at least 1");
  }
  return Status::Ok();
}

}  // namespace

std::optional<MinerSort> ParseMinerSort(std::string_view name) {
  static constexpr std::pair<std::string_view, MinerSort> kNames[] = {
      {"address", MinerSort::kAddress},   {"ts", MinerSort::kTs},
      {"status", MinerSort::kStatus},     {"model", MinerSort::kModel},
      {"worker", MinerSort::kWorker},     {"hashrate", MinerSort::kHashrate},
      {"hashrate_avg", MinerSort::kHashrateAvg}, {"temp_max", MinerSort::kTempMax},
      {"uptime_s", MinerSort::kUptime}};
  for (const auto& [text, sort] : kNames) {
    if (text == name) return sort;
  }
  return std::nullopt;
}

std::string store_internal::LatestOrderBy(const LatestFilter& filter, std::string_view table) {
  const std::string t(table);
  const char* direction = filter.descending ? " DESC" : "";
  if (filter.sort == MinerSort::kAddress) {
    return t + "ip_key" + direction + " NULLS LAST, " + t + "port" + direction;
  }
  const char* column = "";
  switch (filter.sort) {
    case MinerSort::kAddress: break;
    case MinerSort::kTs: column = "ts"; break;
    case MinerSort::kStatus: column = "status"; break;
    case MinerSort::kModel: column = "model"; break;
    case MinerSort::kWorker: column = "worker"; break;
    case MinerSort::kHashrate: column = "hashrate"; break;
    case MinerSort::kHashrateAvg: column = "hashrate_avg"; break;
    case MinerSort::kTempMax: column = "temp_max"; break;
    case MinerSort::kUptime: column = "uptime_s"; break;
  }
  return t + column + direction + " NULLS LAST, " + t + "ip_key NULLS LAST, " + t + "port";
}

bool IsPostgresUrl(std::string_view database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

std::optional<SecretSpan> DatabasePassword(std::string_view database) {
  if (!IsPostgresUrl(database)) return std::nullopt;
  // scheme://user:password@host...: the password is what sits between the
  // first ':' after the scheme and the last '@' of the authority.
  const size_t authority = database.find("://") + 3;
  const size_t authority_end = database.find_first_of("/?", authority);
  const std::string_view userinfo_and_host = database.substr(
      authority,
      authority_end == std::string_view::npos ? std::string_view::npos : authority_end - authority);
  const size_t at = userinfo_and_host.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const size_t colon = userinfo_and_host.substr(0, at).find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return SecretSpan{authority + colon + 1, at - colon - 1};
}

std::string RedactDatabase(std::string_view database) {
  const std::optional<SecretSpan> password = DatabasePassword(database);
  if (!password) return std::string(database);
  std::string out(database.substr(0, password->first));
  out += "***";
  out += database.substr(password->first + password->size);
  return out;
}

Status LoadStoreOptions(StoreOptions& options) {
  if (Status s = EnvString("ASICMON_DB", options.database); !s.ok()) return s;
  return EnvInt("RETENTION_DAYS", options.retention_days, 1, 3650);
}

Result<std::unique_ptr<StoreDb>> StoreDb::Open(const StoreOptions& options) {
  if (Status s = Validate(options); !s.ok()) return s;
  return IsPostgresUrl(options.database) ? store_internal::OpenPostgres(options)
                                         : store_internal::OpenSqlite(options);
}

}  // namespace asicmon
