#include "app/turn.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "auth/random.hpp"
#include "auth/turn_credentials.hpp"
#include "bus/bus.hpp"
#include "sfu/turn_config.hpp"

namespace amphi::app {
namespace {

constexpr const char* kSecretKey = "config.turn-secret";
constexpr auto kJanusCredentialLifetime = std::chrono::hours(24 * 365 * 10);

// The shared secret every serve on the same NATS uses: created once (first writer wins).
std::string sharedSecret(bus::Bus& bus) {
  if (auto existing = bus.get(bus::Bucket::Rooms, kSecretKey)) return existing->value;
  std::string fresh = auth::randomToken(32);
  try {
    bus.create(bus::Bucket::Rooms, kSecretKey, fresh);
    return fresh;
  } catch (const bus::CasConflict&) {  // another serve was first
    return bus.get(bus::Bucket::Rooms, kSecretKey).value().value;
  }
}

// A long-lived credential for Janus, from the same secret.
sfu::JanusTurn janusTurn(const std::string& host, uint16_t port, bool tls,
                         const std::string& secret) {
  const auto expiry = std::chrono::system_clock::now() + kJanusCredentialLifetime;
  const auto c = auth::turnCredential(
      secret, "janus",
      std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count());
  return {host, port, tls ? "tls" : "udp", c.username, c.password};
}

TurnPlan externalTurn(const Config& c) {
  const auto endpoint = sfu::parseTurnUrl(c.turn_url);
  TurnPlan plan;
  plan.urls = sfu::turnUrls(endpoint);
  plan.secret = c.turn_secret;
  plan.janus = janusTurn(endpoint.host, endpoint.port, endpoint.tls, plan.secret);
  return plan;
}

TurnPlan embeddedTurn(const Config& c, const std::filesystem::path& dataDir, bus::Bus& bus) {
  const auto addresses = sfu::hostAddresses();
  const std::string host =
      sfu::turnHost({c.turn_host, c.public_ip, c.public_url, c.turn_listen_ip}, addresses);
  if (host.empty())
    throw std::runtime_error("no address for TURN URLs: set turn_host (or public_ip)");
  TurnPlan plan;
  plan.secret = c.turn_secret.empty() ? sharedSecret(bus) : c.turn_secret;
  sfu::EmbeddedTurnOptions o;
  o.binary = c.turn_bin;
  o.dataDir = dataDir.string();
  o.secret = plan.secret;
  o.port = static_cast<uint16_t>(c.turn_port);
  o.listenIp = c.turn_listen_ip;
  o.externalIp = c.public_ip;
  o.relayMin = c.turn_relay_min;
  o.relayMax = c.turn_relay_max;
  o.cert = c.turn_tls_cert;
  o.key = c.turn_tls_key;
  o.tlsPort = static_cast<uint16_t>(c.turn_tls_port);
  plan.embedded = std::make_unique<sfu::EmbeddedTurn>(o);
  plan.embedded->start();
  plan.urls = sfu::turnUrls({false, host, plan.embedded->port()});
  if (plan.embedded->tls()) {
    for (auto& url : sfu::turnUrls({true, host, plan.embedded->tlsPort()}))
      plan.urls.push_back(url);
  }
  // Janus runs on this host: it reaches coturn on a local address, not through NAT.
  std::string local = c.turn_listen_ip;
  if (local.empty()) {
    const bool hostIsLocal = std::find(addresses.begin(), addresses.end(), host) != addresses.end();
    local = hostIsLocal ? host : sfu::turnHost({}, addresses);
  }
  if (!local.empty()) plan.janus = janusTurn(local, plan.embedded->port(), false, plan.secret);
  return plan;
}

}  // namespace

std::optional<TurnPlan> startTurn(const Config& c, const std::filesystem::path& dataDir,
                                  bus::Bus& bus) {
  if (!c.turn_url.empty()) return externalTurn(c);
  if (!c.turn) return std::nullopt;
  return embeddedTurn(c, dataDir, bus);
}

TurnWatch::TurnWatch(sfu::EmbeddedTurn& turn) : turn_(turn), thread_([this] { run(); }) {}

TurnWatch::~TurnWatch() {
  stop_ = true;
  thread_.join();
}

void TurnWatch::run() {
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    alive_ = turn_.running();
    if (stop_ || alive_) continue;
    spdlog::error("turn: coturn (TURN relay) died; restarting it");
    try {
      turn_.start();
      alive_ = true;
      spdlog::info("turn: coturn is back on port {}", turn_.port());
    } catch (const std::exception& e) {
      spdlog::error("turn: restarting coturn failed: {}; retrying", e.what());
    }
  }
}

}  // namespace amphi::app
