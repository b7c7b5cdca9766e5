// Processes that integration tests run: a private nats-server and `amphi serve`. Each
// lives in a fresh directory under /tmp, removed at the end unless the environment sets
// AMPHI_KEEP_TEST_DIRS (then the path is printed to stderr, for post-mortems). The same
// holds when a constructor throws: its message carries the tail of the log.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/embedded_nats.hpp"
#include "app/process.hpp"

namespace amphi::testing {

using namespace std::chrono_literals;

// Creates /tmp/<prefix>-XXXXXX (mkdtemp) and returns its path.
std::string uniqueTempDir(const std::string& prefix);

// A real nats-server with JetStream on a free loopback port, started by the constructor.
// The nats-server binary is `nats-server` from PATH unless the environment sets
// AMPHI_NATS_BIN.
class NatsFixture {
 public:
  NatsFixture();   // throws (naming the log file) if the server does not start
  ~NatsFixture();  // stops the server, removes the directory
  NatsFixture(const NatsFixture&) = delete;
  NatsFixture& operator=(const NatsFixture&) = delete;

  void start();
  void stop();
  void restart();  // same port, same store
  std::string url() const { return nats_.url(); }
  uint16_t port() const { return nats_.port(); }
  bool running() { return nats_.running(); }
  const std::string& dataDir() const { return dir_; }

 private:
  std::string dir_;
  app::EmbeddedNats nats_;
};

// `amphi serve` as a child process:
//   <amphi> serve --http 127.0.0.1:<free port> --data-dir <temp dir> --nats-url <natsUrl>
//           <extraArgs...>
// with env AMPHI_ADMIN_KEY=test-admin-key-0123456789 unless env names AMPHI_ADMIN_KEY,
// output appended to <temp dir>/serve.log. The binary is the environment's AMPHI_BIN if
// set, else the AMPHI_BIN compile definition of amphi_test_support ($<TARGET_FILE:amphi>).
// With --tls or --tls-cert among extraArgs, baseUrl() is https://.
class ServeProcess {
 public:
  static constexpr const char* kAdminKey = "test-admin-key-0123456789";

  // Starts serve and waits until GET /healthz is 200 (20 s); throws with the log's tail.
  ServeProcess(std::string natsUrl, std::vector<std::string> extraArgs = {},
               std::vector<std::string> env = {});
  ~ServeProcess();  // stop(), then removes the directory
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  std::string baseUrl() const;  // http(s)://127.0.0.1:<port>
  uint16_t port() const { return port_; }
  const std::string& dataDir() const { return dir_; }
  std::string logFile() const { return dir_ + "/serve.log"; }

  // Sends sig; after SIGKILL also reaps the process.
  void kill(int sig = SIGKILL);
  // SIGTERM, then SIGKILL after grace. True if serve exited within grace.
  bool stop(std::chrono::milliseconds grace = 10s);
  // Starts serve again (same port, data dir, args and env) after kill() or stop().
  void start();
  bool running() { return child_.running(); }
  std::optional<int> exitStatus() const { return child_.exitStatus(); }
  // Polls GET /readyz until it answers 200; false after timeout.
  bool waitReady(std::chrono::milliseconds timeout = 20s);
  std::string logTail(size_t lines = 40) const;

  // The amphi binary the tests run (see the class comment); throws if none is configured.
  static std::string binary();

 private:
  bool launch(bool retryOnPortInUse);

  std::string bin_;
  std::string natsUrl_;
  std::vector<std::string> extraArgs_, env_;
  std::string dir_;
  uint16_t port_ = 0;
  bool tls_ = false;
  app::ChildProcess child_;
};

}  // namespace amphi::testing
