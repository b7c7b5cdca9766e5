// A private nats-server with JetStream, started and stopped by `amphi serve` (when no
// external --nats-url is given) and by the integration tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "app/process.hpp"

namespace amphi::app {

struct EmbeddedNatsOptions {
  std::string binary = "nats-server";  // a name looked up in PATH, or a path
  std::string dataDir;                 // required; config, log and store live in dataDir/nats
  uint16_t port = 0;                   // 0 = choose a free loopback port
  std::chrono::milliseconds startTimeout{10000};
};

// Files under dataDir/nats: nats-server.conf (written by start()), nats-server.log (the
// server's output, appended) and jetstream/ (the store). Listens on 127.0.0.1 only, no
// monitoring port. Not thread-safe: one owner calls its methods.
class EmbeddedNats {
 public:
  explicit EmbeddedNats(EmbeddedNatsOptions options);
  ~EmbeddedNats();  // stops the server
  EmbeddedNats(const EmbeddedNats&) = delete;
  EmbeddedNats& operator=(const EmbeddedNats&) = delete;

  // Writes the config, spawns the server and returns once it listens and logged
  // "Server is ready" (JetStream is up by then). With port 0, a port taken by someone
  // else is retried with a new one, 3 attempts in all. Throws std::runtime_error naming
  // the log file on failure. Once started, the port is kept for later starts.
  void start();
  // SIGTERM (SIGKILL after 3 s) and reap. Does nothing when not running.
  void stop();
  // stop() then start() on the same port and store (fault tests).
  void restart();

  std::string url() const;                 // nats://127.0.0.1:<port>
  uint16_t port() const { return port_; }  // 0 before the first start with port 0
  bool running();
  // "2.9.10", from `<binary> --version`, run once and cached. From 2.10 on, the config
  // sets `sync_interval: always` so acknowledged writes survive a power cut.
  std::string version() const;
  std::string logFile() const;

 private:
  bool tryStart(uint16_t port, bool retryable);
  void writeConfig(uint16_t port) const;
  std::string natsDir() const;

  EmbeddedNatsOptions options_;
  uint16_t port_ = 0;
  ChildProcess child_;
  mutable std::string version_;
};

}  // namespace amphi::app
