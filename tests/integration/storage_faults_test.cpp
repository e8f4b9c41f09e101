// asicmon-store, a real process fed records over its ingest socket, against
// storage faults: the SQLite file locked by another writer (while running
// and at start), the disk full (a 4 MiB tmpfs in a private mount namespace
// of this test), and a damaged or foreign database file at start. The store
// must say clearly what is wrong, keep what it cannot write and retry it,
// and never drop, crash or overwrite.
// Each test has its own directory (ipc:// endpoints and database) under
// ::testing::TempDir(); no TCP, so no loopback range.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

namespace fs = std::filesystem;
using asicmon::testing::BinPath;
using asicmon::testing::RecentSampleRecord;
using asicmon::testing::StatValue;
using asicmon::testing::Subprocess;
using asicmon::testing::WaitForStat;
using namespace std::chrono_literals;

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string FileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class StorageFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::path(::testing::TempDir()) /
           ("sf_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "run");
    db_path_ = (dir_ / "asicmon.db").string();
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    for (const char* var :
         {"ASICMON_DB", "ENABLE_DB", "ASICMON_INGEST", "ASICMON_PUBLISH", "STATS_INTERVAL",
          "LOG_LEVEL", "DB_BUSY_TIMEOUT", "BATCH_MAX", "BATCH_WAIT"}) {
      unsetenv(var);
    }
  }
  void TearDown() override {
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Subprocess> StartStore(std::vector<std::string> args = {}) {
    args.insert(args.begin(),
                {BinPath("asicmon-store"), "--db", db_path_, "--stats-interval", "1"});
    return std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
  }

  zmq::socket_t Pusher() {
    return testing::IngestPusher(context_, "ipc://" + (dir_ / "run" / "ingest.sock").string());
  }

  static void Send(zmq::socket_t& push, const std::string& producer, uint64_t first,
                   uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      const std::string body = EncodeRecord(RecentSampleRecord(producer, seq));
      ASSERT_TRUE(push.send(zmq::buffer(std::string_view("record")), zmq::send_flags::sndmore));
      ASSERT_TRUE(push.send(zmq::buffer(body), zmq::send_flags::none));
    }
  }

  // Every seq 1..count of `producer` is in the database once.
  void ExpectAllStored(const std::string& producer, uint64_t count) {
    StoreOptions options;
    options.database = db_path_;
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options);
    ASSERT_OK(db);
    Result<std::vector<Record>> stored = (*db)->RecordsBySeq(producer, 1, count, count + 1);
    ASSERT_OK(stored);
    ASSERT_EQ(stored->size(), count);
    for (uint64_t i = 0; i < count; ++i) EXPECT_EQ((*stored)[i].seq, i + 1);
  }

  // Makes the store's database, as a store that ran before would have.
  void MakeDatabase() {
    StoreOptions options;
    options.database = db_path_;
    ASSERT_OK(StoreDb::Open(options));
  }

  // Runs the store on `db_path_`, which it must refuse: exit code, stderr.
  std::pair<int, std::string> RunRefusedStore() {
    auto store = StartStore();
    const int code = store->Wait(20s);
    return {code, store->stderr_text()};
  }

  fs::path dir_;
  std::string db_path_;
  std::string mounted_;  // a tmpfs this test mounted
  zmq::context_t context_{1};
};

