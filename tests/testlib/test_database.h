// The store database of one test. Tests of what the store does run twice:
// on SQLite, and on PostgreSQL when ctest sets ASICMON_TEST_POSTGRES (the
// "postgres:" tests, on the cluster tests/postgres_cluster.sh starts).
#pragma once

#include <filesystem>
#include <string>

namespace asicmon::testing {

// The superuser URL of the test cluster, or "" when this run is on SQLite.
std::string TestPostgresAdminUrl();
inline bool TestOnPostgres() { return !TestPostgresAdminUrl().empty(); }

class TestDatabase {
 public:
  // SQLite: `dir`/asicmon.db, not created (the store creates it and `dir`).
  // PostgreSQL: a new, empty database of its own, dropped by the destructor.
  explicit TestDatabase(const std::filesystem::path& dir);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // What StoreOptions::database and ASICMON_DB take.
  const std::string& url() const { return url_; }
  // The PostgreSQL database's name ("" on SQLite).
  const std::string& name() const { return name_; }

 private:
  std::string url_;
  std::string name_;
};

}  // namespace asicmon::testing
