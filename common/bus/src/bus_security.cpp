#include "asicmon/bus_security.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "asicmon/config.h"
#include "asicmon/log.h"

namespace asicmon::bus {
namespace {

// A key file is two short lines; anything much bigger is not one.
constexpr std::uintmax_t kMaxKeyFileBytes = 4096;
// How often the handler thread checks whether it should stop.
constexpr std::chrono::milliseconds kZapPollInterval{50};
// Refused handshakes: at most one log line per this interval.
constexpr std::chrono::seconds kRejectLogEvery{10};

bool IsZ85Key(const std::string& text) {
  if (text.size() != kZ85KeyChars) return false;
  std::array<uint8_t, 32> bytes;
  return zmq_z85_decode(bytes.data(), text.c_str()) != nullptr;
}

std::string Z85OfBinaryKey(const void* key) {
  std::array<char, kZ85KeyChars + 1> text{};
  if (zmq_z85_encode(text.data(), static_cast<const uint8_t*>(key), 32) == nullptr) return {};
  return text.data();
}

// "public <z85>" / "secret <z85>" / a bare key, per meaningful line. Only
// line numbers go into errors: a malformed line may be a secret.
struct KeyLines {
  std::optional<std::string> public_key;
  std::optional<std::string> secret_key;
  std::optional<std::string> bare_key;
};

Result<KeyLines> ParseKeyLines(const std::string& text, const std::string& origin) {
  KeyLines lines;
  std::istringstream in(text);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line.erase(0, start);
    const std::string where = origin + " line " + std::to_string(number);
    const size_t space = line.find_first_of(" \t");
    std::optional<std::string>* slot = &lines.bare_key;
    std::string key = line;
    if (space != std::string::npos) {
      const std::string label = line.substr(0, space);
      if (label == "public") {
        slot = &lines.public_key;
      } else if (label == "secret") {
        slot = &lines.secret_key;
      } else {
        return Status::InvalidArgument(where + ": expected 'public <key>' or 'secret <key>'");
      }
      key = line.substr(line.find_first_not_of(" \t", space));
    }
    if (!IsZ85Key(key)) {
      return Status::InvalidArgument(where + ": not a Curve key (" + std::to_string(kZ85KeyChars) +
                                     " Z85 characters); got " + std::to_string(key.size()) +
                                     " characters");
    }
    if (slot->has_value()) return Status::InvalidArgument(where + ": a second key of that kind");
    *slot = std::move(key);
  }
  return lines;
}

Result<std::string> ReadKeyFile(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::InvalidArgument("key file " + path.string() + ": " + ec.message());
  if (size > kMaxKeyFileBytes) {
    return Status::InvalidArgument("key file " + path.string() + " is " + std::to_string(size) +
                                   " bytes: not a key file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return Status::InvalidArgument("cannot read key file " + path.string());
  return text.str();
}

Status WriteExclusive(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IoError("cannot create " + path.string() + ": " + std::strerror(errno));
  // The umask must not widen nor narrow what we ask for.
  bool ok = fchmod(fd, mode) == 0;
  ok = ok && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fsync(fd) == 0 && ok;
  const int saved_errno = errno;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    std::filesystem::remove(path);
    return Status::IoError("cannot write " + path.string() + ": " + std::strerror(saved_errno));
  }
  return Status::Ok();
}

}  // namespace

Result<CurveKeypair> GenerateCurveKeypair() {
  if (!zmq_has("curve")) return Status::Unavailable("this libzmq was built without CURVE");
  std::array<char, kZ85KeyChars + 1> public_key{};
  std::array<char, kZ85KeyChars + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeypair{public_key.data(), secret_key.data()};
}

Status WriteCurveKeypair(const CurveKeypair& keypair, const std::filesystem::path& stem) {
  std::filesystem::path key_path = stem;
  key_path += ".key";
  std::filesystem::path pub_path = stem;
  pub_path += ".pub";
  const std::string header = "# asicmon CurveZMQ key, made by asicmon-keygen\n";
  if (Status s = WriteExclusive(key_path,
                                header + "public " + keypair.public_key + "\nsecret " +
                                    keypair.secret_key + "\n",
                                0600);
      !s.ok()) {
    return s;
  }
  if (Status s = WriteExclusive(pub_path, header + "public " + keypair.public_key + "\n", 0644);
      !s.ok()) {
    std::filesystem::remove(key_path);
    return s;
  }
  return Status::Ok();
}

Result<CurveKeypair> ParseCurveKeypair(const std::string& text, const std::string& origin) {
  Result<KeyLines> lines = ParseKeyLines(text, origin);
  if (!lines.ok()) return lines.status();
  if (!lines->secret_key) {
    return Status::InvalidArgument(origin + " has no 'secret' line: a keypair (.key) is needed "
                                            "here, not a public key (.pub)");
  }
  if (!lines->public_key || lines->bare_key) {
    return Status::InvalidArgument(origin + ": a keypair file holds one 'public' and one 'secret' line");
  }
  std::array<char, kZ85KeyChars + 1> derived{};
  if (zmq_curve_public(derived.data(), lines->secret_key->c_str()) != 0 ||
      *lines->public_key != derived.data()) {
    return Status::InvalidArgument(origin + ": the public key does not belong to the secret key");
  }
  return CurveKeypair{std::move(*lines->public_key), std::move(*lines->secret_key)};
}

Result<std::string> ParseCurvePublicKey(const std::string& text, const std::string& origin) {
  Result<KeyLines> lines = ParseKeyLines(text, origin);
  if (!lines.ok()) return lines.status();
  if (lines->secret_key) {
    return Status::InvalidArgument(origin + " holds a secret key: give the public key (.pub)");
  }
  if (lines->public_key.has_value() == lines->bare_key.has_value()) {
    return Status::InvalidArgument(origin + ": a public key file holds exactly one key");
  }
  return lines->public_key ? std::move(*lines->public_key) : std::move(*lines->bare_key);
}

Result<CurveKeypair> ReadCurveKeypair(const std::filesystem::path& path) {
  Result<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return text.status();
  return ParseCurveKeypair(*text, path.string());
}

Result<std::string> ReadCurvePublicKey(const std::filesystem::path& path) {
  Result<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return text.status();
  return ParseCurvePublicKey(*text, path.string());
}

Result<std::set<std::string>> ReadAuthorizedKeys(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::InvalidArgument("authorized keys directory " + dir.string() + ": " + ec.message());
  std::set<std::string> keys;
  for (const std::filesystem::directory_entry& entry : it) {
    if (entry.path().extension() != ".pub") continue;
    Result<std::string> key = ReadCurvePublicKey(entry.path());
    if (!key.ok()) return key.status();
    keys.insert(std::move(*key));
  }
  if (keys.empty()) {
    return Status::InvalidArgument("authorized keys directory " + dir.string() +
                                   " has no .pub file: no client could connect");
  }
  return keys;
}

Status LoadCurveSettings(CurveSettings& settings) {
  std::string key_path, server_path, jobs_server_path, authorized_dir;
  for (Status s : {EnvString("ASICMON_CURVE_KEY", key_path),
                   EnvString("ASICMON_CURVE_SERVER", server_path),
                   EnvString("ASICMON_CURVE_JOBS_SERVER", jobs_server_path),
                   EnvString("ASICMON_CURVE_AUTHORIZED", authorized_dir)}) {
    if (!s.ok()) return s;
  }
  if (key_path.empty() &&
      (!server_path.empty() || !jobs_server_path.empty() || !authorized_dir.empty())) {
    return Status::InvalidArgument(
        "ASICMON_CURVE_SERVER, ASICMON_CURVE_JOBS_SERVER and ASICMON_CURVE_AUTHORIZED need "
        "ASICMON_CURVE_KEY (this process's keypair)");
  }
  if (key_path.empty()) return Status::Ok();
  if (!zmq_has("curve")) return Status::InvalidArgument("this libzmq was built without CURVE");
  Result<CurveKeypair> keypair = ReadCurveKeypair(key_path);
  if (!keypair.ok()) return Status::InvalidArgument("ASICMON_CURVE_KEY: " + keypair.status().message());
  settings.keypair = std::move(*keypair);
  if (!server_path.empty()) {
    Result<std::string> server = ReadCurvePublicKey(server_path);
    if (!server.ok()) return Status::InvalidArgument("ASICMON_CURVE_SERVER: " + server.status().message());
    settings.server_key = std::move(*server);
  }
  if (!jobs_server_path.empty()) {
    Result<std::string> server = ReadCurvePublicKey(jobs_server_path);
    if (!server.ok()) {
      return Status::InvalidArgument("ASICMON_CURVE_JOBS_SERVER: " + server.status().message());
    }
    settings.jobs_server_key = std::move(*server);
  }
  if (!authorized_dir.empty()) {
    Result<std::set<std::string>> authorized = ReadAuthorizedKeys(authorized_dir);
    if (!authorized.ok()) {
      return Status::InvalidArgument("ASICMON_CURVE_AUTHORIZED: " + authorized.status().message());
    }
    settings.authorized = std::move(*authorized);
  }
  return Status::Ok();
}

ZapVerdict JudgeZapRequest(const std::vector<zmq::message_t>& request,
                           const std::set<std::string>& authorized) {
  ZapVerdict verdict;
  verdict.reply_status = "400";
  // version, request id, domain, address, routing id, mechanism, credentials...
  if (request.size() < 6 || request[0].to_string_view() != "1.0") {
    verdict.reply_status = "500";
    verdict.reason = "malformed ZAP request";
    return verdict;
  }
  if (request[5].to_string_view() != "CURVE" || request.size() != 7 || request[6].size() != 32) {
    verdict.reason = "mechanism " + SafeForLog(request[5].to_string_view(), 16) + " is not CURVE";
    return verdict;
  }
  verdict.client_key = Z85OfBinaryKey(request[6].data());
  if (authorized.count(verdict.client_key) == 0) {
    verdict.reason = "client key not authorized";
    return verdict;
  }
  verdict.allowed = true;
  verdict.reply_status = "200";
  return verdict;
}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      std::set<std::string> authorized) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);  // replies to handshakes nobody waits for any more
    socket.bind("inproc://zeromq.zap.01");
    std::unique_ptr<ZapHandler> handler(
        new ZapHandler(context.handle(), std::move(socket), std::move(authorized)));
    handler->thread_ = std::thread([h = handler.get()] { h->Serve(); });
    return handler;
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("ZAP handler: bind inproc://zeromq.zap.01: ") + e.what());
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("ZAP handler thread: ") + e.what());
  }
}

