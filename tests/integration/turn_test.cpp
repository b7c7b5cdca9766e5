// TURN for the stage: `serve --turn` starts coturn with a shared secret, stage
// credentials carry iceServers with a time-limited credential whose HMAC verifies, and
// coturn grants an allocation for it (turnutils_uclient from the coturn package) over
// TCP and UDP, and refuses a forged one. Janus is given the same server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"

namespace amphi::testing {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The first capture of pattern in text, or "".
std::string capture(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : std::string();
}

std::string hmacSha1Base64(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  out.resize(static_cast<size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(len))));
  return out;
}

// Runs turnutils_uclient (one allocation, one message) against 127.0.0.1:port and returns
// its output. With tcp, the client talks TURN over TCP (over TLS with tls). The peer is
// loopback, which coturn
// refuses to relay to: the allocation succeeds ("Received relay addr"), the channel bind
// to the peer gets "403 (Forbidden IP)".
std::string allocate(uint16_t port, const std::string& user, const std::string& password, bool tcp,
                     const std::string& dir, bool tls = false) {
  const std::string log = dir + "/uclient-" + std::to_string(std::rand()) + ".log";
  std::vector<std::string> argv = {
      "turnutils_uclient",  "-v", "-u",        user, "-w", password, "-p",
      std::to_string(port), "-e", "127.0.0.1", "-n", "1",  "-m",     "1"};
  if (tcp) argv.push_back("-t");
  if (tls) argv.push_back("-S");
  argv.push_back("127.0.0.1");
  app::SpawnOptions o;
  o.logFile = log;
  auto child = app::ChildProcess::spawn(argv, o);
  if (!child.waitFor(20s)) child.terminate();
  return readFile(log);
}

class Turn : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_ = std::make_unique<NatsFixture>();
    serve_ = std::make_unique<ServeProcess>(
        nats_->url(),
        std::vector<std::string>{"--turn", "--turn-port", "0", "--turn-host", "127.0.0.1",
                                 "--turn-relay-min", "41000", "--turn-relay-max", "41999"});
    ASSERT_TRUE(serve_->waitReady(30s)) << serve_->logTail();
  }
  std::string turnConf() const { return readFile(serve_->dataDir() + "/turn/turnserver.conf"); }
  uint16_t turnPort() const {
    return static_cast<uint16_t>(std::stoi(capture(turnConf(), R"(\nlistening-port=(\d+)\n)")));
  }

  std::unique_ptr<NatsFixture> nats_;
  std::unique_ptr<ServeProcess> serve_;
};

