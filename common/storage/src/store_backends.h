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

// StoreDb::HeldByControl: per ip the newest ok sleep or wake, kept when a
// sleep, and the newest ok power change. Audit ids grow with every row, so
// the newest is the largest.
inline constexpr const char* kHeldByControlSql = R"sql(
SELECT ts, actor, action, ip, worker, detail, http_status, result FROM audit
WHERE id IN (SELECT max(id) FROM audit WHERE result = 'ok' AND action IN ('sleep', 'wake')
             GROUP BY ip
             UNION ALL
             SELECT max(id) FROM audit WHERE result = 'ok' AND action = 'power' GROUP BY ip)
  AND action IN ('sleep', 'power')
ORDER BY ip, id)sql";

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

// Schema 5's machine identity: `addresses` holds a row (mac, ip, since) each
// time a machine (by MAC) is first seen at an address; a miner's history is
// the rows recorded at each of its addresses while it was there, so it
// follows the machine through DHCP moves and two machines that swap
// addresses keep their own. Both backends run these texts; PostgreSQL's
// parameters are $N for SQLite's ?N (PostgresParams).
inline constexpr const char* kAddressesSchema = R"sql(
CREATE TABLE addresses (mac TEXT NOT NULL, ip TEXT NOT NULL, since DOUBLE PRECISION NOT NULL,
                        PRIMARY KEY (mac, since));
CREATE INDEX addresses_ip ON addresses (ip, since);
)sql";

// ?1 mac, ?2 ip, ?3 ts: a new row unless the machine's newest already says ip.
inline constexpr const char* kNoteAddress = R"sql(
INSERT INTO addresses (mac, ip, since)
SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS DOUBLE PRECISION)
WHERE NOT EXISTS (SELECT 1 FROM addresses WHERE mac = ?1 AND ip = ?2
                  AND since = (SELECT max(since) FROM addresses WHERE mac = ?1))
ON CONFLICT DO NOTHING
)sql";

// A move (?1 previous ip, ?2 port, then ?3 mac or ?3 ts): the old address
// no longer lists the machine (what another machine reported there since stays).
inline constexpr const char* kMovedFromInventory =
    "DELETE FROM inventory WHERE ip = ?1 AND port = ?2 AND mac = ?3";
inline constexpr const char* kMovedFromMiners =
    "DELETE FROM miners WHERE ip = ?1 AND port = ?2 AND ts <= ?3";

// `spans`: (ip, lo, hi), where the machine now at ip ?1 answered, from lo
// until hi (unix s). A machine's first address reaches back before it was
// identified unless another machine was seen there first; each span ends
// when it moved on or another machine took the address. An address without
// a known machine is one span over all time.
inline constexpr const char* kMachineSpans = R"sql(
WITH here AS (SELECT mac FROM inventory WHERE ip = ?1 AND mac IS NOT NULL
              ORDER BY updated_ts DESC LIMIT 1),
mine AS (
  SELECT a.ip, a.since, lead(a.since) OVER (ORDER BY a.since) AS next_since,
         row_number() OVER (ORDER BY a.since) AS n
  FROM addresses a WHERE a.mac = (SELECT mac FROM here)),
bounds AS (
  SELECT m.ip,
    CASE WHEN m.n = 1 AND NOT EXISTS (
        SELECT 1 FROM addresses o WHERE o.ip = m.ip AND o.mac <> (SELECT mac FROM here)
          AND o.since < m.since)
      THEN -1e300 ELSE m.since END AS lo,
    coalesce(m.next_since, 1e300) AS moved_on,
    coalesce((SELECT min(o.since) FROM addresses o WHERE o.ip = m.ip
              AND o.mac <> (SELECT mac FROM here) AND o.since > m.since), 1e300) AS taken
  FROM mine m),
spans AS (
  SELECT ip, lo, CASE WHEN moved_on < taken THEN moved_on ELSE taken END AS hi FROM bounds
  UNION ALL
  SELECT ?1, -1e300, 1e300 WHERE NOT EXISTS (SELECT 1 FROM mine))
)sql";

// ?1 ip, ?2 from_ts, ?3 to_ts, ?4 limit.
inline constexpr const char* kMachineHistory = R"sql(
SELECT r.record FROM records r JOIN spans s ON r.ip = s.ip AND r.ts >= s.lo AND r.ts < s.hi
WHERE r.ts >= ?2 AND r.ts <= ?3 ORDER BY r.ts LIMIT ?4)sql";
// An hour is the machine's when it overlaps one of its spans.
inline constexpr const char* kMachineHourly = R"sql(
SELECT h.ip, h.port, h.hour, h.polls, h.polls_ok, h.hashrate_avg, h.hashrate_min,
       h.hashrate_max, h.temp_max, h.model, h.worker
FROM records_hourly h JOIN spans s ON h.ip = s.ip AND h.hour + 3600 > s.lo AND h.hour < s.hi
WHERE h.hour >= ?2 AND h.hour <= ?3 ORDER BY h.hour, h.port LIMIT ?4)sql";

// `sql` with SQLite's ?N parameters written as PostgreSQL's $N.
std::string PostgresParams(std::string_view sql);

// Options already validated by StoreDb::Open.
Result<std::unique_ptr<StoreDb>> OpenSqlite(const StoreOptions& options);
Result<std::unique_ptr<StoreDb>> OpenPostgres(const StoreOptions& options);

}  // namespace asicmon::store_internal
