// TLS certificates for `amphi serve`: a self-signed one for a LAN demo (`--tls
// self-signed`), generated with OpenSSL into the data dir and reused on restart, and
// the fingerprints of any certificate, which serve prints so users can check what
// their browser shows.
#pragma once

#include <string>
#include <vector>

namespace amphi::app {

struct TlsCertificate {
  std::string certFile;            // PEM
  std::string keyFile;             // PEM (mode 0600 when generated)
  std::string sha256Fingerprint;   // "AB:CD:…" of the DER certificate, as browsers show it
  std::string spkiSha256Base64;    // base64 SHA-256 of the public key (SubjectPublicKeyInfo):
                                   //   Chromium's --ignore-certificate-errors-spki-list
  std::vector<std::string> names;  // subjectAltName entries, DNS names and IP addresses
  std::string notAfter;            // expiry, "YYYY-MM-DD"
  bool generated = false;          // ensureSelfSigned: false when an earlier one was reused
};

// The names a self-signed certificate for this serve must carry: localhost, 127.0.0.1,
// the listen host (unless it is a wildcard address), the host of publicUrl and publicIp
// (when set); no duplicates, in that order.
std::vector<std::string> selfSignedNames(const std::string& listenHost,
                                         const std::string& publicUrl, const std::string& publicIp);

// <dir>/self-signed.crt and .key (dir is created): reused when both exist, the key belongs to the
// certificate, it covers every name and is valid for 30 more days; otherwise a new EC
// P-256 key and certificate (valid `validDays`) replace them. Throws naming the step.
TlsCertificate ensureSelfSigned(const std::string& dir, const std::vector<std::string>& names,
                                int validDays = 365);

// Reads a certificate and its key (e.g. --tls-cert/--tls-key) and checks that the key
// belongs to the certificate. Throws naming the file and problem.
TlsCertificate describeCertificate(const std::string& certFile, const std::string& keyFile);

}  // namespace amphi::app
