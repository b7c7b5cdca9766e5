#include "deploy_fixtures.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fixtures.hpp"

namespace amphi::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

void removeDir(const std::string& dir) {
  if (dir.empty()) return;
  if (std::getenv("AMPHI_KEEP_TEST_DIRS")) {
    std::cerr << "[amphi test] kept " << dir << "\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Runs a program to completion; its exit status and output.
std::pair<int, std::string> runToEnd(const std::vector<std::string>& argv, const std::string& log,
                                     std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto child = app::ChildProcess::spawn(argv, {.logFile = log});
  auto status = child.waitFor(timeout);
  if (!status) child.terminate();
  return {status.value_or(-1), app::readFrom(log, 0)};
}

// ---- nginx ----

struct NginxPorts {
  uint16_t site = 0, redirect = 0;
};

// Writes <dir>/amphi.conf (deploy/nginx/amphi.conf for these ports and paths), a
// self-signed certificate and <dir>/nginx.conf around them; returns nginx.conf's path.
std::string writeNginxConfig(const std::string& dir, const std::vector<uint16_t>& serves,
                             NginxPorts ports) {
  if (serves.size() != 2) throw std::runtime_error("nginx fixture: the site file names 2 serves");
  const std::string deploy = deployDir() + "/nginx";
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  auto [rc, out] = runToEnd(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert},
      dir + "/openssl.log");
  if (rc != 0) throw std::runtime_error("openssl req failed: " + app::lastLines(out, 5));
  const std::string site =
      renderFile(deploy + "/amphi.conf",
                 {{"server 127.0.0.1:8080 ", fmt::format("server 127.0.0.1:{} ", serves[0])},
                  {"server 127.0.0.1:8081 ", fmt::format("server 127.0.0.1:{} ", serves[1])},
                  {"/var/cache/nginx/amphi", dir + "/cache"},
                  {"listen 80;", fmt::format("listen 127.0.0.1:{};", ports.redirect)},
                  {"listen [::]:80;", ""},
                  {"listen 443 ssl http2;", fmt::format("listen 127.0.0.1:{};", ports.site)},
                  {"listen [::]:443 ssl http2;", ""},
                  {"/etc/letsencrypt/live/classroom.example.org/fullchain.pem", cert},
                  {"/etc/letsencrypt/live/classroom.example.org/privkey.pem", key},
                  {"root /var/www/html;", "root " + dir + "/www;"},
                  {"/etc/nginx/snippets/amphi-locations.conf", deploy + "/amphi-locations.conf"}});
  writeText(dir + "/amphi.conf", site);
  // What Debian's /etc/nginx/nginx.conf provides around sites-enabled/, with our paths.
  // As root, workers would switch to `nobody`, who cannot enter the 0700 temp dir.
  const std::string main = fmt::format(
      "{}daemon off;\nmaster_process on;\nworker_processes 1;\npid {}/nginx.pid;\n"
      "error_log {}/error.log info;\n"
      "events {{ worker_connections 4096; }}\n"
      "http {{\n  access_log {}/access.log;\n  client_body_temp_path {}/body;\n"
      "  proxy_temp_path {}/proxy;\n  fastcgi_temp_path {}/fastcgi;\n"
      "  uwsgi_temp_path {}/uwsgi;\n  scgi_temp_path {}/scgi;\n"
      "  include /etc/nginx/mime.types;\n  include {}/amphi.conf;\n}}\n",
      geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, dir, dir, dir);
  writeText(dir + "/nginx.conf", main);
  return dir + "/nginx.conf";
}

std::string nginxBinary() {
  return envOr("AMPHI_NGINX_BIN", "nginx");
}

}  // namespace

std::string deployDir() {
#ifdef AMPHI_SOURCE_DIR
  std::string fallback = AMPHI_SOURCE_DIR;
#else
  std::string fallback;
#endif
  std::string source = envOr("AMPHI_SOURCE_DIR", fallback);
  if (source.empty()) throw std::runtime_error("deployDir: set AMPHI_SOURCE_DIR");
  return source + "/deploy";
}

