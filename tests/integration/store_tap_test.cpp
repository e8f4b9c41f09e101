// asicmon-store and asicmon-tap as real processes, fed from a PUSH socket in
// the test: records reach the database and the tap intact, seq gaps and
// garbage are counted without harm, SIGTERM ends the store promptly with
// what it took stored, ENABLE_DB=false relays only, a restart keeps the
// database, a locked database is retried rather than dropped, and miners
// control put to sleep are stored and published asleep.
// Each test has its own directory (ipc:// endpoints and database) under
// ::testing::TempDir(); no TCP, so no loopback range.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <pqxx/pqxx>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "sample_records.h"
#include "test_database.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::StatValue;
using asicmon::testing::WaitForStat;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

// An hour ago: inside the store's raw window, which its retention keeps.
const double kBaseTs =
    std::floor(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                   .count()) -
    3600;
// Miners of the warm-up and end-marker records, apart from the data's.
constexpr int kWarmupMiner = 5000;
constexpr int kEndMiner = 5001;

// Records half a second apart, all inside the store's raw window.
Record MakeRecord(const std::string& producer, uint64_t seq, int miner) {
  return testing::SampleRecord(producer, seq, miner,
                               kBaseTs + static_cast<double>(seq) * 0.5 + 0.125);
}

// The complete lines of `text` as JSON objects (a last line still being
// written is left out).
std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text.substr(0, text.rfind('\n') + 1));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not a JSON line: " << line.substr(0, 200);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

bool SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    if (!socket.send(zmq::buffer(frames[i]), flags)) return false;
  }
  return true;
}

bool SendRecord(zmq::socket_t& socket, const Record& r) {
  return SendFrames(socket, {"record", EncodeRecord(r)});
}

class StoreTapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("st_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    database_ = std::make_unique<testing::TestDatabase>(dir_ / "db");
    db_path_ = database_->url();
    ingest_ = "ipc://" + (dir_ / "run" / "ingest.sock").string();
    // The children inherit this environment.
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", db_path_.c_str(), 1);
    for (const char* var : {"ENABLE_DB", "ASICMON_INGEST", "ASICMON_PUBLISH", "ASICMON_JOBS",
                            "STATS_INTERVAL", "LOG_LEVEL", "RETENTION_DAYS", "RAW_HOURS",
                            "DB_BUSY_TIMEOUT", "BATCH_MAX", "BATCH_WAIT", "MAINTAIN_INTERVAL"}) {
      unsetenv(var);
    }
  }
  void TearDown() override {
    database_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Whether the store made its database (SQLite: the file; PostgreSQL: its schema).
  bool DatabaseMade() {
    if (!testing::TestOnPostgres()) return std::filesystem::exists(db_path_);
    pqxx::connection conn(db_path_);
    return !pqxx::nontransaction(conn)
                .exec("SELECT to_regnamespace('asicmon')")[0][0]
                .is_null();
  }

  std::unique_ptr<Subprocess> StartStore(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {BinPath("asicmon-store"), "--stats-interval", "1"});
    return std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
  }
  std::unique_ptr<Subprocess> StartTap(std::vector<std::string> args = {}) {
    args.insert(args.begin(), BinPath("asicmon-tap"));
    return std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
  }

  zmq::socket_t Pusher() { return testing::IngestPusher(context_, ingest_); }

  // Sends records of producer "warmup" until `tap` prints one: the store is
  // up and the tap's subscription has reached it (SUB misses what PUB sent
  // before that).
  void WarmUp(zmq::socket_t& push, Subprocess& tap) {
    for (uint64_t seq = 1; seq <= 300; ++seq) {
      ASSERT_TRUE(SendRecord(push, MakeRecord("warmup", seq, kWarmupMiner)));
      if (tap.WaitForStdout("\"producer_id\":\"warmup\"", 50ms)) return;
    }
    FAIL() << "the tap printed nothing; tap stderr: " << tap.stderr_text();
  }

  // Sends a record of producer "end" and waits until `tap` prints it: the
  // store published everything sent before it.
  void SendEndAndWait(zmq::socket_t& push, Subprocess& tap) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("end", 1, kEndMiner)));
    ASSERT_TRUE(tap.WaitForStdout("\"producer_id\":\"end\"", 60s))
        << "tap stderr: " << tap.stderr_text();
  }

  std::unique_ptr<StoreDb> OpenDb() {
    StoreOptions options;
    options.database = db_path_;
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // SIGTERM, then the exit code; fails the test unless it came within 3 s.
  static int Terminate(Subprocess& p) {
    const auto start = std::chrono::steady_clock::now();
    p.Signal(SIGTERM);
    const int code = p.Wait(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "slow to stop on SIGTERM";
    return code;
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::TestDatabase> database_;
  std::string db_path_;  // SQLite file or PostgreSQL URL
  std::string ingest_;
  zmq::context_t context_{1};
};

TEST_F(StoreTapTest, RecordsReachTheDatabaseAndTheTapIntact) {
  auto store = StartStore();
  auto tap = StartTap({"--topic", "record"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));

  constexpr uint64_t kN = 5000;
  constexpr int kMinersEach = 500;
  std::map<std::string, std::vector<Record>> sent;
  for (uint64_t seq = 1; seq <= kN; ++seq) {
    for (const std::string producer : {"collect-a", "collect-b"}) {
      const int miner =
          static_cast<int>(seq % kMinersEach) + (producer == "collect-b" ? kMinersEach : 0);
      sent[producer].push_back(MakeRecord(producer, seq, miner));
      ASSERT_TRUE(SendRecord(push, sent[producer].back()));
    }
  }
  // Inventory is stored; this tap asked for records only.
  InventoryEntry entry;
  entry.producer_id = "discover-1";
  entry.seq = 1;
  entry.ts = kBaseTs;
  entry.ip = "127.41.9.1";
  entry.identified = true;
  entry.model = "Antminer S19";
  entry.firmware = "BMMiner 1.0.0";
  std::string body;
  EncodeInventory(entry, body);
  ASSERT_TRUE(SendFrames(push, {"inventory", body}));
  ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));

  // The tap: every record once, in order per producer, exactly as sent.
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (json& line : JsonLines(tap->stdout_text())) {
    ASSERT_EQ(line["topic"], "record") << line.dump();
    const std::string producer = line["producer_id"];
    const uint64_t seq = line["seq"];
    seqs[producer].push_back(seq);
    if (sent.count(producer) && seq % 997 == 0) {
      line.erase("topic");
      EXPECT_EQ(line, RecordToJson(sent[producer][seq - 1]));
    }
  }
  for (const auto& [producer, records] : sent) {
    std::vector<uint64_t> expected(kN);
    for (uint64_t i = 0; i < kN; ++i) expected[i] = i + 1;
    EXPECT_EQ(seqs[producer], expected) << producer;
  }
  EXPECT_EQ(tap->stderr_text().find("seq gap"), std::string::npos) << tap->stderr_text();

  // The database: everything published was stored first.
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  for (const auto& [producer, records] : sent) {
    Result<std::vector<Record>> stored = db->RecordsBySeq(producer, 1, kN, kN + 10);
    ASSERT_OK(stored);
    ASSERT_EQ(stored->size(), kN) << producer;
    for (size_t i = 0; i < kN; ++i)
      ASSERT_EQ((*stored)[i], records[i]) << producer << " seq " << i + 1;
  }
  // Latest: the newest record of each miner (the highest seq, the latest ts).
  std::map<std::string, Record> newest;
  for (const auto& [producer, records] : sent) {
    for (const Record& r : records) newest[r.ip] = r;
  }
  LatestFilter filter;
  filter.limit = 10000;
  Result<std::vector<Record>> latest = db->Latest(filter);
  ASSERT_OK(latest);
  size_t matched = 0;
  for (const Record& r : *latest) {
    if (!newest.count(r.ip)) continue;
    EXPECT_EQ(r, newest[r.ip]);
    ++matched;
  }
  EXPECT_EQ(matched, 2u * kMinersEach);
  // History of one miner: its ten polls, oldest first.
  const std::string ip = testing::DataOnlyIp(7);
  Result<std::vector<Record>> history = db->History(ip, 0, kBaseTs * 2, 100);
  ASSERT_OK(history);
  ASSERT_EQ(history->size(), kN / kMinersEach);
  for (size_t i = 0; i < history->size(); ++i) {
    EXPECT_EQ((*history)[i], sent["collect-a"][7 + i * kMinersEach - 1]);
  }
  Result<std::vector<InventoryRow>> inventory = db->Inventory();
  ASSERT_OK(inventory);
  ASSERT_EQ(inventory->size(), 1u);
  EXPECT_EQ((*inventory)[0].ip, "127.41.9.1");
  EXPECT_EQ((*inventory)[0].model, "Antminer S19");

  ASSERT_TRUE(WaitForStat(*store, "stored", 2 * kN + 1)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "inventory_stored"), 1u);
  EXPECT_EQ(StatValue(*store, "seq_gaps"), 0u);
  EXPECT_EQ(StatValue(*store, "bad_messages"), 0u);
  EXPECT_EQ(StatValue(*store, "db_errors"), 0u);
  EXPECT_EQ(Terminate(*store), 0);
  EXPECT_EQ(Terminate(*tap), 0);
}

