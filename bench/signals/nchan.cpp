// The reference run: the same streams and fan-out against nginx + nchan.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "http_util.hpp"
#include "procs.hpp"
#include "sse_client.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string findModule(const Options& o) {
  if (!o.nchanModule.empty()) return o.nchanModule;
  for (const char* p : {"/usr/lib/nginx/modules/ngx_nchan_module.so",
                        "/usr/share/nginx/modules/ngx_nchan_module.so",
                        "/usr/share/nginx/modules-available/ngx_nchan_module.so"}) {
    if (fs::exists(p)) return p;
  }
  throw std::runtime_error("ngx_nchan_module.so not found; pass --nchan-module PATH or --no-nchan");
}

void writeConfig(const std::string& file, const std::string& dir, const std::string& module,
                 uint16_t port, std::size_t connections) {
  std::ofstream f(file);
  f << "load_module " << module << ";\n"
    << (geteuid() == 0 ? "user root;\n" : "")
    << "daemon off;\nmaster_process on;\nworker_processes 1;\n"
    << "worker_rlimit_nofile " << raiseFdLimit() << ";\n"
    << "error_log stderr warn;\npid " << dir
    << "/nginx.pid;\n"
    // nchan takes more than one connection slot per subscriber ("worker_connections
    // are not enough, reusing connections" otherwise).
    << "events { worker_connections " << connections * 2 + 1000 << "; }\n"
    << "http {\n  access_log off;\n"
    << "  client_body_temp_path " << dir << "/body;\n  proxy_temp_path " << dir << "/proxy;\n"
    << "  fastcgi_temp_path " << dir << "/fastcgi;\n  uwsgi_temp_path " << dir << "/uwsgi;\n"
    << "  scgi_temp_path " << dir << "/scgi;\n"
    << "  server {\n    listen 127.0.0.1:" << port << " backlog=4096;\n"
    << "    location = /ready { return 204; }\n"
    << "    location /sub { nchan_subscriber eventsource; nchan_channel_id bench; }\n"
    << "    location /pub { nchan_publisher; nchan_channel_id bench; }\n  }\n}\n";
  if (!f) throw std::runtime_error("cannot write " + file);
}

bool waitListening(uint16_t port, Child& child) {
  for (int i = 0; i < 500 && child.running(); ++i) {
    if (HttpConn(port).request("GET", "/ready").status != 0) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A message about the size of amphi's ROOM_LIVE data line.
std::string message(int round) {
  return fmt::format(
      R"({{"type":"ROOM_LIVE","roomId":"bench","userId":"u0xxxxxxxxxx","displayName":"u0",)"
      R"("timestamp":{},"data":{{"round":{}}}}})",
      nowNs() / 1'000'000, round);
}

}  // namespace

FanoutFigures runNchan(const Options& o) {
  FanoutFigures out;
  TempDir tmp("nchan-bench-");
  if (o.keepTmp) tmp.keep();
  const std::string module = findModule(o);
  const uint16_t port = freeLoopbackPort();
  const std::string conf = tmp.path() + "/nginx.conf";
  writeConfig(conf, tmp.path(), module, port, o.connections);
  const std::string log = tmp.path() + "/nginx.log";
  Child nginx = Child::spawn({o.nginx, "-e", "stderr", "-p", tmp.path(), "-c", conf}, {}, log);
  if (!waitListening(port, nginx)) {
    throw std::runtime_error("nginx did not start; its log:\n" + tailFile(log, 20));
  }
  fmt::print("nchan: nginx listening on port {} (pid {})\n", port, nginx.pid());
  std::vector<SseTarget> targets(o.connections);
  for (auto& t : targets) t.request = buildRequest("GET", "/sub", port);
  SseClient sse({port, o.clientThreads, o.maxConnecting, {"message"}});
  HttpConn pub(port);
  const Publish publish = [&](int round, int64_t* sentNs) {
    return pub.send(buildRequest("POST", "/pub", port, message(round)), sentNs).status;
  };
  const pid_t pid = nginx.pid();
  const ServerGauges gauges{[pid] { return rssTreeKiB(pid); },
                            [pid] { return cpuTreeSeconds(pid); }};
  measureStreams(sse, std::move(targets), publish, gauges, o.events, out);
  finishStreams(sse, out);
  nginx.stop(10s);
  return out;
}

}  // namespace bench
