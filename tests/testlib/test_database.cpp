#include "test_database.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>

namespace asicmon::testing {

std::string TestPostgresAdminUrl() {
  const char* url = std::getenv("ASICMON_TEST_POSTGRES");
  return url ? url : "";
}

TestDatabase::TestDatabase(const std::filesystem::path& dir) {
  const std::string admin = TestPostgresAdminUrl();
  if (admin.empty()) {
    url_ = (dir / "asicmon.db").string();
    return;
  }
  // Unique across the test programs ctest runs side by side.
  static std::atomic<int> counter = 0;
  name_ = fmt::format("t{}_{}", getpid(), counter++);
  const size_t db_start = admin.find("/postgres?");
  if (db_start == std::string::npos) {
    ADD_FAILURE() << "ASICMON_TEST_POSTGRES is not .../postgres?...: " << admin;
    return;
  }
  // ".../postgres?query" -> ".../<name>?query"
  url_ = admin;
  url_.replace(db_start + 1, 8, name_);
  try {
    pqxx::connection conn(admin);
    pqxx::nontransaction(conn).exec("CREATE DATABASE " + name_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot create test database " << name_ << ": " << e.what();
  }
}

TestDatabase::~TestDatabase() {
  if (name_.empty()) return;
  try {
    pqxx::connection conn(TestPostgresAdminUrl());
    pqxx::nontransaction(conn).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot drop test database " << name_ << ": " << e.what();
  }
}

}  // namespace asicmon::testing
