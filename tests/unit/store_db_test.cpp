// The store: round trips of whole records, latest state, retention and
// downsampling, inventory, audit and two connections at once (StoreDbTest:
// run on SQLite, and again on PostgreSQL as "postgres:StoreDbTest.*");
// SQLite's schema creation and migration guards, bad files and paths
// (SqliteStoreTest); PostgreSQL's partitions, schema guards, unreachable
// servers and reconnects (PostgresStoreTest, only in the postgres: run).
#include "asicmon/store_db.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <thread>
#include <tuple>

#include "asicmon/stage.h"
#include "test_database.h"
#include "testlib.h"

namespace asicmon {
namespace {

namespace fs = std::filesystem;

// testlib's ASSERT_OK takes a Result; this one a Status.
#define ASSERT_STATUS_OK(expr)                                       \
  do {                                                               \
    const Status asicmon_status_ = (expr);                           \
    ASSERT_TRUE(asicmon_status_.ok()) << asicmon_status_.ToString(); \
  } while (0)

Record FullRecord(const std::string& ip, double ts, uint64_t seq) {
  Record r;
  r.producer_id = "collect-test-1";
  r.seq = seq;
  r.ts = ts;
  r.ip = ip;
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.firmware_build = "49.0.1.3";
  r.algorithm = "sha256d";
  r.worker = "farm.w1";
  r.hashrate = 110.2e12 + static_cast<double>(seq);
  r.hashrate_avg = 109.8e12;
  r.hashrate_expected = 111.8e12;
  r.uptime_s = 321734;
  r.accepted = 18234;
  r.rejected = 12;
  r.hw_errors = 2708;
  r.temp_max = 78.5;
  r.fans = {6000, 5880, 0, 6120};
  for (int b = 1; b <= 3; ++b) {
    r.boards.push_back({b, 36.7e12, 37.2e12, 62.0 + b, 75.0 + b, 114, 113, 1, 525.0, 880});
  }
  r.boards[2].temp_chip = std::nullopt;
  for (int p = 0; p < 3; ++p) {
    r.pools.push_back({p, "stratum+tcp://pool-" + std::to_string(p) + ".example:3333", "farm.w1",
                       "Alive", p, p == 0 ? 18234 : 0, p == 0 ? 12 : 0, std::nullopt, p == 0});
  }
  r.power_w = 3250;
  r.poll_ms = 14.2;
  return r;
}

// A failed poll: nothing measured, every optional unset, no identity.
Record TimeoutRecord(const std::string& ip, double ts, uint64_t seq) {
  Record r;
  r.producer_id = "collect-test-1";
  r.seq = seq;
  r.ts = ts;
  r.ip = ip;
  r.port = 4029;
  r.status = MinerStatus::kTimeout;
  r.error = "no reply within 5 s";
  return r;
}

class StoreDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs test programs (and gtest_discover_tests each test) in
    // parallel: one directory per test and process.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("asicmon_store_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    database_ = std::make_unique<testing::TestDatabase>(dir_ / "sub");
    options_.database = database_->url();
  }
  void TearDown() override {
    database_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<StoreDb> MustOpen() {
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  fs::path dir_;
  std::unique_ptr<testing::TestDatabase> database_;
  StoreOptions options_;
};

// What only the SQLite backend has: a file, its pragmas, its corruption.
class SqliteStoreTest : public StoreDbTest {
 protected:
  void SetUp() override {
    if (testing::TestOnPostgres()) GTEST_SKIP() << "a SQLite file test";
    StoreDbTest::SetUp();
  }
};

TEST_F(StoreDbTest, RoundTripOfWholeRecords) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const std::vector<Record> batch = {FullRecord("10.0.0.1", 1000.5, 1),
                                     TimeoutRecord("10.0.0.2", 1001.25, 2),
                                     FullRecord("10.0.0.1", 1030.5, 3)};
  ASSERT_STATUS_OK(db->WriteBatch(batch));

  Result<std::vector<Record>> latest = db->Latest({});
  ASSERT_OK(latest);
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0], batch[2]);
  EXPECT_EQ((*latest)[1], batch[1]);

  Result<std::vector<Record>> history = db->History("10.0.0.1", 0, 2000, 100);
  ASSERT_OK(history);
  EXPECT_EQ(*history, (std::vector<Record>{batch[0], batch[2]}));
  history = db->History("10.0.0.1", 1000.5, 1000.5, 100);  // both ends inclusive
  ASSERT_OK(history);
  EXPECT_EQ(*history, std::vector<Record>{batch[0]});
  history = db->History("10.0.0.1", 0, 2000, 1);
  ASSERT_OK(history);
  EXPECT_EQ(*history, std::vector<Record>{batch[0]});

  Result<std::vector<Record>> by_seq = db->RecordsBySeq("collect-test-1", 2, 3);
  ASSERT_OK(by_seq);
  EXPECT_EQ(*by_seq, (std::vector<Record>{batch[1], batch[2]}));
  by_seq = db->RecordsBySeq("someone-else", 1, 3);
  ASSERT_OK(by_seq);
  EXPECT_TRUE(by_seq->empty());

  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 3);
}

TEST_F(StoreDbTest, LastSeqsGivesEachProducersHighestSeq) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  Result<std::vector<std::pair<std::string, uint64_t>>> none = db->LastSeqs();
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());

  std::vector<Record> batch;
  for (uint64_t seq : {3, 1, 7, 5}) {
    batch.push_back(FullRecord("10.0.0.1", 1000.0 + static_cast<double>(seq), seq));
  }
  Record other = TimeoutRecord("10.0.0.2", 1001, 42);
  other.producer_id = "collect-test-0";
  batch.push_back(other);
  ASSERT_STATUS_OK(db->WriteBatch(batch));
  Result<std::vector<std::pair<std::string, uint64_t>>> last = db->LastSeqs();
  ASSERT_OK(last);
  EXPECT_EQ(*last, (std::vector<std::pair<std::string, uint64_t>>{{"collect-test-0", 42},
                                                                  {"collect-test-1", 7}}));
}

TEST_F(SqliteStoreTest, NotReportedIsNullNotZero) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{TimeoutRecord("10.0.0.2", 1000, 1)}));
  db.reset();
  SQLite::Database raw(options_.database);
  SQLite::Statement q(raw,
                      "SELECT status, model IS NULL, worker IS NULL, hashrate IS NULL, "
                      "hashrate_avg IS NULL, temp_max IS NULL, uptime_s IS NULL FROM records");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString(), "timeout");
  for (int i = 1; i <= 6; ++i) EXPECT_EQ(q.getColumn(i).getInt(), 1) << "column " << i;
}

TEST_F(StoreDbTest, LatestHoldsNewestPerMiner) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  // One batch, one miner several times, out of order.
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 100, 1),
                                                      FullRecord("10.0.0.1", 300, 2),
                                                      FullRecord("10.0.0.1", 200, 3)}));
  auto latest_ts = [&]() {
    Result<std::vector<Record>> latest = db->Latest({});
    EXPECT_TRUE(latest.ok() && latest->size() == 1u);
    return latest.ok() && !latest->empty() ? (*latest)[0].ts : -1;
  };
  EXPECT_EQ(latest_ts(), 300);
  // A late record from an earlier poll does not replace newer state.
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 250, 4)}));
  EXPECT_EQ(latest_ts(), 300);
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 400, 5)}));
  EXPECT_EQ(latest_ts(), 400);
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 5);
}

