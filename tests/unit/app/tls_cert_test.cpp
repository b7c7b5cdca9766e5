// Self-signed certificates: checked against the openssl command line tool, an
// implementation independent of ours.
#include "app/tls_cert.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace amphi::app {
namespace {

namespace fs = std::filesystem;

// stdout of a shell command (the openssl CLI).
std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  std::array<char, 4096> buf;
  while (pipe && std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

class TlsCert : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/amphi-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

const std::vector<std::string> kNames = {"localhost", "127.0.0.1", "10.1.2.3", "class.example.org",
                                         "::1"};

TEST_F(TlsCert, GeneratesWhatOpensslReads) {
  const auto cert = ensureSelfSigned(dir_, kNames);
  EXPECT_TRUE(cert.generated);
  EXPECT_EQ(cert.names, kNames);
  const std::string sans = run("openssl x509 -noout -ext subjectAltName -in " + cert.certFile);
  for (const char* want : {"DNS:localhost", "IP Address:127.0.0.1", "IP Address:10.1.2.3",
                           "DNS:class.example.org", "IP Address:0:0:0:0:0:0:0:1"}) {
    EXPECT_NE(sans.find(want), std::string::npos) << want << " missing from: " << sans;
  }
  // The fingerprint serve prints is the one openssl (and browsers) compute.
  const std::string fp = run("openssl x509 -noout -fingerprint -sha256 -in " + cert.certFile);
  EXPECT_EQ(fp.substr(fp.find('=') + 1), cert.sha256Fingerprint);
  // Chromium's --ignore-certificate-errors-spki-list value, computed the documented way.
  EXPECT_EQ(run("openssl x509 -pubkey -noout -in " + cert.certFile +
                " | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"),
            cert.spkiSha256Base64);
  // The key belongs to the certificate.
  EXPECT_EQ(run("openssl pkey -pubout -in " + cert.keyFile),
            run("openssl x509 -pubkey -noout -in " + cert.certFile));
  // A server certificate, valid now.
  EXPECT_NE(run("openssl x509 -noout -ext extendedKeyUsage -in " + cert.certFile)
                .find("TLS Web Server Authentication"),
            std::string::npos);
  EXPECT_EQ(run("openssl x509 -noout -checkend 86400 -in " + cert.certFile),
            "Certificate will not expire");
  struct stat st {};
  ASSERT_EQ(::stat(cert.keyFile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key is readable by its owner only";
  // describeCertificate (the --tls-cert path) reads the same facts back.
  const auto described = describeCertificate(cert.certFile, cert.keyFile);
  EXPECT_EQ(described.sha256Fingerprint, cert.sha256Fingerprint);
  EXPECT_EQ(described.names, kNames);
  EXPECT_FALSE(described.notAfter.empty());
}

TEST_F(TlsCert, ReusedOnRestartWhileItCoversTheNames) {
  const auto first = ensureSelfSigned(dir_, kNames);
  const auto again = ensureSelfSigned(dir_, kNames);
  EXPECT_FALSE(again.generated);
  EXPECT_EQ(again.sha256Fingerprint, first.sha256Fingerprint);
  const auto subset = ensureSelfSigned(dir_, {"127.0.0.1", "LOCALHOST"});
  EXPECT_FALSE(subset.generated) << "names already covered (case-insensitive)";
  const auto more = ensureSelfSigned(dir_, {"localhost", "192.168.1.20"});
  EXPECT_TRUE(more.generated) << "a new name needs a new certificate";
  EXPECT_NE(more.sha256Fingerprint, first.sha256Fingerprint);
}

TEST_F(TlsCert, ReplacesBrokenOrExpiringPairs) {
  const auto first = ensureSelfSigned(dir_, kNames);
  std::ofstream(first.keyFile) << "not a key\n";
  const auto fixed = ensureSelfSigned(dir_, kNames);
  EXPECT_TRUE(fixed.generated);
  EXPECT_NE(fixed.sha256Fingerprint, first.sha256Fingerprint);
  // Another pair's key beside this certificate: mismatch → replaced.
  std::string other = dir_ + "/other";
  const auto foreign = ensureSelfSigned(other, kNames);
  fs::copy_file(foreign.keyFile, fixed.keyFile, fs::copy_options::overwrite_existing);
  EXPECT_THROW(describeCertificate(fixed.certFile, fixed.keyFile), std::runtime_error);
  EXPECT_TRUE(ensureSelfSigned(dir_, kNames).generated);
  // Valid for less than the renewal margin (30 days): replaced on the next start.
  const auto shortLived = ensureSelfSigned(dir_ + "/short", kNames, 10);
  EXPECT_TRUE(shortLived.generated);
  EXPECT_TRUE(ensureSelfSigned(dir_ + "/short", kNames).generated);
}

TEST(TlsCertNames, FromListenAddressPublicUrlAndIp) {
  EXPECT_EQ(selfSignedNames("0.0.0.0", "", ""),
            (std::vector<std::string>{"localhost", "127.0.0.1"}));
  EXPECT_EQ(selfSignedNames("192.168.1.20", "https://Class.Local:8443/x", "203.0.113.7"),
            (std::vector<std::string>{"localhost", "127.0.0.1", "192.168.1.20", "class.local",
                                      "203.0.113.7"}));
  EXPECT_EQ(selfSignedNames("127.0.0.1", "https://[::1]:8443", "127.0.0.1"),
            (std::vector<std::string>{"localhost", "127.0.0.1", "::1"}));
  EXPECT_THROW(selfSignedNames("bad host!", "", ""), std::runtime_error);
}

}  // namespace
}  // namespace amphi::app