TEST_F(StorageFaultsTest, ALockHeldByAnotherWriterIsRetriedAndReportedOnce) {
  auto store = StartStore({"--db-busy-timeout", "0.2"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(Send(push, "before", 1, 1));
  ASSERT_TRUE(WaitForStat(*store, "stored", 1)) << store->stderr_text();

  SQLite::Database other(db_path_, SQLite::OPEN_READWRITE);
  other.setBusyTimeout(5000);  // the store may be writing this moment
  other.exec("BEGIN EXCLUSIVE");
  ASSERT_NO_FATAL_FAILURE(Send(push, "locked", 1, 1000));
  // Refused on every attempt while the lock is held (backoff 0.1 s doubling).
  ASSERT_TRUE(WaitForStat(*store, "db_errors", 3)) << store->stderr_text();
  EXPECT_EQ(StatValue(*store, "retrying"), 1u);
  std::this_thread::sleep_for(2s);
  const std::string while_locked = store->stderr_text();
  EXPECT_EQ(Occurrences(while_locked, "database refused a batch"), 1u)
      << "one clear line, not one per retry:\n"
      << while_locked;
  EXPECT_NE(while_locked.find("another connection holds the lock"), std::string::npos)
      << while_locked;
  other.exec("ROLLBACK");

  ASSERT_TRUE(WaitForStat(*store, "stored", 1 + 1000)) << store->stderr_text();
  EXPECT_TRUE(store->WaitForStderr("database accepts writes again", 5s));
  EXPECT_EQ(StatValue(*store, "bad_messages"), 0u);
  store->Signal(SIGTERM);
  EXPECT_EQ(store->Wait(10s), 0) << store->stderr_text();
  ExpectAllStored("locked", 1000);
}

// Regression: the store used to open its database inside a write
// transaction (the schema check) and gave up at start when another writer
// held the lock longer than the busy timeout.
TEST_F(StorageFaultsTest, AStoreStartedWhileTheDatabaseIsLockedWaitsForTheLock) {
  ASSERT_NO_FATAL_FAILURE(MakeDatabase());
  SQLite::Database other(db_path_, SQLite::OPEN_READWRITE);
  other.exec("BEGIN EXCLUSIVE");
  auto store = StartStore({"--db-busy-timeout", "0.2"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(Send(push, "locked", 1, 500));
  ASSERT_TRUE(WaitForStat(*store, "db_errors", 2)) << store->stderr_text();
  EXPECT_EQ(store->Wait(0ms), -1) << "the store gave up:\n" << store->stderr_text();
  other.exec("ROLLBACK");

  ASSERT_TRUE(WaitForStat(*store, "stored", 500)) << store->stderr_text();
  store->Signal(SIGTERM);
  EXPECT_EQ(store->Wait(10s), 0) << store->stderr_text();
  ExpectAllStored("locked", 500);
}

// The records the store cannot write stay in its batch (and, behind its
// paused intake, in the producers' queues) and are retried until the disk
// has room again: none is dropped.
TEST_F(StorageFaultsTest, AFullDiskIsReportedAndWritingResumesWhenSpaceIsFreed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs (a disk to fill)";
  // A mount namespace of this thread (and the store it starts), private, so
  // the tmpfs is seen by nothing else and goes away with the test.
  if (unshare(CLONE_NEWNS) != 0) {
    GTEST_SKIP() << "unshare(CLONE_NEWNS) not permitted here: " << std::strerror(errno);
  }
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  const fs::path disk = dir_ / "disk";
  fs::create_directories(disk);
  if (mount("tmpfs", disk.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  mounted_ = disk.string();
  db_path_ = (disk / "asicmon.db").string();

  auto store = StartStore();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(Send(push, "before", 1, 1));
  ASSERT_TRUE(WaitForStat(*store, "stored", 1)) << store->stderr_text();

  // Fill the disk to its last byte.
  const fs::path filler = disk / "filler";
  {
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string chunk(4096, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  ASSERT_NO_FATAL_FAILURE(Send(push, "full", 1, 3000));
  ASSERT_TRUE(WaitForStat(*store, "db_errors", 2)) << store->stderr_text();
  EXPECT_TRUE(store->WaitForStderr("the disk is full", 5s)) << store->stderr_text();
  EXPECT_NE(store->stderr_text().find("keeping it, retrying"), std::string::npos);
  EXPECT_EQ(store->Wait(0ms), -1) << "the store ended:\n" << store->stderr_text();

  fs::remove(filler);
  ASSERT_TRUE(WaitForStat(*store, "stored", 1 + 3000, 30s)) << store->stderr_text();
  EXPECT_TRUE(store->WaitForStderr("database accepts writes again", 5s));
  store->Signal(SIGTERM);
  EXPECT_EQ(store->Wait(10s), 0) << store->stderr_text();
  ExpectAllStored("full", 3000);
}

TEST_F(StorageFaultsTest, RandomBytesAreRefusedAtStartAndLeftAlone) {
  std::string junk(64 * 1024, '\0');
  std::mt19937 rng(11);
  for (char& c : junk) c = static_cast<char>(rng());
  std::ofstream(db_path_, std::ios::binary) << junk;

  const auto [code, err] = RunRefusedStore();
  EXPECT_NE(code, 0) << err;
  EXPECT_NE(code, -1) << "still running:\n" << err;
  EXPECT_NE(err.find(db_path_), std::string::npos) << err;
  EXPECT_NE(err.find("not a database"), std::string::npos) << err;
  EXPECT_NE(err.find("restore or move it away"), std::string::npos) << err;
  EXPECT_EQ(FileBytes(db_path_), junk) << "the file was changed";
}

TEST_F(StorageFaultsTest, ATruncatedDatabaseIsRefusedAtStartAndLeftAlone) {
  {
    StoreOptions options;
    options.database = db_path_;
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options);
    ASSERT_OK(db);
    std::vector<Record> records;
    for (uint64_t seq = 1; seq <= 5000; ++seq) records.push_back(RecentSampleRecord("before", seq));
    ASSERT_OK((*db)->WriteBatch(records));
  }  // closed: the WAL is checkpointed into the file and removed
  ASSERT_FALSE(fs::exists(db_path_ + "-wal"));
  fs::resize_file(db_path_, fs::file_size(db_path_) / 2);
  const std::string truncated = FileBytes(db_path_);

  const auto [code, err] = RunRefusedStore();
  EXPECT_NE(code, 0) << err;
  EXPECT_NE(code, -1) << "still running:\n" << err;
  EXPECT_NE(err.find(db_path_), std::string::npos) << err;
  EXPECT_NE(err.find("restore or move it away"), std::string::npos) << err;
  EXPECT_EQ(FileBytes(db_path_), truncated) << "the file was changed";
}

TEST_F(StorageFaultsTest, AnotherApplicationsDatabaseIsRefusedAndNotTouched) {
  {
    SQLite::Database other(db_path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)");
    other.exec("INSERT INTO invoices (total) VALUES (12.5), (99)");
  }
  const std::string before = FileBytes(db_path_);

  const auto [code, err] = RunRefusedStore();
  EXPECT_EQ(code, 2) << "bad configuration:\n" << err;
  EXPECT_NE(err.find(db_path_), std::string::npos) << err;
  EXPECT_NE(err.find("not an asicmon database"), std::string::npos) << err;
  EXPECT_NE(err.find("point ASICMON_DB at another file, or move this one away"), std::string::npos)
      << err;
  EXPECT_EQ(FileBytes(db_path_), before) << "the file was changed (e.g. switched to WAL)";
  EXPECT_FALSE(fs::exists(db_path_ + "-wal"));
}

}  // namespace
}  // namespace asicmon