TEST_F(StoreDbTest, LatestFiltersAndPages) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  std::vector<Record> batch;
  for (int i = 1; i <= 12; ++i) {
    batch.push_back(FullRecord("10.0.0." + std::to_string(i), 100, static_cast<uint64_t>(i)));
  }
  batch[4].model = "Antminer L3+";
  batch[5].worker = "farm.w2";
  batch[6] = TimeoutRecord("10.0.0.7", 100, 7);
  ASSERT_STATUS_OK(db->WriteBatch(batch));

  auto ips = [&](const LatestFilter& filter) {
    std::vector<std::string> out;
    Result<std::vector<Record>> latest = db->Latest(filter);
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    if (!latest.ok()) return out;
    for (const Record& r : *latest) out.push_back(r.ip);
    return out;
  };
  // Numeric address order: .2 before .10.
  std::vector<std::string> all = ips({});
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all[1], "10.0.0.2");
  EXPECT_EQ(all[9], "10.0.0.10");
  LatestFilter filter;
  filter.limit = 3;
  filter.offset = 9;
  EXPECT_EQ(ips(filter), (std::vector<std::string>{"10.0.0.10", "10.0.0.11", "10.0.0.12"}));
  filter = {};
  filter.status = MinerStatus::kTimeout;
  EXPECT_EQ(ips(filter), std::vector<std::string>{"10.0.0.7"});
  filter.status = MinerStatus::kRefused;
  EXPECT_TRUE(ips(filter).empty());
  filter = {};
  filter.model = "Antminer L3+";
  EXPECT_EQ(ips(filter), std::vector<std::string>{"10.0.0.5"});
  filter.model = "";
  EXPECT_EQ(ips(filter), std::vector<std::string>{"10.0.0.7"});
  filter = {};
  filter.worker = "farm.w2";
  EXPECT_EQ(ips(filter), std::vector<std::string>{"10.0.0.6"});
  filter.status = MinerStatus::kOk;
  EXPECT_EQ(ips(filter), std::vector<std::string>{"10.0.0.6"});
}

TEST_F(StoreDbTest, LatestSortsByAWhitelistedColumnWithNullsLast) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  std::vector<Record> batch;
  for (int i = 1; i <= 4; ++i) {
    batch.push_back(FullRecord("10.0.0." + std::to_string(i), 100, static_cast<uint64_t>(i)));
  }
  batch[0].hashrate = 5e12;
  batch[1].hashrate = 9e12;
  batch[2] = TimeoutRecord("10.0.0.3", 100, 3);  // no hashrate: last either way
  batch[3].hashrate = 5e12;                      // ties with .1: address decides
  ASSERT_STATUS_OK(db->WriteBatch(batch));
  auto ips = [&](const LatestFilter& filter) {
    std::vector<std::string> out;
    Result<std::vector<Record>> latest = db->Latest(filter);
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    if (latest.ok()) {
      for (const Record& r : *latest) out.push_back(r.ip);
    }
    return out;
  };
  LatestFilter filter;
  filter.sort = MinerSort::kHashrate;
  EXPECT_EQ(ips(filter),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.4", "10.0.0.2", "10.0.0.3"}));
  filter.descending = true;
  EXPECT_EQ(ips(filter),
            (std::vector<std::string>{"10.0.0.2", "10.0.0.1", "10.0.0.4", "10.0.0.3"}));
  filter.limit = 2;
  filter.offset = 1;
  EXPECT_EQ(ips(filter), (std::vector<std::string>{"10.0.0.1", "10.0.0.4"}));
  filter = {};
  filter.sort = MinerSort::kStatus;
  filter.descending = true;
  EXPECT_EQ(ips(filter).front(), "10.0.0.3");  // "timeout" > "ok"
  filter = {};
  filter.descending = true;
  EXPECT_EQ(ips(filter),
            (std::vector<std::string>{"10.0.0.4", "10.0.0.3", "10.0.0.2", "10.0.0.1"}));
  EXPECT_EQ(ParseMinerSort("temp_max"), MinerSort::kTempMax);
  EXPECT_EQ(ParseMinerSort("ip; DROP TABLE miners"), std::nullopt);
}

TEST_F(SqliteStoreTest, CreatesThenReopens) {
  ASSERT_FALSE(fs::exists(fs::path(options_.database).parent_path()));
  {
    auto db = MustOpen();
    ASSERT_TRUE(db);
    ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 100, 1)}));
  }
  {
    SQLite::Database raw(options_.database);
    EXPECT_EQ(raw.execAndGet("PRAGMA user_version").getInt(), kStoreSchemaVersion);
    EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
    for (const char* table :
         {"records", "miners", "records_hourly", "inventory", "meta", "audit"}) {
      EXPECT_TRUE(raw.tableExists(table)) << table;
    }
  }
  auto db = MustOpen();
  ASSERT_TRUE(db);
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1);
  Result<std::vector<Record>> latest = db->Latest({});
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, std::vector<Record>{FullRecord("10.0.0.1", 100, 1)});
}

TEST_F(SqliteStoreTest, MigratesAnEmptyFile) {
  fs::create_directories(fs::path(options_.database).parent_path());
  std::ofstream(options_.database).close();  // zero bytes: a new database to SQLite
  auto db = MustOpen();
  ASSERT_TRUE(db);
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 0);
}

TEST_F(SqliteStoreTest, MigratesVersion1Forward) {
  {
    auto db = MustOpen();
    ASSERT_TRUE(db);
    ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 100, 1)}));
  }
  {  // Back to what a version-1 build left: no audit, inventory.producer_id, events,
     // identity or addresses.
    SQLite::Database raw(options_.database, SQLite::OPEN_READWRITE);
    raw.exec("DROP TABLE api_keys");
    raw.exec("DROP TABLE audit");
    raw.exec("ALTER TABLE inventory DROP COLUMN producer_id");
    for (const char* column : {"family", "mac", "serial", "hostname", "previous_ip"}) {
      raw.exec(std::string("ALTER TABLE inventory DROP COLUMN ") + column);
    }
    raw.exec("DROP TABLE addresses");
    raw.exec("DROP TABLE events");
    raw.exec("PRAGMA user_version = 1");
  }
  auto db = MustOpen();
  ASSERT_TRUE(db);
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1);  // the data survived the migration
  AuditEntry entry{.ts = 100,
                   .actor = "token:ops",
                   .action = "reset",
                   .ip = "10.0.0.1",
                   .worker = "farm.w1",
                   .detail = "",
                   .http_status = 200,
                   .result = "ok"};
  ASSERT_STATUS_OK(db->AppendAudit(entry));
  InventoryEntry found;
  found.producer_id = "discover-site-a";
  found.ip = "10.0.0.1";
  ASSERT_STATUS_OK(db->UpsertInventory(std::vector<InventoryEntry>{found}));
  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 1u);
  EXPECT_EQ((*inventory)[0].producer_id, "discover-site-a");
  SQLite::Database raw(options_.database);
  EXPECT_EQ(raw.execAndGet("PRAGMA user_version").getInt(), kStoreSchemaVersion);
}

