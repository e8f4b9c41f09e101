#include "asicmon/settings.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <utility>

namespace asicmon {
namespace {

// How errors name a row: its first flag, and its env var.
std::string What(const Setting& s) {
  if (s.flag == nullptr) return s.env;
  std::string name(s.flag);
  name = name.substr(0, name.find(','));
  if (!name.empty() && name.front() == '!') name.erase(0, 1);
  if (s.env != nullptr) name += std::string(" (env ") + s.env + ")";
  return name;
}

// A number as an ostream prints it (the --help text keeps its form).
template <typename T>
std::string Printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

template <typename T>
std::string Bounded(const char* unit, T min, T max) {
  return std::string(unit) + " in [" + Printed(min) + ", " + Printed(max) + "]";
}

}  // namespace

void SettingsTable::Add(const Setting& s, const std::string& type, const std::string& default_text,
                        Assign assign) {
  const std::string what = What(s);
  if (s.flag == nullptr) {
    if (const char* raw = std::getenv(s.env)) Env(assign(Trimmed(raw), what));
    return;
  }
  CLI::Option* option = app_.add_option(
      s.flag,
      [assign = std::move(assign), what](const CLI::results_t& results) {
        for (const std::string& result : results) {
          if (Status st = assign(Trimmed(result), what); !st.ok()) {
            throw CLI::ValidationError(st.message());
          }
        }
        return true;
      },
      s.help);
  option->type_name(type)->default_str(default_text);
  if (s.env != nullptr) option->envname(s.env);
}

void SettingsTable::AddInt(const Setting& s, const char* unit, int64_t current, int64_t min,
                           int64_t max, std::function<void(int64_t)> set) {
  Add(s, Bounded(unit, min, max), Printed(current),
      [min, max, set = std::move(set)](const std::string& text, const std::string& what) {
        Result<int64_t> v = ParseInt(text, what, min, max);
        if (!v.ok()) return v.status();
        set(*v);
        return Status::Ok();
      });
}

void SettingsTable::Text(std::string& out, const Setting& s, const char* unit) {
  Add(s, unit, out, [&out](const std::string& text, const std::string&) {
    out = text;
    return Status::Ok();
  });
}

void SettingsTable::Choice(std::string& out, const Setting& s, std::vector<std::string> allowed) {
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Add(s, "{" + list + "}", out,
      [&out, allowed = std::move(allowed), list](const std::string& text, const std::string& what) {
        if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
          return Status::InvalidArgument(what + "='" + text + "': expected one of " + list);
        }
        out = text;
        return Status::Ok();
      });
}

void SettingsTable::Texts(std::vector<std::string>& out, const Setting& s, const char* unit) {
  // CLI11's own vector option keeps "--flag a b" taking both values.
  CLI::Option* option = app_.add_option(s.flag, out, s.help);
  option->type_name(unit)->transform(CLI::Validator(
      [](std::string& v) {
        v = Trimmed(v);
        return std::string();
      },
      ""));
  if (s.env != nullptr) option->envname(s.env);
}

void SettingsTable::Ports(std::vector<uint16_t>& out, const Setting& s) {
  std::string shown;
  for (uint16_t port : out) shown += (shown.empty() ? "" : ",") + std::to_string(port);
  Add(s, "PORT,...", shown, [&out](const std::string& text, const std::string& what) {
    std::vector<uint16_t> ports;
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      Result<int64_t> port = ParseInt(Trimmed(rest.substr(0, comma)), what, 1, 65535);
      if (!port.ok()) return port.status();
      if (std::find(ports.begin(), ports.end(), *port) == ports.end()) {
        ports.push_back(static_cast<uint16_t>(*port));
      }
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (ports.empty()) return Status::InvalidArgument(what + ": no port given");
    out = std::move(ports);
    return Status::Ok();
  });
}

void SettingsTable::Seconds(std::chrono::milliseconds& out, const Setting& s, double min_s,
                            double max_s) {
  Add(s, Bounded("SECONDS", min_s, max_s), Printed(static_cast<double>(out.count()) / 1000.0),
      [&out, min_s, max_s](const std::string& text, const std::string& what) {
        Result<std::chrono::milliseconds> v = ParseSeconds(text, what, min_s, max_s);
        if (!v.ok()) return v.status();
        out = *v;
        return Status::Ok();
      });
}

void SettingsTable::Flag(bool& out, const Setting& s) {
  // CLI11 turns the flag into "true" (or "false" for a negated name); the env
  // var's word is checked here and given to CLI11 in that form. CLI11 puts the
  // flag's name before the message.
  const std::string what = s.env != nullptr ? s.env : "value";
  CLI::Option* option = app_.add_flag(s.flag, out, s.help);
  option->transform(CLI::Validator(
      [what](std::string& v) {
        Result<bool> b = ParseBool(Trimmed(v), what);
        if (!b.ok()) return b.status().message();
        v = *b ? "true" : "false";
        return std::string();
      },
      ""));
  if (s.env != nullptr) option->envname(s.env);
}

void SettingsTable::Env(const Status& loaded) {
  if (env_status_.ok()) env_status_ = loaded;
}

}  // namespace asicmon
