// asicmon-control as a REST test runs it: a temporary directory of its own
// (run dir, database), a bearer token, a short miner poll timeout, started
// on a free port of 127.0.0.1; the URLs of its miners' actions and a
// MINER_CREDENTIALS_FILE written as an operator would (mode 0600).
//
// Sets the process's environment (ASICMON_RUN_DIR, ASICMON_DB, CONTROL_*,
// POLL_TIMEOUT; unsets the settings a test must not inherit) from the
// constructor until the destructor unsets them: one at a time per process.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "test_database.h"
#include "testlib.h"

namespace asicmon::testing {

class ControlProcess {
 public:
  static constexpr char kToken[] = "control-rest-token";

  // `name` names the directory under the test temp dir (unique per test).
  explicit ControlProcess(const std::string& name);
  ~ControlProcess();  // stops control, removes the directory, unsets the environment
  ControlProcess(const ControlProcess&) = delete;
  ControlProcess& operator=(const ControlProcess&) = delete;

  // Starts asicmon-control with `args` (and --miner-back-timeout 20); false
  // when it never printed READY (its stderr says why).
  bool Start(std::vector<std::string> args = {});
  // Writes `rows` (the credentials file's JSON) to <dir>/credentials.json,
  // mode 0600, and returns its path for --credentials-file.
  std::filesystem::path WriteCredentials(const std::string& rows) const;

  // http://127.0.0.1:<port>, once started.
  const std::string& base() const { return base_; }
  // <base>/miners/<ip>/<worker>, the prefix of that miner's actions.
  std::string MinerUrl(const std::string& ip, const std::string& worker) const;
  // <base>/miners/<ip>: the miner as control reads it.
  std::string MinerInfoUrl(const std::string& ip) const;
  // What control wrote on stderr so far ("" before Start).
  std::string stderr_text();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Subprocess> process_;
  std::string base_;
};

}  // namespace asicmon::testing
