// Curve key files (hostile input), the ZAP allow-list, and Curve sockets
// made by bus::Bind/Connect in one process: an authorized client delivers,
// an unknown key and a plain client do not. Loopback range: 127.42.1.0/24.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/bus_security.h"
#include "testlib.h"

namespace asicmon::bus {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLoopback = "127.42.1.1";

std::string KeypairText(const CurveKeypair& k) {
  return "public " + k.public_key + "\nsecret " + k.secret_key + "\n";
}

CurveKeypair NewKeypair() {
  Result<CurveKeypair> k = GenerateCurveKeypair();
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return *k;
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("bus_security_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (const char* v : {"ASICMON_CURVE_KEY", "ASICMON_CURVE_SERVER", "ASICMON_CURVE_JOBS_SERVER",
                          "ASICMON_CURVE_AUTHORIZED"}) {
      unsetenv(v);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, WrittenPairReadsBackWithASecretOnlyTheOwnerMayRead) {
  const CurveKeypair k = NewKeypair();
  ASSERT_OK(WriteCurveKeypair(k, dir_ / "host1"));
  struct stat key_stat {};
  ASSERT_EQ(stat((dir_ / "host1.key").c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);

  Result<CurveKeypair> read = ReadCurveKeypair(dir_ / "host1.key");
  ASSERT_OK(read);
  EXPECT_EQ(read->public_key, k.public_key);
  EXPECT_EQ(read->secret_key, k.secret_key);
  Result<std::string> pub = ReadCurvePublicKey(dir_ / "host1.pub");
  ASSERT_OK(pub);
  EXPECT_EQ(*pub, k.public_key);
  std::ifstream pub_file(dir_ / "host1.pub");
  std::stringstream pub_text;
  pub_text << pub_file.rdbuf();
  EXPECT_EQ(pub_text.str().find(k.secret_key), std::string::npos);

  // An existing key is never overwritten.
  Status again = WriteCurveKeypair(NewKeypair(), dir_ / "host1");
  EXPECT_EQ(again.code(), Status::Code::kIoError) << again.ToString();
  EXPECT_EQ(ReadCurveKeypair(dir_ / "host1.key")->secret_key, k.secret_key);
}

TEST_F(KeyFileTest, BadKeyTextIsRefusedWithoutEchoingIt) {
  const CurveKeypair k = NewKeypair();
  const std::string not_z85 = k.secret_key.substr(0, 39) + "~";  // '~' is outside Z85
  struct Case {
    const char* what;
    std::string text;
    const char* expect;  // in the message
  };
  const Case cases[] = {
      {"short key", "public " + k.public_key + "\nsecret " + k.secret_key.substr(0, 39) + "\n",
       "got 39 characters"},
      {"long key", "public " + k.public_key + "\nsecret " + k.secret_key + "A\n",
       "got 41 characters"},
      {"not Z85", "public " + k.public_key + "\nsecret " + not_z85 + "\n", "not a Curve key"},
      {"public only", "public " + k.public_key + "\n", "no 'secret' line"},
      {"unknown label", "private " + k.secret_key + "\n", "expected 'public <key>'"},
      {"foreign public", "public " + NewKeypair().public_key + "\nsecret " + k.secret_key + "\n",
       "does not belong"},
      {"two secrets", KeypairText(k) + "secret " + k.secret_key + "\n", "a second key"},
      {"empty", "", "no 'secret' line"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Result<CurveKeypair> parsed = ParseCurveKeypair(c.text, "test.key");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.expect), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("test.key"), std::string::npos);
    EXPECT_EQ(parsed.status().message().find(k.secret_key.substr(0, 20)), std::string::npos)
        << "the secret leaked into: " << parsed.status().message();
  }
  // Comments, blank lines and CRLF are fine.
  EXPECT_OK(ParseCurveKeypair("# mine\r\n\r\n" + KeypairText(k), "test.key"));
}

TEST_F(KeyFileTest, PublicKeyFiles) {
  const CurveKeypair k = NewKeypair();
  EXPECT_EQ(*ParseCurvePublicKey(k.public_key + "\n", "a.pub"), k.public_key);
  EXPECT_EQ(*ParseCurvePublicKey("# c\npublic " + k.public_key, "a.pub"), k.public_key);
  Result<std::string> secret = ParseCurvePublicKey(KeypairText(k), "a.pub");
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.status().message().find("holds a secret key"), std::string::npos);
  EXPECT_FALSE(ParseCurvePublicKey("", "a.pub").ok());
  EXPECT_FALSE(ParseCurvePublicKey(k.public_key + "\n" + k.public_key, "a.pub").ok());
}