TEST_F(StoreDbTest, AuditNewestFirstByMiner) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const AuditEntry first{.ts = 100,
                         .actor = "token:ops",
                         .action = "reset",
                         .ip = "10.0.0.1",
                         .worker = "farm.w1",
                         .detail = "",
                         .http_status = 200,
                         .result = "ok"};
  const AuditEntry second{.ts = 101,
                          .actor = "peer:127.0.0.1",
                          .action = "pool",
                          .ip = "10.0.0.2",
                          .worker = "farm.w2",
                          .detail = "url=stratum+tcp://pool:3333 user=a",
                          .http_status = 409,
                          .result = "a command is already running on this miner"};
  const AuditEntry third{.ts = 102,
                         .actor = "token:ops",
                         .action = "reboot",
                         .ip = "10.0.0.1",
                         .worker = "farm.w1",
                         .detail = "",
                         .http_status = 202,
                         .result = "ok"};
  for (const AuditEntry& e : {first, second, third}) ASSERT_STATUS_OK(db->AppendAudit(e));
  Result<std::vector<AuditEntry>> all = db->Audit("", 10);
  ASSERT_OK(all);
  EXPECT_EQ(*all, (std::vector<AuditEntry>{third, second, first}));
  Result<std::vector<AuditEntry>> one = db->Audit("10.0.0.1", 1);
  ASSERT_OK(one);
  EXPECT_EQ(*one, std::vector<AuditEntry>{third});
}

// /audit?key=alice: rows whose actor is alice@<peer>, not alicia's nor a
// name that merely starts the same.
TEST_F(StoreDbTest, AuditFiltersByTheKeyBeforeTheAt) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  int n = 0;
  for (const char* actor : {"alice@10.0.0.5", "alicia@10.0.0.6", "alice_2@10.0.0.5",
                            "token@127.0.0.1", "alice@10.0.0.7"}) {
    AuditEntry e;
    e.ts = 100 + n++;
    e.actor = actor;
    e.action = "reboot";
    e.ip = "10.0.0.1";
    e.http_status = 200;
    e.result = "ok";
    ASSERT_STATUS_OK(db->AppendAudit(e));
  }
  Result<std::vector<AuditEntry>> alice = db->Audit(AuditFilter{.ip = "", .key = "alice", .limit = 10});
  ASSERT_OK(alice);
  ASSERT_EQ(alice->size(), 2u);
  EXPECT_EQ((*alice)[0].actor, "alice@10.0.0.7");
  EXPECT_EQ((*alice)[1].actor, "alice@10.0.0.5");
  Result<std::vector<AuditEntry>> token = db->Audit(AuditFilter{.ip = "10.0.0.1", .key = "token", .limit = 10});
  ASSERT_OK(token);
  ASSERT_EQ(token->size(), 1u);
  EXPECT_EQ((*token)[0].actor, "token@127.0.0.1");
}

// API keys: one live key per name, revoked rows kept, last use written.
TEST_F(StoreDbTest, ApiKeysAddFindRevokeAndTouch) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  ApiKey alice{.key_id = "0123456789ab", .name = "alice", .role = "operator", .salt = "5a17",
               .hash = "ab", .created_ts = 1000, .last_used_ts = std::nullopt,
               .expires_ts = 5000, .revoked_ts = std::nullopt};
  ASSERT_STATUS_OK(db->AddApiKey(alice));
  ApiKey again = alice;
  again.key_id = "ba9876543210";
  Status taken = db->AddApiKey(again);
  EXPECT_EQ(taken.code(), Status::Code::kInvalidArgument) << taken.ToString();

  Result<std::optional<ApiKey>> found = db->FindApiKey("0123456789ab");
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, alice);
  Result<std::optional<ApiKey>> missing = db->FindApiKey("ffffffffffff");
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  ASSERT_STATUS_OK(db->TouchApiKey("0123456789ab", 1500));
  Result<bool> revoked = db->RevokeApiKey("alice", 2000);
  ASSERT_OK(revoked);
  EXPECT_TRUE(*revoked);
  Result<bool> twice = db->RevokeApiKey("alice", 2001);
  ASSERT_OK(twice);
  EXPECT_FALSE(*twice);
  // The name is free again once its key is revoked; the old row stays.
  ASSERT_STATUS_OK(db->AddApiKey(again));
  Result<std::vector<ApiKey>> all = db->ApiKeys();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key_id, "0123456789ab");
  EXPECT_EQ((*all)[0].last_used_ts, 1500);
  EXPECT_EQ((*all)[0].revoked_ts, 2000);
  EXPECT_FALSE((*all)[1].revoked_ts.has_value());
}

// Where the store's sleep set and power holds start: per ip the newest ok
// sleep or wake, kept when it is a sleep, and the newest ok power change;
// refused or failed commands do not count.
TEST_F(StoreDbTest, HeldByControlIsTheNewestOkSleepOrWakeAndPowerChangePerMiner) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  double ts = 100;
  auto audit = [&](const std::string& action, const std::string& ip, const std::string& result,
                   const std::string& detail = "") {
    AuditEntry e{.ts = ts++,
                 .actor = "token:ops",
                 .action = action,
                 .ip = ip,
                 .worker = "farm.w" + ip.substr(ip.rfind('.') + 1),
                 .detail = detail,
                 .http_status = result == "ok" ? 200 : 502,
                 .result = result};
    EXPECT_TRUE(db->AppendAudit(e).ok());
    return e;
  };
  Result<std::vector<AuditEntry>> none = db->HeldByControl();
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());

  audit("sleep", "10.0.0.1", "ok");
  audit("wake", "10.0.0.1", "ok");  // woken: not asleep
  const AuditEntry two = audit("sleep", "10.0.0.2", "ok");
  audit("wake", "10.0.0.2", "miner did not confirm");  // a failed wake leaves it asleep
  audit("reboot", "10.0.0.2", "ok");                   // other actions do not count
  audit("sleep", "10.0.0.3", "ok");
  const AuditEntry three = audit("sleep", "10.0.0.3", "ok");  // the newest of two
  audit("sleep", "10.0.0.4", "miner has no sleep");
  audit("wake", "10.0.0.5", "ok");
  audit("sleep", "10.0.0.10", "ok");
  audit("wake", "10.0.0.10", "ok");
  audit("sleep", "10.0.0.1", "ok");
  const AuditEntry one = audit("sleep", "10.0.0.1", "ok");
  audit("power", "10.0.0.3", "ok", "limit_w=2000");
  const AuditEntry three_power = audit("power", "10.0.0.3", "ok", "mode=normal");
  audit("power", "10.0.0.3", "miner did not confirm", "mode=low");
  const AuditEntry six_power = audit("power", "10.0.0.6", "ok", "mode=low (job 7f3a)");
  const AuditEntry one_power = audit("power", "10.0.0.1", "ok", "limit_w=1800");  // after its sleep

  Result<std::vector<AuditEntry>> held = db->HeldByControl();
  ASSERT_OK(held);
  EXPECT_EQ(*held, (std::vector<AuditEntry>{one, one_power, two, three, three_power, six_power}));
}

TEST_F(SqliteStoreTest, RefusesNewerSchema) {
  ASSERT_TRUE(MustOpen());
  {
    SQLite::Database raw(options_.database, SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion + 1));
  }
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(db.status().message().find("schema version " + std::to_string(kStoreSchemaVersion + 1) +
                                       " is newer than this build's " +
                                       std::to_string(kStoreSchemaVersion)),
            std::string::npos)
      << db.status().ToString();
}

