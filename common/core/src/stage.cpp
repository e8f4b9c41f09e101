#include "asicmon/stage.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "asicmon/config.h"
#include "asicmon/log.h"

namespace asicmon {

void AddStageSettings(SettingsTable& settings, StageFlags& flags, bool with_stats) {
  settings.Text(flags.log_level,
                {"--log-level", "LOG_LEVEL", "trace, debug, info, warn, error, off"}, "LEVEL");
  if (with_stats) {
    settings.Int(flags.stats_interval,
                 {"--stats-interval", "STATS_INTERVAL", "Seconds between counter lines in the log"},
                 1, 86400);
  }
}

std::optional<int> StartStage(CLI::App& app, int argc, char** argv, const std::string& name,
                              const StageFlags& flags, const Status& env) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; any malformed flag is bad configuration
  }
  if (Status s = InitLogging(name, flags.log_level); !s.ok()) {
    std::fprintf(stderr, "asicmon-%s: %s\n", name.c_str(), s.ToString().c_str());
    return 2;
  }
  if (!env.ok()) {
    spdlog::error("bad configuration: {}", env.message());
    return 2;
  }
  return std::nullopt;
}

void HideFlagValues(int argc, char** argv, std::string_view flag, const SecretIn& secret_in) {
  auto hide = [&](char* value) {
    const size_t length = std::strlen(value);
    SecretSpan span{0, length};
    if (secret_in) {
      const std::optional<SecretSpan> found = secret_in(std::string_view(value, length));
      if (!found) return;
      span = *found;
    }
    if (span.first >= length) return;
    std::memset(value + span.first, '*', std::min(span.size, length - span.first));
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") return;  // what follows is not flags
    if (arg == flag && i + 1 < argc) {
      hide(argv[++i]);
    } else if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=') {
      hide(argv[i] + flag.size() + 1);
    }
  }
}

}  // namespace asicmon