TEST_F(KeyFileTest, MissingAndOversizedFiles) {
  Result<CurveKeypair> missing = ReadCurveKeypair(dir_ / "nope.key");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("nope.key"), std::string::npos);

  const auto big = Write("big.pub", std::string(100000, 'a'));
  Result<std::string> oversized = ReadCurvePublicKey(big);
  ASSERT_FALSE(oversized.ok());
  EXPECT_NE(oversized.status().message().find("not a key file"), std::string::npos);
}

TEST_F(KeyFileTest, AuthorizedDirectoryTakesEveryPubFileAndNothingElse) {
  std::filesystem::create_directories(dir_ / "auth");
  const CurveKeypair a = NewKeypair();
  const CurveKeypair b = NewKeypair();
  ASSERT_OK(WriteCurveKeypair(a, dir_ / "auth" / "a"));  // a.key lies there too: not a .pub, skipped
  std::ofstream(dir_ / "auth" / "b.pub") << b.public_key << "\n";
  std::ofstream(dir_ / "auth" / "README") << "not a key\n";
  Result<std::set<std::string>> keys = ReadAuthorizedKeys(dir_ / "auth");
  ASSERT_OK(keys);
  EXPECT_EQ(*keys, (std::set<std::string>{a.public_key, b.public_key}));

  std::ofstream(dir_ / "auth" / "c.pub") << "garbage\n";
  EXPECT_FALSE(ReadAuthorizedKeys(dir_ / "auth").ok());
  std::filesystem::create_directories(dir_ / "empty");
  Result<std::set<std::string>> empty = ReadAuthorizedKeys(dir_ / "empty");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no .pub file"), std::string::npos);
  EXPECT_FALSE(ReadAuthorizedKeys(dir_ / "nowhere").ok());
}

TEST_F(KeyFileTest, SettingsFromTheEnvironment) {
  CurveSettings none;
  ASSERT_OK(LoadCurveSettings(none));
  EXPECT_FALSE(none.keypair.has_value());

  const CurveKeypair own = NewKeypair();
  const CurveKeypair server = NewKeypair();
  ASSERT_OK(WriteCurveKeypair(own, dir_ / "own"));
  ASSERT_OK(WriteCurveKeypair(server, dir_ / "server"));
  setenv("ASICMON_CURVE_SERVER", (dir_ / "server.pub").c_str(), 1);
  CurveSettings without_key;
  Status s = LoadCurveSettings(without_key);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("need ASICMON_CURVE_KEY"), std::string::npos) << s.message();

  setenv("ASICMON_CURVE_KEY", (dir_ / "own.key").c_str(), 1);
  CurveSettings client;
  ASSERT_OK(LoadCurveSettings(client));
  ASSERT_TRUE(client.keypair && client.server_key);
  EXPECT_EQ(client.keypair->secret_key, own.secret_key);
  EXPECT_EQ(*client.server_key, server.public_key);
  EXPECT_EQ(*client.ForJobs().server_key, server.public_key);  // jobs from the central discover

  // A site's own discover binds jobs: collectors there take its key for jobs only.
  const CurveKeypair site = NewKeypair();
  ASSERT_OK(WriteCurveKeypair(site, dir_ / "site"));
  setenv("ASICMON_CURVE_JOBS_SERVER", (dir_ / "site.pub").c_str(), 1);
  CurveSettings site_collector;
  ASSERT_OK(LoadCurveSettings(site_collector));
  EXPECT_EQ(*site_collector.server_key, server.public_key);
  EXPECT_EQ(*site_collector.ForJobs().server_key, site.public_key);
  unsetenv("ASICMON_CURVE_JOBS_SERVER");

  // The public file where the keypair belongs: refused, naming the variable.
  setenv("ASICMON_CURVE_KEY", (dir_ / "own.pub").c_str(), 1);
  CurveSettings wrong_file;
  s = LoadCurveSettings(wrong_file);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("ASICMON_CURVE_KEY:"), std::string::npos) << s.message();
  for (const char* v : {"ASICMON_CURVE_KEY", "ASICMON_CURVE_SERVER"}) unsetenv(v);
}