TEST_F(SqliteStoreTest, RefusesAnotherApplicationsDatabase) {
  fs::create_directories(fs::path(options_.database).parent_path());
  {
    SQLite::Database raw(options_.database, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY)");
  }
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("not an asicmon database"), std::string::npos)
      << db.status().ToString();
}

TEST_F(SqliteStoreTest, CorruptFileIsAnError) {
  fs::create_directories(fs::path(options_.database).parent_path());
  {
    std::ofstream out(options_.database, std::ios::binary);
    for (uint32_t i = 0; i < 8192; ++i) out.put(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIoError);
  EXPECT_NE(db.status().message().find(options_.database), std::string::npos);
  EXPECT_NE(db.status().message().find("damaged or not a database"), std::string::npos)
      << db.status().ToString();
}

TEST_F(SqliteStoreTest, CorruptPagesAreErrors) {
  {
    auto db = MustOpen();
    ASSERT_TRUE(db);
    std::vector<Record> batch;
    for (int i = 0; i < 2000; ++i) {
      batch.push_back(FullRecord("10.0." + std::to_string(i % 50) + ".1", 1000.0 + i,
                                 static_cast<uint64_t>(i + 1)));
    }
    ASSERT_STATUS_OK(db->WriteBatch(batch));
  }  // the last connection to close copies the WAL into the file
  {
    // Keep the header and schema pages; scribble over the rest.
    std::fstream file(options_.database, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096 * 8);
    for (uint32_t i = 0; i < 4096 * 200; ++i) file.put(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  if (!db.ok()) {
    EXPECT_EQ(db.status().code(), Status::Code::kIoError) << db.status().ToString();
    return;
  }
  std::vector<Status> statuses = {
      (*db)->Latest({}).status(), (*db)->History("10.0.7.1", 0, 1e12, 1000).status(),
      (*db)->RecordsBySeq("collect-test-1", 1, 2000).status(),
      (*db)->WriteBatch(std::vector<Record>{FullRecord("10.0.7.1", 5000, 5000)}),
      (*db)->Maintain(1e12).status()};
  int io_errors = 0;
  std::string all;
  for (const Status& s : statuses) {
    io_errors += s.code() == Status::Code::kIoError ? 1 : 0;
    all += s.ToString() + "\n";
  }
  EXPECT_GT(io_errors, 0) << all;
}

TEST_F(SqliteStoreTest, UnwritablePathIsAnError) {
  // Root ignores permission bits, so make the parent a regular file.
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file").put('x');
  options_.database = (dir_ / "file" / "asicmon.db").string();
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIoError);
  EXPECT_NE(db.status().message().find("cannot create directory"), std::string::npos)
      << db.status().ToString();

  // A directory where the file should be.
  options_.database = dir_.string();
  db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIoError) << db.status().ToString();
}

TEST_F(StoreDbTest, RejectsBadOptions) {
  options_.raw_hours = 24 * 31;
  options_.retention_days = 30;
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(StoreDbTest, MaintainFoldsOldRowsAndDropsPastRetention) {
  options_.raw_hours = 48;
  options_.retention_days = 30;
  options_.maintain_chunk_rows = 7;  // many chunks, and hours split between them
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const double now = 1'700'000'000;                                     // 22:13:20 UTC
  const double hour0 = std::floor((now - 100 * 3600) / 3600) * 3600;    // an hour well past raw
  const double ancient = std::floor((now - 40 * 86400) / 3600) * 3600;  // past retention

  std::vector<Record> batch;
  uint64_t seq = 0;
  // Hour 0: 120 polls at 30 s, hashrate 100..219, temp 60..; two timeouts.
  for (int i = 0; i < 120; ++i) {
    Record r = FullRecord("10.0.0.1", hour0 + 30 * i, ++seq);
    r.hashrate = 100.0 + i;
    r.temp_max = 60.0 + (i % 10);
    if (i == 50 || i == 51) r = TimeoutRecord("10.0.0.1", hour0 + 30 * i, seq);
    if (i == 119) r.worker = "farm.last";
    batch.push_back(r);
  }
  // Hour 1: 3 polls, written in reverse so "last" must go by ts.
  for (int i = 2; i >= 0; --i) {
    Record r = FullRecord("10.0.0.1", hour0 + 3600 + 30 * i, ++seq);
    r.model = "model-" + std::to_string(i);
    batch.push_back(r);
  }
  batch.push_back(FullRecord("10.0.0.1", ancient + 10, ++seq));
  // Recent: stays raw.
  batch.push_back(FullRecord("10.0.0.1", now - 3600, ++seq));
  batch.push_back(FullRecord("10.0.0.2", now - 47 * 3600, ++seq));
  ASSERT_STATUS_OK(db->WriteBatch(batch));

  // A budget of one chunk leaves work. A chunk is 7 rows on SQLite, the
  // oldest day (the ancient row alone) on PostgreSQL.
  const int64_t first_chunk = testing::TestOnPostgres() ? 1 : 7;
  Result<MaintainStats> stats = db->Maintain(now, 1);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->rows_folded, first_chunk);
  EXPECT_TRUE(stats->more);

  stats = db->Maintain(now);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->rows_folded, 120 + 3 + 1 - first_chunk);
  EXPECT_EQ(stats->hourly_rows_dropped, 1);  // the ancient hour
  EXPECT_FALSE(stats->more);

  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 2);
  Result<std::vector<Record>> raw = db->History("10.0.0.1", 0, now, 1000);
  ASSERT_OK(raw);
  ASSERT_EQ(raw->size(), 1u);
  EXPECT_EQ((*raw)[0].ts, now - 3600);

  Result<std::vector<HourlyRow>> hourly = db->Hourly("10.0.0.1", 0, now, 100);
  ASSERT_OK(hourly);
  ASSERT_EQ(hourly->size(), 3u);  // by hour, then port: hour0:4028, hour0:4029, hour1:4028
  const HourlyRow& h0 = (*hourly)[0];
  EXPECT_EQ(h0.hour, static_cast<int64_t>(hour0));
  EXPECT_EQ(h0.port, 4028);  // timeouts came from :4029
  EXPECT_EQ(h0.polls, 118);
  EXPECT_EQ(h0.polls_ok, 118);
  EXPECT_EQ(h0.hashrate_min, 100.0);
  EXPECT_EQ(h0.hashrate_max, 219.0);
  // Mean of 100..219 without 150 and 151.
  EXPECT_NEAR(*h0.hashrate_avg, (120 * 159.5 - 150 - 151) / 118.0, 1e-9);
  EXPECT_EQ(h0.temp_max, 69.0);
  EXPECT_EQ(h0.worker, "farm.last");
  const HourlyRow& h1 = (*hourly)[2];
  EXPECT_EQ(h1.hour, static_cast<int64_t>(hour0) + 3600);
  EXPECT_EQ(h1.polls, 3);
  EXPECT_EQ(h1.model, "model-2");

  Result<std::vector<HourlyRow>> timeouts = db->Hourly("10.0.0.1", hour0, hour0, 100);
  ASSERT_OK(timeouts);
  ASSERT_EQ(timeouts->size(), 2u);  // ports 4028 and 4029
  EXPECT_EQ((*timeouts)[1].port, 4029);
  EXPECT_EQ((*timeouts)[1].polls, 2);
  EXPECT_EQ((*timeouts)[1].polls_ok, 0);
  EXPECT_FALSE((*timeouts)[1].hashrate_avg.has_value());
  EXPECT_FALSE((*timeouts)[1].temp_max.has_value());

  // A late row for a folded hour merges into its aggregate.
  Record late = FullRecord("10.0.0.1", hour0 + 3600 + 5, ++seq);
  late.hashrate = 1000;
  late.model = "late-model";
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{late}));
  ASSERT_OK(db->Maintain(now));
  hourly = db->Hourly("10.0.0.1", hour0 + 3600, hour0 + 3600, 100);
  ASSERT_OK(hourly);
  ASSERT_EQ(hourly->size(), 1u);
  EXPECT_EQ((*hourly)[0].polls, 4);
  EXPECT_EQ((*hourly)[0].hashrate_min, 1000);
  EXPECT_EQ((*hourly)[0].model, "model-2");  // still the hour's last poll
  const double first3 = 110.2e12 * 3 + static_cast<double>(121 + 122 + 123);
  EXPECT_NEAR(*(*hourly)[0].hashrate_avg, (first3 + 1000) / 4, 1e3);

  // The latest of 10.0.0.1:4029 has been folded away; Latest still has it.
  const std::vector<Record> want_latest = {batch[batch.size() - 2], batch[51],
                                           batch[batch.size() - 1]};
  Result<std::vector<Record>> latest = db->Latest({});
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, want_latest);

  // 40 days on, everything is past retention; the latest state remains.
  stats = db->Maintain(now + 40 * 86400);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->rows_folded, 2);
  EXPECT_EQ(stats->hourly_rows_dropped, 5);
  hourly = db->Hourly("10.0.0.1", 0, now + 40 * 86400, 100);
  ASSERT_OK(hourly);
  EXPECT_TRUE(hourly->empty());
  count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 0);
  latest = db->Latest({});
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, want_latest);

  // A new poll replaces the kept copy.
  Record back = FullRecord("10.0.0.1", now + 40 * 86400, ++seq);
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{back}));
  latest = db->Latest({});
  ASSERT_OK(latest);
  ASSERT_EQ(latest->size(), 3u);
  EXPECT_EQ((*latest)[0], back);
}