TEST_F(Turn, CredentialsCarryAVerifiableTurnServerThatCoturnAccepts) {
  const auto base = serve_->baseUrl();
  auto room = createRoom(base, "turnroom", 2);
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  const auto before = std::chrono::system_clock::now();
  auto creds = post(base, "/api/rooms/turnroom/stage/credentials", mod);
  ASSERT_EQ(creds.status, 200) << creds.body;
  const auto ice = creds.json()["iceServers"];
  ASSERT_EQ(ice.size(), 1u) << ice.dump();
  EXPECT_EQ(httpRequest(base, "GET", "/readyz").json()["turn"], true);
  const uint16_t port = turnPort();
  const std::string where = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(ice[0]["urls"], nlohmann::json::array({"turn:" + where + "?transport=udp",
                                                   "turn:" + where + "?transport=tcp"}));

  // REST-API style: "<expiry>:<userId>", password = base64(HMAC-SHA1(secret, username)).
  const std::string username = ice[0]["username"], credential = ice[0]["credential"];
  const auto colon = username.find(':');
  ASSERT_NE(colon, std::string::npos) << username;
  EXPECT_EQ(username.substr(colon + 1), mod.userId);
  const auto expiry = std::chrono::system_clock::time_point(
      std::chrono::seconds(std::stoll(username.substr(0, colon))));
  EXPECT_GT(expiry, before + std::chrono::hours(1));
  EXPECT_LE(expiry, before + std::chrono::hours(13));
  const std::string secret = capture(turnConf(), R"(\nstatic-auth-secret=(\S+)\n)");
  ASSERT_GE(secret.size(), 16u) << "a generated secret in turnserver.conf";
  EXPECT_EQ(credential, hmacSha1Base64(secret, username));

  // coturn itself accepts the credential, over TCP and UDP, and refuses a forged one.
  const auto tcp = allocate(port, username, credential, true, serve_->dataDir());
  EXPECT_NE(tcp.find("Received relay addr"), std::string::npos) << tcp;
  EXPECT_NE(tcp.find("Forbidden IP"), std::string::npos) << "loopback peers are refused\n" << tcp;
  const auto udp = allocate(port, username, credential, false, serve_->dataDir());
  EXPECT_NE(udp.find("Received relay addr"), std::string::npos) << udp;
  const auto forged =
      allocate(port, username, hmacSha1Base64("not-the-secret", username), true, serve_->dataDir());
  EXPECT_EQ(forged.find("Received relay addr"), std::string::npos) << forged;

  // Janus uses the same server with a long-lived credential from the same secret.
  const auto jcfg = readFile(serve_->dataDir() + "/janus/janus.jcfg");
  EXPECT_EQ(capture(jcfg, R"(turn_port = (\d+))"), std::to_string(port));
  EXPECT_EQ(capture(jcfg, R"(turn_type = "(\w+)\")"), "udp");
  const std::string janusUser = capture(jcfg, R"(turn_user = "([^"]+)\")");
  EXPECT_NE(janusUser.find(":janus"), std::string::npos) << janusUser;
  EXPECT_EQ(capture(jcfg, R"(turn_pwd = "([^"]+)\")"), hmacSha1Base64(secret, janusUser));
  EXPECT_EQ(readFile(serve_->dataDir() + "/turn/turnserver.log").find("Bad configuration"),
            std::string::npos);
}

TEST_F(Turn, AKilledCoturnIsRestartedOnTheSamePort) {
  const uint16_t port = turnPort();
  const std::string pidFile = serve_->dataDir() + "/turn/turnserver.pid";
  const pid_t first = static_cast<pid_t>(std::atoi(readFile(pidFile).c_str()));
  ASSERT_GT(first, 0);
  ::kill(first, SIGKILL);
  pid_t second = first;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && (second == first || second <= 0)) {
    std::this_thread::sleep_for(100ms);
    second = static_cast<pid_t>(std::atoi(readFile(pidFile).c_str()));
  }
  ASSERT_NE(second, first) << serve_->logTail();
  EXPECT_EQ(turnPort(), port);
  bool reported = false;  // /readyz says so once the watcher has seen the new coturn
  for (int i = 0; i < 100 && !reported; ++i) {
    if (i) std::this_thread::sleep_for(100ms);
    reported = httpRequest(serve_->baseUrl(), "GET", "/readyz").json().value("turn", false);
  }
  EXPECT_TRUE(reported);
  auto room = createRoom(serve_->baseUrl(), "turnagain", 2);
  auto mod = join(serve_->baseUrl(), room.id, room.moderatorInvite, "Teacher");
  auto creds = post(serve_->baseUrl(), "/api/rooms/turnagain/stage/credentials", mod);
  ASSERT_EQ(creds.status, 200) << creds.body;
  const auto ice = creds.json()["iceServers"][0];
  std::string out;
  for (int i = 0; i < 50 && out.find("Received relay addr") == std::string::npos; ++i) {
    if (i) std::this_thread::sleep_for(200ms);  // until the new coturn is up
    out = allocate(port, ice["username"], ice["credential"], true, serve_->dataDir());
  }
  EXPECT_NE(out.find("Received relay addr"), std::string::npos) << out;
}

// A TLS handshake with 127.0.0.1:port, trusting only caFile, with at most maxVersion:
// true when it completes and the certificate verifies.
bool tlsHandshake(uint16_t port, const std::string& caFile, int maxVersion = 0) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), caFile.c_str(), nullptr) != 1) return false;
  if (maxVersion && SSL_CTX_set_max_proto_version(ctx.get(), maxVersion) != 1) return false;
  SSL_CTX_set_security_level(ctx.get(), 0);  // let an old-version handshake be attempted
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const timeval fiveSeconds{5, 0};  // no hang if the server never answers
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &fiveSeconds, sizeof fiveSeconds);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (ok) {
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    SSL_set_fd(ssl.get(), fd);
    ok = SSL_connect(ssl.get()) == 1 && SSL_get_verify_result(ssl.get()) == X509_V_OK;
  }
  ::close(fd);
  return ok;
}

// A self-signed certificate for 127.0.0.1 from the openssl command line tool.
void makeCertificate(const std::string& cert, const std::string& key) {
  auto child = app::ChildProcess::spawn(
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
       "-days", "1", "-subj", "/CN=127.0.0.1"},
      {.logFile = cert + ".log"});
  ASSERT_EQ(child.waitFor(30s), 0) << readFile(cert + ".log");
}

