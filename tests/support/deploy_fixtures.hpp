// The deployment of deploy/ run by tests and benchmarks on loopback: a 3-node NATS
// cluster from deploy/nats/amphi-nats.conf and nginx from deploy/nginx/amphi.conf. The
// files are used as they are, with only addresses, ports and paths replaced (a
// replacement that no longer matches throws, so the files cannot drift from the test).
// Each fixture lives in a fresh /tmp directory (kept with AMPHI_KEEP_TEST_DIRS).
#pragma once

#include <signal.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/process.hpp"

namespace amphi::testing {

using Replacements = std::vector<std::pair<std::string, std::string>>;

// The repository's deploy/ directory (AMPHI_SOURCE_DIR compile definition, or the
// environment's AMPHI_SOURCE_DIR).
std::string deployDir();
// The file's text with each `from` replaced by `to` (every occurrence); throws naming
// the file when a `from` does not occur.
std::string renderFile(const std::string& path, const Replacements& replacements);

// Three nats-server nodes (JetStream, cluster "amphi", client token auth) on free
// loopback ports. Node i is named n<i+1>.
class NatsCluster {
 public:
  static constexpr const char* kToken = "test-nats-token-0123456789";
  explicit NatsCluster(int nodes = 3);  // starts every node; throws with the log's tail
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // "nats://<token>@127.0.0.1:p1,nats://<token>@127.0.0.1:p2,..." for --nats-url.
  std::string url() const;
  std::string nodeUrl(int i) const;
  void kill(int i, int sig = SIGKILL);  // and reaps it
  void start(int i);                    // same ports and store
  bool running(int i) { return nodes_.at(i).child.running(); }
  std::string logTail(int i, size_t lines = 20) const;
  int size() const { return static_cast<int>(nodes_.size()); }

 private:
  struct Node {
    uint16_t clientPort = 0, routePort = 0, monitorPort = 0;
    std::string dir;
    app::ChildProcess child;
  };
  void writeConfig(int i) const;

  std::string dir_;
  std::vector<Node> nodes_;
};

// nginx running deploy/nginx/amphi.conf (+ amphi-locations.conf) in front of the given
// serve ports, plain HTTP on a free loopback port (the TLS server block with a fresh
// self-signed certificate). Runs with its own prefix, pid, logs, temp and cache paths.
class NginxProcess {
 public:
  // Throws when `nginx -t` rejects the configuration or nginx does not start.
  explicit NginxProcess(const std::vector<uint16_t>& servePorts);
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  std::string baseUrl() const;          // the site (the 443 server block), over HTTP
  std::string redirectBaseUrl() const;  // the port-80 server block
  const std::string& dir() const { return dir_; }
  std::string errorLogTail(size_t lines = 20) const;
  // `nginx -t` on the rendered configuration: exit status and output.
  static std::pair<int, std::string> checkConfig(const std::vector<uint16_t>& servePorts);

 private:
  std::string dir_;
  uint16_t port_ = 0, redirectPort_ = 0;
  app::ChildProcess child_;
};

}  // namespace amphi::testing