// A ZAP request as libzmq sends it for a CURVE client.
std::vector<zmq::message_t> CurveRequest(const std::string& z85_key) {
  std::vector<zmq::message_t> frames;
  for (const char* f : {"1.0", "7", "asicmon", "127.42.1.9", ""}) frames.emplace_back(std::string(f));
  frames.emplace_back(std::string("CURVE"));
  uint8_t key[32];
  EXPECT_NE(zmq_z85_decode(key, z85_key.c_str()), nullptr);
  frames.emplace_back(key, sizeof key);
  return frames;
}

TEST(ZapVerdictTest, OnlyAuthorizedCurveKeysPass) {
  const CurveKeypair allowed = NewKeypair();
  const CurveKeypair stranger = NewKeypair();
  const std::set<std::string> authorized = {allowed.public_key};

  ZapVerdict ok = JudgeZapRequest(CurveRequest(allowed.public_key), authorized);
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.reply_status, "200");
  EXPECT_EQ(ok.client_key, allowed.public_key);

  ZapVerdict refused = JudgeZapRequest(CurveRequest(stranger.public_key), authorized);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.reply_status, "400");
  EXPECT_EQ(refused.client_key, stranger.public_key);

  std::vector<zmq::message_t> plain = CurveRequest(allowed.public_key);
  plain[5] = zmq::message_t(std::string("PLAIN"));
  EXPECT_FALSE(JudgeZapRequest(plain, authorized).allowed);

  std::vector<zmq::message_t> old_version = CurveRequest(allowed.public_key);
  old_version[0] = zmq::message_t(std::string("0.9"));
  EXPECT_EQ(JudgeZapRequest(old_version, authorized).reply_status, "500");
  std::vector<zmq::message_t> short_key = CurveRequest(allowed.public_key);
  short_key[6] = zmq::message_t(std::string("short"));
  EXPECT_FALSE(JudgeZapRequest(short_key, authorized).allowed);
  EXPECT_FALSE(JudgeZapRequest({}, authorized).allowed);
}

// One process, one context per side, as on two hosts.
class CurveSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = NewKeypair();
    client_keys_ = NewKeypair();
    server_.keypair = server_keys_;
    server_.authorized = std::set<std::string>{client_keys_.public_key};
    client_.keypair = client_keys_;
    client_.server_key = server_keys_.public_key;
    Result<std::unique_ptr<ZapHandler>> zap = StartZapHandler(server_context_, server_);
    ASSERT_OK(zap);
    zap_ = std::move(*zap);
    SocketOptions options;
    options.curve = &server_;
    options.zap = zap_.get();
    options.linger_ms = 0;
    Result<zmq::socket_t> pull =
        Bind(server_context_, zmq::socket_type::pull, std::string("tcp://") + kLoopback + ":*", options);
    ASSERT_OK(pull);
    pull_ = std::move(*pull);
    endpoint_ = pull_.get(zmq::sockopt::last_endpoint);
  }

  zmq::socket_t Pusher(const CurveSettings* curve) {
    SocketOptions options;
    options.curve = curve;
    options.linger_ms = 0;
    Result<zmq::socket_t> push = Connect(client_context_, zmq::socket_type::push, endpoint_, options);
    EXPECT_OK(push);
    return std::move(*push);
  }

  // The bodies that reach the server within `wait`.
  std::vector<std::string> Received(std::chrono::milliseconds wait) {
    std::vector<std::string> bodies;
    const auto end = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < end) {
      Result<std::optional<Message>> m = TryReceive(pull_);
      if (m.ok() && m->has_value()) {
        bodies.push_back((*m)->body);
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    return bodies;
  }

  CurveKeypair server_keys_, client_keys_;
  CurveSettings server_, client_;
  zmq::context_t server_context_{1};
  std::unique_ptr<ZapHandler> zap_;
  zmq::socket_t pull_;
  std::string endpoint_;
  zmq::context_t client_context_{1};
};