// Regression: with a budget of one chunk and nothing to fold, Maintain
// used to report more work forever (the drop phase never ran), so a store
// calling it "while more" spun and held the write lock.
TEST_F(StoreDbTest, MaintainWithOneChunkBudgetFinishes) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const double now = 1764000000;
  ASSERT_OK(db->WriteBatch(std::vector<Record>{TimeoutRecord("10.0.0.1", now - 10, 1)}));
  Result<MaintainStats> stats = db->Maintain(now, 1);
  ASSERT_OK(stats);
  EXPECT_FALSE(stats->more);
  EXPECT_EQ(stats->rows_folded, 0);
}

TEST_F(StoreDbTest, InventoryKeepsFirstSeen) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  auto entry = [](double ts, InventoryChange change, std::string model) {
    InventoryEntry e;
    e.producer_id = "discover-1";
    e.ts = ts;
    e.change = change;
    e.ip = "10.0.0.9";
    e.identified = true;
    e.model = std::move(model);
    e.firmware = "BMMiner 2.0.0";
    e.worker = "farm.w9";
    return e;
  };
  ASSERT_STATUS_OK(db->UpsertInventory(std::vector<InventoryEntry>{
      entry(100, InventoryChange::kFound, "S9"), entry(200, InventoryChange::kChanged, "S19"),
      entry(300, InventoryChange::kGone, "")}));
  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 1u);
  InventoryRow want{"10.0.0.9",   4028, 100, 200, true, "S19", "BMMiner 2.0.0", "farm.w9", true,
                    "discover-1", "",   "",  "",  "",   ""};
  EXPECT_EQ((*inventory)[0], want);

  // An old entry arriving late moves first_seen back, not the identity.
  ASSERT_STATUS_OK(
      db->UpsertInventory(std::vector<InventoryEntry>{entry(50, InventoryChange::kFound, "S7")}));
  inventory = db->Inventory();
  ASSERT_OK(inventory);
  want.first_seen = 50;
  EXPECT_EQ((*inventory)[0], want);

  // Back again.
  ASSERT_STATUS_OK(
      db->UpsertInventory(std::vector<InventoryEntry>{entry(400, InventoryChange::kFound, "S19")}));
  inventory = db->Inventory();
  ASSERT_OK(inventory);
  want.last_seen = 400;
  want.gone = false;
  EXPECT_EQ((*inventory)[0], want);

  // Gone before ever found: no last_seen.
  InventoryEntry gone = entry(500, InventoryChange::kGone, "");
  gone.ip = "10.0.0.10";
  gone.identified = false;
  ASSERT_STATUS_OK(db->UpsertInventory(std::vector<InventoryEntry>{gone}));
  inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 2u);
  EXPECT_EQ((*inventory)[1].ip, "10.0.0.10");
  EXPECT_FALSE((*inventory)[1].last_seen.has_value());
  EXPECT_TRUE((*inventory)[1].gone);
}

// Identity (schema 5): what discover says a machine is, by MAC.
InventoryEntry Identity(InventoryChange change, const std::string& ip, const std::string& mac,
                        double ts, const std::string& previous_ip = "") {
  InventoryEntry e;
  e.producer_id = "discover-1";
  e.ts = ts;
  e.change = change;
  e.ip = ip;
  e.identified = true;
  e.model = "Antminer S19 Pro";
  e.family = "antminer";
  e.mac = mac;
  e.serial = "SN-" + mac;
  e.hostname = "rig-" + mac.substr(mac.size() - 2);
  e.previous_ip = previous_ip;
  return e;
}

// Each record's hashrate names the machine that made it (mine below).
std::vector<double> Hashrates(const std::vector<Record>& records) {
  std::vector<double> out;
  for (const Record& r : records) out.push_back(r.hashrate.value_or(-1));
  return out;
}

Record Made(const std::string& ip, double ts, uint64_t seq, double hashrate) {
  Record r = FullRecord(ip, ts, seq);
  r.hashrate = hashrate;
  return r;
}

constexpr const char* kMacA = "02:a5:1c:00:00:0a";
constexpr const char* kMacB = "02:a5:1c:00:00:0b";

TEST_F(StoreDbTest, AMovedMachinesHistoryAndIdentityFollowIt) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  // Polled at .1 before anyone knew its MAC, then identified there.
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{Made("10.0.0.1", 900, 1, 1)}));
  ASSERT_STATUS_OK(db->Commit(
      {.records = std::vector<Record>{Made("10.0.0.1", 1010, 2, 2), Made("10.0.0.1", 1020, 3, 3)},
       .inventory = std::vector<InventoryEntry>{
           Identity(InventoryChange::kFound, "10.0.0.1", kMacA, 1000)}}));
  // DHCP gave it .5.
  ASSERT_STATUS_OK(
      db->Commit({.records = std::vector<Record>{Made("10.0.0.5", 2010, 4, 4)},
                  .inventory = std::vector<InventoryEntry>{
                      Identity(InventoryChange::kMoved, "10.0.0.5", kMacA, 2000, "10.0.0.1")}}));

  Result<std::vector<Record>> history = db->History("10.0.0.5", 0, 1e10, 100);
  ASSERT_OK(history);
  EXPECT_EQ(Hashrates(*history), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ((*history)[0].ip, "10.0.0.1");           // each record says where it was polled
  history = db->History("10.0.0.5", 1015, 1e10, 1);  // the window and limit still apply
  ASSERT_OK(history);
  EXPECT_EQ(Hashrates(*history), (std::vector<double>{3}));

  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 1u);  // the old address no longer lists it
  const InventoryRow& row = (*inventory)[0];
  EXPECT_EQ(row.ip, "10.0.0.5");
  EXPECT_EQ(row.family, "antminer");
  EXPECT_EQ(row.mac, kMacA);
  EXPECT_EQ(row.serial, std::string("SN-") + kMacA);
  EXPECT_EQ(row.hostname, "rig-0a");
  EXPECT_EQ(row.previous_ip, "10.0.0.1");

  Result<std::vector<Record>> latest = db->Latest({});
  ASSERT_OK(latest);
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].ip, "10.0.0.5");
}

