// The SQLite backend's API keys (see store_db.h).
#include "store_sqlite_store.h"

namespace asicmon::store_internal {
namespace {

constexpr const char* kSelectKey =
    "SELECT key_id, name, role, salt, hash, created_ts, last_used_ts, expires_ts, revoked_ts "
    "FROM api_keys ";

ApiKey ReadKey(SQLite::Statement& q) {
  ApiKey key;
  key.key_id = ColumnText(q.getColumn(0));
  key.name = ColumnText(q.getColumn(1));
  key.role = ColumnText(q.getColumn(2));
  key.salt = ColumnText(q.getColumn(3));
  key.hash = ColumnText(q.getColumn(4));
  key.created_ts = q.getColumn(5).getDouble();
  key.last_used_ts = ColumnDouble(q.getColumn(6));
  key.expires_ts = ColumnDouble(q.getColumn(7));
  key.revoked_ts = ColumnDouble(q.getColumn(8));
  return key;
}

}  // namespace

Status SqliteStore::AddApiKey(const ApiKey& key) {
  return Guard(database(), "add api key", [&]() -> Status {
    SQLite::Transaction tx(impl_->db);
    SQLite::Statement taken(impl_->db,
                            "SELECT 1 FROM api_keys WHERE name = ?1 AND revoked_ts IS NULL");
    taken.bind(1, key.name);
    if (taken.executeStep()) {
      return Status::InvalidArgument("a key named '" + key.name + "' exists: revoke it first");
    }
    SQLite::Statement insert(impl_->db, R"sql(
INSERT INTO api_keys (key_id, name, role, salt, hash, created_ts, last_used_ts, expires_ts,
                      revoked_ts)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql");
    insert.bind(1, key.key_id);
    insert.bind(2, key.name);
    insert.bind(3, key.role);
    insert.bind(4, key.salt);
    insert.bind(5, key.hash);
    insert.bind(6, key.created_ts);
    BindOptional(insert, 7, key.last_used_ts);
    BindOptional(insert, 8, key.expires_ts);
    BindOptional(insert, 9, key.revoked_ts);
    insert.exec();
    tx.commit();
    return Status::Ok();
  });
}

Result<std::optional<ApiKey>> SqliteStore::FindApiKey(const std::string& key_id) {
  return Guard(database(), "find api key", [&]() -> Result<std::optional<ApiKey>> {
    SQLite::Statement q(impl_->db, std::string(kSelectKey) + "WHERE key_id = ?1");
    q.bind(1, key_id);
    if (!q.executeStep()) return std::optional<ApiKey>();
    return std::optional<ApiKey>(ReadKey(q));
  });
}

Result<std::vector<ApiKey>> SqliteStore::ApiKeys() {
  return Guard(database(), "api keys", [&]() -> Result<std::vector<ApiKey>> {
    SQLite::Statement q(impl_->db, std::string(kSelectKey) + "ORDER BY created_ts, name");
    std::vector<ApiKey> out;
    while (q.executeStep()) out.push_back(ReadKey(q));
    return out;
  });
}

Result<bool> SqliteStore::RevokeApiKey(const std::string& name, double ts) {
  return Guard(database(), "revoke api key", [&]() -> Result<bool> {
    SQLite::Statement q(impl_->db,
                        "UPDATE api_keys SET revoked_ts = ?2 WHERE name = ?1 AND revoked_ts IS NULL");
    q.bind(1, name);
    q.bind(2, ts);
    return q.exec() > 0;
  });
}

Status SqliteStore::TouchApiKey(const std::string& key_id, double ts) {
  return Guard(database(), "touch api key", [&]() -> Status {
    SQLite::Statement q(impl_->db, "UPDATE api_keys SET last_used_ts = ?2 WHERE key_id = ?1");
    q.bind(1, key_id);
    q.bind(2, ts);
    q.exec();
    return Status::Ok();
  });
}

}  // namespace asicmon::store_internal