TEST(TurnTls, CoturnAlsoListensOnTlsWithTheGivenCertificate) {
  const std::string dir = uniqueTempDir("amphi-turn-tls");
  makeCertificate(dir + "/turn.crt", dir + "/turn.key");
  NatsFixture nats;
  ServeProcess serve(
      nats.url(), {"--turn", "--turn-port", "0", "--turn-host", "127.0.0.1", "--turn-tls-cert",
                   dir + "/turn.crt", "--turn-tls-key", dir + "/turn.key", "--turn-tls-port", "0"});
  ASSERT_TRUE(serve.waitReady(30s)) << serve.logTail();
  auto room = createRoom(serve.baseUrl(), "tlsroom", 2);
  auto mod = join(serve.baseUrl(), room.id, room.moderatorInvite, "Teacher");
  auto creds = post(serve.baseUrl(), "/api/rooms/tlsroom/stage/credentials", mod);
  ASSERT_EQ(creds.status, 200) << creds.body;
  const auto ice = creds.json()["iceServers"][0];
  const auto conf = readFile(serve.dataDir() + "/turn/turnserver.conf");
  const std::string tlsPort = capture(conf, R"(\ntls-listening-port=(\d+)\n)");
  ASSERT_FALSE(tlsPort.empty()) << conf;
  EXPECT_EQ(ice["urls"].back(), "turns:127.0.0.1:" + tlsPort + "?transport=tcp") << ice.dump();
  EXPECT_EQ(ice["urls"].size(), 3u) << "udp, tcp and tls";
  // The TLS port serves our certificate, TLS 1.2 or later only. (turnutils_uclient -S is
  // not used: its second TLS connection often never gets a ServerHello from coturn 4.6.1.)
  const auto port = static_cast<uint16_t>(std::stoi(tlsPort));
  EXPECT_TRUE(tlsHandshake(port, dir + "/turn.crt"));
  // TLS 1.1 is refused (no-tlsv1_1; OpenSSL 3 on Debian 12 refuses it anyway).
  EXPECT_FALSE(tlsHandshake(port, dir + "/turn.crt", TLS1_1_VERSION));
  std::filesystem::remove_all(dir);
}

TEST(TurnExternal, TurnUrlAndSecretAreHandedOutAndGivenToJanus) {
  // An address nobody answers at (TEST-NET-1): only what serve hands out is checked.
  const std::string secret = "an-existing-servers-secret";
  NatsFixture nats;
  ServeProcess serve(nats.url(), {"--turn-url", "turn:192.0.2.77:3479", "--turn-secret", secret});
  ASSERT_TRUE(serve.waitReady(30s)) << serve.logTail();
  auto room = createRoom(serve.baseUrl(), "extroom", 2);
  auto mod = join(serve.baseUrl(), room.id, room.moderatorInvite, "Teacher");
  auto creds = post(serve.baseUrl(), "/api/rooms/extroom/stage/credentials", mod);
  ASSERT_EQ(creds.status, 200) << creds.body;
  const auto ice = creds.json()["iceServers"][0];
  EXPECT_EQ(ice["urls"], nlohmann::json::array({"turn:192.0.2.77:3479?transport=udp",
                                                "turn:192.0.2.77:3479?transport=tcp"}));
  EXPECT_EQ(ice["credential"], hmacSha1Base64(secret, ice["username"]));
  const auto jcfg = readFile(serve.dataDir() + "/janus/janus.jcfg");
  EXPECT_EQ(capture(jcfg, R"(turn_server = "([^"]+)\")"), "192.0.2.77");
  EXPECT_EQ(capture(jcfg, R"(turn_port = (\d+))"), "3479");
  EXPECT_EQ(capture(jcfg, R"(turn_pwd = "([^"]+)\")"),
            hmacSha1Base64(secret, capture(jcfg, R"(turn_user = "([^"]+)\")")));
  EXPECT_FALSE(std::filesystem::exists(serve.dataDir() + "/turn")) << "no coturn of our own";
}

TEST(TurnShared, ServesOnOneNatsShareTheSecret) {
  NatsFixture nats;
  const std::vector<std::string> args = {"--turn",    "--turn-port", "0",    "--turn-host",
                                         "127.0.0.1", "--janus",     "false"};
  ServeProcess a(nats.url(), args), b(nats.url(), args);
  ASSERT_TRUE(a.waitReady(20s)) << a.logTail();
  ASSERT_TRUE(b.waitReady(20s)) << b.logTail();
  const auto secret = [](const ServeProcess& s) {
    return capture(readFile(s.dataDir() + "/turn/turnserver.conf"),
                   R"(\nstatic-auth-secret=(\S+)\n)");
  };
  EXPECT_FALSE(secret(a).empty());
  EXPECT_EQ(secret(a), secret(b));
}

}  // namespace
}  // namespace amphi::testing