TEST_F(StoreDbTest, TwoMachinesThatSwapAddressesKeepTheirOwnHistory) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const double now = 1'700'000'000;
  const double h0 = std::floor((now - 100 * 3600) / 3600) * 3600;  // past the raw window
  // A (hashrates 1x) at .1, B (2x) at .2; two hours later they swap.
  ASSERT_STATUS_OK(db->Commit({.records = std::vector<Record>{Made("10.0.0.1", h0 + 10, 1, 10),
                                                              Made("10.0.0.2", h0 + 10, 2, 20)},
                               .inventory = std::vector<InventoryEntry>{
                                   Identity(InventoryChange::kFound, "10.0.0.1", kMacA, h0),
                                   Identity(InventoryChange::kFound, "10.0.0.2", kMacB, h0)}}));
  ASSERT_STATUS_OK(db->Commit(
      {.records = std::vector<Record>{Made("10.0.0.1", h0 + 3 * 3600, 3, 21),
                                      Made("10.0.0.2", h0 + 3 * 3600, 4, 11)},
       .inventory = std::vector<InventoryEntry>{
           Identity(InventoryChange::kMoved, "10.0.0.1", kMacB, h0 + 2 * 3600, "10.0.0.2"),
           Identity(InventoryChange::kMoved, "10.0.0.2", kMacA, h0 + 2 * 3600 + 1, "10.0.0.1")}}));

  Result<std::vector<Record>> at_1 = db->History("10.0.0.1", 0, 1e10, 100);
  ASSERT_OK(at_1);
  EXPECT_EQ(Hashrates(*at_1), (std::vector<double>{20, 21}));  // B's, wherever it was
  Result<std::vector<Record>> at_2 = db->History("10.0.0.2", 0, 1e10, 100);
  ASSERT_OK(at_2);
  EXPECT_EQ(Hashrates(*at_2), (std::vector<double>{10, 11}));

  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 2u);
  EXPECT_EQ((*inventory)[0].mac, kMacB);
  EXPECT_EQ((*inventory)[1].mac, kMacA);

  // The hourly rollups follow the machines the same way.
  ASSERT_OK(db->Maintain(now));
  Result<std::vector<HourlyRow>> hourly = db->Hourly("10.0.0.1", 0, 1e10, 100);
  ASSERT_OK(hourly);
  ASSERT_EQ(hourly->size(), 2u);
  EXPECT_EQ((*hourly)[0].ip, "10.0.0.2");
  EXPECT_EQ((*hourly)[0].hashrate_avg, 20);
  EXPECT_EQ((*hourly)[1].ip, "10.0.0.1");
  EXPECT_EQ((*hourly)[1].hashrate_avg, 21);

  // A gone entry for A at its old address leaves B, who answers there now.
  ASSERT_STATUS_OK(db->UpsertInventory(
      std::vector<InventoryEntry>{Identity(InventoryChange::kGone, "10.0.0.1", kMacA, now)}));
  inventory = db->Inventory();
  ASSERT_OK(inventory);
  EXPECT_FALSE((*inventory)[0].gone);
  EXPECT_EQ((*inventory)[0].mac, kMacB);
}

TEST_F(StoreDbTest, ANewMacAtAnAddressStartsItsOwnHistory) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  ASSERT_STATUS_OK(db->Commit({.records = std::vector<Record>{Made("10.0.0.1", 1010, 1, 10)},
                               .inventory = std::vector<InventoryEntry>{
                                   Identity(InventoryChange::kFound, "10.0.0.1", kMacA, 1000)}}));
  ASSERT_STATUS_OK(db->Commit({.records = std::vector<Record>{Made("10.0.0.1", 2010, 2, 20)},
                               .inventory = std::vector<InventoryEntry>{
                                   Identity(InventoryChange::kFound, "10.0.0.1", kMacB, 2000)}}));
  Result<std::vector<Record>> history = db->History("10.0.0.1", 0, 1e10, 100);
  ASSERT_OK(history);
  EXPECT_EQ(Hashrates(*history), (std::vector<double>{20}));
  // An address whose machine has no MAC keeps every row recorded there.
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{Made("10.0.0.3", 10, 3, 30)}));
  history = db->History("10.0.0.3", 0, 1e10, 100);
  ASSERT_OK(history);
  EXPECT_EQ(Hashrates(*history), (std::vector<double>{30}));
}

TEST_F(StoreDbTest, TwoConnectionsReadWhileWriting) {
  auto writer = MustOpen();
  auto reader = MustOpen();  // as control opens the store's file
  ASSERT_TRUE(writer && reader);
  constexpr int kBatches = 40;
  constexpr int kBatchSize = 250;
  std::atomic<bool> done = false;
  std::vector<std::string> reader_errors;
  // Each connection stays on its thread; the reader also writes now and
  // then (as control may), so both take turns at the write lock.
  std::thread read_thread([&] {
    LatestFilter page;
    page.limit = 50;
    for (int reads = 0; !done || reads == 0; ++reads) {
      Result<std::vector<Record>> latest = reader->Latest(page);
      Result<std::vector<Record>> history = reader->History("10.0.1.7", 0, 1e12, 100);
      Result<int64_t> count = reader->CountRecords();
      InventoryEntry entry;
      entry.ts = reads;
      entry.ip = "10.9.9.9";
      const Status upsert = reads % 10 == 0
                                ? reader->UpsertInventory(std::vector<InventoryEntry>{entry})
                                : Status::Ok();
      for (const Status& s : {latest.status(), history.status(), count.status(), upsert}) {
        if (!s.ok()) reader_errors.push_back(s.ToString());
      }
    }
  });
  uint64_t seq = 0;
  std::vector<std::string> writer_errors;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Record> batch;
    for (int i = 0; i < kBatchSize; ++i) {
      batch.push_back(FullRecord("10.0." + std::to_string(i / 100) + "." + std::to_string(i % 100),
                                 1000.0 + 30 * b, ++seq));
    }
    if (Status s = writer->WriteBatch(batch); !s.ok()) writer_errors.push_back(s.ToString());
  }
  done = true;
  read_thread.join();
  EXPECT_TRUE(writer_errors.empty()) << writer_errors.front();
  EXPECT_TRUE(reader_errors.empty()) << reader_errors.front();
  Result<int64_t> count = reader->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, kBatches * kBatchSize);
  Result<std::vector<InventoryRow>> inventory = reader->Inventory();
  ASSERT_OK(inventory);
  EXPECT_EQ(inventory->size(), 1u);
}

