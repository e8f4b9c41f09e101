// CurveZMQ on the bus: key files, the settings a process reads from its
// environment, and the ZAP handler (RFC 27) that lets only authorized
// clients through a socket bound with a server key.
//
// Keys are Z85 text (40 characters for 32 bytes). A keypair file "<name>.key"
// holds two lines, "public <z85>" and "secret <z85>", mode 0600; a public
// key file "<name>.pub" holds "public <z85>" (a bare Z85 line is read too).
// Lines starting with '#' and blank lines are ignored. Files are hostile
// input: anything else is an InvalidArgument naming the file, never its
// secret.
//
// A process applies its keys to every bus socket, ipc:// included: it binds
// as a Curve server with its own keypair (clients checked against the
// authorized keys by the ZapHandler) and connects as a Curve client with
// its own keypair and the server's public key.
//
// Thread-safety: the functions are plain; a ZapHandler runs its own thread
// and its counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "asicmon/status.h"

namespace asicmon::bus {

inline constexpr size_t kZ85KeyChars = 40;
// The ZAP domain our Curve servers announce.
inline constexpr const char* kZapDomain = "asicmon";

struct CurveKeypair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85; never logged
};

// A fresh keypair (zmq_curve_keypair). Unavailable when libzmq lacks CURVE.
Result<CurveKeypair> GenerateCurveKeypair();

// Writes "<stem>.key" (keypair, mode 0600, created exclusively: an existing
// key is never overwritten) and "<stem>.pub". IoError naming the file on
// failure; a half-written pair is removed.
Status WriteCurveKeypair(const CurveKeypair& keypair, const std::filesystem::path& stem);

// Parses key file text; `origin` names the file in errors.
Result<CurveKeypair> ParseCurveKeypair(const std::string& text, const std::string& origin);
Result<std::string> ParseCurvePublicKey(const std::string& text, const std::string& origin);

// Reads and parses a "<name>.key" / "<name>.pub" file.
Result<CurveKeypair> ReadCurveKeypair(const std::filesystem::path& path);
Result<std::string> ReadCurvePublicKey(const std::filesystem::path& path);
// Every "*.pub" file of `dir`; InvalidArgument when one is bad or there is none.
Result<std::set<std::string>> ReadAuthorizedKeys(const std::filesystem::path& dir);

// A process's Curve settings. No keypair: plain ZMTP (Open warns about it on tcp://).
struct CurveSettings {
  std::optional<CurveKeypair> keypair;       // ASICMON_CURVE_KEY: this process's .key file
  std::optional<std::string> server_key;     // ASICMON_CURVE_SERVER: the server's .pub file
  std::optional<std::set<std::string>> authorized;  // ASICMON_CURVE_AUTHORIZED: dir of client .pub files
  // ASICMON_CURVE_JOBS_SERVER: the .pub of the discover that binds jobs, for
  // collectors at a site whose discover is not the central host (which the
  // other sockets connect to). Default: server_key.
  std::optional<std::string> jobs_server_key;

  // These settings for connecting to the jobs endpoint.
  CurveSettings ForJobs() const {
    CurveSettings jobs = *this;
    if (jobs_server_key) jobs.server_key = jobs_server_key;
    return jobs;
  }
};

// Fills `settings` from ASICMON_CURVE_KEY, ASICMON_CURVE_SERVER,
// ASICMON_CURVE_JOBS_SERVER and ASICMON_CURVE_AUTHORIZED, reading the files. InvalidArgument for a bad or
// missing file, and for a server key or authorized keys without a keypair
// of our own (nothing to use them with).
Status LoadCurveSettings(CurveSettings& settings);

// One ZAP request's verdict.
struct ZapVerdict {
  bool allowed = false;
  std::string reply_status;  // "200", "400" or "500"
  std::string client_key;    // Z85 of the client's public key, when the request had one
  std::string reason;        // for the log when refused
};

// Judges a ZAP request (its frames, RFC 27): only a CURVE client whose
// public key is in `authorized` is allowed; anything else, malformed
// requests included, is refused.
ZapVerdict JudgeZapRequest(const std::vector<zmq::message_t>& request,
                           const std::set<std::string>& authorized);

// The ZAP handler of one zmq context: a thread serving
// inproc://zeromq.zap.01 that allows the authorized client keys and refuses
// every other handshake (counted, logged at most every 10 s). libzmq lets a
// Curve handshake through unchecked when no handler is bound, so Start it
// before binding any socket with a server key, and destroy it before the
// context (declare it after the context).
class ZapHandler {
 public:
  // REQUIRES: `context` outlives the handler.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   std::set<std::string> authorized);
  // Stops the thread (within ~50 ms) and closes its socket.
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // True when this handler serves `context`'s handshakes.
  bool Serves(zmq::context_t& context) const { return context.handle() == context_handle_; }
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t rejected() const { return rejected_.load(); }

 private:
  ZapHandler(void* context_handle, zmq::socket_t socket, std::set<std::string> authorized);
  void Serve();

  void* const context_handle_;
  zmq::socket_t socket_;  // used by the thread only, once started
  const std::set<std::string> authorized_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> rejected_{0};
  std::thread thread_;
};

}  // namespace asicmon::bus
