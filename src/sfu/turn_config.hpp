// TURN for the stage: the URLs browsers and Janus are given, and the configuration of a
// private coturn (Debian package `coturn`, 4.6.x) started by Amphi with a shared secret
// (`use-auth-secret`: time-limited credentials, see auth/turn_credentials.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amphi::sfu {

// Where a TURN server is reached: "turn:host:port" or "turns:host:port" (the default
// ports are 3478 and 5349). host may be a name, an IPv4 literal or a bracketed IPv6.
struct TurnEndpoint {
  bool tls = false;  // turns: (TLS over TCP)
  std::string host;  // IPv6 without brackets
  uint16_t port = 3478;
};

// Parses "turn:host[:port][?transport=udp|tcp]" or "turns:…"; the transport part is
// ignored (every transport the scheme allows is offered). Throws std::runtime_error
// naming the URL when it is not one.
TurnEndpoint parseTurnUrl(const std::string& url);
// The iceServers URLs for an endpoint: UDP and TCP for turn:, TCP for turns:.
std::vector<std::string> turnUrls(const TurnEndpoint& endpoint);

// What decides the host in a private coturn's URLs (config fields of the same names).
struct TurnHostHints {
  std::string turnHost;   // given explicitly
  std::string publicIp;   // this host's public address (behind 1:1 NAT)
  std::string publicUrl;  // serve's public base URL
  std::string listenIp;   // coturn's listening address
};
// hints.turnHost, else publicIp, else publicUrl's host unless it is loopback, else
// listenIp, else the first IPv4 of `addresses` (this host's), else its first entry.
// Empty when none fits.
std::string turnHost(const TurnHostHints& hints, const std::vector<std::string>& addresses);

struct TurnConfig {
  std::string dir;         // config folder (<data>/turn); created when missing
  uint16_t port = 3478;    // listening-port, UDP and TCP; required (not 0)
  std::string listenIp;    // listening-ip (and relay-ip); empty: every address of the host
  std::string externalIp;  // external-ip for a server behind 1:1 NAT; empty: none
  int relayMin = 49152;    // min-port/max-port of the relay endpoints
  int relayMax = 65535;
  std::string secret;  // static-auth-secret; required
  // TLS over TCP (turns:) on tlsPort with this certificate chain and key (PEM files),
  // when all three are set; otherwise no TLS listener.
  uint16_t tlsPort = 0;
  std::string cert;
  std::string key;
  std::string realm = "amphi";
  // Peers the relay may reach although they are in a private range (this host's own
  // addresses, where Janus listens). Every other private, loopback, link-local and
  // multicast address is denied, so the relay cannot be used to reach the local network.
  std::vector<std::string> allowedPeers;
};

// Writes <dir>/turnserver.conf (mode 0600, folder 0700: it holds the secret), replacing
// an earlier version. No DTLS, TLS 1.2+ only if any, no CLI, no web admin; the log goes to
// stdout, the pid file and the (unused) SQLite user db stay in dir. Throws
// std::runtime_error naming the file or the missing value.
void writeTurnConfig(const TurnConfig& config);
// The path writeTurnConfig writes.
std::string turnConfigFile(const std::string& dir);

}  // namespace amphi::sfu
