// A stage's settings table: each row's flag, then its env var, then the
// field's default; bad values name the flag and the env var.
#include "asicmon/settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <string>

namespace asicmon {
namespace {

using namespace std::chrono_literals;

// Sets an env var for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// The parse error's text, or "" when the line parses.
std::string ParseError(CLI::App& app, const std::string& line) {
  try {
    app.parse(line, false);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(SettingsTest, FlagBeatsEnvVarWhichBeatsTheDefault) {
  ScopedEnv env("ASICMON_TEST_BATCH", "7");
  size_t batch = 500;
  CLI::App app;
  SettingsTable(app).Int(batch, {"--batch", "ASICMON_TEST_BATCH", "Records per request"}, 1, 100);
  EXPECT_EQ(ParseError(app, "--batch 9"), "");
  EXPECT_EQ(batch, 9u);

  size_t from_env = 500;
  CLI::App env_app;
  SettingsTable(env_app).Int(from_env, {"--batch", "ASICMON_TEST_BATCH", ""}, 1, 100);
  EXPECT_EQ(ParseError(env_app, ""), "");
  EXPECT_EQ(from_env, 7u);

  size_t by_default = 500;
  CLI::App default_app;
  SettingsTable(default_app).Int(by_default, {"--batch", "ASICMON_TEST_UNSET", ""}, 1, 1000);
  EXPECT_EQ(ParseError(default_app, ""), "");
  EXPECT_EQ(by_default, 500u);
}

TEST(SettingsTest, SecondsAreParsedOnceIntoMillisecondsWithinBounds) {
  ScopedEnv env("ASICMON_TEST_TIMEOUT", " 2.5 ");  // blanks around are trimmed
  std::chrono::milliseconds timeout = 5s;
  CLI::App app;
  SettingsTable(app).Seconds(timeout, {"--timeout", "ASICMON_TEST_TIMEOUT", ""}, 0.05, 600);
  EXPECT_EQ(ParseError(app, ""), "");
  EXPECT_EQ(timeout, 2500ms);

  CLI::App too_long;
  SettingsTable(too_long).Seconds(timeout, {"--timeout", "ASICMON_TEST_TIMEOUT", ""}, 0.05, 600);
  const std::string error = ParseError(too_long, "--timeout 601");
  EXPECT_NE(error.find("--timeout"), std::string::npos) << error;
  EXPECT_NE(error.find("must be between"), std::string::npos) << error;
  EXPECT_EQ(timeout, 2500ms);
}

TEST(SettingsTest, ABadEnvValueNamesTheVariable) {
  ScopedEnv env("ASICMON_TEST_TIMEOUT", "soon");
  std::chrono::milliseconds timeout = 5s;
  CLI::App app;
  SettingsTable(app).Seconds(timeout, {"--timeout", "ASICMON_TEST_TIMEOUT", ""}, 0.05, 600);
  const std::string error = ParseError(app, "");
  EXPECT_NE(error.find("ASICMON_TEST_TIMEOUT"), std::string::npos) << error;
  EXPECT_NE(error.find("'soon': not a number"), std::string::npos) << error;
}

TEST(SettingsTest, EnvOnlyRowsAreReadAtOnceAndABadOneIsTheEnvStatus) {
  ScopedEnv secret("ASICMON_TEST_TOKEN", "  s3cret\n");
  ScopedEnv bad("ASICMON_TEST_PORT", "http");
  std::string token;
  int port = 80;
  CLI::App app;
  SettingsTable settings(app);
  settings.Text(token, {nullptr, "ASICMON_TEST_TOKEN"});
  EXPECT_EQ(token, "s3cret");
  EXPECT_TRUE(settings.env_status().ok());
  settings.Int(port, {nullptr, "ASICMON_TEST_PORT"}, 1, 65535);
  EXPECT_EQ(settings.env_status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(settings.env_status().message().find("ASICMON_TEST_PORT"), std::string::npos);
  EXPECT_EQ(port, 80);
  EXPECT_EQ(app.help().find("TOKEN"), std::string::npos) << "env-only rows have no flag to list";
}

TEST(SettingsTest, ANegatedFlagAndItsEnvVarSayTheSame) {
  auto enabled = [](const char* line) {
    bool enable_db = true;
    CLI::App app;
    SettingsTable(app).Flag(enable_db, {"!--no-db", "ASICMON_TEST_ENABLE_DB", ""});
    const std::string error = ParseError(app, line);
    EXPECT_EQ(error, "");
    return enable_db;
  };
  EXPECT_TRUE(enabled(""));
  EXPECT_FALSE(enabled("--no-db"));
  {
    ScopedEnv env("ASICMON_TEST_ENABLE_DB", "OFF");
    EXPECT_FALSE(enabled(""));
  }
  {
    ScopedEnv env("ASICMON_TEST_ENABLE_DB", "yes");
    EXPECT_TRUE(enabled(""));
    EXPECT_FALSE(enabled("--no-db"));
  }
  ScopedEnv env("ASICMON_TEST_ENABLE_DB", "maybe");
  bool enable_db = true;
  CLI::App app;
  SettingsTable(app).Flag(enable_db, {"!--no-db", "ASICMON_TEST_ENABLE_DB", ""});
  const std::string error = ParseError(app, "");
  EXPECT_NE(error.find("ASICMON_TEST_ENABLE_DB='maybe': expected true or false"),
            std::string::npos)
      << error;
}

TEST(SettingsTest, AChoiceTakesOnlyItsWords) {
  std::string format = "json";
  CLI::App app;
  SettingsTable(app).Choice(format, {"--format", "ASICMON_TEST_FORMAT", ""},
                            {"json", "ndjson", "influx"});
  EXPECT_NE(ParseError(app, "--format xml").find("expected one of json, ndjson, influx"),
            std::string::npos);
  EXPECT_EQ(format, "json");
  CLI::App ok_app;
  SettingsTable(ok_app).Choice(format, {"--format", "ASICMON_TEST_FORMAT", ""},
                               {"json", "ndjson", "influx"});
  EXPECT_EQ(ParseError(ok_app, "--format influx"), "");
  EXPECT_EQ(format, "influx");
}

TEST(SettingsTest, HelpListsEachRowWithItsEnvVarBoundsAndDefault) {
  std::chrono::seconds interval = 60s;
  std::string url;
  CLI::App app;
  SettingsTable settings(app);
  settings.Int(interval, {"--interval", "ASICMON_TEST_INTERVAL", "Seconds between lines"}, 1,
               86400);
  settings.Text(url, {"--url", "ASICMON_TEST_URL", "Where to send"}, "URL");
  const std::string help = app.help();
  EXPECT_NE(help.find("--interval SECONDS in [1, 86400]=60 (Env:ASICMON_TEST_INTERVAL)"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("--url URL (Env:ASICMON_TEST_URL)"), std::string::npos) << help;
}

}  // namespace
}  // namespace asicmon