TEST_F(StoreTapTest, SeqGapsAreCountedAndReported) {
  auto store = StartStore();
  auto tap = StartTap({"--topic", "record"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));
  for (uint64_t seq = 1; seq <= 120; ++seq) {
    if (seq > 100 && seq <= 110) continue;  // lost in flight, as if collect crashed mid-send
    ASSERT_TRUE(SendRecord(push, MakeRecord("gappy", seq, static_cast<int>(seq))));
  }
  ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));

  ASSERT_TRUE(WaitForStat(*store, "seq_gaps", 10)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "seq_gaps"), 10u);
  EXPECT_NE(store->stderr_text().find("seq gap: 10 record messages of producer gappy"),
            std::string::npos)
      << store->stderr_text();
  // The tap sees the same gap in what store republished.
  EXPECT_TRUE(tap->WaitForStderr("seq gap: 10 record messages of producer gappy", 5s))
      << tap->stderr_text();
}

TEST_F(StoreTapTest, GarbageIsCountedAndSurvived) {
  auto store = StartStore();
  auto tap = StartTap({"--topic", "record"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));

  const std::string good = EncodeRecord(MakeRecord("garbage", 1, 1));
  Record nan_ts = MakeRecord("garbage", 2, 1);
  nan_ts.ts = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<std::string>> garbage = {
      {"record"},                                   // one frame
      {"record", good, "extra"},                    // three frames
      {"bogus", good},                              // unknown topic
      {"job", good},                                // a topic of another hop
      {"record", "\xc1\xc1 not msgpack"},           // bad msgpack
      {"record", ""},                               // empty body
      {"inventory", "junk"},                        // bad inventory
      {"record", EncodeRecord(nan_ts)},             // a record SQLite would refuse
      {"record", std::string((1 << 20) + 1, 'x')},  // over the body cap
      // a control sleep of no miner
      {"event", testing::ToMsgpack(testing::ControlEvent("sleep", "", kBaseTs))},
  };
  for (const auto& frames : garbage) ASSERT_TRUE(SendFrames(push, frames));
  ASSERT_TRUE(SendRecord(push, MakeRecord("after", 1, 2)));
  ASSERT_TRUE(tap->WaitForStdout("\"producer_id\":\"after\"", 10s)) << store->stderr_text();

  ASSERT_TRUE(WaitForStat(*store, "bad_messages", garbage.size())) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "bad_messages"), garbage.size());
  EXPECT_EQ(store->Wait(0ms), -1) << "store died: " << store->stderr_text();
  const std::string& err = store->stderr_text();
  for (const char* kind : {"(framing)", "(topic)", "(record)", "(inventory)", "(event)"}) {
    EXPECT_NE(err.find(std::string("bad message on ingest ") + kind), std::string::npos) << kind;
  }
  EXPECT_EQ(tap->stdout_text().find("\"producer_id\":\"garbage\""), std::string::npos);
  EXPECT_EQ(Terminate(*store), 0);
}

