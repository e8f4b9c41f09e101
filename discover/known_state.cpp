#include "known_state.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "asicmon/clock.h"
#include "asicmon/targets.h"

namespace asicmon::discover {
namespace {

constexpr int kFormat = 1;
// A miner's line is ~200 bytes; a /8 of miners is 16.7 million of them.
constexpr off_t kMaxFileBytes = off_t{4} << 30;
constexpr size_t kMaxLineBytes = 4096;
constexpr size_t kMaxTextBytes = 1024;  // model, firmware, worker: miner-supplied text
constexpr int kMaxMissedSweeps = 1000;

bool TextAt(const nlohmann::json& line, const char* key, std::string& out) {
  auto it = line.find(key);
  if (it == line.end() || !it->is_string() ||
      it->get_ref<const std::string&>().size() > kMaxTextBytes) {
    return false;
  }
  out = it->get<std::string>();
  return true;
}

// An identity field: absent in files older than schema 3's identity is "".
bool OptionalTextAt(const nlohmann::json& line, const char* key, std::string& out) {
  return !line.contains(key) || TextAt(line, key, out);
}

// One miner's line, or nullopt when any field is missing or out of range.
std::optional<KnownMiner> ParseMiner(const nlohmann::json& line) {
  if (!line.is_object()) return std::nullopt;
  KnownMiner m;
  auto ip = line.find("ip");
  auto port = line.find("port");
  auto identified = line.find("identified");
  auto missed = line.find("missed_sweeps");
  if (ip == line.end() || !ip->is_string() || port == line.end() || !port->is_number_unsigned() ||
      *port < 1 || *port > 65535 || identified == line.end() || !identified->is_boolean() ||
      missed == line.end() || !missed->is_number_integer() || *missed < 0 ||
      *missed > kMaxMissedSweeps) {
    return std::nullopt;
  }
  Result<uint32_t> address = ParseIpv4(ip->get<std::string>());
  if (!address.ok() || Ipv4ToString(*address) != ip->get<std::string>()) return std::nullopt;
  m.address = *address;
  m.ip = ip->get<std::string>();
  m.port = port->get<uint16_t>();
  m.identified = identified->get<bool>();
  m.missed_sweeps = missed->get<int>();
  if (!TextAt(line, "model", m.model) || !TextAt(line, "firmware", m.firmware) ||
      !TextAt(line, "worker", m.worker) || !OptionalTextAt(line, "family", m.family) ||
      !OptionalTextAt(line, "mac", m.mac) || !OptionalTextAt(line, "serial", m.serial) ||
      !OptionalTextAt(line, "hostname", m.hostname)) {
    return std::nullopt;
  }
  return m;
}

std::string Line(const nlohmann::json& j) {
  // Miner-supplied text may not be UTF-8: replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

}  // namespace

std::string DefaultStatePath(const std::string& run_dir, std::span<const uint32_t> addresses,
                             uint16_t port) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  auto mix = [&hash](uint32_t value) {
    for (int i = 0; i < 4; ++i) {
      hash ^= (value >> (8 * i)) & 0xFF;
      hash *= 1099511628211ull;
    }
  };
  for (uint32_t address : addresses) mix(address);
  mix(port);
  return fmt::format("{}/discover-{:016x}.state", run_dir.empty() ? "." : run_dir, hash);
}

Result<std::optional<KnownState>> LoadKnownState(
    const std::string& path, const std::function<bool(uint32_t, uint16_t)>& in_targets) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::optional<KnownState>();
    return Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode) || info.st_size > kMaxFileBytes) {
    return Status::ParseError(fmt::format("{}: not a regular file of at most 4 GiB", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(fmt::format("cannot read {}", path));
  std::string text;
  if (!std::getline(in, text)) return Status::ParseError(fmt::format("{}: empty", path));
  const nlohmann::json header = nlohmann::json::parse(text, nullptr, false);
  if (!header.is_object() || header.value("asicmon_discover_state", nlohmann::json()) != kFormat ||
      !header.contains("saved_ts") || !header["saved_ts"].is_number()) {
    return Status::ParseError(
        fmt::format("{}: not a discover state file (format {})", path, kFormat));
  }
  KnownState state;
  state.saved_ts = header["saved_ts"].get<double>();
  while (std::getline(in, text)) {
    if (text.size() > kMaxLineBytes) {
      ++state.bad_lines;
      continue;
    }
    std::optional<KnownMiner> miner = ParseMiner(nlohmann::json::parse(text, nullptr, false));
    if (!miner) {
      ++state.bad_lines;
    } else if (!in_targets(miner->address, miner->port)) {
      ++state.outside_targets;
    } else {
      state.miners.push_back(std::move(*miner));
    }
  }
  return std::optional<KnownState>(std::move(state));
}

Status SaveKnownState(const std::string& path, std::span<const KnownMiner> miners) {
  std::string text = Line({{"asicmon_discover_state", kFormat}, {"saved_ts", UnixNow()}});
  for (const KnownMiner& m : miners) {
    text += Line({{"ip", m.ip},
                  {"port", m.port},
                  {"identified", m.identified},
                  {"model", m.model},
                  {"firmware", m.firmware},
                  {"worker", m.worker},
                  {"family", m.family},
                  {"mac", m.mac},
                  {"serial", m.serial},
                  {"hostname", m.hostname},
                  {"missed_sweeps", m.missed_sweeps}});
  }
  // Written aside and renamed over: a crash mid-write leaves the old file whole.
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(fmt::format("{}: {}", temporary, std::strerror(errno)));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return Status::IoError(fmt::format("{}: {}", temporary, std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = fsync(fd) == 0;
  const int sync_error = errno;
  const bool closed = close(fd) == 0;
  if (!synced || !closed) {
    const int error = synced ? errno : sync_error;
    unlink(temporary.c_str());
    return Status::IoError(fmt::format("{}: {}", temporary, std::strerror(error)));
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return Status::IoError(fmt::format("{}: {}", path, std::strerror(error)));
  }
  return Status::Ok();
}

}  // namespace asicmon::discover
