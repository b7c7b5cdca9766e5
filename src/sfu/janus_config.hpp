// The private configuration of a Janus instance started by Amphi: only the VideoRoom
// plugin, the HTTP and WebSocket transports on loopback, stored-token authentication,
// an Admin API protected by a generated secret and a VideoRoom admin key.
#pragma once

#include <cstdint>
#include <string>

namespace amphi::sfu {

// Where the Debian package installs plugins, transports, events and loggers.
inline constexpr const char* kJanusLibDir = "/usr/lib/x86_64-linux-gnu/janus";

// The TURN server Janus itself uses for its side of ICE (nat.turn_*); off when server is
// empty. user/password are a long-lived credential of the shared-secret scheme.
struct JanusTurn {
  std::string server;         // host name or address
  uint16_t port = 3478;
  std::string type = "udp";   // udp, tcp or tls
  std::string user;
  std::string password;
};

struct JanusConfig {
  std::string dir;           // the config folder (<data>/janus); created when missing
  uint16_t wsPort = 0;       // WebSocket API (janus-protocol) on 127.0.0.1
  uint16_t httpPort = 0;     // HTTP API on 127.0.0.1, path /janus
  uint16_t adminPort = 0;    // Admin API over HTTP on 127.0.0.1, path /admin
  std::string adminSecret;   // admin_secret of the Admin API; required
  std::string roomAdminKey;  // VideoRoom admin_key (room create, rtp_forward); required
  std::string publicIp;      // nat_1_1_mapping when set (a server behind 1:1 NAT)
  JanusTurn turn;            // nat.turn_* when turn.server is set
  int rtpMin = 20000;        // media.rtp_port_range (ICE and RTP ports)
  int rtpMax = 20999;
  std::string logFile;                // log_to_file (and no stdout logging) when set; else stdout
  std::string libDir = kJanusLibDir;  // <libDir>/{plugins,transports,events,loggers}
};

// Writes janus.jcfg, janus.transport.http.jcfg, janus.transport.websockets.jcfg and
// janus.plugin.videoroom.jcfg into config.dir (mode 0600, folder 0700: they hold
// secrets), replacing earlier versions. Every plugin but libjanus_videoroom.so, every
// transport but http and websockets, every logger and all event handlers are disabled;
// what is disabled comes from listing <libDir> (with a fixed list as a fallback), so a
// newer package's extra plugins stay off. No api_secret, no sample rooms, no TLS.
// Throws std::runtime_error naming the file on failure or on a missing secret/port.
void writeJanusConfig(const JanusConfig& config);

}  // namespace amphi::sfu