TEST_F(StoreTapTest, SigtermStoresWhatItTookAndExitsPromptly) {
  auto store = StartStore();
  auto tap = StartTap();
  zmq::socket_t push = Pusher();
  ASSERT_TRUE(SendRecord(push, MakeRecord("first", 1, 1)));
  ASSERT_TRUE(WaitForStat(*store, "stored", 1)) << store->stderr_text();

  constexpr uint64_t kBurst = 3000;
  for (uint64_t seq = 1; seq <= kBurst; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("burst", seq, static_cast<int>(seq % 1000))));
  }
  EXPECT_EQ(Terminate(*store), 0) << store->stderr_text();
  EXPECT_NE(store->stderr_text().find("stopped cleanly"), std::string::npos);
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  Result<std::vector<Record>> stored = db->RecordsBySeq("burst", 1, kBurst, kBurst + 10);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->size(), kBurst) << store->stderr_text();
}

TEST_F(StoreTapTest, RelaysWithoutADatabaseWhenDisabled) {
  setenv("ENABLE_DB", "false", 1);
  auto store = StartStore();
  unsetenv("ENABLE_DB");
  auto tap = StartTap({"--topic", "record"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("relay", seq, static_cast<int>(seq))));
  }
  ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));
  size_t relayed = 0;
  for (const json& line : JsonLines(tap->stdout_text())) relayed += line["producer_id"] == "relay";
  EXPECT_EQ(relayed, 100u);

  ASSERT_TRUE(WaitForStat(*store, "published", 101)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "stored"), 0u);
  EXPECT_NE(store->stderr_text().find("relay only"), std::string::npos);
  EXPECT_FALSE(DatabaseMade());
  EXPECT_EQ(Terminate(*store), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "db"));
  EXPECT_FALSE(DatabaseMade());
}

TEST_F(StoreTapTest, ARestartedStoreKeepsPriorRecords) {
  for (uint64_t first : {1, 501}) {
    SCOPED_TRACE("records from seq " + std::to_string(first));
    auto store = StartStore();
    zmq::socket_t push = Pusher();
    for (uint64_t seq = first; seq < first + 500; ++seq) {
      ASSERT_TRUE(SendRecord(push, MakeRecord("restart", seq, static_cast<int>(seq % 100))));
    }
    ASSERT_TRUE(WaitForStat(*store, "stored", 500)) << store->stderr_text();
    EXPECT_EQ(Terminate(*store), 0);
  }
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  Result<std::vector<Record>> stored = db->RecordsBySeq("restart", 1, 1000, 2000);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->size(), 1000u);
  Result<int64_t> count = db->CountRecords();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1000);
}

