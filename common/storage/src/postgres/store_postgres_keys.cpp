// The PostgreSQL backend's API keys (see store_db.h).
#include "store_postgres_store.h"

namespace asicmon::store_internal {
namespace {

constexpr const char* kSelectKey =
    "SELECT key_id, name, role, salt, hash, created_ts, last_used_ts, expires_ts, revoked_ts "
    "FROM api_keys ";

ApiKey ReadKey(const pqxx::row& row) {
  ApiKey key;
  key.key_id = row[0].as<std::string>();
  key.name = row[1].as<std::string>();
  key.role = row[2].as<std::string>();
  key.salt = row[3].as<std::string>();
  key.hash = row[4].as<std::string>();
  key.created_ts = row[5].as<double>();
  key.last_used_ts = FieldDouble(row[6]);
  key.expires_ts = FieldDouble(row[7]);
  key.revoked_ts = FieldDouble(row[8]);
  return key;
}

}  // namespace

Status PostgresStore::AddApiKey(const ApiKey& key) {
  return Guard("add api key", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    // Serialises adders, so two of one name cannot both pass the check.
    tx.exec("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE");
    if (!tx.exec_params("SELECT 1 FROM api_keys WHERE name = $1 AND revoked_ts IS NULL", key.name)
             .empty()) {
      return Status::InvalidArgument("a key named '" + key.name + "' exists: revoke it first");
    }
    tx.exec_params(R"sql(
INSERT INTO api_keys (key_id, name, role, salt, hash, created_ts, last_used_ts, expires_ts,
                      revoked_ts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))sql",
                   key.key_id, key.name, key.role, key.salt, key.hash, key.created_ts,
                   key.last_used_ts, key.expires_ts, key.revoked_ts);
    tx.commit();
    return Status::Ok();
  });
}

Result<std::optional<ApiKey>> PostgresStore::FindApiKey(const std::string& key_id) {
  return Guard("find api key", [&](pqxx::connection& conn) -> Result<std::optional<ApiKey>> {
    pqxx::nontransaction q(conn);
    const pqxx::result rows = q.exec_params(std::string(kSelectKey) + "WHERE key_id = $1", key_id);
    if (rows.empty()) return std::optional<ApiKey>();
    return std::optional<ApiKey>(ReadKey(rows[0]));
  });
}

Result<std::vector<ApiKey>> PostgresStore::ApiKeys() {
  return Guard("api keys", [&](pqxx::connection& conn) -> Result<std::vector<ApiKey>> {
    pqxx::nontransaction q(conn);
    std::vector<ApiKey> out;
    for (const auto& row : q.exec(std::string(kSelectKey) + "ORDER BY created_ts, name")) {
      out.push_back(ReadKey(row));
    }
    return out;
  });
}

Result<bool> PostgresStore::RevokeApiKey(const std::string& name, double ts) {
  return Guard("revoke api key", [&](pqxx::connection& conn) -> Result<bool> {
    pqxx::work tx(conn);
    const pqxx::result done = tx.exec_params(
        "UPDATE api_keys SET revoked_ts = $2 WHERE name = $1 AND revoked_ts IS NULL", name, ts);
    tx.commit();
    return done.affected_rows() > 0;
  });
}

Status PostgresStore::TouchApiKey(const std::string& key_id, double ts) {
  return Guard("touch api key", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    tx.exec_params("UPDATE api_keys SET last_used_ts = $2 WHERE key_id = $1", key_id, ts);
    tx.commit();
    return Status::Ok();
  });
}

}  // namespace asicmon::store_internal
