#include "control_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

namespace asicmon::testing {
namespace {

constexpr const char* kSet[] = {"ASICMON_RUN_DIR", "ASICMON_DB", "CONTROL_BIND", "CONTROL_TOKEN",
                                "POLL_TIMEOUT"};
// Settings of other tests or of the shell that would change what control does.
constexpr const char* kCleared[] = {"CONTROL_AUTH_READ", "ASICMON_INGEST", "ASICMON_PUBLISH",
                                    "MINER_HTTP_PORT", "MINER_CREDENTIALS_FILE"};

}  // namespace

ControlProcess::ControlProcess(const std::string& name)
    : dir_(std::filesystem::path(::testing::TempDir()) /
           (name.substr(0, 48) + "_" + std::to_string(getpid()))) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  database_ = std::make_unique<TestDatabase>(dir_);
  setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
  setenv("ASICMON_DB", database_->url().c_str(), 1);
  setenv("CONTROL_BIND", "127.0.0.1:0", 1);
  setenv("CONTROL_TOKEN", kToken, 1);
  setenv("POLL_TIMEOUT", "3", 1);
  for (const char* var : kCleared) unsetenv(var);
}

ControlProcess::~ControlProcess() {
  process_.reset();
  database_.reset();
  for (const char* var : kSet) unsetenv(var);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool ControlProcess::Start(std::vector<std::string> args) {
  args.insert(args.begin(), BinPath("asicmon-control"));
  args.insert(args.end(), {"--miner-back-timeout", "20"});
  process_ = std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
  if (!process_->WaitForStdout("READY", std::chrono::seconds(20))) return false;
  const std::string& out = process_->stdout_text();
  const size_t at = out.find("READY ") + 6;
  base_ = "http://127.0.0.1:" + out.substr(at, out.find('\n', at) - at);
  return true;
}

std::filesystem::path ControlProcess::WriteCredentials(const std::string& rows) const {
  const std::filesystem::path path = dir_ / "credentials.json";
  std::ofstream(path) << rows;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

std::string ControlProcess::MinerUrl(const std::string& ip, const std::string& worker) const {
  return base_ + "/miners/" + ip + "/" + worker;
}

std::string ControlProcess::MinerInfoUrl(const std::string& ip) const {
  return base_ + "/miners/" + ip;
}

std::string ControlProcess::stderr_text() {
  return process_ ? process_->stderr_text() : std::string();
}

}  // namespace asicmon::testing
