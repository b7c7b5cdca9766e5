#include "app/config.hpp"

#include <cstdio>

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

extern char** environ;

namespace amphi::app {

const std::vector<FieldInfo>& configFields() {
  static const std::vector<FieldInfo> fields = {
      {"http", &Config::http, "listen address host:port"},
      {"data_dir", &Config::data_dir, "data directory (NATS store, admin key, logs)"},
      {"nats_url", &Config::nats_url, "use this NATS server or cluster instead of a private one"},
      {"nats_server_bin", &Config::nats_server_bin, "nats-server binary for the private server"},
      {"public_url", &Config::public_url, "public base URL for links (default http://<listen>)"},
      {"log_level", &Config::log_level, "trace, debug, info, warn or error"},
      {"admin_key", &Config::admin_key, "admin key (≥ 16 chars); generated when unset", true},
      {"session_secret", &Config::session_secret, "session signing key (≥ 32 chars); shared "
                                                   "through NATS when unset", true},
      {"session_ttl_hours", &Config::session_ttl_hours, "session lifetime in hours"},
      {"invite_ttl_days", &Config::invite_ttl_days, "invite lifetime in days (0: never expire)"},
      {"join_per_minute", &Config::join_per_minute, "joins per minute per client address"},
      {"join_burst", &Config::join_burst, "join burst per client address"},
      {"hand_per_minute", &Config::hand_per_minute, "raise/lower per minute per user"},
      {"hand_burst", &Config::hand_burst, "raise/lower burst per user"},
      {"trusted_proxies", &Config::trusted_proxies,
       "comma-separated addresses of reverse proxies (nginx) whose X-Forwarded-For names the "
       "client"},
      {"max_sse_per_user", &Config::max_sse_per_user, "open event streams per user"},
      {"sse_queue_limit", &Config::sse_queue_limit, "events queued before a slow client is "
                                                     "dropped (it resumes by id)"},
      {"heartbeat_seconds", &Config::heartbeat_seconds, "SSE heartbeat interval"},
      {"worker_threads", &Config::worker_threads, "request handler threads"},
      {"io_threads", &Config::io_threads, "network I/O threads"},
      {"nats_replicas", &Config::nats_replicas, "stream replicas (3 on a cluster)"},
      {"demo_room", &Config::demo_room, "create room 'demo' on a fresh data dir"},
      {"janus", &Config::janus, "start a private Janus for the stage (unless janus_url)"},
      {"janus_bin", &Config::janus_bin, "janus binary for the private Janus"},
      {"janus_url", &Config::janus_url, "use this Janus (WebSocket URL ws://…) for the stage"},
      {"janus_http_url", &Config::janus_http_url, "HTTP API of that Janus (http://…/janus)"},
      {"janus_admin_url", &Config::janus_admin_url, "Admin API of that Janus (http://…/admin)"},
      {"janus_admin_secret", &Config::janus_admin_secret, "admin_secret of that Janus", true},
      {"janus_room_admin_key", &Config::janus_room_admin_key, "VideoRoom admin_key of that Janus",
       true},
      {"public_ip", &Config::public_ip, "public address of this host for Janus (behind NAT)"},
      {"rtp_port_min", &Config::rtp_port_min, "lowest UDP port Janus uses for media"},
      {"rtp_port_max", &Config::rtp_port_max, "highest UDP port Janus uses for media"},
      {"stage_grace_seconds", &Config::stage_grace_seconds,
       "demote a promoted user who stopped publishing for this long"},
      {"turn", &Config::turn,
       "start a private coturn so promoted users behind a UDP-blocking firewall relay over TCP "
       "(unless turn_url)"},
      {"turn_bin", &Config::turn_bin, "turnserver binary for the private coturn"},
      {"turn_url", &Config::turn_url, "use this TURN server (turn:host:port or turns:host:port)"},
      {"turn_secret", &Config::turn_secret,
       "static-auth-secret of the TURN server (≥ 16 chars); with turn: shared through NATS when "
       "unset",
       true},
      {"turn_host", &Config::turn_host,
       "host or address browsers reach the private coturn at (default: public_ip, public_url's "
       "host, this host's address)"},
      {"turn_port", &Config::turn_port,
       "UDP and TCP port of the private coturn (0: any free port)"},
      {"turn_listen_ip", &Config::turn_listen_ip,
       "address the private coturn listens and relays on (empty: every address)"},
      {"turn_relay_min", &Config::turn_relay_min,
       "lowest UDP port of the private coturn's relays"},
      {"turn_relay_max", &Config::turn_relay_max,
       "highest UDP port of the private coturn's relays"},
      {"turn_tls_cert", &Config::turn_tls_cert,
       "PEM certificate (chain) for the private coturn's TLS listener (turns:), valid for "
       "turn_host"},
      {"turn_tls_key", &Config::turn_tls_key, "PEM key of that certificate"},
      {"turn_tls_port", &Config::turn_tls_port,
       "TLS port of the private coturn (0: any free port)"},
      {"web_dir", &Config::web_dir, "the built web app (web/dist); empty: found beside the binary"},
      {"tls", &Config::tls, "'self-signed': serve HTTPS with a certificate generated into "
                            "<data_dir>/tls (reused on restart; its fingerprint is printed)"},
      {"tls_cert", &Config::tls_cert, "serve HTTPS with this PEM certificate chain (and tls_key)"},
      {"tls_key", &Config::tls_key, "PEM private key of tls_cert"},
      {"http_redirect", &Config::http_redirect,
       "with TLS: host:port answering plain HTTP with a redirect to HTTPS (empty: off)"},
      {"hsts_seconds", &Config::hsts_seconds,
       "with TLS: Strict-Transport-Security max-age in seconds (0: no header)"},
      {"egress", &Config::egress, "run the broadcast (one egress per live room)"},
      {"demo_source", &Config::demo_source,
       "'test': room demo goes live at start with a test pattern, clock and tone"},
      {"egress_source", &Config::egress_source, "what live rooms broadcast: janus or test"},
      {"video_size", &Config::video_size, "broadcast picture size WIDTHxHEIGHT"},
      {"video_fps", &Config::video_fps, "broadcast frame rate"},
      {"video_kbps", &Config::video_kbps, "broadcast H.264 bitrate in kbit/s"},
      {"audio_kbps", &Config::audio_kbps, "broadcast AAC bitrate in kbit/s"},
      {"part_seconds", &Config::part_seconds, "LL-HLS part duration target in seconds"},
      {"segment_seconds", &Config::segment_seconds, "LL-HLS segment duration in seconds"},
      {"hls_retention_seconds", &Config::hls_retention_seconds,
       "seconds of media listed in the HLS playlist"},
  };
  return fields;
}

void setField(Config& config, const FieldInfo& field, const std::string& value) {
  auto bad = [&](const char* what) {
    return std::runtime_error(std::string(field.name) + ": '" + value + "' is not " + what);
  };
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(config.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          config.*member = value;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (value == "true" || value == "1" || value == "yes") {
            config.*member = true;
          } else if (value == "false" || value == "0" || value == "no") {
            config.*member = false;
          } else {
            throw bad("true or false");
          }
        } else {
          std::size_t used = 0;
          try {
            if constexpr (std::is_same_v<T, int>) {
              config.*member = std::stoi(value, &used);
            } else {
              config.*member = std::stod(value, &used);
            }
          } catch (const std::exception&) {
            throw bad("a number");
          }
          if (used != value.size()) throw bad("a number");
        }
      },
      field.ref);
}

