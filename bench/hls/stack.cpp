// The processes under test: a private nats-server and `amphi serve` (origin only: no Janus,
// no egress, no demo room), both on free loopback ports under one temporary directory.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "http_util.hpp"

namespace bench::hls {
namespace {

using namespace std::chrono_literals;

std::string randomHex(std::size_t bytes) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", in.get() & 0xff);
  return out;
}

bool waitTcp(uint16_t port, Child& child) {
  for (int i = 0; i < 500 && child.running(); ++i) {
    const int fd = connectLoopback(port, 0, false);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

bool waitHealthy(uint16_t port, Child& child) {
  for (int i = 0; i < 1500 && child.running(); ++i) {
    if (HttpConn(port).request("GET", "/healthz").status == 200) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

Stack::Stack(const Options& o) : tmp("hls-bench-") {
  if (o.keepTmp) tmp.keep();
  const uint16_t natsPort = freeLoopbackPort();
  natsUrl = fmt::format("nats://127.0.0.1:{}", natsPort);
  natsLog = tmp.path() + "/nats.log";
  std::filesystem::create_directories(tmp.path() + "/nats");
  nats = Child::spawn({o.natsServer, "-js", "-a", "127.0.0.1", "-p", std::to_string(natsPort),
                       "-sd", tmp.path() + "/nats"},
                      {}, natsLog);
  if (!waitTcp(natsPort, nats)) {
    throw std::runtime_error("nats-server did not start; its log:\n" + tailFile(natsLog, 20));
  }
  httpPort = freeLoopbackPort();
  serveLog = tmp.path() + "/serve.log";
  std::vector<std::string> argv = {o.amphi,
                                   "serve",
                                   "--nats-url",
                                   natsUrl,
                                   "--janus",
                                   "false",
                                   "--egress",
                                   "false",
                                   "--demo-room",
                                   "false",
                                   "--http",
                                   fmt::format("127.0.0.1:{}", httpPort),
                                   "--data-dir",
                                   tmp.path() + "/data",
                                   "--log-level",
                                   "warn",
                                   "--io-threads",
                                   std::to_string(o.ioThreads),
                                   "--worker-threads",
                                   std::to_string(o.workerThreads)};
  argv.insert(argv.end(), o.amphiArgs.begin(), o.amphiArgs.end());
  serve = Child::spawn(argv, {"AMPHI_ADMIN_KEY=" + randomHex(24)}, serveLog);
  if (!waitHealthy(httpPort, serve)) {
    throw std::runtime_error("amphi serve did not start; its log:\n" + tailFile(serveLog, 20));
  }
}

ClientOptions clientOptions(const Options& o, uint16_t port, ClientMode mode, std::size_t n) {
  ClientOptions c;
  c.port = port;
  c.mode = mode;
  c.connections = n;
  c.openRate = o.openRate;
  c.maxConnecting = o.maxConnecting;
  c.threads = o.clientThreads;
  c.quickAck = o.quickAck;
  return c;
}

Dist distribution(std::vector<double>& values) {
  Dist d;
  d.n = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  const auto rank = [&](double q) {
    auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(d.n)));
    return values[std::clamp<std::size_t>(idx, 1, d.n) - 1];
  };
  d.min = values.front();
  d.p50 = rank(0.50);
  d.p95 = rank(0.95);
  d.p99 = rank(0.99);
  d.max = values.back();
  return d;
}

}  // namespace bench::hls