TEST_F(CurveSocketTest, AuthorizedClientDelivers) {
  zmq::socket_t push = Pusher(&client_);
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!TrySend(push, kTopicRecord, "from-authorized") && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(Received(500ms), std::vector<std::string>{"from-authorized"});
  EXPECT_EQ(zap_->accepted(), 1u);
  EXPECT_EQ(zap_->rejected(), 0u);
}

TEST_F(CurveSocketTest, UnknownKeyAndPlainClientDeliverNothing) {
  CurveSettings stranger;
  stranger.keypair = NewKeypair();
  stranger.server_key = server_keys_.public_key;
  zmq::socket_t wrong_key = Pusher(&stranger);
  zmq::socket_t plain = Pusher(nullptr);
  for (int i = 0; i < 20; ++i) {
    (void)TrySend(wrong_key, kTopicRecord, "from-stranger");
    (void)TrySend(plain, kTopicRecord, "from-plain");
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(Received(500ms).empty());
  EXPECT_GE(zap_->rejected(), 1u);
  EXPECT_EQ(zap_->accepted(), 0u);
}

TEST_F(CurveSocketTest, MissingKeysAreRefusedBeforeAnySocketExists) {
  CurveSettings no_server = client_;
  no_server.server_key.reset();
  SocketOptions options;
  options.curve = &no_server;
  Result<zmq::socket_t> push = Connect(client_context_, zmq::socket_type::push, endpoint_, options);
  ASSERT_FALSE(push.ok());
  EXPECT_EQ(push.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(push.status().message().find("ASICMON_CURVE_SERVER"), std::string::npos);

  // Binding with a key but without the context's ZAP handler would let anyone in.
  SocketOptions no_zap;
  no_zap.curve = &server_;
  Result<zmq::socket_t> pull = Bind(client_context_, zmq::socket_type::pull,
                                    std::string("tcp://") + kLoopback + ":*", no_zap);
  ASSERT_FALSE(pull.ok());
  EXPECT_EQ(pull.status().code(), Status::Code::kInternal);

  CurveSettings no_authorized = server_;
  no_authorized.authorized.reset();
  Result<std::unique_ptr<ZapHandler>> zap = StartZapHandler(client_context_, no_authorized);
  ASSERT_FALSE(zap.ok());
  EXPECT_NE(zap.status().message().find("ASICMON_CURVE_AUTHORIZED"), std::string::npos);
}

TEST(InsecureWarningTest, PlainTcpIsAnnouncedAndIpcIsNot) {
  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  zmq::context_t context(1);
  SocketOptions options;
  options.linger_ms = 0;
  const std::string ipc =
      "ipc://" + (std::filesystem::path(::testing::TempDir()) /
                  ("bus_security_" + std::to_string(getpid()) + ".sock"))
                     .string();
  ASSERT_OK(Connect(context, zmq::socket_type::push, ipc, options));
  EXPECT_EQ(log.str().find("insecure"), std::string::npos) << log.str();
  ASSERT_OK(Connect(context, zmq::socket_type::push, std::string("tcp://") + kLoopback + ":9", options));
  spdlog::set_default_logger(previous);
  EXPECT_NE(log.str().find("insecure"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("tcp://127.42.1.1:9"), std::string::npos) << log.str();
}

}  // namespace
}  // namespace asicmon::bus
