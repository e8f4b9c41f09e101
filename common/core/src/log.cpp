#include "asicmon/log.h"

#include <cstdio>

#include <spdlog/sinks/stdout_sinks.h>

namespace asicmon {

bool LogGate::Allow(uint64_t& held_back) {
  const auto now = std::chrono::steady_clock::now();
  if (logged_ && now - last_ < every_) {
    ++held_back_;
    return false;
  }
  held_back = held_back_;
  held_back_ = 0;
  last_ = now;
  logged_ = true;
  return true;
}

std::string HeldBackNote(uint64_t held_back) {
  return held_back == 0 ? std::string()
                        : " (" + std::to_string(held_back) + " more since the last report)";
}

Status InitLogging(const std::string& name, const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + level +
                                   "' (trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_logger_mt(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

std::string SafeForLog(std::string_view text, size_t max_len) {
  std::string out;
  out.reserve(std::min(text.size(), max_len) + 8);
  for (unsigned char c : text.substr(0, max_len)) {
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > max_len) out += "...";
  return out;
}

}  // namespace asicmon
