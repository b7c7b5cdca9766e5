#include "sfu/embedded_janus.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "auth/random.hpp"
#include "sfu/http_exchange.hpp"
#include "sfu/janus_config.hpp"

namespace amphi::sfu {

using app::lastLines;
using app::readFrom;
using app::sizeOf;
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int kStartAttempts = 3;
constexpr size_t kSecretBytes = 24;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kProbeTimeout = std::chrono::milliseconds(1000);
constexpr std::string_view kFatal = "[FATAL]";
// What Janus 1.1.2 logs when a transport cannot bind (it then runs on without it).
constexpr std::string_view kHttpBindFailed = "Couldn't start webserver";
constexpr std::string_view kWsBindFailed = "Error creating vhost";

// The line of text holding position pos.
std::string lineAt(const std::string& text, size_t pos) {
  size_t begin = text.rfind('\n', pos);
  begin = begin == std::string::npos ? 0 : begin + 1;
  size_t end = text.find('\n', pos);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

bool answersInfo(uint16_t port) {
  try {
    auto reply =
        detail::httpExchange({"127.0.0.1", port, ""}, "GET", "/janus/info", "", kProbeTimeout);
    return reply.status == 200 && json::parse(reply.body).value("janus", "") == "server_info";
  } catch (const std::exception&) {
    return false;
  }
}

bool answersAdminPing(uint16_t port, const std::string& secret) {
  try {
    json ping = {{"janus", "ping"}, {"transaction", "amphi-probe"}, {"admin_secret", secret}};
    auto reply =
        detail::httpExchange({"127.0.0.1", port, ""}, "POST", "/admin", ping.dump(), kProbeTimeout);
    return reply.status == 200 && json::parse(reply.body).value("janus", "") == "pong";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

// Three distinct ports that were free a moment ago.
EmbeddedJanus::Ports EmbeddedJanus::freshPorts() {
  Ports p;
  p.http = app::freeLoopbackPort();
  do p.admin = app::freeLoopbackPort();
  while (p.admin == p.http);
  do p.ws = app::freeLoopbackPort();
  while (p.ws == p.http || p.ws == p.admin);
  return p;
}

EmbeddedJanus::EmbeddedJanus(EmbeddedJanusOptions options) : options_(std::move(options)) {
  if (options_.dataDir.empty()) throw std::runtime_error("embedded janus: dataDir is required");
  if (options_.adminSecret.empty()) options_.adminSecret = auth::randomToken(kSecretBytes);
  if (options_.roomAdminKey.empty()) options_.roomAdminKey = auth::randomToken(kSecretBytes);
}

EmbeddedJanus::~EmbeddedJanus() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw; the child is reaped by its own destructor
  }
}

std::string EmbeddedJanus::dir() const {
  return options_.dataDir + "/janus";
}
std::string EmbeddedJanus::logFile() const {
  return dir() + "/janus.log";
}
std::string EmbeddedJanus::wsUrl() const {
  return fmt::format("ws://127.0.0.1:{}", ports_.ws);
}
std::string EmbeddedJanus::httpUrl() const {
  return fmt::format("http://127.0.0.1:{}/janus", ports_.http);
}
std::string EmbeddedJanus::adminUrl() const {
  return fmt::format("http://127.0.0.1:{}/admin", ports_.admin);
}
bool EmbeddedJanus::running() {
  return child_.running();
}

void EmbeddedJanus::writeConfig(const Ports& ports) const {
  JanusConfig config;
  config.dir = dir();
  config.wsPort = ports.ws;
  config.httpPort = ports.http;
  config.adminPort = ports.admin;
  config.adminSecret = options_.adminSecret;
  config.roomAdminKey = options_.roomAdminKey;
  config.publicIp = options_.publicIp;
  config.turn = options_.turn;
  config.rtpMin = options_.rtpMin;
  config.rtpMax = options_.rtpMax;
  writeJanusConfig(config);  // logFile stays empty: Janus logs to stdout, which we append
}

// Ready when all three APIs are up and are Janus's (not another process on a taken port).
bool EmbeddedJanus::probe(const Ports& ports, const std::string& freshLog) const {
  auto wsStarted = fmt::format("Websockets server started (port {})", ports.ws);
  return freshLog.find(wsStarted) != std::string::npos && answersInfo(ports.http) &&
         answersAdminPing(ports.admin, options_.adminSecret);
}

EmbeddedJanus::Attempt EmbeddedJanus::tryStart(const Ports& ports) {
  writeConfig(ports);
  auto logOffset = sizeOf(logFile());
  app::SpawnOptions spawnOptions;
  spawnOptions.logFile = logFile();
  child_ = app::ChildProcess::spawn({options_.binary, "-F", dir(), "-o"}, spawnOptions);
  auto deadline = Clock::now() + options_.startTimeout;
  while (Clock::now() < deadline) {
    bool alive = child_.running();  // before reading the log, so an exit's last words are in it
    std::string fresh = readFrom(logFile(), logOffset);
    if (!alive)
      throw std::runtime_error(
          fmt::format("embedded janus: janus exited (status {}) while starting; see {}: {}",
                      child_.exitStatus().value_or(-1), logFile(), lastLines(fresh, 3)));
    if (size_t fatal = fresh.find(kFatal); fatal != std::string::npos) {
      std::string line = lineAt(fresh, fatal);
      child_.terminate();
      if (line.find(kHttpBindFailed) != std::string::npos ||
          line.find(kWsBindFailed) != std::string::npos)
        return Attempt::PortTaken;
      throw std::runtime_error(
          fmt::format("embedded janus: janus failed to start; see {}: {}", logFile(), line));
    }
    if (probe(ports, fresh)) return Attempt::Ready;
    std::this_thread::sleep_for(kPollInterval);
  }
  child_.terminate();
  throw std::runtime_error(
      fmt::format("embedded janus: not ready on ports {}/{}/{} after {} ms; see {}", ports.http,
                  ports.admin, ports.ws, options_.startTimeout.count(), logFile()));
}

void EmbeddedJanus::start() {
  if (running()) return;
  fs::create_directories(dir());
  if (ports_.http != 0) {
    if (tryStart(ports_) == Attempt::PortTaken)
      throw std::runtime_error(
          fmt::format("embedded janus: a port of {}/{}/{} is taken by another process; see {}",
                      ports_.http, ports_.admin, ports_.ws, logFile()));
  } else {
    for (int attempt = 1;; ++attempt) {
      Ports ports = freshPorts();
      if (tryStart(ports) == Attempt::Ready) {
        ports_ = ports;
        break;
      }
      if (attempt == kStartAttempts)
        throw std::runtime_error(fmt::format("embedded janus: ports taken on {} attempts; see {}",
                                             kStartAttempts, logFile()));
      spdlog::warn("janus: a port was taken, retrying with new ones (attempt {})", attempt + 1);
    }
  }
  spdlog::info("janus: embedded janus pid {} ready: http {}, ws {}, admin {} (config {}, log {})",
               child_.pid(), httpUrl(), wsUrl(), adminUrl(), dir(), logFile());
}

void EmbeddedJanus::stop() {
  if (child_.pid() <= 0) return;
  pid_t pid = child_.pid();
  bool graceful = child_.terminate();
  spdlog::info("janus: embedded janus pid {} stopped{}", pid,
               graceful ? "" : " (killed after timeout)");
  child_ = app::ChildProcess{};
}

}  // namespace amphi::sfu
