// The SQLite backend's check that a file is ours, against another process
// migrating the same new file at that very moment (every stage opens the
// database at once on a fresh install under supervisord).
#include <sqlite3.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "asicmon/store_db.h"
#include "store_sqlite_internal.h"
#include "testlib.h"

namespace asicmon {
namespace {

namespace fs = std::filesystem;

// Another process's store, opened (and so migrating the file) from inside
// the checking connection's trace hook: at the start of the statement that
// reads sqlite_schema, after any statement before it has finished.
struct ConcurrentOpener {
  StoreOptions options;
  std::unique_ptr<StoreDb> store;
  bool opened = false;
};

int MigrateBeforeSchemaRead(unsigned type, void* context, void*, void* sql) {
  auto* opener = static_cast<ConcurrentOpener*>(context);
  if (type != SQLITE_TRACE_STMT || opener->opened) return 0;
  if (std::string_view(static_cast<const char*>(sql)).find("sqlite_schema") ==
      std::string_view::npos) {
    return 0;
  }
  opener->opened = true;
  Result<std::unique_ptr<StoreDb>> store = StoreDb::Open(opener->options);
  EXPECT_OK(store);
  if (store.ok()) opener->store = std::move(store).value();
  return 0;
}

TEST(SqliteSchemaCheckTest, MigrationCommittedMidCheckIsNotAForeignFile) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("asicmon_schema_race_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "asicmon.db").string();

  ConcurrentOpener opener;
  opener.options.database = path;
  {
    SQLite::Database checking(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    sqlite3_trace_v2(checking.getHandle(), SQLITE_TRACE_STMT, MigrateBeforeSchemaRead, &opener);
    Result<int> version = store_internal::OurSchemaVersion(checking, path);
    ASSERT_TRUE(opener.opened) << "the check never read sqlite_schema";
    ASSERT_OK(version);
    // The statement began before its read transaction: it sees the whole
    // migration, never its tables without its version.
    EXPECT_EQ(*version, kStoreSchemaVersion);
  }
  opener.store.reset();
  fs::remove_all(dir);
}

// Every stage opening one new file at the same moment, as supervisord starts
// them on a fresh install: each open succeeds, whoever migrates.
TEST(SqliteSchemaCheckTest, StagesOpeningANewFileAtOnceAllStart) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("asicmon_open_race_" + std::to_string(getpid()));
  constexpr int kRounds = 40;
  constexpr int kStages = 5;
  for (int round = 0; round < kRounds; ++round) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    StoreOptions options;
    options.database = (dir / "asicmon.db").string();
    std::vector<Status> opened(kStages);
    std::vector<std::thread> stages;
    for (int i = 0; i < kStages; ++i) {
      stages.emplace_back([&, i] { opened[i] = StoreDb::Open(options).status(); });
    }
    for (std::thread& t : stages) t.join();
    for (const Status& s : opened) {
      SCOPED_TRACE("round " + std::to_string(round));
      ASSERT_OK(s);
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace asicmon