std::string renderFile(const std::string& path, const Replacements& replacements) {
  std::string text = slurp(path);
  for (const auto& [from, to] : replacements) {
    size_t pos = text.find(from);
    if (pos == std::string::npos)
      throw std::runtime_error(fmt::format("{} no longer contains '{}'", path, from));
    for (; pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  }
  return text;
}

// ---- NatsCluster ----

NatsCluster::NatsCluster(int nodes) : dir_(uniqueTempDir("amphi-cluster")), nodes_(nodes) {
  try {
    for (int i = 0; i < nodes; ++i) {
      auto& n = nodes_[i];
      n.clientPort = app::freeLoopbackPort();
      n.routePort = app::freeLoopbackPort();
      n.monitorPort = app::freeLoopbackPort();
      n.dir = fmt::format("{}/n{}", dir_, i + 1);
      fs::create_directories(n.dir);
    }
    for (int i = 0; i < nodes; ++i) writeConfig(i);
    for (int i = 0; i < nodes; ++i) start(i);
  } catch (...) {
    for (auto& n : nodes_) n.child.terminate();
    removeDir(dir_);
    throw;
  }
}

NatsCluster::~NatsCluster() {
  for (auto& n : nodes_) n.child.terminate();
  removeDir(dir_);
}

void NatsCluster::writeConfig(int i) const {
  const auto& n = nodes_.at(i);
  Replacements r{{"listen: 0.0.0.0:4222", fmt::format("listen: 127.0.0.1:{}", n.clientPort)},
                 {"http: 127.0.0.1:8222", fmt::format("http: 127.0.0.1:{}", n.monitorPort)},
                 {"/var/lib/amphi-nats", n.dir + "/jetstream"},
                 {"listen: 0.0.0.0:6222", fmt::format("listen: 127.0.0.1:{}", n.routePort)}};
  for (std::size_t j = 0; j < nodes_.size(); ++j) {
    r.emplace_back(fmt::format("nats-{}.example.internal:6222", j + 1),
                   fmt::format("127.0.0.1:{}", nodes_[j].routePort));
  }
  writeText(n.dir + "/nats.conf", renderFile(deployDir() + "/nats/amphi-nats.conf", r));
}

void NatsCluster::start(int i) {
  auto& n = nodes_.at(i);
  if (n.child.running()) return;
  const std::string log = n.dir + "/nats-server.log";
  const auto offset = app::sizeOf(log);
  n.child = app::ChildProcess::spawn(
      {envOr("AMPHI_NATS_BIN", "nats-server"), "-c", n.dir + "/nats.conf", "--name",
       fmt::format("n{}", i + 1)},
      {.logFile = log, .env = {std::string("AMPHI_NATS_TOKEN=") + kToken}});
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    if (!n.child.running())
      throw std::runtime_error(fmt::format("nats node n{} exited: {}", i + 1, logTail(i)));
    if (app::readFrom(log, offset).find("Server is ready") != std::string::npos &&
        app::waitForTcp("127.0.0.1", n.clientPort, std::chrono::seconds(1)))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(fmt::format("nats node n{} not ready: {}", i + 1, logTail(i)));
}

void NatsCluster::kill(int i, int sig) {
  auto& n = nodes_.at(i);
  n.child.signal(sig);
  n.child.waitFor(std::chrono::seconds(10));
}

std::string NatsCluster::nodeUrl(int i) const {
  return fmt::format("nats://{}@127.0.0.1:{}", kToken, nodes_.at(i).clientPort);
}

std::string NatsCluster::url() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i ? "," : "") + nodeUrl(i);
  return out;
}

std::string NatsCluster::logTail(int i, size_t lines) const {
  return app::lastLines(app::readFrom(nodes_.at(i).dir + "/nats-server.log", 0), lines);
}

// ---- NginxProcess ----

std::pair<int, std::string> NginxProcess::checkConfig(const std::vector<uint16_t>& servePorts) {
  const std::string dir = uniqueTempDir("amphi-nginx-t");
  try {
    const auto conf =
        writeNginxConfig(dir, servePorts, {app::freeLoopbackPort(), app::freeLoopbackPort()});
    auto result = runToEnd({nginxBinary(), "-t", "-p", dir, "-c", conf, "-e", dir + "/error.log"},
                           dir + "/nginx-t.log");
    removeDir(dir);
    return result;
  } catch (...) {
    removeDir(dir);
    throw;
  }
}

NginxProcess::NginxProcess(const std::vector<uint16_t>& servePorts)
    : dir_(uniqueTempDir("amphi-nginx")) {
  try {
    port_ = app::freeLoopbackPort();
    redirectPort_ = app::freeLoopbackPort();
    const auto conf = writeNginxConfig(dir_, servePorts, {port_, redirectPort_});
    child_ =
        app::ChildProcess::spawn({nginxBinary(), "-p", dir_, "-c", conf, "-e", dir_ + "/error.log"},
                                 {.logFile = dir_ + "/nginx.out"});
    if (!app::waitForTcp("127.0.0.1", port_, std::chrono::seconds(10)) || !child_.running())
      throw std::runtime_error("nginx did not start: " + errorLogTail());
  } catch (...) {
    child_.terminate();
    removeDir(dir_);
    throw;
  }
}

NginxProcess::~NginxProcess() {
  child_.signal(SIGQUIT);  // graceful: finish what is in flight
  if (!child_.waitFor(std::chrono::seconds(5))) child_.terminate();
  removeDir(dir_);
}

std::string NginxProcess::baseUrl() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}
std::string NginxProcess::redirectBaseUrl() const {
  return fmt::format("http://127.0.0.1:{}", redirectPort_);
}

std::string NginxProcess::errorLogTail(size_t lines) const {
  return app::lastLines(
      app::readFrom(dir_ + "/error.log", 0) + app::readFrom(dir_ + "/nginx.out", 0), lines);
}

}  // namespace amphi::testing
