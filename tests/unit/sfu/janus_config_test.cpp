#include "sfu/janus_config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixtures.hpp"

namespace amphi::sfu {
namespace {

namespace fs = std::filesystem;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The value of `key = "..."` in a config text, or "<absent>".
std::string stringValue(const std::string& text, const std::string& key) {
  size_t at = text.find("\n  " + key + " = \"");
  if (at == std::string::npos) return "<absent>";
  size_t start = text.find('"', at) + 1;
  return text.substr(start, text.find('"', start) - start);
}

class JanusConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::uniqueTempDir("amphi-janus-config");
    config_.dir = root_ + "/janus";
    config_.wsPort = 18188;
    config_.httpPort = 18088;
    config_.adminPort = 17088;
    config_.adminSecret = "test-admin-secret-0123";
    config_.roomAdminKey = "test-room-admin-key-4567";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string file(const std::string& name) const { return readFile(config_.dir + "/" + name); }

  // A fake <libDir> with the given module files in each folder.
  std::string fakeLibDir(const std::vector<std::string>& plugins,
                         const std::vector<std::string>& transports) const {
    std::string lib = root_ + "/lib";
    for (const char* sub : {"plugins", "transports", "events", "loggers"})
      fs::create_directories(lib + "/" + sub);
    for (const auto& p : plugins) std::ofstream(lib + "/plugins/" + p) << "";
    for (const auto& t : transports) std::ofstream(lib + "/transports/" + t) << "";
    std::ofstream(lib + "/loggers/libjanus_jsonlog.so") << "";
    return lib;
  }

