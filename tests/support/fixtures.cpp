#include "fixtures.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http_client.hpp"

namespace amphi::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHealthTimeout = std::chrono::seconds(20);
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr int kLaunchAttempts = 3;

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

void removeTempDir(const std::string& dir) {
  if (dir.empty()) return;
  if (std::getenv("AMPHI_KEEP_TEST_DIRS")) {
    std::cerr << "[amphi test] kept " << dir << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

app::EmbeddedNatsOptions natsOptions(const std::string& dir) {
  app::EmbeddedNatsOptions options;
  options.binary = envOr("AMPHI_NATS_BIN", "nats-server");
  options.dataDir = dir;
  return options;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool hasEnv(const std::vector<std::string>& env, std::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) {
    return e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=';
  });
}

bool pollStatus(const std::string& baseUrl, const std::string& target) {
  try {
    return httpRequest(baseUrl, "GET", target, "", {}, std::chrono::seconds(1)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string uniqueTempDir(const std::string& prefix) {
  std::string path = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(path.data()))
    throw std::runtime_error(fmt::format("mkdtemp {}: {}", path, std::strerror(errno)));
  return path;
}

// ---- NatsFixture ----

NatsFixture::NatsFixture() : dir_(uniqueTempDir("amphi-nats")), nats_(natsOptions(dir_)) {
  try {
    nats_.start();
  } catch (...) {
    removeTempDir(dir_);
    throw;
  }
}

NatsFixture::~NatsFixture() {
  nats_.stop();
  removeTempDir(dir_);
}

void NatsFixture::start() {
  nats_.start();
}
void NatsFixture::stop() {
  nats_.stop();
}
void NatsFixture::restart() {
  nats_.restart();
}

// ---- ServeProcess ----

std::string ServeProcess::binary() {
#ifdef AMPHI_BIN
  std::string fallback = AMPHI_BIN;
#else
  std::string fallback;
#endif
  std::string bin = envOr("AMPHI_BIN", fallback);
  if (bin.empty())
    throw std::runtime_error(
        "ServeProcess: no amphi binary: set AMPHI_BIN (env or compile definition)");
  return bin;
}

ServeProcess::ServeProcess(std::string natsUrl, std::vector<std::string> extraArgs,
                           std::vector<std::string> env)
    : bin_(binary()),
      natsUrl_(std::move(natsUrl)),
      extraArgs_(std::move(extraArgs)),
      env_(std::move(env)),
      dir_(uniqueTempDir("amphi-serve")) {
  for (const auto& arg : extraArgs_) {
    if (arg.rfind("--tls", 0) == 0 && arg.rfind("--tls-key", 0) != 0) tls_ = true;
  }
  if (!hasEnv(env_, "AMPHI_ADMIN_KEY")) env_.push_back(std::string("AMPHI_ADMIN_KEY=") + kAdminKey);
  try {
    for (int attempt = 1; attempt <= kLaunchAttempts; ++attempt) {
      port_ = app::freeLoopbackPort();
      if (launch(attempt < kLaunchAttempts)) return;
    }
  } catch (...) {
    child_.terminate();
    removeTempDir(dir_);
    throw;
  }
}

ServeProcess::~ServeProcess() {
  stop();
  removeTempDir(dir_);
}

std::string ServeProcess::baseUrl() const {
  return fmt::format("{}://127.0.0.1:{}", tls_ ? "https" : "http", port_);
}

void ServeProcess::start() {
  if (child_.running()) return;
  launch(false);
}

// Spawns serve and waits for /healthz. False if it exited because the port was taken
// and the caller may retry on another port.
bool ServeProcess::launch(bool retryOnPortInUse) {
  std::vector<std::string> argv = {
      bin_,         "serve", "--http",     fmt::format("127.0.0.1:{}", port_),
      "--data-dir", dir_,    "--nats-url", natsUrl_};
  argv.insert(argv.end(), extraArgs_.begin(), extraArgs_.end());
  app::SpawnOptions options;
  options.logFile = logFile();
  options.env = env_;
  child_ = app::ChildProcess::spawn(argv, options);
  auto deadline = Clock::now() + kHealthTimeout;
  while (Clock::now() < deadline) {
    if (!child_.running()) {
      std::string tail = logTail(40);
      if (retryOnPortInUse && tail.find("in use") != std::string::npos) return false;
      throw std::runtime_error(
          fmt::format("amphi serve exited (status {}) before /healthz was 200; {}:\n{}",
                      child_.exitStatus().value_or(-1), logFile(), tail));
    }
    if (pollStatus(baseUrl(), "/healthz")) return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  throw std::runtime_error(fmt::format("amphi serve: /healthz not 200 within {} s; {}:\n{}",
                                       kHealthTimeout.count(), logFile(), logTail(40)));
}

void ServeProcess::kill(int sig) {
  child_.signal(sig);
  if (sig == SIGKILL) child_.waitFor(std::chrono::seconds(5));
}

bool ServeProcess::stop(std::chrono::milliseconds grace) {
  return child_.terminate(grace);
}

bool ServeProcess::waitReady(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (pollStatus(baseUrl(), "/readyz")) return true;
    if (Clock::now() + kPollInterval >= deadline || !child_.running()) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::string ServeProcess::logTail(size_t lines) const {
  std::string text = readFile(logFile());
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (size_t seen = 0; pos > 0; --pos)
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  return text.substr(pos);
}

}  // namespace amphi::testing
