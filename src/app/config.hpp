// The one typed configuration of amphi serve, with every default beside its field.
// Sources, later wins: these defaults, the TOML file (--config), AMPHI_* environment
// variables, command-line flags. Every field has one name used by all three:
// field "nats_url" is TOML key nats_url, env AMPHI_NATS_URL and flag --nats-url.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace amphi::app {

struct Config {
  std::string http = "127.0.0.1:8080";  // listen address host:port (port 0: any free port)
  std::string data_dir = "./data";      // nats store, admin key, logs
  std::string nats_url;                 // empty: start a private nats-server
  std::string nats_server_bin = "nats-server";
  std::string public_url;               // base of links; empty: http(s)://<listen address>
  std::string log_level = "info";       // trace, debug, info, warn, error
  std::string admin_key;                // empty: generated into <data_dir>/admin.key
  std::string session_secret;           // empty: shared via the NATS KV bucket
  int session_ttl_hours = 12;
  int invite_ttl_days = 30;             // 0: invites never expire
  double join_per_minute = 60;          // per client address
  double join_burst = 60;
  double hand_per_minute = 20;          // raise + lower, per user
  double hand_burst = 20;
  std::string trusted_proxies;          // "127.0.0.1,::1": reverse proxies (X-Forwarded-For)
  int max_sse_per_user = 8;
  int sse_queue_limit = 1000;           // events queued before a slow client is dropped
  int heartbeat_seconds = 15;
  int worker_threads = 8;               // request handler pool
  int io_threads = 2;
  int nats_replicas = 1;                // 3 on a NATS cluster
  bool demo_room = true;                // create room "demo" on a fresh data dir
  std::string web_dir;                  // built web app; empty: web/dist beside the build
  // HTTPS (and WSS for /janus): tls_cert + tls_key, or tls = "self-signed"
  std::string tls;                      // "self-signed": generated into <data_dir>/tls, reused
  std::string tls_cert;                 // PEM certificate chain
  std::string tls_key;                  // PEM private key
  std::string http_redirect;            // with TLS: host:port redirecting HTTP to HTTPS; "": off
  int hsts_seconds = 31536000;          // with TLS: Strict-Transport-Security max-age; 0: none
  // Stage (Janus VideoRoom)
  bool janus = true;                    // start a private Janus (when janus_url is empty)
  std::string janus_bin = "janus";
  std::string janus_url;                // an existing Janus: its WebSocket URL (ws://…)
  std::string janus_http_url;           //   its HTTP API (http://…/janus)
  std::string janus_admin_url;          //   its Admin API (http://…/admin)
  std::string janus_admin_secret;       //   admin_secret of that Janus
  std::string janus_room_admin_key;     //   VideoRoom admin_key of that Janus
  std::string public_ip;                // nat_1_1_mapping for a server behind NAT
  int rtp_port_min = 20000;             // Janus ICE/RTP UDP port range
  int rtp_port_max = 20999;
  int stage_grace_seconds = 10;         // a promoted user not publishing this long is demoted
  // TURN relay for promoted users behind UDP-blocking firewalls (off by default)
  bool turn = false;                    // start a private coturn (when turn_url is empty)
  std::string turn_bin = "turnserver";
  std::string turn_url;                 // an existing TURN server: turn:host:port | turns:host:port
  std::string turn_secret;              // its static-auth-secret; --turn: empty = shared via NATS
  std::string turn_host;                // host in the private coturn's URLs; empty: see config.cpp
  int turn_port = 3478;                 // private coturn UDP+TCP port (0: any free port)
  std::string turn_listen_ip;           // private coturn listening address; empty: every address
  int turn_relay_min = 49152;           // private coturn relay ports (UDP)
  int turn_relay_max = 65535;
  std::string turn_tls_cert;            // PEM certificate chain: private coturn also on TLS
  std::string turn_tls_key;             //   its key
  int turn_tls_port = 5349;             //   TLS over TCP port (0: any free port)
  // Broadcast (egress → LL-HLS origin)
  bool egress = true;                   // run one egress per live room (leased across serves)
  std::string demo_source;              // "test": room demo goes live with the test source
  std::string egress_source = "janus";  // "janus" (the stage) or "test" (pattern + tone)
  std::string video_size = "1280x720";  // composite picture
  int video_fps = 30;
  int video_kbps = 2500;
  int audio_kbps = 128;
  double part_seconds = 0.5;            // LL-HLS part target (0.2 to 1.0)
  double segment_seconds = 2.0;         // segment (keyframe interval)
  int hls_retention_seconds = 24;       // media playlist window
};

using FieldRef = std::variant<std::string Config::*, int Config::*, double Config::*,
                              bool Config::*>;
struct FieldInfo {
  const char* name;
  FieldRef ref;
  const char* help;
  bool secret = false;  // never printed
};
const std::vector<FieldInfo>& configFields();

// Throws std::runtime_error naming the file, key and problem.
void applyTomlFile(Config& config, const std::string& path);
// AMPHI_<NAME> variables; env is "NAME=value" strings (e.g. from environ).
void applyEnvironment(Config& config, const std::map<std::string, std::string>& env);
// Assigns a textual value to a field; throws std::runtime_error on bad values.
void setField(Config& config, const FieldInfo& field, const std::string& value);
// True when serve speaks HTTPS (tls = "self-signed" or tls_cert set).
bool tlsEnabled(const Config& config);
// Checks ranges; throws std::runtime_error with what to fix.
void validate(const Config& config);
std::map<std::string, std::string> processEnvironment();

}  // namespace amphi::app
