// A private coturn (Debian package `coturn`) started, watched and stopped by
// `amphi serve --turn`, so promoted users behind a UDP-blocking firewall still reach
// Janus (relayed over TCP).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/process.hpp"

namespace amphi::sfu {

struct EmbeddedTurnOptions {
  std::string binary = "turnserver";  // a name looked up in PATH, or a path
  std::string dataDir;                // required; config and log live in dataDir/turn
  std::string secret;                 // required: static-auth-secret
  uint16_t port = 3478;               // UDP and TCP listening port; 0 = choose a free one
  std::string listenIp;               // empty: every address of the host
  std::string externalIp;             // external-ip (server behind 1:1 NAT); empty: none
  int relayMin = 49152;
  int relayMax = 65535;
  std::vector<std::string> allowedPeers;  // empty: this host's own addresses
  std::string cert, key;  // PEM files: TLS (turns:) on tlsPort when both are set
  uint16_t tlsPort = 5349;  // 0 = choose a free one
  std::chrono::milliseconds startTimeout{15000};
};

// Files under dataDir/turn: turnserver.conf (written at each start, mode 0600),
// turnserver.log (coturn's output, appended), its pid file and user db. Ports given as 0
// are chosen at the first start (retried with others when taken, 3 attempts) and kept
// for later starts, so URLs handed out stay valid across a restart after a crash.
// Not thread-safe: one owner calls its methods, from a thread that lives as long as
// coturn (the child gets SIGTERM when the spawning thread ends).
class EmbeddedTurn {
 public:
  explicit EmbeddedTurn(EmbeddedTurnOptions options);
  ~EmbeddedTurn();  // stops coturn
  EmbeddedTurn(const EmbeddedTurn&) = delete;
  EmbeddedTurn& operator=(const EmbeddedTurn&) = delete;

  // Writes the config, spawns `turnserver -c <conf>` (no shell) and returns once coturn
  // has set up its servers without a bind error and accepts TCP on its port; up to
  // startTimeout. Throws std::runtime_error naming the log file on failure. Does nothing
  // when running.
  void start();
  void stop();     // SIGTERM (SIGKILL after 3 s) and reap; nothing when not running
  bool running();  // false once the process has ended (a crash), reaping it

  uint16_t port() const { return ports_.plain; }  // 0 before the first start with port 0
  uint16_t tlsPort() const { return tls() ? ports_.tls : 0; }  // 0: no TLS listener
  bool tls() const { return !options_.cert.empty(); }
  pid_t pid() const { return child_.pid(); }
  std::string dir() const;      // dataDir/turn
  std::string logFile() const;  // dataDir/turn/turnserver.log

 private:
  struct Ports {
    uint16_t plain = 0, tls = 0;
  };
  enum class Attempt { Ready, PortTaken };
  Attempt tryStart(const Ports& ports);
  Ports choosePorts() const;

  EmbeddedTurnOptions options_;
  Ports ports_;
  app::ChildProcess child_;
};

// The IPv4 and IPv6 addresses of this host's interfaces, loopback excluded (what coturn
// relays to by default: Janus listens there).
std::vector<std::string> hostAddresses();

}  // namespace amphi::sfu