// Two discovers feed one store (one per subnet or site): a miner one of
// them stops seeing is gone only if that one was the last to report it.
TEST_F(StoreDbTest, InventoryFromSeveralDiscoversDoesNotClash) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  auto entry = [](std::string producer, double ts, InventoryChange change, std::string ip) {
    InventoryEntry e;
    e.producer_id = std::move(producer);
    e.ts = ts;
    e.change = change;
    e.ip = std::move(ip);
    e.identified = change != InventoryChange::kGone;
    e.model = e.identified ? "Antminer S19" : "";
    return e;
  };
  ASSERT_STATUS_OK(db->UpsertInventory(std::vector<InventoryEntry>{
      entry("discover-site-a", 100, InventoryChange::kFound, "10.1.0.5"),
      entry("discover-site-b", 101, InventoryChange::kFound, "10.2.0.5"),
      // Site b's scan moved from 10.1.0.0/16: it reports a miner it no longer
      // sees, which site a still sees.
      entry("discover-site-b", 102, InventoryChange::kFound, "10.1.0.6"),
      entry("discover-site-a", 103, InventoryChange::kFound, "10.1.0.6"),
      entry("discover-site-b", 200, InventoryChange::kGone, "10.1.0.6"),
      entry("discover-site-b", 201, InventoryChange::kGone, "10.1.0.5"),
      // The discover that reported it last says gone: that counts.
      entry("discover-site-b", 202, InventoryChange::kGone, "10.2.0.5")}));
  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 3u);
  std::map<std::string, InventoryRow> by_ip;
  for (const InventoryRow& row : *inventory) by_ip[row.ip] = row;
  EXPECT_FALSE(by_ip["10.1.0.5"].gone);
  EXPECT_EQ(by_ip["10.1.0.5"].producer_id, "discover-site-a");
  EXPECT_FALSE(by_ip["10.1.0.6"].gone);
  EXPECT_EQ(by_ip["10.1.0.6"].producer_id, "discover-site-a");
  EXPECT_EQ(by_ip["10.1.0.6"].last_seen, 103);
  EXPECT_TRUE(by_ip["10.2.0.5"].gone);
  EXPECT_EQ(by_ip["10.2.0.5"].model, "Antminer S19");  // gone keeps the identity
}

TEST_F(StoreDbTest, EventsFilteredNewestFirstWithTheActiveConditions) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  auto event = [](double ts, std::string ip, std::string kind, std::string state) {
    HealthEvent e;
    e.ts = ts;
    e.ip = std::move(ip);
    e.model = "Antminer S19 Pro";
    e.kind = std::move(kind);
    e.state = std::move(state);
    e.severity = e.state == "fired" ? "critical" : "info";
    e.message = e.kind + " " + e.state;
    if (e.kind == "overheat") {
      e.value = 97;
      e.threshold = 95;
    }
    return e;
  };
  const std::vector<HealthEvent> events = {
      event(1000, "10.0.0.1", "overheat", "fired"), event(1010, "10.0.0.2", "offline", "fired"),
      event(1020, "10.0.0.1", "overheat", "cleared"), event(1030, "10.0.0.1", "rebooted", "fired"),
      event(1040, "10.0.0.1", "overheat", "fired")};
  ASSERT_STATUS_OK(db->AppendEvents(events));

  Result<std::vector<HealthEvent>> all = db->Events({});
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0], events[4]);  // newest first, every field back
  EXPECT_EQ((*all)[4], events[0]);
  Result<std::vector<HealthEvent>> some =
      db->Events({.since = 1015, .ip = "10.0.0.1", .kind = "overheat", .limit = 10});
  ASSERT_OK(some);
  EXPECT_EQ(*some, (std::vector<HealthEvent>{events[4], events[2]}));
  some = db->Events({.since = 0, .ip = "", .kind = "", .limit = 2});
  ASSERT_OK(some);
  EXPECT_EQ(some->size(), 2u);

  Result<std::vector<ActiveCondition>> active = db->ActiveConditions();
  ASSERT_OK(active);
  std::vector<ActiveCondition> got = *active;
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) {
    return std::tie(a.ip, a.kind) < std::tie(b.ip, b.kind);
  });
  // rebooted is a happening; the store lists it, the engine ignores it.
  EXPECT_EQ(got, (std::vector<ActiveCondition>{{"10.0.0.1", 4028, "overheat"},
                                               {"10.0.0.1", 4028, "rebooted"},
                                               {"10.0.0.2", 4028, "offline"}}));

  // Past retention they go.
  ASSERT_OK(db->Maintain(1040 + 31 * 86400.0));
  all = db->Events({});
  ASSERT_OK(all);
  EXPECT_TRUE(all->empty());
}

// PostgreSQL only: the tests run in the "postgres:" pass, on a cluster of
// their own; elsewhere they are skipped.
TEST_F(StoreDbTest, CommitWritesRecordsInventoryAndEventsAllOrNothing) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const std::vector<Record> records = {FullRecord("10.0.0.1", 1000, 1),
                                       TimeoutRecord("10.0.0.2", 1001, 2)};
  InventoryEntry found;
  found.producer_id = "discover-1";
  found.ts = 1000;
  found.ip = "10.0.0.1";
  found.identified = true;
  found.model = "Antminer S19 Pro";
  HealthEvent fired;
  fired.ts = 1001;
  fired.ip = "10.0.0.2";
  fired.kind = "offline";
  fired.state = "fired";
  fired.severity = "critical";
  fired.message = "no reply";
  // Written last in the transaction and refused by either backend (SQLite
  // stores NaN as NULL, which NOT NULL refuses; PostgreSQL refuses text
  // that is not UTF-8): what came before it in the batch must go too.
  HealthEvent refused = fired;
  refused.ts = std::nan("");
  refused.message = "\xff";
  const std::vector<InventoryEntry> inventory = {found};
  const std::vector<HealthEvent> bad_events = {fired, refused};
  EXPECT_FALSE(db->Commit({records, inventory, bad_events}).ok());
  ASSERT_OK(db->CountRecords());
  EXPECT_EQ(*db->CountRecords(), 0);
  Result<std::vector<Record>> latest = db->Latest({});
  ASSERT_OK(latest);
  EXPECT_TRUE(latest->empty());
  Result<std::vector<InventoryRow>> rows = db->Inventory();
  ASSERT_OK(rows);
  EXPECT_TRUE(rows->empty());
  Result<std::vector<HealthEvent>> events = db->Events({});
  ASSERT_OK(events);
  EXPECT_TRUE(events->empty());

  const std::vector<HealthEvent> good_events = {fired};
  ASSERT_STATUS_OK(db->Commit({records, inventory, good_events}));
  EXPECT_EQ(*db->CountRecords(), 2);
  latest = db->Latest({});
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, records);
  rows = db->Inventory();
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].model, "Antminer S19 Pro");
  events = db->Events({});
  ASSERT_OK(events);
  EXPECT_EQ(*events, good_events);
}

class PostgresStoreTest : public StoreDbTest {
 protected:
  void SetUp() override {
    if (!testing::TestOnPostgres()) GTEST_SKIP() << "runs as postgres:PostgresStoreTest.*";
    StoreDbTest::SetUp();
  }
  pqxx::result Sql(const std::string& sql) {
    pqxx::connection conn(options_.database);
    pqxx::nontransaction tx(conn);
    return tx.exec(sql);
  }
  bool TableExists(const std::string& name) {
    return !Sql("SELECT to_regclass('asicmon." + name + "')")[0][0].is_null();
  }
};

