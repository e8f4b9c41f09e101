// The REST API's keys: GET/POST /keys and DELETE /keys/{name} for admins,
// and GET /whoami for any key (the dashboard shows who is signed in and
// what the role may do). A new key is shown once, in POST's answer.
//
// Thread-safety: handlers run on Pistache's request threads.
#pragma once

#include <pistache/http.h>
#include <pistache/router.h>

#include "db_pool.h"
#include "request_pipeline.h"

namespace asicmon::control {

class KeyHandlers {
 public:
  KeyHandlers(RequestPipeline& pipeline, DbPool& db) : pipeline_(pipeline), db_(db) {}

  using Request = Pistache::Rest::Request;
  using Writer = Pistache::Http::ResponseWriter;

  void List(const Request& request, Writer response);
  // {"name": "alice", "role": "operator", "expires": "30d"} (expires optional).
  void Add(const Request& request, Writer response);
  void Revoke(const Request& request, Writer response);
  void WhoAmI(const Request& request, Writer response);

 private:
  RequestPipeline& pipeline_;
  DbPool& db_;
};

// The keys as GET /keys and `keys list` show them, or the store's error.
Result<nlohmann::json> ListKeys(DbPool& db, double now);
// Makes a key; InvalidArgument for a bad name, role or expiry, or a name in use.
Result<MintedKey> AddKey(DbPool& db, std::string_view name, std::string_view role,
                         std::string_view expires, double now);

}  // namespace asicmon::control
