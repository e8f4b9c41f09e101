// What the two StoreDb backends share: the dispatcher in store_db.cpp opens
// one of them; both use these helpers so their rows mean the same.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/store_db.h"

namespace asicmon::store_internal {

inline constexpr int64_t kSecondsPerHour = 3600;
inline constexpr int64_t kSecondsPerDay = 24 * kSecondsPerHour;

// The status column's words, as std::string so binding them copies nothing.
const std::string& StatusWord(MinerStatus status);
// The numeric IPv4 address that orders miners; nullopt for anything else.
std::optional<int64_t> IpKey(const std::string& ip);
// Latest()'s ORDER BY clause for a sort other than address ascending (which
// each backend has prepared), columns prefixed by `table` ("m." or "").
std::string LatestOrderBy(const LatestFilter& filter, std::string_view table);
// Unix seconds at the start of the UTC hour / day of `ts`.
int64_t HourOf(double ts);
int64_t DayOf(double ts);
// For each record, whether it is the newest of its miner (ip, port) in the
// batch, the one that reaches the miners table; on equal ts the later one
// wins, as it would across batches.
std::vector<bool> NewestOfEachMiner(std::span<const Record> records);

// StoreDb::AsleepByControl: per ip the newest ok sleep or wake, kept when a
// sleep. Audit ids grow with every row, so the newest is the largest.
inline constexpr const char* kAsleepByControlSql = R"sql(
SELECT ts, actor, action, ip, worker, detail, http_status, result FROM audit
WHERE id IN (SELECT max(id) FROM audit WHERE result = 'ok' AND action IN ('sleep', 'wake')
             GROUP BY ip)
  AND action = 'sleep'
ORDER BY ip)sql";

// LastSeqs() in SQL both backends speak: a skip scan of the (producer_id,
// seq) index, a seek per producer instead of a scan of every row.
inline constexpr const char* kLastSeqs = R"sql(
WITH RECURSIVE producers (producer_id) AS (
  SELECT min(producer_id) FROM records
  UNION ALL
  SELECT (SELECT min(r.producer_id) FROM records r WHERE r.producer_id > p.producer_id)
  FROM producers p WHERE p.producer_id IS NOT NULL
)
SELECT p.producer_id, (SELECT max(r.seq) FROM records r WHERE r.producer_id = p.producer_id)
FROM producers p WHERE p.producer_id IS NOT NULL ORDER BY p.producer_id
)sql";

// Options already validated by StoreDb::Open.
Result<std::unique_ptr<StoreDb>> OpenSqlite(const StoreOptions& options);
Result<std::unique_ptr<StoreDb>> OpenPostgres(const StoreOptions& options);

}  // namespace asicmon::store_internal
