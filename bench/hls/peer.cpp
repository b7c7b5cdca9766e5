// The peer run: the parts and playlist serve holds, written to disk and served by nginx;
// the same closed-loop client (plain GETs, no blocking) against both servers.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "http_util.hpp"
#include "publisher.hpp"

namespace bench::hls {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

// Static files with the headers serve sends (CORS, cache lifetimes), keep-alive without limit.
void writeNginxConfig(const Options& o, const std::string& dir, uint16_t port) {
  std::ofstream f(dir + "/nginx.conf");
  f << (geteuid() == 0 ? "user root;\n" : "") << "daemon off;\nmaster_process on;\n"
    << "worker_processes " << o.nginxWorkers << ";\n"
    << "worker_rlimit_nofile " << raiseFdLimit() << ";\n"
    << "error_log stderr warn;\npid " << dir << "/nginx.pid;\n"
    << "events { worker_connections " << o.rpsConnections + 1000 << "; }\n"
    << "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
    << "  keepalive_requests 100000000;\n  keepalive_timeout 75s;\n"
    << "  open_file_cache max=1000 inactive=60s;\n"
    << "  types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }\n"
    << "  client_body_temp_path " << dir << "/body;\n  proxy_temp_path " << dir << "/proxy;\n"
    << "  fastcgi_temp_path " << dir << "/fastcgi;\n  uwsgi_temp_path " << dir << "/uwsgi;\n"
    << "  scgi_temp_path " << dir << "/scgi;\n"
    << "  server {\n    listen 127.0.0.1:" << port << " backlog=4096;\n"
    << "    root " << dir << "/www;\n"
    << "    location = /ready { return 204; }\n"
    << "    location ~ \\.m3u8$ { add_header Cache-Control \"public, max-age=1\";"
    << " add_header Access-Control-Allow-Origin *; }\n"
    << "    location ~ \\.m4s$ { add_header Cache-Control \"public, max-age=31536000, immutable\";"
    << " add_header Access-Control-Allow-Origin *; }\n  }\n}\n";
  if (!f) throw std::runtime_error("cannot write " + dir + "/nginx.conf");
}

bool waitNginx(uint16_t port, Child& child) {
  for (int i = 0; i < 500 && child.running(); ++i) {
    if (HttpConn(port).request("GET", "/ready").status == 204) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Closed loop: every connection asks for paths[k % n] as soon as its previous answer is in.
RpsFigures measureRps(const Options& o, uint16_t port, pid_t server,
                      const std::vector<std::string>& paths, const char* what) {
  RpsFigures f;
  f.connections = o.rpsConnections;
  auto options = clientOptions(o, port, ClientMode::Load, o.rpsConnections);
  options.openRate = 5000;
  options.loadPaths = paths;
  HlsClient client(std::move(options));
  client.start();
  for (int i = 0; i < 400 && client.established() < o.rpsConnections; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  f.established = client.established();
  std::this_thread::sleep_for(1s);  // warm up
  const uint64_t r0 = client.responses();
  const double cpu0 = cpuTreeSeconds(server), self0 = selfCpuSeconds();
  const int64_t t0 = nowNs();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.rpsSeconds));
  const uint64_t r1 = client.responses();
  const double cpu1 = cpuTreeSeconds(server), self1 = selfCpuSeconds();
  const int64_t t1 = nowNs();
  client.stop();
  f.counters = client.counters();
  f.seconds = static_cast<double>(t1 - t0) / 1e9;
  f.rps = static_cast<double>(r1 - r0) / f.seconds;
  const double bytesPerResponse = static_cast<double>(f.counters.bodyBytes) /
                                  std::max<double>(1, static_cast<double>(f.counters.responses));
  f.mbps = f.rps * bytesPerResponse / 1e6;
  f.serverCpuPct = 100.0 * (cpu1 - cpu0) / f.seconds;
  const double answered = static_cast<double>(std::max<uint64_t>(1, r1 - r0));
  f.serverUsPerResponse = (cpu1 - cpu0) * 1e6 / answered;
  f.clientUsPerResponse = (self1 - self0) * 1e6 / answered;
  fmt::print("  {}: {:.0f} requests/s over {} connections\n", what, f.rps, f.established);
  return f;
}

}  // namespace

PeerFigures runPeer(const Options& o, Stack& s, SyntheticPublisher& pub) {
  PeerFigures f;
  constexpr std::size_t kParts = 12;  // three segments' worth listed in the playlist
  if (pub.published() < kParts) pub.waitParts(kParts - pub.published(), 10000);
  pub.stop();
  const auto playlist = HttpConn(s.httpPort).request("GET", "/hls/bench/media.m3u8");
  if (playlist.status != 200) throw std::runtime_error("serve did not answer the playlist");
  PlaylistView view;
  parsePlaylist(playlist.body, view);
  const std::string dir = s.tmp.path() + "/nginx";
  writeFile(dir + "/www/hls/bench/media.m3u8", playlist.body);
  std::vector<std::string> parts;
  for (PartKey key : view.parts) {
    auto bytes = pub.bytes(key);
    if (!bytes) continue;
    const auto path = partPath("bench", view.epoch, key);
    writeFile(dir + "/www" + path, *bytes);
    parts.push_back(path);
    f.partBytes = bytes->size();
  }
  if (parts.empty()) throw std::runtime_error("no part of the playlist is held by the publisher");
  f.parts = parts.size();
  f.playlistBytes = playlist.body.size();
  fmt::print("peer: {} parts of {} bytes, playlist of {} bytes; {} connections, {:.0f} s each\n",
             f.parts, f.partBytes, f.playlistBytes, o.rpsConnections, o.rpsSeconds);
  const uint16_t port = freeLoopbackPort();
  writeNginxConfig(o, dir, port);
  Child nginx = Child::spawn({o.nginx, "-e", "stderr", "-p", dir, "-c", dir + "/nginx.conf"}, {},
                             dir + "/nginx.log");
  f.nginxRan = waitNginx(port, nginx);
  if (!f.nginxRan)
    f.nginxError = "nginx did not start; its log:\n" + tailFile(dir + "/nginx.log", 20);
  // Alternately, so that a change in the machine's other load hits both alike.
  const std::vector<std::string> playlistPath{"/hls/bench/media.m3u8"};
  f.serveParts = measureRps(o, s.httpPort, s.serve.pid(), parts, "serve parts");
  if (f.nginxRan) f.nginxParts = measureRps(o, port, nginx.pid(), parts, "nginx parts");
  f.servePlaylist = measureRps(o, s.httpPort, s.serve.pid(), playlistPath, "serve playlist");
  if (f.nginxRan)
    f.nginxPlaylist = measureRps(o, port, nginx.pid(), playlistPath, "nginx playlist");
  nginx.stop(5s);
  return f;
}

}  // namespace bench::hls