// An S19 asleep answers like one that hashes nothing for another reason;
// the store knows from control (its event now, its audit rows after a
// restart) and stores and publishes the records asleep.
TEST_F(StoreTapTest, MinersControlPutToSleepAreStoredAndPublishedAsleep) {
  const std::string asleep_ip = testing::DataOnlyIp(21);
  auto idle = [&](uint64_t seq, int miner) {
    Record r = MakeRecord("sleepy", seq, miner);
    r.hashrate = 0;
    for (BoardStats& b : r.boards) b.hashrate = 0;
    return r;
  };
  {
    auto store = StartStore();
    auto tap = StartTap({"--topic", "record"});
    zmq::socket_t push = Pusher();
    ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));
    ASSERT_TRUE(SendRecord(push, idle(1, 21)));  // before the command: not asleep
    const std::string sleep = testing::ToMsgpack(testing::ControlEvent("sleep", asleep_ip, kBaseTs));
    ASSERT_TRUE(SendFrames(push, {"event", sleep}));
    ASSERT_TRUE(SendRecord(push, idle(2, 21)));
    ASSERT_TRUE(SendRecord(push, idle(3, 22)));  // another miner hashing nothing: no sleep
    ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));
    std::map<uint64_t, bool> published;
    for (const json& line : JsonLines(tap->stdout_text())) {
      if (line["producer_id"] == "sleepy") published[line["seq"]] = line["sleeping"];
    }
    EXPECT_EQ(published, (std::map<uint64_t, bool>{{1, false}, {2, true}, {3, false}}));
    ASSERT_TRUE(WaitForStat(*store, "marked_sleeping", 1)) << store->stderr_text();
    EXPECT_EQ(StatValue(*store, "asleep_by_control"), 1u);
    EXPECT_EQ(StatValue(*store, "bad_messages"), 0u);
    EXPECT_EQ(Terminate(*store), 0);
  }
  // Control audits what it did; a restarted store starts from that.
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  Result<std::vector<Record>> stored = db->RecordsBySeq("sleepy", 1, 3);
  ASSERT_OK(stored);
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_FALSE((*stored)[0].sleeping);
  EXPECT_TRUE((*stored)[1].sleeping);
  EXPECT_FALSE((*stored)[2].sleeping);
  ASSERT_TRUE(db->AppendAudit({.ts = kBaseTs,
                               .actor = "token:ops",
                               .action = "sleep",
                               .ip = asleep_ip,
                               .worker = "farm.w21",
                               .detail = "",
                               .http_status = 200,
                               .result = "ok"})
                  .ok());
  auto store = StartStore();
  zmq::socket_t push = Pusher();
  ASSERT_TRUE(SendRecord(push, idle(4, 21)));
  ASSERT_TRUE(WaitForStat(*store, "stored", 1)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "asleep_by_control"), 1u);
  stored = db->RecordsBySeq("sleepy", 4, 4);
  ASSERT_OK(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_TRUE((*stored)[0].sleeping);
  EXPECT_EQ(Terminate(*store), 0);
}

TEST_F(StoreTapTest, ALockedDatabaseIsRetriedNotDropped) {
  auto store = StartStore({"--db-busy-timeout", "0.05"});
  auto tap = StartTap({"--topic", "record"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));
  const uint64_t warmups = StatValue(*store, "stored");

  // Another connection holds the write lock, as a long query of control might
  // (PostgreSQL: a lock on the records table, as a long DDL might).
  std::unique_ptr<SQLite::Database> other_sqlite;
  std::unique_ptr<pqxx::connection> other_postgres;
  std::unique_ptr<pqxx::work> lock;
  if (testing::TestOnPostgres()) {
    other_postgres = std::make_unique<pqxx::connection>(db_path_);
    lock = std::make_unique<pqxx::work>(*other_postgres);
    lock->exec("LOCK TABLE asicmon.records IN ACCESS EXCLUSIVE MODE");
  } else {
    other_sqlite = std::make_unique<SQLite::Database>(db_path_, SQLite::OPEN_READWRITE);
    other_sqlite->setBusyTimeout(5000);
    other_sqlite->exec("BEGIN IMMEDIATE");
  }
  for (uint64_t seq = 1; seq <= 200; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("locked", seq, static_cast<int>(seq))));
  }
  ASSERT_TRUE(WaitForStat(*store, "db_errors", 2)) << store->stderr_text();
  EXPECT_NE(store->stderr_text().find("database refused a batch"), std::string::npos);
  // Nothing unstored is published meanwhile.
  EXPECT_EQ(tap->stdout_text().find("\"producer_id\":\"locked\""), std::string::npos);
  if (lock) {
    lock->abort();
  } else {
    other_sqlite->exec("ROLLBACK");
  }

  ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));
  EXPECT_TRUE(store->WaitForStderr("database accepts writes again", 5s));
  size_t published = 0;
  for (const json& line : JsonLines(tap->stdout_text()))
    published += line["producer_id"] == "locked";
  EXPECT_EQ(published, 200u);
  ASSERT_TRUE(WaitForStat(*store, "stored", warmups + 201)) << store->stderr_text();
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  Result<std::vector<Record>> stored = db->RecordsBySeq("locked", 1, 200);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->size(), 200u);
}

