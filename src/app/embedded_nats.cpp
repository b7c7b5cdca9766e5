#include "app/embedded_nats.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace amphi::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kStartAttempts = 3;
constexpr auto kPollInterval = std::chrono::milliseconds(25);
constexpr auto kVersionTimeout = std::chrono::seconds(5);
constexpr std::string_view kReadyLine = "Server is ready";
constexpr std::string_view kPortTaken = "address already in use";

// A NATS config string literal.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// "nats-server: v2.9.10" -> "2.9.10"
std::string parseVersion(const std::string& text) {
  size_t start = text.find_first_of("0123456789");
  if (start == std::string::npos) return {};
  size_t end = text.find_first_not_of("0123456789.", start);
  std::string v = text.substr(start, end == std::string::npos ? end : end - start);
  while (!v.empty() && v.back() == '.') v.pop_back();
  return v;
}

bool versionAtLeast(const std::string& version, int major, int minor) {
  int parts[2] = {0, 0};
  const char* p = version.data();
  const char* end = p + version.size();
  for (int& part : parts) {
    auto [next, ec] = std::from_chars(p, end, part);
    if (ec != std::errc()) break;
    p = next < end ? next + 1 : end;
  }
  return parts[0] > major || (parts[0] == major && parts[1] >= minor);
}

}  // namespace

EmbeddedNats::EmbeddedNats(EmbeddedNatsOptions options) : options_(std::move(options)) {
  if (options_.dataDir.empty()) throw std::runtime_error("embedded nats: dataDir is required");
  port_ = options_.port;
}

EmbeddedNats::~EmbeddedNats() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw; the child is reaped by its own destructor
  }
}

std::string EmbeddedNats::natsDir() const {
  return options_.dataDir + "/nats";
}
std::string EmbeddedNats::logFile() const {
  return natsDir() + "/nats-server.log";
}
std::string EmbeddedNats::url() const {
  return fmt::format("nats://127.0.0.1:{}", port_);
}
bool EmbeddedNats::running() {
  return child_.running();
}

std::string EmbeddedNats::version() const {
  if (!version_.empty()) return version_;
  fs::create_directories(natsDir());
  std::string out = natsDir() + "/version.txt";
  fs::remove(out);
  SpawnOptions spawnOptions;
  spawnOptions.logFile = out;
  auto child = ChildProcess::spawn({options_.binary, "--version"}, spawnOptions);
  auto status = child.waitFor(kVersionTimeout);
  std::string text = readFrom(out, 0);
  version_ = parseVersion(text);
  if (status != 0 || version_.empty())
    throw std::runtime_error(fmt::format("embedded nats: `{} --version` failed: {}",
                                         options_.binary, lastLines(text, 3)));
  return version_;
}

void EmbeddedNats::writeConfig(uint16_t port) const {
  std::string conf = fmt::format(
      "# Written by amphi at each start; edits are lost.\n"
      "listen: 127.0.0.1:{}\n"
      "jetstream {{\n"
      "  store_dir: {}\n",
      port, quoted(natsDir()));
  if (versionAtLeast(version(), 2, 10)) conf += "  sync_interval: always\n";
  conf += "}\n";
  std::string path = natsDir() + "/nats-server.conf";
  std::ofstream file(path, std::ios::trunc);
  file << conf;
  if (!file.flush()) throw std::runtime_error(fmt::format("embedded nats: cannot write {}", path));
}

// One attempt on one port. False when the port was taken and the caller may retry.
bool EmbeddedNats::tryStart(uint16_t port, bool retryable) {
  fs::create_directories(natsDir());
  writeConfig(port);
  auto logOffset = sizeOf(logFile());
  SpawnOptions spawnOptions;
  spawnOptions.logFile = logFile();
  child_ =
      ChildProcess::spawn({options_.binary, "-c", natsDir() + "/nats-server.conf"}, spawnOptions);
  auto deadline = Clock::now() + options_.startTimeout;
  while (Clock::now() < deadline) {
    bool alive = child_.running();  // before reading the log, so an exit's last words are in it
    std::string fresh = readFrom(logFile(), logOffset);
    if (!alive) {
      if (retryable && fresh.find(kPortTaken) != std::string::npos) return false;
      throw std::runtime_error(fmt::format(
          "embedded nats: nats-server exited (status {}) while starting on port {}; see {}: {}",
          child_.exitStatus().value_or(-1), port, logFile(), lastLines(fresh, 3)));
    }
    if (fresh.find(kReadyLine) != std::string::npos &&
        waitForTcp("127.0.0.1", port, std::chrono::seconds(1))) {
      port_ = port;
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  child_.terminate();
  throw std::runtime_error(fmt::format("embedded nats: not ready on port {} after {} ms; see {}",
                                       port, options_.startTimeout.count(), logFile()));
}

void EmbeddedNats::start() {
  if (running()) return;
  if (port_ != 0) {
    tryStart(port_, false);
  } else {
    for (int attempt = 1; attempt <= kStartAttempts; ++attempt)
      if (tryStart(freeLoopbackPort(), attempt < kStartAttempts)) break;
  }
  spdlog::info("nats: embedded nats-server {} ready at {} (store {}, log {})", version(), url(),
               natsDir(), logFile());
}

void EmbeddedNats::stop() {
  if (child_.pid() <= 0) return;
  bool graceful = child_.terminate();
  spdlog::info("nats: embedded nats-server on port {} stopped{}", port_,
               graceful ? "" : " (killed after timeout)");
  child_ = ChildProcess{};
}

void EmbeddedNats::restart() {
  stop();
  start();
}

}  // namespace amphi::app
