#include "app/tls_cert.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace amphi::app {
namespace {

namespace fs = std::filesystem;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

constexpr long kRenewBeforeSeconds = 30L * 24 * 3600;

// Throws "<step>: <OpenSSL's reason>" and clears OpenSSL's error queue.
[[noreturn]] void fail(const std::string& step) {
  std::string reason = "unknown error";
  if (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    reason = r ? r : "error " + std::to_string(e);
  }
  ERR_clear_error();
  throw std::runtime_error(step + ": " + reason);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "127.0.0.1" → "127.0.0.1", "::1" / "[::1]" → "::1" (canonical), anything else → "".
std::string canonicalIp(std::string text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET, bytes, out, sizeof out) ? out : "";
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET6, bytes, out, sizeof out) ? out : "";
  }
  return "";
}

bool validDnsName(const std::string& name) {
  return !name.empty() && name.size() <= 253 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '.' || c == '*';
         });
}

// An IP in canonical form, or a lower-case DNS name; throws on anything else.
std::string canonicalName(const std::string& name) {
  if (auto ip = canonicalIp(name); !ip.empty()) return ip;
  if (!validDnsName(name)) {
    throw std::runtime_error("'" + name + "' is neither a host name nor an IP address");
  }
  return lower(name);
}

// The host of "scheme://[user@]host[:port][/...]", without brackets; "" when none.
std::string hostOfUrl(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos) return "";
  std::string rest = url.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return close == std::string::npos ? "" : rest.substr(1, close - 1);
  }
  return rest.substr(0, rest.find(':'));
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes through a temporary file and rename, so a crash never leaves half a key.
void writeFileAtomic(const fs::path& path, const std::string& data, mode_t mode) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, path);
}

BioPtr memoryBio(const std::string& data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) fail("BIO_new_mem_buf");
  return bio;
}

X509Ptr loadCert(const std::string& file) {
  const std::string pem = readFile(file);
  auto bio = memoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("certificate " + file + " is not PEM");
  return cert;
}

KeyPtr loadKey(const std::string& file) {
  const std::string pem = readFile(file);
  auto bio = memoryBio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("key " + file + " is not a PEM private key");
  return key;
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("writing the certificate");
  return bioText(bio.get());
}

std::string keyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("writing the private key");
  }
  return bioText(bio.get());
}

std::vector<std::string> altNames(X509* cert) {
  std::vector<std::string> names;
  NamesPtr list(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; list && i < sk_GENERAL_NAME_num(list.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(list.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = name->d.iPAddress;
      const int len = ASN1_STRING_length(s);
      char out[INET6_ADDRSTRLEN];
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), out, sizeof out)) {
        names.emplace_back(out);
      }
    }
  }
  return names;
}

std::string hexColon(const unsigned char* bytes, unsigned len) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    if (i) out += ':';
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

std::string spkiSha256Base64(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (len <= 0) fail("encoding the public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned digestLen = 0;
  const int ok =
      EVP_Digest(der, static_cast<std::size_t>(len), digest, &digestLen, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) fail("hashing the public key");
  std::string out(4 * ((digestLen + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest,
                                static_cast<int>(digestLen));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string notAfterDate(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return "";
  std::ostringstream out;
  out << std::put_time(&tm, "%Y-%m-%d");
  return out.str();
}

TlsCertificate describe(X509* cert, const std::string& certFile, const std::string& keyFile) {
  TlsCertificate info;
  info.certFile = certFile;
  info.keyFile = keyFile;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &len) != 1) fail("certificate fingerprint");
  info.sha256Fingerprint = hexColon(digest, len);
  info.spkiSha256Base64 = spkiSha256Base64(cert);
  info.names = altNames(cert);
  info.notAfter = notAfterDate(cert);
  return info;
}

void addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    fail(std::string("certificate extension ") + OBJ_nid2sn(nid) + " = " + value);
  }
}

void setRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) fail("random serial number");
  bytes[0] &= 0x7f;  // positive
  BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) fail("serial number");
}

