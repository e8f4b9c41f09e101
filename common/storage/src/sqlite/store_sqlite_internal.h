// What the SQLite backend keeps to itself but its tests reach: the check
// that a file is an asicmon database, run on every open.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>

#include "asicmon/status.h"

namespace asicmon::store_internal {

// The file's schema version when it is ours (0: empty, a new database);
// InvalidArgument, saying what to do, for another application's database or
// a newer schema. Only reads, in one read transaction.
Result<int> OurSchemaVersion(SQLite::Database& db, const std::string& path);

}  // namespace asicmon::store_internal
