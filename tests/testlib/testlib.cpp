#include "testlib.h"

#include <cmath>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "normalise.h"

namespace asicmon::testing {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(ASICMON_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string BinPath(const std::string& name) { return std::string(ASICMON_BIN_DIR) + "/" + name; }

namespace {
size_t AppendReply(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpReply Http(const HttpCall& call) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  if (!call.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + call.token).c_str());
  }
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // tests talk to loopback, never via a proxy
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendReply);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &AppendReply);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  if (!call.source_ip.empty()) curl_easy_setopt(curl, CURLOPT_INTERFACE, call.source_ip.c_str());
  if (!call.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, call.ca_file.c_str());
  if (call.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
  }
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

HttpReply Http(const std::string& method, const std::string& url, const std::string& body,
               const std::string& token) {
  return Http(HttpCall{.method = method, .url = url, .body = body, .token = token,
                       .source_ip = {}, .ca_file = {}});
}

Subprocess::Subprocess(std::vector<std::string> argv, bool capture_stderr) {
  int out_pipe[2];
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  if (capture_stderr && pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    if (capture_stderr) dup2(err_pipe[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  out_fd_ = out_pipe[0];
  if (capture_stderr) {
    close(err_pipe[1]);
    err_fd_ = err_pipe[0];
  }
}

Subprocess::~Subprocess() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGTERM);
    if (Wait(std::chrono::milliseconds(3000)) < 0) {
      kill(pid_, SIGKILL);
      Wait(std::chrono::milliseconds(3000));
    }
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

Subprocess::ReadResult Subprocess::ReadSome(int fd, std::string& into,
                                            std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return ReadResult::kTimeout;
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return ReadResult::kEof;
  into.append(buf, static_cast<size_t>(n));
  return ReadResult::kData;
}

std::string Subprocess::ReadAllStdout(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (ReadSome(out_fd_, out_, std::max(left, std::chrono::milliseconds(1))) == ReadResult::kEof) break;
  }
  return out_;
}

bool Subprocess::WaitForStdout(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  // Search only what is new (plus a needle's length of overlap): a child
  // printing megabytes would otherwise make each wait quadratic.
  size_t from = 0;
  auto found = [&] {
    if (out_.find(needle, from) != std::string::npos) return true;
    from = out_.size() >= needle.size() ? out_.size() - needle.size() + 1 : 0;
    return false;
  };
  while (!found()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    if (ReadSome(out_fd_, out_, std::chrono::milliseconds(50)) == ReadResult::kEof) return found();
  }
  return true;
}

bool Subprocess::WaitForStderr(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (stderr_text().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

const std::string& Subprocess::stderr_text() {
  if (err_fd_ >= 0) {
    while (ReadSome(err_fd_, err_, std::chrono::milliseconds(exited_ ? 100 : 0)) == ReadResult::kData) {
    }
  }
  return err_;
}

int Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exited_) return exit_code_;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= end) return -1;
    // Keep draining stdout so a chatty child never blocks on a full pipe.
    ReadSome(out_fd_, out_, std::chrono::milliseconds(10));
  }
}

void Subprocess::Signal(int sig) {
  if (!exited_ && pid_ > 0) kill(pid_, sig);
}

std::vector<nlohmann::json> ReadActionLog(const std::string& path) {
  std::vector<nlohmann::json> actions;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json action = nlohmann::json::parse(line, nullptr, false);
    if (action.is_object()) actions.push_back(std::move(action));
  }
  return actions;
}

FakeFarm StartFakeFarm(std::vector<std::string> args, std::vector<std::string> prefix) {
  FakeFarm farm;
  args.insert(args.begin(), BinPath("asicmon-fakefarm"));
  args.insert(args.begin(), prefix.begin(), prefix.end());
  args.push_back("--manifest");
  args.push_back("-");
  farm.process = std::make_unique<Subprocess>(args);
  EXPECT_TRUE(farm.process->WaitForStdout("READY", std::chrono::seconds(30)))
      << "fakefarm never became ready";
  std::istringstream lines(farm.process->stdout_text());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.rfind("READY", 0) == 0) continue;
    nlohmann::json m = nlohmann::json::parse(line);
    farm.miners[m["ip"].get<std::string>()] = m;
  }
  return farm;
}