void applyTomlFile(Config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config " + path + ": " + std::string(e.description()) + " at line " +
                             std::to_string(e.source().begin.line));
  }
  for (const auto& [key, node] : table) {
    const auto& fields = configFields();
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const FieldInfo& f) { return key.str() == f.name; });
    if (it == fields.end()) {
      throw std::runtime_error("config " + path + ": unknown key '" + std::string(key.str()) + "'");
    }
    std::string text;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      text = *s;
    } else if (node.is_boolean()) {
      text = *node.value<bool>() ? "true" : "false";
    } else if (node.is_integer()) {
      text = std::to_string(*node.value<int64_t>());
    } else if (node.is_floating_point()) {
      text = std::to_string(*node.value<double>());
    } else {
      throw std::runtime_error("config " + path + ": '" + std::string(key.str()) +
                               "' must be a string, number or boolean");
    }
    try {
      setField(config, *it, text);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("config " + path + ": " + e.what());
    }
  }
}

void applyEnvironment(Config& config, const std::map<std::string, std::string>& env) {
  for (const auto& field : configFields()) {
    std::string name = "AMPHI_";
    for (const char* p = field.name; *p; ++p) {
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    }
    auto it = env.find(name);
    if (it == env.end()) continue;
    try {
      setField(config, field, it->second);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("environment " + name + ": " + e.what());
    }
  }
}

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && entry.rfind("AMPHI_", 0) == 0) {
      env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  return env;
}

bool tlsEnabled(const Config& c) { return !c.tls.empty() || !c.tls_cert.empty(); }