  std::string root_;
  JanusConfig config_;
};

TEST_F(JanusConfigTest, WritesTheFourFilesPrivately) {
  writeJanusConfig(config_);
  for (const char* name : {"janus.jcfg", "janus.transport.http.jcfg",
                           "janus.transport.websockets.jcfg", "janus.plugin.videoroom.jcfg"}) {
    std::string path = config_.dir + "/" + name;
    ASSERT_TRUE(fs::exists(path)) << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
  struct stat st {};
  ASSERT_EQ(::stat(config_.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(JanusConfigTest, CoreHasTokenAuthAdminSecretAndNoApiSecret) {
  writeJanusConfig(config_);
  std::string core = file("janus.jcfg");
  EXPECT_TRUE(contains(core, "token_auth = true"));
  EXPECT_EQ(stringValue(core, "admin_secret"), "test-admin-secret-0123");
  EXPECT_FALSE(contains(core, "api_secret"));
  EXPECT_FALSE(contains(core, "token_auth_secret"));
  EXPECT_EQ(stringValue(core, "configs_folder"), config_.dir);
  EXPECT_EQ(stringValue(core, "plugins_folder"), std::string(kJanusLibDir) + "/plugins");
  EXPECT_EQ(stringValue(core, "transports_folder"), std::string(kJanusLibDir) + "/transports");
  EXPECT_EQ(stringValue(core, "rtp_port_range"), "20000-20999");
  EXPECT_TRUE(contains(core, "broadcast = false"));  // no event handlers
  EXPECT_FALSE(contains(core, "ice_enforce_list"));
  EXPECT_FALSE(contains(core, "nat_1_1_mapping"));  // no public IP given
  EXPECT_FALSE(contains(core, "turn_server"));      // no TURN given
  EXPECT_TRUE(contains(core, "log_to_stdout = true"));
  EXPECT_FALSE(contains(core, "log_to_file"));
}

TEST_F(JanusConfigTest, PublicIpLogFileAndRtpRange) {
  config_.publicIp = "203.0.113.7";
  config_.logFile = config_.dir + "/janus.log";
  config_.rtpMin = 30000;
  config_.rtpMax = 30100;
  writeJanusConfig(config_);
  std::string core = file("janus.jcfg");
  EXPECT_EQ(stringValue(core, "nat_1_1_mapping"), "203.0.113.7");
  EXPECT_EQ(stringValue(core, "log_to_file"), config_.dir + "/janus.log");
  EXPECT_TRUE(contains(core, "log_to_stdout = false"));
  EXPECT_EQ(stringValue(core, "rtp_port_range"), "30000-30100");
}

TEST_F(JanusConfigTest, TurnServerInTheNatSection) {
  config_.turn = {"10.99.0.1", 34780, "udp", "2000000000:janus", "cGFzc3dvcmQ="};
  writeJanusConfig(config_);
  std::string core = file("janus.jcfg");
  const auto nat = core.substr(core.find("nat: {"));
  EXPECT_EQ(stringValue(nat, "turn_server"), "10.99.0.1");
  EXPECT_TRUE(contains(nat, "\n  turn_port = 34780\n"));
  EXPECT_EQ(stringValue(nat, "turn_type"), "udp");
  EXPECT_EQ(stringValue(nat, "turn_user"), "2000000000:janus");
  EXPECT_EQ(stringValue(nat, "turn_pwd"), "cGFzc3dvcmQ=");
}

TEST_F(JanusConfigTest, OnlyVideoRoomHttpAndWebSocketsStayEnabled) {
  config_.libDir = fakeLibDir(
      {"libjanus_videoroom.so", "libjanus_videoroom.so.1", "libjanus_sip.so", "libjanus_new.so"},
      {"libjanus_http.so", "libjanus_websockets.so", "libjanus_mqtt.so", "libjanus_pfunix.so"});
  writeJanusConfig(config_);
  std::string core = file("janus.jcfg");
  size_t plugins = core.find("plugins: {");
  size_t transports = core.find("transports: {");
  size_t loggers = core.find("loggers: {");
  ASSERT_NE(plugins, std::string::npos);
  ASSERT_NE(transports, std::string::npos);
  ASSERT_NE(loggers, std::string::npos);
  EXPECT_EQ(stringValue(core.substr(plugins), "disable"), "libjanus_new.so,libjanus_sip.so");
  EXPECT_EQ(stringValue(core.substr(transports), "disable"), "libjanus_mqtt.so,libjanus_pfunix.so");
  EXPECT_EQ(stringValue(core.substr(loggers), "disable"), "libjanus_jsonlog.so");
}

TEST_F(JanusConfigTest, PackagedModulesAreDisabledExceptVideoRoom) {
  writeJanusConfig(config_);  // the real folder, or the built-in list without the package
  std::string core = file("janus.jcfg");
  std::string plugins = stringValue(core.substr(core.find("plugins: {")), "disable");
  std::string transports = stringValue(core.substr(core.find("transports: {")), "disable");
  for (const char* name : {"libjanus_sip.so", "libjanus_streaming.so", "libjanus_echotest.so",
                           "libjanus_audiobridge.so", "libjanus_textroom.so"})
    EXPECT_TRUE(contains(plugins, name)) << name;
  EXPECT_FALSE(contains(plugins, "videoroom"));
  EXPECT_TRUE(contains(transports, "libjanus_mqtt.so"));
  EXPECT_FALSE(contains(transports, "libjanus_http.so"));
  EXPECT_FALSE(contains(transports, "websockets"));
}

TEST_F(JanusConfigTest, TransportsListenOnLoopbackOnly) {
  writeJanusConfig(config_);
  std::string http = file("janus.transport.http.jcfg");
  EXPECT_EQ(stringValue(http, "ip"), "127.0.0.1");
  EXPECT_TRUE(contains(http, "port = 18088\n"));
  EXPECT_TRUE(contains(http, "admin_http = true"));
  EXPECT_EQ(stringValue(http, "admin_ip"), "127.0.0.1");
  EXPECT_TRUE(contains(http, "admin_port = 17088\n"));
  EXPECT_EQ(stringValue(http, "admin_base_path"), "/admin");
  EXPECT_EQ(stringValue(http, "base_path"), "/janus");
  EXPECT_TRUE(contains(http, "https = false"));
  std::string ws = file("janus.transport.websockets.jcfg");
  EXPECT_EQ(stringValue(ws, "ws_ip"), "127.0.0.1");
  EXPECT_TRUE(contains(ws, "ws_port = 18188\n"));
  EXPECT_TRUE(contains(ws, "wss = false"));
  EXPECT_TRUE(contains(ws, "admin_ws = false"));
}

TEST_F(JanusConfigTest, VideoRoomHasAdminKeyLockedForwardsAndNoSampleRooms) {
  writeJanusConfig(config_);
  std::string room = file("janus.plugin.videoroom.jcfg");
  EXPECT_EQ(stringValue(room, "admin_key"), "test-room-admin-key-4567");
  EXPECT_TRUE(contains(room, "lock_rtp_forward = true"));
  EXPECT_FALSE(contains(room, "\nroom-"));  // no "room-1234: { ... }" sections
  EXPECT_FALSE(contains(room, "adminpwd"));
}

TEST_F(JanusConfigTest, NoSampleSecretsAnywhere) {
  writeJanusConfig(config_);
  for (const auto& entry : fs::directory_iterator(config_.dir)) {
    std::string text = readFile(entry.path());
    for (const char* sample : {"janusoverlord", "janusrocks", "supersecret", "adminpwd"})
      EXPECT_FALSE(contains(text, sample)) << entry.path() << " has " << sample;
  }
}

TEST_F(JanusConfigTest, QuotesInValuesAreEscaped) {
  config_.adminSecret = "a\"b\\c";
  writeJanusConfig(config_);
  EXPECT_TRUE(contains(file("janus.jcfg"), "admin_secret = \"a\\\"b\\\\c\""));
}

TEST_F(JanusConfigTest, RejectsMissingSecretsPortsAndBadRanges) {
  auto missingSecret = config_;
  missingSecret.adminSecret.clear();
  EXPECT_THROW(writeJanusConfig(missingSecret), std::runtime_error);
  auto missingKey = config_;
  missingKey.roomAdminKey.clear();
  EXPECT_THROW(writeJanusConfig(missingKey), std::runtime_error);
  auto missingPort = config_;
  missingPort.adminPort = 0;
  EXPECT_THROW(writeJanusConfig(missingPort), std::runtime_error);
  auto badRange = config_;
  badRange.rtpMin = 30000;
  badRange.rtpMax = 20000;
  EXPECT_THROW(writeJanusConfig(badRange), std::runtime_error);
  auto newline = config_;
  newline.publicIp = "1.2.3.4\nadmin_secret = \"x\"";
  EXPECT_THROW(writeJanusConfig(newline), std::runtime_error);
}

}  // namespace
}  // namespace amphi::sfu