X509Ptr makeCertificate(EVP_PKEY* key, const std::vector<std::string>& names, int validDays) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) fail("X509_new");
  setRandomSerial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validDays) * 24 * 3600);
  if (X509_set_pubkey(cert.get(), key) != 1) fail("X509_set_pubkey");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto text = [](const char* s) { return reinterpret_cast<const unsigned char*>(s); };
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, text("Amphi"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, text(names.front().c_str()), -1, -1, 0);
  if (X509_set_issuer_name(cert.get(), subject) != 1) fail("X509_set_issuer_name");
  std::string sans;
  for (const auto& name : names) {
    sans +=
        (sans.empty() ? "" : ",") + std::string(canonicalIp(name).empty() ? "DNS:" : "IP:") + name;
  }
  addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert.get(), NID_key_usage, "critical,digitalSignature");
  addExtension(cert.get(), NID_ext_key_usage, "serverAuth");
  addExtension(cert.get(), NID_subject_key_identifier, "hash");
  addExtension(cert.get(), NID_subject_alt_name, sans);
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) fail("signing the certificate");
  return cert;
}

// The existing pair when it can be reused as it is, else nullptr.
X509Ptr reusable(const fs::path& certFile, const fs::path& keyFile,
                 const std::vector<std::string>& names) {
  std::error_code ec;
  if (!fs::exists(certFile, ec) || !fs::exists(keyFile, ec)) return nullptr;
  try {
    X509Ptr cert = loadCert(certFile.string());
    KeyPtr key = loadKey(keyFile.string());
    if (X509_check_private_key(cert.get(), key.get()) != 1) return nullptr;
    std::time_t renewAt = std::time(nullptr) + kRenewBeforeSeconds;
    if (X509_cmp_time(X509_get0_notAfter(cert.get()), &renewAt) <= 0) return nullptr;
    const auto have = altNames(cert.get());
    for (const auto& name : names) {
      if (std::find(have.begin(), have.end(), name) == have.end()) return nullptr;
    }
    return cert;
  } catch (const std::runtime_error&) {
    ERR_clear_error();
    return nullptr;  // unreadable: replaced below
  }
}

}  // namespace

std::vector<std::string> selfSignedNames(const std::string& listenHost,
                                         const std::string& publicUrl,
                                         const std::string& publicIp) {
  std::vector<std::string> names;
  auto add = [&](const std::string& name) {
    if (name.empty()) return;
    const std::string canonical = canonicalName(name);
    if (canonical == "0.0.0.0" || canonical == "::") return;  // wildcard listen address
    if (std::find(names.begin(), names.end(), canonical) == names.end()) {
      names.push_back(canonical);
    }
  };
  add("localhost");
  add("127.0.0.1");
  add(listenHost);
  add(hostOfUrl(publicUrl));
  add(publicIp);
  return names;
}

TlsCertificate ensureSelfSigned(const std::string& dir, const std::vector<std::string>& names,
                                int validDays) {
  if (names.empty()) throw std::runtime_error("self-signed certificate: no names to certify");
  std::vector<std::string> wanted;
  for (const auto& name : names) wanted.push_back(canonicalName(name));
  fs::create_directories(dir);
  const fs::path certFile = fs::path(dir) / "self-signed.crt";
  const fs::path keyFile = fs::path(dir) / "self-signed.key";
  if (X509Ptr cert = reusable(certFile, keyFile, wanted)) {
    return describe(cert.get(), certFile.string(), keyFile.string());
  }
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("generating an EC P-256 key");
  X509Ptr cert = makeCertificate(key.get(), wanted, validDays);
  // The key first: a certificate on disk always has its key beside it.
  writeFileAtomic(keyFile, keyPem(key.get()), 0600);
  writeFileAtomic(certFile, certPem(cert.get()), 0644);
  TlsCertificate info = describe(cert.get(), certFile.string(), keyFile.string());
  info.generated = true;
  return info;
}

TlsCertificate describeCertificate(const std::string& certFile, const std::string& keyFile) {
  X509Ptr cert = loadCert(certFile);
  KeyPtr key = loadKey(keyFile);
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS key " + keyFile + " does not belong to certificate " + certFile);
  }
  return describe(cert.get(), certFile, keyFile);
}

}  // namespace amphi::app