TEST_F(PostgresStoreTest, DayPartitionsComeAndGo) {
  options_.raw_hours = 24;
  options_.retention_days = 2;
  auto db = MustOpen();
  ASSERT_TRUE(db);
  const double day = 1764115200;  // 2025-11-26 00:00 UTC
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", day + 60, 1),
                                                      FullRecord("10.0.0.1", day + 86400 + 60, 2),
                                                      TimeoutRecord("10.0.0.2", day + 61, 3)}));
  EXPECT_TRUE(TableExists("records_20251126"));
  EXPECT_TRUE(TableExists("records_20251127"));
  EXPECT_EQ(Sql("SELECT count(*) FROM asicmon.records_20251126")[0][0].as<int>(), 2);
  EXPECT_EQ(Sql("SELECT model IS NULL AND hashrate IS NULL AND uptime_s IS NULL FROM "
                "asicmon.records WHERE ip = '10.0.0.2'")[0][0]
                .as<bool>(),
            true);  // not reported is NULL, never 0

  // Two days on, 11-26 is past the 24 h raw window: folded and dropped whole.
  Result<MaintainStats> stats = db->Maintain(day + 2 * 86400 + 3600);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->rows_folded, 2);
  EXPECT_FALSE(TableExists("records_20251126"));
  EXPECT_TRUE(TableExists("records_20251127"));
  EXPECT_TRUE(TableExists("records_20251129"));  // tomorrow's, made ahead
  EXPECT_TRUE(TableExists("records_hourly_20251126"));
  Result<std::vector<HourlyRow>> hourly = db->Hourly("10.0.0.1", 0, 1e10, 10);
  ASSERT_OK(hourly);
  ASSERT_EQ(hourly->size(), 1u);
  EXPECT_EQ(hourly->front().hour, static_cast<int64_t>(day));
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1);

  // Past retention the hourly day goes too.
  stats = db->Maintain(day + 4 * 86400);
  ASSERT_OK(stats);
  // 11-27 is folded in the same pass; then both days are past retention:
  // 11-26's two aggregates (10.0.0.1, 10.0.0.2) and 11-27's one go.
  EXPECT_EQ(stats->rows_folded, 1);
  EXPECT_EQ(stats->hourly_rows_dropped, 3);
  EXPECT_FALSE(TableExists("records_hourly_20251126"));
  EXPECT_FALSE(TableExists("records_hourly_20251127"));
}

TEST_F(PostgresStoreTest, RefusesNewerSchemaAndForeignTables) {
  ASSERT_TRUE(MustOpen());
  Sql("UPDATE asicmon.asicmon_meta SET value = value + 1 WHERE key = 'schema_version'");
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(db.status().message().find("is newer than this build's"), std::string::npos)
      << db.status().ToString();

  Sql("DROP SCHEMA asicmon CASCADE; CREATE SCHEMA asicmon; CREATE TABLE asicmon.photos (id int)");
  db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("not an asicmon store"), std::string::npos)
      << db.status().ToString();
}

TEST_F(PostgresStoreTest, UnreachableServerIsAnIoErrorWithoutThePassword) {
  options_.database = "postgresql://asicmon:s3cret@/asicmon?host=" + dir_.string() + "&port=1";
  Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIoError) << db.status().ToString();
  EXPECT_EQ(db.status().message().find("s3cret"), std::string::npos) << db.status().ToString();
  EXPECT_NE(db.status().message().find("asicmon:***@"), std::string::npos)
      << db.status().ToString();
}

TEST_F(PostgresStoreTest, ABrokenConnectionIsReopened) {
  auto db = MustOpen();
  ASSERT_TRUE(db);
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 1764115200, 1)}));
  // As a server restart or a network cut would: every session of this
  // database is ended.
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
      database_->name() + "' AND pid <> pg_backend_pid()");
  const Status broken = db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 1764115230, 2)});
  EXPECT_EQ(broken.code(), Status::Code::kIoError) << broken.ToString();
  // The store retries a failed batch: the retry goes through a new connection.
  ASSERT_STATUS_OK(db->WriteBatch(std::vector<Record>{FullRecord("10.0.0.1", 1764115230, 2)}));
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 2);
}

TEST(StoreOptions, RedactsThePasswordOfUrls) {
  EXPECT_EQ(RedactDatabase("postgresql://ops:pa:ss@db.farm:5432/asicmon?sslmode=require"),
            "postgresql://ops:***@db.farm:5432/asicmon?sslmode=require");
  EXPECT_EQ(RedactDatabase("postgres://ops@db.farm/asicmon"), "postgres://ops@db.farm/asicmon");
  EXPECT_EQ(RedactDatabase("postgresql:///asicmon?host=/run/pg"),
            "postgresql:///asicmon?host=/run/pg");
  EXPECT_EQ(RedactDatabase("data/asicmon.db"), "data/asicmon.db");
  EXPECT_TRUE(IsPostgresUrl("postgresql://x/y"));
  EXPECT_TRUE(IsPostgresUrl("postgres://x/y"));
  EXPECT_FALSE(IsPostgresUrl("data/postgresql.db"));
}

// What ps shows of a stage's command line once it has parsed it: secrets
// starred out in place, the rest as given.
TEST(StoreOptions, SecretFlagValuesAreStarredInArgv) {
  std::vector<std::string> args = {"asicmon-store",
                                   "--db",
                                   "postgresql://ops:pa:ss@db.farm/asicmon",
                                   "--db=postgres://ops:hunter2@db/a",
                                   "--db",
                                   "data/asicmon.db",
                                   "--api-key",
                                   "k3y",
                                   "--api-key=k3y2",
                                   "--api-keys",
                                   "not-this",
                                   "--",
                                   "--api-key",
                                   "after-dashes"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  const int argc = static_cast<int>(argv.size());
  HideFlagValues(argc, argv.data(), "--db", DatabasePassword);
  HideFlagValues(argc, argv.data(), "--api-key");
  const std::vector<std::string> want = {"asicmon-store",
                                         "--db",
                                         "postgresql://ops:*****@db.farm/asicmon",
                                         "--db=postgres://ops:*******@db/a",
                                         "--db",
                                         "data/asicmon.db",
                                         "--api-key",
                                         "***",
                                         "--api-key=****",
                                         "--api-keys",
                                         "not-this",
                                         "--",
                                         "--api-key",
                                         "after-dashes"};
  EXPECT_EQ(std::vector<std::string>(argv.begin(), argv.end()), want);
  // A flag given last, with no value, is left alone.
  std::string name = "asicmon-push", flag = "--api-key";
  char* bare[] = {name.data(), flag.data()};
  HideFlagValues(2, bare, "--api-key");
  EXPECT_EQ(flag, "--api-key");
}

TEST(StoreOptions, FromEnvironment) {
  setenv("ASICMON_DB", "/var/lib/asicmon/farm.db", 1);
  setenv("RETENTION_DAYS", "90", 1);
  StoreOptions options;
  ASSERT_STATUS_OK(LoadStoreOptions(options));
  EXPECT_EQ(options.database, "/var/lib/asicmon/farm.db");
  EXPECT_EQ(options.retention_days, 90);
  setenv("RETENTION_DAYS", "0", 1);
  EXPECT_FALSE(LoadStoreOptions(options).ok());
  unsetenv("ASICMON_DB");
  unsetenv("RETENTION_DAYS");
}

}  // namespace
}  // namespace asicmon
