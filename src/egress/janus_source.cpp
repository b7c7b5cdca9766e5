#include "egress/janus_source.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "egress/graph.hpp"
#include "sfu/janus_client.hpp"

namespace amphi::egress {
namespace {

// A UDP socket bound to a free loopback port (closed when discard is true: GStreamer's
// udpsrc binds that port itself right after).
int bindUdp(int& port, bool discard) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("cannot create a UDP socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback UDP port");
  }
  port = ntohs(a.sin_port);
  if (discard) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Forward {
  uint64_t janusId = 0;
  std::string display;
  int audioPort = 0, videoPort = 0, rtcpPort = 0;
  int rtcpFd = -1;
  bool haveJanus = false;  // learnt from Janus's first RTCP packet
  sockaddr_in janusRtcp{};
  uint32_t mediaSsrc = 0;
  std::vector<uint64_t> streams;
};

// RTCP PLI (RFC 4585: PT 206 PSFB, FMT 1), 12 bytes.
void sendPli(const Forward& f) {
  if (!f.haveJanus || f.rtcpFd < 0) return;
  uint8_t p[12] = {0x81, 206, 0, 2};
  const uint32_t sender = htonl(0x414d5048), media = htonl(f.mediaSsrc);  // "AMPH"
  std::memcpy(p + 4, &sender, 4);
  std::memcpy(p + 8, &media, 4);
  ::sendto(f.rtcpFd, p, sizeof p, 0, reinterpret_cast<const sockaddr*>(&f.janusRtcp),
           sizeof f.janusRtcp);
}

}  // namespace

struct JanusSource::Impl {
  std::string room;
  Graph& graph;
  std::unique_ptr<sfu::JanusClient> client;
  uint64_t janusRoom = 0;
  std::string secret;
  std::mutex mu;  // guards forwards
  std::map<uint64_t, Forward> forwards;
  std::atomic<bool> stopping{false};
  std::thread rtcpThread;

  Impl(std::string r, Graph& g) : room(std::move(r)), graph(g) {}
  void add(const sfu::JanusParticipant& p);
  void remove(uint64_t id, bool stopForward);
  void readRtcp();
};

void JanusSource::Impl::add(const sfu::JanusParticipant& p) {
  Forward f;
  f.janusId = p.id;
  f.display = p.display;
  bindUdp(f.audioPort, true);
  bindUdp(f.videoPort, true);
  f.rtcpFd = bindUdp(f.rtcpPort, false);
  const std::string id = std::to_string(p.id);
  try {
    graph.addPublisher({id, p.display, f.videoPort, "vp8", 96, f.audioPort, 111});
    f.streams = client->rtpForward(janusRoom, secret, p.id, "127.0.0.1", f.audioPort,
                                   f.videoPort, f.rtcpPort);
  } catch (const std::exception& e) {
    spdlog::warn("egress: room {}: cannot forward publisher {} ({}): {}", room, p.display, id,
                 e.what());
    graph.removePublisher(id);
    ::close(f.rtcpFd);
    return;
  }
  spdlog::info("egress: room {}: forwarding publisher {} ({}) to ports {}/{}", room, p.display,
               id, f.audioPort, f.videoPort);
  std::lock_guard lock(mu);
  forwards[p.id] = std::move(f);
}

void JanusSource::Impl::remove(uint64_t id, bool stopForward) {
  Forward f;
  {
    std::lock_guard lock(mu);
    auto it = forwards.find(id);
    if (it == forwards.end()) return;
    f = std::move(it->second);
    forwards.erase(it);
  }
  if (stopForward) {
    for (uint64_t s : f.streams) {
      try {
        client->stopRtpForward(janusRoom, secret, id, s);
      } catch (const std::exception& e) {
        spdlog::debug("egress: room {}: stop forward {}: {}", room, s, e.what());
      }
    }
  }
  graph.removePublisher(std::to_string(id));
  if (f.rtcpFd >= 0) ::close(f.rtcpFd);
  spdlog::info("egress: room {}: publisher {} ({}) left the composite", room, f.display, id);
}

void JanusSource::Impl::readRtcp() {
  while (!stopping) {
    std::vector<pollfd> fds;
    {
      std::lock_guard lock(mu);
      for (auto& [id, f] : forwards) fds.push_back({f.rtcpFd, POLLIN, 0});
    }
    if (fds.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    std::lock_guard lock(mu);
    for (auto& pfd : fds) {
      if (!(pfd.revents & POLLIN)) continue;
      uint8_t buf[1500];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(pfd.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      for (auto& [id, f] : forwards) {
        if (f.rtcpFd != pfd.fd || n < 8) continue;
        const bool first = !f.haveJanus;
        f.janusRtcp = from;
        f.haveJanus = true;
        uint32_t ssrc;
        std::memcpy(&ssrc, buf + 4, 4);
        f.mediaSsrc = ntohl(ssrc);
        if (first) sendPli(f);  // the forward just started: ask for a keyframe now
      }
    }
  }
}

JanusSource::JanusSource(std::string room, const std::string& target, Graph& graph)
    : impl_(std::make_unique<Impl>(std::move(room), graph)) {
  auto j = nlohmann::json::parse(target, nullptr, false);
  if (!j.is_object() || !j.contains("httpUrl") || !j.contains("room")) {
    throw std::runtime_error(
        "the janus source needs the stage's Janus (AMPHI_EGRESS_JANUS, set by serve); use "
        "--source test to run without one");
  }
  impl_->client = std::make_unique<sfu::JanusClient>(
      j.value("httpUrl", ""), j.value("adminUrl", ""), j.value("adminSecret", ""),
      j.value("roomAdminKey", ""));
  impl_->janusRoom = j["room"].get<uint64_t>();
  impl_->secret = j.value("secret", "");
  impl_->rtcpThread = std::thread([i = impl_.get()] { i->readRtcp(); });
}

JanusSource::~JanusSource() {
  impl_->stopping = true;
  if (impl_->rtcpThread.joinable()) impl_->rtcpThread.join();
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, f] : impl_->forwards) ids.push_back(id);
  }
  for (uint64_t id : ids) impl_->remove(id, true);
}

void JanusSource::poll() {
  std::vector<sfu::JanusParticipant> people;
  try {
    people = impl_->client->participants(impl_->janusRoom);
  } catch (const std::exception& e) {
    spdlog::warn("egress: room {}: listing the stage failed: {}", impl_->room, e.what());
    return;
  }
  std::map<uint64_t, sfu::JanusParticipant> publishing;
  for (auto& p : people) {
    if (p.publisher) publishing[p.id] = p;
  }
  std::vector<uint64_t> gone;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, f] : impl_->forwards) {
      if (!publishing.count(id)) gone.push_back(id);
    }
    for (auto it = publishing.begin(); it != publishing.end();) {
      it = impl_->forwards.count(it->first) ? publishing.erase(it) : std::next(it);
    }
  }
  for (uint64_t id : gone) impl_->remove(id, false);  // Janus dropped its forwards itself
  for (auto& [id, p] : publishing) impl_->add(p);
}

void JanusSource::requestKeyframe(const std::string& publisherId) {
  std::lock_guard lock(impl_->mu);
  for (auto& [id, f] : impl_->forwards) {
    if (std::to_string(id) == publisherId) sendPli(f);
  }
}

}  // namespace amphi::egress