// A store killed with records received and not committed loses them; the
// restarted store resumes each producer's seq from the database, so the
// loss is a counted, logged gap when the producer's next record arrives.
TEST_F(StoreTapTest, ARestartedStoreCountsWhatItNeverStoredAsGaps) {
  {
    auto store = StartStore();
    zmq::socket_t push = Pusher();
    for (uint64_t seq = 1; seq <= 100; ++seq) {
      ASSERT_TRUE(SendRecord(push, MakeRecord("killed", seq, static_cast<int>(seq))));
    }
    ASSERT_TRUE(WaitForStat(*store, "stored", 100)) << store->stderr_text();
    store->Signal(SIGKILL);
    EXPECT_EQ(store->Wait(5s), 128 + SIGKILL);
  }
  // Seqs 101..149 died with the store.
  auto store = StartStore();
  zmq::socket_t push = Pusher();
  for (uint64_t seq = 150; seq <= 160; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("killed", seq, static_cast<int>(seq))));
  }
  ASSERT_TRUE(WaitForStat(*store, "stored", 11)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "seq_gaps"), 49u);
  EXPECT_NE(store->stderr_text().find("seq gap: 49 record messages of producer killed"),
            std::string::npos)
      << store->stderr_text();
  EXPECT_EQ(Terminate(*store), 0);
}

TEST_F(StoreTapTest, RetentionFoldsOldRecordsAndTheIdleStoreSleeps) {
  auto store = StartStore({"--maintain-interval", "1"});
  zmq::socket_t push = Pusher();
  // Three days old: past the 48 h raw window, so the next pass folds them.
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    Record r = MakeRecord("old", seq, static_cast<int>(seq % 10));
    r.ts -= 72 * 3600;
    ASSERT_TRUE(SendRecord(push, r));
  }
  ASSERT_TRUE(WaitForStat(*store, "stored", 100)) << store->stderr_text();
  ASSERT_TRUE(store->WaitForStderr("retention: folded", 10s)) << store->stderr_text();
  std::unique_ptr<StoreDb> db = OpenDb();
  ASSERT_TRUE(db);
  // Folded in one pass or two, depending on where the batches fell.
  const auto end = std::chrono::steady_clock::now() + 10s;
  for (bool empty = false; !empty;) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << store->stderr_text();
    Result<std::vector<Record>> raw = db->RecordsBySeq("old", 1, 100);
    ASSERT_OK(raw);
    empty = raw->empty();
    if (!empty) std::this_thread::sleep_for(100ms);
  }
  Result<std::vector<HourlyRow>> hourly = db->Hourly(testing::DataOnlyIp(3), 0, kBaseTs * 2, 100);
  ASSERT_OK(hourly);
  ASSERT_FALSE(hourly->empty());
  int64_t polls = 0;
  for (const HourlyRow& h : *hourly) polls += h.polls;
  EXPECT_EQ(polls, 10);

  // Idle, with a retention pass a second: the loop sleeps in poll.
  auto cpu_seconds = [&] {
    std::ifstream in("/proc/" + std::to_string(store->pid()) + "/stat");
    std::string field;
    std::vector<std::string> fields;
    while (in >> field) fields.push_back(field);
    EXPECT_GT(fields.size(), 15u);
    return fields.size() > 15
               ? static_cast<double>(std::stoll(fields[13]) + std::stoll(fields[14])) /
                     static_cast<double>(sysconf(_SC_CLK_TCK))
               : 0.0;
  };
  const double before = cpu_seconds();
  std::this_thread::sleep_for(2s);
  EXPECT_LT(cpu_seconds() - before, 0.2) << "busy while idle";
  EXPECT_EQ(Terminate(*store), 0);
}

