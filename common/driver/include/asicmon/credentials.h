// Which login control uses for a miner's privileged interface: per firmware
// family and per site, from an operator's file (MINER_CREDENTIALS_FILE), else
// the family's stock default.
//
// The file is JSON, a list of rows; the most specific site (longest CIDR
// prefix) that matches the miner's address wins, a row without "cidr" serves
// every site:
//   [{"family": "whatsminer", "cidr": "10.1.0.0/16", "user": "admin", "password": "..."},
//    {"family": "antminer", "user": "root", "password": "..."}]
// It holds secrets, so it must be private to its owner (mode 0600 or
// stricter): anything else is refused, as ssh refuses a readable key.
// Passwords never reach a log, a metric or an answer.
//
// Thread-safety: immutable after Load; share freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/driver.h"
#include "asicmon/status.h"
#include "asicmon/targets.h"

namespace asicmon::driver {

class CredentialsBook {
 public:
  CredentialsBook() = default;

  // The file's rows, validated: every family known to FindDriver, every CIDR
  // valid, no two rows for the same family and site.
  static Result<CredentialsBook> Load(const std::string& path);
  static Result<CredentialsBook> Parse(std::string_view json_text);

  // A row for `family` at every site, below any the file gives (the legacy
  // MINER_HTTP_USER/MINER_HTTP_PASSWORD of stock Antminer firmware).
  void AddDefault(std::string family, Credentials credentials);

  // The login for `family` at `ip`: the file's most specific row, else the
  // default row, else the driver's stock login.
  Credentials For(const MinerDriver& driver, std::string_view ip) const;

  size_t size() const { return rows_.size(); }

 private:
  struct Row {
    std::string family;
    std::optional<Cidr> site;  // none: every site
    Credentials credentials;
  };
  std::vector<Row> rows_;
  std::vector<Row> defaults_;
};

}  // namespace asicmon::driver
