#include "key_handlers.h"

#include <nlohmann/json.hpp>

#include "asicmon/clock.h"
#include "fleet_requests.h"

namespace asicmon::control {
namespace {

// A change of keys in the audit trail: no miner, so no ip or worker.
AuditEntry KeyAudit(const Caller& caller, std::string action, std::string detail, int status) {
  AuditEntry entry;
  entry.actor = caller.Actor();
  entry.action = std::move(action);
  entry.detail = std::move(detail);
  entry.http_status = status;
  entry.result = "ok";
  return entry;
}

}  // namespace

Result<nlohmann::json> ListKeys(DbPool& db, double now) {
  Result<std::vector<ApiKey>> keys = db.With([](StoreDb& store) { return store.ApiKeys(); });
  if (!keys.ok()) return keys.status();
  nlohmann::json list = nlohmann::json::array();
  for (const ApiKey& key : *keys) list.push_back(KeyJson(key, now));
  return list;
}

Result<MintedKey> AddKey(DbPool& db, std::string_view name, std::string_view role,
                         std::string_view expires, double now) {
  const std::optional<Role> parsed_role = ParseRole(role);
  if (!parsed_role) {
    return Status::InvalidArgument("role must be viewer, operator or admin");
  }
  std::optional<double> expires_in;
  if (!expires.empty()) {
    Result<double> seconds = ParseExpiry(expires);
    if (!seconds.ok()) return seconds.status();
    expires_in = *seconds;
  }
  Result<MintedKey> minted = MintKey(name, *parsed_role, now, expires_in);
  if (!minted.ok()) return minted.status();
  if (Status s = db.With([&](StoreDb& store) { return store.AddApiKey(minted->row); }); !s.ok()) {
    return s;
  }
  return minted;
}

void KeyHandlers::List(const Request& request, Writer response) {
  if (!pipeline_.Authorize(request, response, "keys", Role::kAdmin)) return;
  Result<nlohmann::json> list = ListKeys(db_, UnixNow());
  if (!list.ok()) {
    return pipeline_.Error(response, "keys", 503, "store unavailable", list.status().ToString());
  }
  pipeline_.Answer(response, "keys", 200, {{"count", list->size()}, {"keys", std::move(*list)}});
}

void KeyHandlers::Add(const Request& request, Writer response) {
  const std::optional<Caller> caller = pipeline_.Authorize(request, response, "keys", Role::kAdmin);
  if (!caller) return;
  const nlohmann::json body = nlohmann::json::parse(request.body(), nullptr, false);
  const auto text = [&](const char* field) {
    const auto it = body.is_object() ? body.find(field) : body.end();
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!body.is_object() || text("name").empty() || text("role").empty()) {
    return pipeline_.Error(response, "keys", 400, "bad request",
                           "body must be {\"name\": ..., \"role\": \"viewer\"|\"operator\"|"
                           "\"admin\", \"expires\": \"30d\" (optional)}");
  }
  const double now = UnixNow();
  Result<MintedKey> minted = AddKey(db_, text("name"), text("role"), text("expires"), now);
  if (!minted.ok()) {
    const bool bad = minted.status().code() == Status::Code::kInvalidArgument;
    return pipeline_.Error(response, "keys", bad ? 400 : 503,
                           bad ? "bad request" : "store unavailable", minted.status().message());
  }
  pipeline_.Audit(KeyAudit(*caller, "key_add", minted->row.name + " " + minted->row.role, 201));
  nlohmann::json answer = KeyJson(minted->row, now);
  answer["key"] = minted->key;  // the only time it is shown
  pipeline_.Answer(response, "keys", 201, answer);
}

void KeyHandlers::Revoke(const Request& request, Writer response) {
  const std::optional<Caller> caller = pipeline_.Authorize(request, response, "keys", Role::kAdmin);
  if (!caller) return;
  const std::string name = PathParam(request, ":name");
  if (Status s = ValidateKeyName(name); !s.ok()) {
    return pipeline_.Error(response, "keys", 404, "no such key", s.message());
  }
  Result<bool> revoked =
      db_.With([&](StoreDb& store) { return store.RevokeApiKey(name, UnixNow()); });
  if (!revoked.ok()) {
    return pipeline_.Error(response, "keys", 503, "store unavailable",
                           revoked.status().ToString());
  }
  if (!*revoked) {
    return pipeline_.Error(response, "keys", 404, "no such key", "no active key is named " + name);
  }
  pipeline_.Audit(KeyAudit(*caller, "key_revoke", name, 200));
  pipeline_.Answer(response, "keys", 200, {{"name", name}, {"state", "revoked"}});
}

void KeyHandlers::WhoAmI(const Request& request, Writer response) {
  const std::optional<Caller> caller =
      pipeline_.Authorize(request, response, "whoami", Role::kViewer, /*key_required=*/true);
  if (!caller) return;
  nlohmann::json may = nlohmann::json::array();
  for (ActionKind kind : {ActionKind::kReset, ActionKind::kReboot, ActionKind::kPool,
                          ActionKind::kSleep, ActionKind::kWake, ActionKind::kLocate,
                          ActionKind::kPower}) {
    if (caller->role >= RequiredRole(kind)) may.push_back(ToString(kind));
  }
  if (caller->role >= Role::kAdmin) {
    may.push_back("curtail");
    may.push_back("keys");
  }
  pipeline_.Answer(response, "whoami", 200,
                   {{"name", caller->name}, {"role", ToString(caller->role)}, {"may", may}});
}

}  // namespace asicmon::control