void validate(const Config& c) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw std::runtime_error(message);
  };
  require(c.http.find(':') != std::string::npos, "http: expected host:port, got '" + c.http + "'");
  require(c.admin_key.empty() || c.admin_key.size() >= 16,
          "admin_key: must be at least 16 characters");
  require(c.session_secret.empty() || c.session_secret.size() >= 32,
          "session_secret: must be at least 32 characters");
  require(c.session_ttl_hours >= 1, "session_ttl_hours: must be at least 1");
  require(c.invite_ttl_days >= 0, "invite_ttl_days: must be 0 or more");
  require(c.max_sse_per_user >= 1, "max_sse_per_user: must be at least 1");
  require(c.sse_queue_limit >= 16, "sse_queue_limit: must be at least 16");
  require(c.heartbeat_seconds >= 1, "heartbeat_seconds: must be at least 1");
  require(c.worker_threads >= 1 && c.io_threads >= 1, "worker_threads, io_threads: at least 1");
  require(c.rtp_port_min > 1024 && c.rtp_port_min < c.rtp_port_max && c.rtp_port_max < 65536,
          "rtp_port_min, rtp_port_max: a range within 1025-65535");
  require(c.stage_grace_seconds >= 1, "stage_grace_seconds: at least 1");
  require(c.demo_source.empty() || c.demo_source == "test", "demo_source: empty or 'test'");
  require(c.egress_source == "janus" || c.egress_source == "test",
          "egress_source: 'janus' or 'test'");
  int w = 0, h = 0;
  require(std::sscanf(c.video_size.c_str(), "%dx%d", &w, &h) == 2 && w >= 160 && h >= 90 &&
              w <= 3840 && h <= 2160 && w % 2 == 0 && h % 2 == 0,
          "video_size: WIDTHxHEIGHT, even numbers from 160x90 to 3840x2160");
  require(c.video_fps >= 5 && c.video_fps <= 60, "video_fps: 5 to 60");
  require(c.video_kbps >= 50 && c.video_kbps <= 20000, "video_kbps: 50 to 20000");
  require(c.audio_kbps >= 32 && c.audio_kbps <= 320, "audio_kbps: 32 to 320");
  require(c.part_seconds >= 0.2 && c.part_seconds <= 1.0, "part_seconds: 0.2 to 1.0");
  require(c.segment_seconds >= 1 && c.segment_seconds <= 6 &&
              c.segment_seconds >= 2 * c.part_seconds,
          "segment_seconds: 1 to 6, at least two parts");
  require(c.hls_retention_seconds >= 6 && c.hls_retention_seconds <= 120,
          "hls_retention_seconds: 6 to 120");
  require(c.janus_url.empty() || (!c.janus_http_url.empty() && !c.janus_admin_url.empty() &&
                                  !c.janus_admin_secret.empty()),
          "janus_url needs janus_http_url, janus_admin_url and janus_admin_secret too");
  require(c.turn_url.empty() || c.turn_url.rfind("turn:", 0) == 0 ||
              c.turn_url.rfind("turns:", 0) == 0,
          "turn_url: turn:host:port or turns:host:port");
  require(c.turn_url.empty() || !c.turn_secret.empty(),
          "turn_url needs turn_secret (the server's static-auth-secret) too");
  require(c.turn_secret.empty() || c.turn_secret.size() >= 16,
          "turn_secret: must be at least 16 characters");
  require(c.turn_port >= 0 && c.turn_port < 65536, "turn_port: 0 to 65535");
  require(c.turn_tls_port >= 0 && c.turn_tls_port < 65536, "turn_tls_port: 0 to 65535");
  require(c.turn_tls_cert.empty() == c.turn_tls_key.empty(),
          "turn_tls_cert and turn_tls_key go together");
  require(c.turn_relay_min >= 1024 && c.turn_relay_min <= c.turn_relay_max &&
              c.turn_relay_max < 65536,
          "turn_relay_min, turn_relay_max: a range within 1024-65535");
  require(c.nats_replicas == 1 || c.nats_replicas == 3 || c.nats_replicas == 5,
          "nats_replicas: 1, 3 or 5");
  require(!c.public_url.empty() ? c.public_url.rfind("http", 0) == 0 : true,
          "public_url: must start with http:// or https://");
  require(c.tls.empty() || c.tls == "self-signed", "tls: empty or 'self-signed'");
  require(c.tls_cert.empty() == c.tls_key.empty(), "tls_cert and tls_key go together");
  require(c.tls.empty() || c.tls_cert.empty(), "tls: 'self-signed' or tls_cert/tls_key, not both");
  require(c.http_redirect.empty() || c.http_redirect.find(':') != std::string::npos,
          "http_redirect: expected host:port, got '" + c.http_redirect + "'");
  require(c.http_redirect.empty() || tlsEnabled(c),
          "http_redirect: only with TLS (tls = 'self-signed' or tls_cert/tls_key)");
  require(c.hsts_seconds >= 0, "hsts_seconds: 0 or more");
}

}  // namespace amphi::app