std::string RunKeygen(const std::string& dir, const std::string& name) {
  Subprocess keygen({BinPath("asicmon-keygen"), "--dir", dir, name}, /*capture_stderr=*/true);
  std::string out = keygen.ReadAllStdout(std::chrono::seconds(10));
  const int code = keygen.Wait(std::chrono::seconds(5));
  EXPECT_EQ(code, 0) << keygen.stderr_text();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return code == 0 ? out : std::string();
}

uint16_t FreeTcpPort(const std::string& ip) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) close(fd);
  EXPECT_TRUE(ok) << "no free port on " << ip;
  return ok ? ntohs(addr.sin_port) : 0;
}

int ConnectTcp(const std::string& ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

std::map<std::string, std::string> StatsFields(Subprocess& process) {
  const std::string& err = process.stderr_text();
  const size_t at = err.rfind(" stats ");
  if (at == std::string::npos) return {};
  std::istringstream fields(err.substr(at, err.find('\n', at) - at));
  std::map<std::string, std::string> stats;
  for (std::string field; fields >> field;) {
    const size_t eq = field.find('=');
    if (eq != std::string::npos) stats[field.substr(0, eq)] = field.substr(eq + 1);
  }
  return stats;
}

uint64_t StatValue(Subprocess& process, const std::string& key) {
  std::map<std::string, std::string> stats = StatsFields(process);
  return stats.count(key) ? std::stoull(stats[key]) : 0;
}

zmq::socket_t IngestPusher(zmq::context_t& context, const std::string& endpoint) {
  zmq::socket_t socket(context, zmq::socket_type::push);
  socket.set(zmq::sockopt::sndhwm, 100000);
  socket.set(zmq::sockopt::sndtimeo, 10000);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  return socket;
}

bool WaitForStat(Subprocess& process, const std::string& key, uint64_t at_least,
                 std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (StatValue(process, key) < at_least) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

int64_t ProcStatusKib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return 0;
}

bool WaitForListen(const std::string& ip, uint16_t port, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  while (std::chrono::steady_clock::now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Result<nlohmann::json> ParseMinerJson(std::string_view raw, RepairStats* stats) {
  Result<std::string> text = RepairMinerJson(raw, stats);
  if (!text.ok()) return text.status();
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::ParseError("not valid JSON after repair");
  return doc;
}

nlohmann::json Fixture(const std::string& name) {
  Result<nlohmann::json> doc = ParseMinerJson(ReadFixture(name));
  EXPECT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
  return doc.ok() ? std::move(*doc) : nlohmann::json();
}

nlohmann::json Multi(const std::vector<std::pair<std::string, std::string>>& parts) {
  nlohmann::json reply = nlohmann::json::object();
  for (const auto& [command, file] : parts) {
    reply[command] = nlohmann::json::array({Fixture(file)});
  }
  reply["id"] = 1;
  return reply;
}

::testing::AssertionResult Near(const std::optional<double>& actual, double expected) {
  if (!actual) return ::testing::AssertionFailure() << "not reported, expected " << expected;
  if (std::fabs(*actual - expected) <= std::fabs(expected) * 1e-6) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << *actual << " != " << expected;
}

std::vector<int32_t> BoardIndices(const Record& r) {
  std::vector<int32_t> out;
  for (const BoardStats& b : r.boards) out.push_back(b.index);
  return out;
}

Record NormaliseJson(const nlohmann::json& reply) {
  Record record;
  NormaliseRawReply(reply.dump(), record);
  return record;
}

nlohmann::json ControlEvent(const std::string& action, const std::string& ip, double ts,
                            const std::string& result) {
  return {{"producer_id", "control-test-1"},
          {"ts", ts},
          {"kind", "control"},
          {"action", action},
          {"ip", ip},
          {"worker", "farm.w1"},
          {"actor", "token:ops"},
          {"detail", ""},
          {"http_status", 200},
          {"result", result},
          {"seq", 1}};
}

std::string ToMsgpack(const nlohmann::json& j) {
  const std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace asicmon::testing
