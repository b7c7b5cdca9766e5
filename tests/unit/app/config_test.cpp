#include "app/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace amphi::app {
namespace {

std::string writeTemp(const std::string& text) {
  static int n = 0;
  std::string path = ::testing::TempDir() + "/amphi-config-" + std::to_string(++n) + ".toml";
  std::ofstream(path) << text;
  return path;
}

TEST(Config, ExampleFileNamesEveryFieldWithItsDefault) {
  Config fromFile;
  fromFile.http = "changed";  // the file must set it back
  applyTomlFile(fromFile, AMPHI_SOURCE_DIR "/amphi.example.toml");
  const Config defaults;
  EXPECT_EQ(fromFile.http, defaults.http);
  EXPECT_EQ(fromFile.join_per_minute, defaults.join_per_minute);
  EXPECT_EQ(fromFile.max_sse_per_user, defaults.max_sse_per_user);
  EXPECT_EQ(fromFile.demo_room, defaults.demo_room);
  std::ifstream in(AMPHI_SOURCE_DIR "/amphi.example.toml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& field : configFields()) {
    EXPECT_NE(text.find(std::string("\n") + field.name + " = "), std::string::npos)
        << field.name << " is missing from amphi.example.toml";
  }
}

TEST(Config, LaterSourcesWin) {
  Config c;
  applyTomlFile(c, writeTemp("nats_url = \"nats://file:4222\"\nmax_sse_per_user = 3\n"));
  EXPECT_EQ(c.nats_url, "nats://file:4222");
  EXPECT_EQ(c.max_sse_per_user, 3);
  applyEnvironment(c, {{"AMPHI_NATS_URL", "nats://env:4222"}, {"AMPHI_DEMO_ROOM", "false"}});
  EXPECT_EQ(c.nats_url, "nats://env:4222");
  EXPECT_FALSE(c.demo_room);
  EXPECT_EQ(c.max_sse_per_user, 3);
}

TEST(Config, ErrorsNameTheKey) {
  Config c;
  try {
    applyTomlFile(c, writeTemp("nats_ulr = \"x\"\n"));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'nats_ulr'"), std::string::npos);
  }
  EXPECT_THROW(applyTomlFile(c, writeTemp("max_sse_per_user = \"many\"\n")), std::runtime_error);
  EXPECT_THROW(applyTomlFile(c, writeTemp("http = [1, 2]\n")), std::runtime_error);
  EXPECT_THROW(applyTomlFile(c, writeTemp("http = \n")), std::runtime_error);
  EXPECT_THROW(applyEnvironment(c, {{"AMPHI_JOIN_BURST", "ten"}}), std::runtime_error);
  EXPECT_THROW(applyEnvironment(c, {{"AMPHI_DEMO_ROOM", "maybe"}}), std::runtime_error);
}

TEST(Config, ValidationSaysWhatToFix) {
  Config c;
  EXPECT_NO_THROW(validate(c));
  c.admin_key = "short";
  EXPECT_THROW(validate(c), std::runtime_error);
  c.admin_key = "0123456789abcdef";
  EXPECT_NO_THROW(validate(c));
  c.http = "no-port";
  EXPECT_THROW(validate(c), std::runtime_error);
  c.http = "127.0.0.1:8080";
  c.public_url = "ftp://x";
  EXPECT_THROW(validate(c), std::runtime_error);
  c.public_url = "";
  c.nats_replicas = 2;
  EXPECT_THROW(validate(c), std::runtime_error);
}

TEST(Config, TlsChoicesAreChecked) {
  Config c;
  EXPECT_FALSE(tlsEnabled(c));
  c.tls = "self-signed";
  EXPECT_TRUE(tlsEnabled(c));
  EXPECT_NO_THROW(validate(c));
  c.http_redirect = "127.0.0.1:8081";
  EXPECT_NO_THROW(validate(c));
  c.http_redirect = "80";
  EXPECT_THROW(validate(c), std::runtime_error) << "host:port";
  c.http_redirect = "";
  c.tls = "selfsigned";
  EXPECT_THROW(validate(c), std::runtime_error);
  c.tls = "self-signed";
  c.tls_cert = "cert.pem";
  c.tls_key = "key.pem";
  EXPECT_THROW(validate(c), std::runtime_error) << "self-signed and files: one or the other";
  c.tls = "";
  EXPECT_TRUE(tlsEnabled(c));
  EXPECT_NO_THROW(validate(c));
  c.tls_key = "";
  EXPECT_THROW(validate(c), std::runtime_error) << "a certificate without its key";
  c.tls_cert = "";
  c.http_redirect = "0.0.0.0:80";
  EXPECT_THROW(validate(c), std::runtime_error) << "a redirect to HTTPS needs HTTPS";
}

}  // namespace
}  // namespace amphi::app