ZapHandler::ZapHandler(void* context_handle, zmq::socket_t socket,
                       std::set<std::string> authorized)
    : context_handle_(context_handle), socket_(std::move(socket)), authorized_(std::move(authorized)) {}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Serve() {
  // Signals are for the stage's main thread (its self-pipe), never this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_log;
  uint64_t unlogged = 0;
  while (!stop_) {
    std::vector<zmq::message_t> request;
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, kZapPollInterval) == 0) continue;
      if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
        continue;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      // ETERM: the context is closing under us (the owner broke the
      // REQUIRES). Either way this thread ends; with the domain enforced
      // (Open) libzmq then refuses every Curve handshake.
      if (e.num() != ETERM) spdlog::error("curve: ZAP handler stopped: {}", e.what());
      break;
    }
    const ZapVerdict verdict = JudgeZapRequest(request, authorized_);
    const std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
    const std::string status_text = verdict.allowed ? "OK" : verdict.reason;
    // user id: the client's key, so libzmq can tag its messages with it.
    const std::array<zmq::const_buffer, 6> reply = {
        zmq::str_buffer("1.0"),           zmq::buffer(request_id),
        zmq::buffer(verdict.reply_status), zmq::buffer(status_text),
        zmq::buffer(verdict.client_key),  zmq::const_buffer()};
    try {
      (void)zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      // The handshake that asked is gone; its peer is dropped either way.
    }
    if (verdict.allowed) {
      ++accepted_;
      continue;
    }
    const uint64_t rejected = ++rejected_;
    ++unlogged;
    const Clock::time_point now = Clock::now();
    if (rejected == 1 || now - last_log >= kRejectLogEvery) {
      const std::string address =
          request.size() > 3 ? SafeForLog(request[3].to_string_view(), 64) : "?";
      spdlog::warn("curve: refused a bus client from {} ({}{}); curve_rejected={} ({} since the "
                   "last report)",
                   address, verdict.reason,
                   verdict.client_key.empty() ? "" : ", key " + verdict.client_key, rejected,
                   unlogged);
      last_log = now;
      unlogged = 0;
    }
  }
  socket_.close();
}

}  // namespace asicmon::bus
