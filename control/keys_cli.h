// `asicmon-control keys add NAME --role ROLE [--expires 30d]`, `keys list`,
// `keys revoke NAME`: API keys managed on the store's database directly
// (ASICMON_DB), with or without control running; a running control sees a
// change at the key's next use.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/store_db.h"

namespace asicmon::control {

struct KeysCommand {
  CLI::App* keys = nullptr;
  CLI::App* add = nullptr;
  CLI::App* list = nullptr;
  CLI::App* revoke = nullptr;
  std::string name;
  std::string role = "viewer";
  std::string expires;

  bool chosen() const { return keys != nullptr && keys->parsed(); }
};

void AddKeysCommand(CLI::App& app, KeysCommand& command);
// The exit code: 0 done, 1 the store failed, 2 a bad name, role or expiry.
int RunKeysCommand(const KeysCommand& command, const StoreOptions& store);

}  // namespace asicmon::control