TEST_F(StoreTapTest, TapPrintsEveryTopicWithItsName) {
  auto store = StartStore();
  auto tap = StartTap();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push, *tap));

  InventoryEntry entry;
  entry.producer_id = "discover-1";
  entry.seq = 1;
  entry.ts = kBaseTs;
  entry.change = InventoryChange::kGone;
  entry.ip = "127.41.9.2";
  std::string body;
  EncodeInventory(entry, body);
  ASSERT_TRUE(SendFrames(push, {"inventory", body}));
  const std::vector<uint8_t> event = json::to_msgpack(
      json{{"producer_id", "control-1"}, {"seq", 1}, {"kind", "reboot"}, {"ip", "127.41.9.2"}});
  ASSERT_TRUE(SendFrames(push, {"event", std::string(event.begin(), event.end())}));
  ASSERT_NO_FATAL_FAILURE(SendEndAndWait(push, *tap));

  std::map<std::string, json> by_topic;
  for (json& line : JsonLines(tap->stdout_text())) {
    if (line["topic"] != "record") by_topic[line["topic"]] = line;
  }
  ASSERT_TRUE(by_topic.count("inventory"));
  by_topic["inventory"].erase("topic");
  EXPECT_EQ(by_topic["inventory"], InventoryToJson(entry));
  ASSERT_TRUE(by_topic.count("event"));
  EXPECT_EQ(by_topic["event"]["kind"], "reboot");
  EXPECT_EQ(by_topic["event"]["producer_id"], "control-1");
  // "topic" comes first, so a line reads (and greps) by its kind.
  EXPECT_EQ(tap->stdout_text().rfind("{\"topic\":\"event\",", 0) == 0 ||
                tap->stdout_text().find("\n{\"topic\":\"event\",") != std::string::npos,
            true);
  EXPECT_EQ(Terminate(*tap), 0);
}

TEST_F(StoreTapTest, TapStopsAfterCountAndWhenStdoutCloses) {
  auto store = StartStore();
  std::atomic<bool> stop{false};
  // A steady stream, so the taps always have something to print.
  std::thread sender([&] {
    zmq::socket_t push = Pusher();
    for (uint64_t seq = 1; !stop; ++seq) {
      if (!SendRecord(push, MakeRecord("stream", seq, static_cast<int>(seq % 100)))) break;
      std::this_thread::sleep_for(5ms);
    }
  });

  Subprocess counted({BinPath("asicmon-tap"), "--count", "3"});
  const std::string out = counted.ReadAllStdout(15s);
  EXPECT_EQ(counted.Wait(5s), 0);
  EXPECT_EQ(JsonLines(out).size(), 3u) << out;

  // `asicmon-tap | head -n 2`: head leaves, the tap's next write gets EPIPE.
  Subprocess piped({"/bin/bash", "-c",
                    BinPath("asicmon-tap") + " --topic record | head -n 2; exit ${PIPESTATUS[0]}"},
                   /*capture_stderr=*/true);
  const std::string head = piped.ReadAllStdout(15s);
  EXPECT_EQ(piped.Wait(5s), 0) << piped.stderr_text();
  EXPECT_EQ(JsonLines(head).size(), 2u) << head;

  stop = true;
  sender.join();
}

}  // namespace
}  // namespace asicmon
