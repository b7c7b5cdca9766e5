#include "sfu/turn_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixtures.hpp"

namespace amphi::sfu {
namespace {

namespace fs = std::filesystem;

TEST(TurnUrl, ParsesSchemesHostsAndPorts) {
  auto a = parseTurnUrl("turn:turn.example.com");
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.host, "turn.example.com");
  EXPECT_EQ(a.port, 3478);
  auto b = parseTurnUrl("turns:203.0.113.7:443?transport=tcp");
  EXPECT_TRUE(b.tls);
  EXPECT_EQ(b.host, "203.0.113.7");
  EXPECT_EQ(b.port, 443);
  EXPECT_EQ(parseTurnUrl("turns:t.example").port, 5349);
  auto c = parseTurnUrl("turn:[2001:db8::1]:3479");
  EXPECT_EQ(c.host, "2001:db8::1");
  EXPECT_EQ(c.port, 3479);
}

TEST(TurnUrl, RefusesWhatIsNotATurnUrl) {
  for (const char* bad : {"stun:x:3478", "http://x", "turn:", "turn::3478", "turn:x:0",
                          "turn:x:70000", "turn:x:12a", "turn:[::1", "turn:user@x:3478"})
    EXPECT_THROW(parseTurnUrl(bad), std::runtime_error) << bad;
}

TEST(TurnUrl, OffersUdpAndTcpForTurnAndTcpForTurns) {
  EXPECT_EQ(turnUrls({false, "10.0.0.5", 3478}),
            (std::vector<std::string>{"turn:10.0.0.5:3478?transport=udp",
                                      "turn:10.0.0.5:3478?transport=tcp"}));
  EXPECT_EQ(turnUrls({true, "t.example", 5349}),
            (std::vector<std::string>{"turns:t.example:5349?transport=tcp"}));
  EXPECT_EQ(turnUrls({false, "2001:db8::1", 3478}).front(),
            "turn:[2001:db8::1]:3478?transport=udp");
}

TEST(TurnHost, GivenThenPublicIpThenPublicUrlThenListenIpThenThisHost) {
  const std::vector<std::string> here = {"fd00::2", "192.0.2.2", "10.0.0.3"};
  EXPECT_EQ(turnHost({"turn.example", "203.0.113.1", "https://class.example", ""}, here),
            "turn.example");
  EXPECT_EQ(turnHost({"", "203.0.113.1", "https://class.example", ""}, here), "203.0.113.1");
  EXPECT_EQ(turnHost({"", "", "https://class.example:8443/x", ""}, here), "class.example");
  EXPECT_EQ(turnHost({"", "", "http://[2001:db8::5]:8080", ""}, here), "2001:db8::5");
  EXPECT_EQ(turnHost({"", "", "http://127.0.0.1:8080", "10.0.0.3"}, here), "10.0.0.3")
      << "a loopback public URL is no use to browsers elsewhere";
  EXPECT_EQ(turnHost({"", "", "http://localhost:8080", ""}, here), "192.0.2.2") << "IPv4 first";
  EXPECT_EQ(turnHost({}, {"fd00::2"}), "fd00::2");
  EXPECT_EQ(turnHost({}, {}), "");
}

class TurnConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::uniqueTempDir("amphi-turn-config");
    config_.dir = root_ + "/turn";
    config_.port = 34780;
    config_.secret = "a-shared-secret-0123456789";
    config_.relayMin = 40000;
    config_.relayMax = 40999;
    config_.allowedPeers = {"10.99.0.1"};
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string text() const {
    std::ifstream in(turnConfigFile(config_.dir));
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  bool has(const std::string& line) const {
    return text().find("\n" + line + "\n") != std::string::npos;
  }

  std::string root_;
  TurnConfig config_;
};

TEST_F(TurnConfigTest, SharedSecretPortsAndHardening) {
  writeTurnConfig(config_);
  for (const char* line :
       {"listening-port=34780", "min-port=40000", "max-port=40999", "use-auth-secret",
        "static-auth-secret=a-shared-secret-0123456789", "realm=amphi", "fingerprint", "no-cli",
        "no-tls", "no-dtls", "no-multicast-peers", "no-rfc5780",
        "denied-peer-ip=10.0.0.0-10.255.255.255", "denied-peer-ip=127.0.0.0-127.255.255.255",
        "denied-peer-ip=192.168.0.0-192.168.255.255", "allowed-peer-ip=10.99.0.1",
        "log-file=stdout"})
    EXPECT_TRUE(has(line)) << line << " missing from:\n" << text();
  EXPECT_TRUE(has("pidfile=" + config_.dir + "/turnserver.pid"));
  EXPECT_FALSE(has("allow-loopback-peers"));
  EXPECT_EQ(text().find("listening-ip="), std::string::npos) << "every address by default";
  struct stat st {};
  ASSERT_EQ(::stat(turnConfigFile(config_.dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the file holds the secret";
}

TEST_F(TurnConfigTest, TlsListenerOnlyWithCertificateKeyAndPort) {
  writeTurnConfig(config_);
  EXPECT_TRUE(has("no-tls"));
  EXPECT_EQ(text().find("tls-listening-port"), std::string::npos);
  config_.tlsPort = 34781;
  config_.cert = "/etc/amphi/turn.crt";
  config_.key = "/etc/amphi/turn.key";
  writeTurnConfig(config_);
  EXPECT_TRUE(has("tls-listening-port=34781"));
  EXPECT_TRUE(has("cert=/etc/amphi/turn.crt"));
  EXPECT_TRUE(has("pkey=/etc/amphi/turn.key"));
  EXPECT_TRUE(has("no-tlsv1"));
  EXPECT_TRUE(has("no-tlsv1_1"));
  EXPECT_TRUE(has("no-dtls"));
  EXPECT_FALSE(has("no-tls"));
  auto bad = config_;
  bad.key = "";
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
  bad = config_;
  bad.tlsPort = config_.port;
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
}

TEST_F(TurnConfigTest, ListenAndExternalAddresses) {
  config_.listenIp = "10.99.0.1";
  config_.externalIp = "203.0.113.9";
  writeTurnConfig(config_);
  EXPECT_TRUE(has("listening-ip=10.99.0.1"));
  EXPECT_TRUE(has("relay-ip=10.99.0.1"));
  EXPECT_TRUE(has("external-ip=203.0.113.9"));
}

TEST_F(TurnConfigTest, RefusesMissingValuesAndLineBreaks) {
  auto bad = config_;
  bad.secret = "";
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
  bad = config_;
  bad.port = 0;
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
  bad = config_;
  bad.relayMin = 50000;
  bad.relayMax = 40000;
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
  bad = config_;
  bad.secret = "abc\nno-auth";
  EXPECT_THROW(writeTurnConfig(bad), std::runtime_error);
}

}  // namespace
}  // namespace amphi::sfu
