#include "keys_cli.h"

#include <cstdio>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "db_pool.h"
#include "key_handlers.h"

namespace asicmon::control {
namespace {

std::string When(const nlohmann::json& ts) {
  if (!ts.is_number()) return "-";
  return fmt::format("{:%Y-%m-%d %H:%M}Z",
                     fmt::gmtime(static_cast<std::time_t>(ts.get<double>())));
}

}  // namespace

void AddKeysCommand(CLI::App& app, KeysCommand& command) {
  command.keys = app.add_subcommand("keys", "Manage the API keys callers present (then exit)");
  command.keys->require_subcommand(1);
  command.add = command.keys->add_subcommand(
      "add", "Make a key and print it (shown once: only its salted hash is kept)");
  command.add->add_option("NAME", command.name, "Who or what uses it: A-Z a-z 0-9 . _ -")
      ->required();
  command.add
      ->add_option("--role", command.role,
                   "viewer (reads), operator (also locate, reset, reboot, sleep, wake) or admin "
                   "(also pools, power, curtailment, keys)")
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  command.add->add_option("--expires", command.expires,
                          "Lifetime, e.g. 30d, 12h, 2w (default: until revoked)");
  command.list = command.keys->add_subcommand("list", "List every key (never the keys themselves)");
  command.revoke = command.keys->add_subcommand("revoke", "Revoke the active key named NAME");
  command.revoke->add_option("NAME", command.name)->required();
}

int RunKeysCommand(const KeysCommand& command, const StoreOptions& store) {
  DbPool db(store);
  const double now = UnixNow();
  if (command.add->parsed()) {
    Result<MintedKey> minted = AddKey(db, command.name, command.role, command.expires, now);
    if (!minted.ok()) {
      spdlog::error("key not made: {}", minted.status().message());
      return minted.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
    }
    spdlog::info("key '{}' ({}) made; it is printed once, below", minted->row.name,
                 minted->row.role);
    std::printf("%s\n", minted->key.c_str());
    return 0;
  }
  if (command.list->parsed()) {
    Result<nlohmann::json> list = ListKeys(db, now);
    if (!list.ok()) {
      spdlog::error("{}", list.status().ToString());
      return 1;
    }
    std::string out = fmt::format("{:<24} {:<9} {:<8} {:<20} {:<20} {}\n", "NAME", "ROLE", "STATE",
                                  "CREATED", "EXPIRES", "LAST USED");
    for (const nlohmann::json& key : *list) {
      out += fmt::format("{:<24} {:<9} {:<8} {:<20} {:<20} {}\n", key["name"].get<std::string>(),
                         key["role"].get<std::string>(), key["state"].get<std::string>(),
                         When(key["created_ts"]), When(key["expires_ts"]),
                         When(key["last_used_ts"]));
    }
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  Result<bool> revoked = db.With([&](StoreDb& s) { return s.RevokeApiKey(command.name, now); });
  if (!revoked.ok()) {
    spdlog::error("{}", revoked.status().ToString());
    return 1;
  }
  if (!*revoked) {
    spdlog::error("no active key is named '{}'", command.name);
    return 2;
  }
  spdlog::info("key '{}' revoked", command.name);
  return 0;
}

}  // namespace asicmon::control
