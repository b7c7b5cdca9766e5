#include "sfu/embedded_turn.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "sfu/turn_config.hpp"

namespace amphi::sfu {

using app::lastLines;
using app::readFrom;
using app::sizeOf;
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kStartAttempts = 3;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// What coturn 4.6 logs: once its listeners and relay servers are set up; when a
// listener cannot bind (it then retries forever); for a config line it does not know.
constexpr std::string_view kServersUp = "Total General servers";
constexpr std::string_view kBindFailed = "Cannot bind";
constexpr std::string_view kBadConfig = "Bad configuration format";

}  // namespace

std::vector<std::string> hostAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                  sizeof text);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* a6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  ::freeifaddrs(list);
  return out;
}

EmbeddedTurn::EmbeddedTurn(EmbeddedTurnOptions options)
    : options_(std::move(options)), ports_{options_.port, options_.tlsPort} {
  if (options_.dataDir.empty()) throw std::runtime_error("embedded turn: dataDir is required");
  if (options_.secret.empty()) throw std::runtime_error("embedded turn: secret is required");
}

EmbeddedTurn::~EmbeddedTurn() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw; the child is reaped by its own destructor
  }
}

std::string EmbeddedTurn::dir() const {
  return options_.dataDir + "/turn";
}
std::string EmbeddedTurn::logFile() const {
  return dir() + "/turnserver.log";
}
bool EmbeddedTurn::running() {
  return child_.running();
}

// The configured ports, with free ones in place of 0.
EmbeddedTurn::Ports EmbeddedTurn::choosePorts() const {
  Ports p = ports_;
  if (p.plain == 0) p.plain = app::freeLoopbackPort();
  if (tls() && p.tls == 0) {
    do p.tls = app::freeLoopbackPort();
    while (p.tls == p.plain);
  }
  return p;
}

EmbeddedTurn::Attempt EmbeddedTurn::tryStart(const Ports& ports) {
  TurnConfig config;
  config.dir = dir();
  config.port = ports.plain;
  config.tlsPort = tls() ? ports.tls : 0;
  config.cert = options_.cert;
  config.key = options_.key;
  config.listenIp = options_.listenIp;
  config.externalIp = options_.externalIp;
  config.relayMin = options_.relayMin;
  config.relayMax = options_.relayMax;
  config.secret = options_.secret;
  config.allowedPeers = options_.allowedPeers.empty() ? hostAddresses() : options_.allowedPeers;
  if (!options_.externalIp.empty()) config.allowedPeers.push_back(options_.externalIp);
  writeTurnConfig(config);
  const auto logOffset = sizeOf(logFile());
  app::SpawnOptions spawnOptions;
  spawnOptions.logFile = logFile();
  child_ = app::ChildProcess::spawn({options_.binary, "-c", turnConfigFile(dir())}, spawnOptions);
  const std::string probeHost = options_.listenIp.empty() ? "127.0.0.1" : options_.listenIp;
  const auto deadline = Clock::now() + options_.startTimeout;
  while (Clock::now() < deadline) {
    // Before reading the log, so an exit's last words are in it.
    const bool alive = child_.running();
    const std::string fresh = readFrom(logFile(), logOffset);
    if (!alive)
      throw std::runtime_error(
          fmt::format("embedded turn: turnserver exited (status {}) while starting; see {}: {}",
                      child_.exitStatus().value_or(-1), logFile(), lastLines(fresh, 3)));
    if (fresh.find(kBadConfig) != std::string::npos) {
      child_.terminate();
      throw std::runtime_error(
          fmt::format("embedded turn: turnserver refused its config; see {}", logFile()));
    }
    if (fresh.find(kBindFailed) != std::string::npos) {
      child_.terminate();
      return Attempt::PortTaken;
    }
    if (fresh.find(kServersUp) != std::string::npos &&
        app::waitForTcp(probeHost, ports.plain, std::chrono::milliseconds(500)) &&
        (!tls() || app::waitForTcp(probeHost, ports.tls, std::chrono::milliseconds(500))))
      return Attempt::Ready;
    std::this_thread::sleep_for(kPollInterval);
  }
  child_.terminate();
  throw std::runtime_error(fmt::format("embedded turn: not ready on port {} after {} ms; see {}",
                                       ports.plain, options_.startTimeout.count(), logFile()));
}

void EmbeddedTurn::start() {
  if (running()) return;
  fs::create_directories(dir());
  // Chosen ports may be retried with others; given ones (or kept ones) may not.
  const bool chosen = ports_.plain == 0 || (tls() && ports_.tls == 0);
  for (int attempt = 1;; ++attempt) {
    const Ports ports = choosePorts();
    if (tryStart(ports) == Attempt::Ready) {
      ports_ = ports;
      break;
    }
    if (!chosen)
      throw std::runtime_error(
          fmt::format("embedded turn: port {} or {} is taken by another "
                      "process; see {}",
                      ports.plain, ports.tls, logFile()));
    if (attempt == kStartAttempts)
      throw std::runtime_error(fmt::format("embedded turn: ports taken on {} attempts; see {}",
                                           kStartAttempts, logFile()));
    spdlog::warn("turn: a port was taken, retrying with others (attempt {})", attempt + 1);
  }
  spdlog::info("turn: embedded coturn pid {} ready on port {} (UDP and TCP{}{}; config {}, log {})",
               child_.pid(), ports_.plain, tls() ? fmt::format(", TLS on {}", ports_.tls) : "",
               options_.listenIp.empty() ? ", every address" : " on " + options_.listenIp,
               turnConfigFile(dir()), logFile());
}

void EmbeddedTurn::stop() {
  if (child_.pid() <= 0) return;
  const pid_t pid = child_.pid();
  const bool graceful = child_.terminate();
  spdlog::info("turn: embedded coturn pid {} stopped{}", pid,
               graceful ? "" : " (killed after timeout)");
  child_ = app::ChildProcess{};
}

}  // namespace amphi::sfu
