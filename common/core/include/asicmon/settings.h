// A stage's settings table: each setting is one row (flag, env var, unit,
// bounds, help) bound to the Options field it fills, whose current value is
// the default. CLI11 takes the flag, or the env var when the flag is absent
// (`envname`), parses it once into the field and lists it in --help with its
// env var (CLI11's "(Env:NAME)"), so no main reads the environment by hand.
//
// Values are trimmed of surrounding blanks; an empty env var counts as unset.
// A bad value, from either source, fails app.parse with a CLI::ParseError
// whose message names the flag and the env var (StartStage exits 2 on it).
// Rows without a flag (secrets, kept off the command line so ps cannot show
// them) read their env var at once: the first bad one is env_status().
//
// Thread-safety: call from main before starting threads; the fields bound
// here must outlive the app's parse.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "asicmon/config.h"
#include "asicmon/status.h"

namespace asicmon {

// One row's names and help. `flag` may hold CLI11's aliases and negations
// ("--auto-actions,!--no-auto-actions"); nullptr: env only. `env` nullptr:
// flag only.
struct Setting {
  const char* flag = nullptr;
  const char* env = nullptr;
  const char* help = "";
};

class SettingsTable {
 public:
  explicit SettingsTable(CLI::App& app) : app_(app) {}

  // Text as given (URLs, paths, names).
  void Text(std::string& out, const Setting& s, const char* unit = "TEXT");
  // Text that must be one of `allowed`.
  void Choice(std::string& out, const Setting& s, std::vector<std::string> allowed);
  // Repeatable flag; the env var gives one entry.
  void Texts(std::vector<std::string>& out, const Setting& s, const char* unit = "TEXT");
  // A whole number within [min, max].
  template <std::integral T>
  void Int(T& out, const Setting& s, int64_t min, int64_t max) {
    AddInt(s, "INT", static_cast<int64_t>(out), min, max,
           [&out](int64_t v) { out = static_cast<T>(v); });
  }
  // A whole number of the duration's unit within [min, max] (seconds for
  // std::chrono::seconds, ms for milliseconds).
  template <typename Rep, typename Period>
  void Int(std::chrono::duration<Rep, Period>& out, const Setting& s, int64_t min, int64_t max) {
    using D = std::chrono::duration<Rep, Period>;
    const char* unit = std::is_same_v<Period, std::milli> ? "MS" : "SECONDS";
    AddInt(s, unit, static_cast<int64_t>(out.count()), min, max,
           [&out](int64_t v) { out = D(static_cast<Rep>(v)); });
  }
  // A comma list of TCP ports ("4028,4433"), each 1..65535, repeats dropped.
  void Ports(std::vector<uint16_t>& out, const Setting& s);
  // Seconds, fractional, within [min_s, max_s], kept as milliseconds.
  void Seconds(std::chrono::milliseconds& out, const Setting& s, double min_s, double max_s);
  // A flag (true when given); its env var takes true/false, 1/0, yes/no,
  // on/off. A negated flag ("!--no-db") gives false.
  void Flag(bool& out, const Setting& s);

  // Keeps the Status of env-only settings a library loads itself
  // (LoadHealthRules, LoadStoreOptions), reported like the rows' own.
  void Env(const Status& loaded);

  // The first bad env-only setting, or OK.
  const Status& env_status() const { return env_status_; }

 private:
  // Parses one trimmed value into the row's field.
  using Assign = std::function<Status(const std::string& text, const std::string& what)>;

  void Add(const Setting& s, const std::string& type, const std::string& default_text,
           Assign assign);
  void AddInt(const Setting& s, const char* unit, int64_t current, int64_t min, int64_t max,
              std::function<void(int64_t)> set);

  CLI::App& app_;
  Status env_status_;
};

}  // namespace asicmon
