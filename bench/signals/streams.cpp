// Opening many streams, their memory, and room-wide fan-out: the part of the benchmark
// that runs the same way against amphi and against nginx + nchan.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>

#include "bench.hpp"
#include "http_util.hpp"
#include "procs.hpp"
#include "sse_client.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

std::size_t openCount(const SseClient& sse) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < sse.size(); ++i) n += sse.isOpen(i) ? 1 : 0;
  return n;
}

// Waits until no frame arrived for `quiet`; returns seconds waited.
double settle(const SseClient& sse, std::chrono::milliseconds quiet, std::chrono::seconds limit) {
  const auto start = std::chrono::steady_clock::now();
  auto last = sse.counts().frames;  // not bytes: heartbeat comments never stop
  auto lastChange = start;
  while (std::chrono::steady_clock::now() - start < limit) {
    std::this_thread::sleep_for(100ms);
    const auto now = std::chrono::steady_clock::now();
    const auto frames = sse.counts().frames;
    if (frames != last) {
      last = frames;
      lastChange = now;
    } else if (now - lastChange >= quiet) {
      break;
    }
  }
  return std::chrono::duration<double>(lastChange - start).count();
}

// One event to every open stream; collects each connection's delay.
void fanoutRound(SseClient& sse, const Publish& publish, int round, std::vector<double>& all,
                 std::vector<double>& last, FanoutFigures& out) {
  const std::size_t open = openCount(sse);
  sse.armRound();
  int64_t sent = 0;
  const int status = publish(round, &sent);
  if (status / 100 != 2) out.postErrors++;
  sse.waitRound(open, 15s);
  double worst = -1;
  for (std::size_t i = 0; i < sse.size(); ++i) {
    const int64_t stamp = sse.stamp(i);
    if (stamp >= sent) {
      const double ms = static_cast<double>(stamp - sent) / 1e6;
      all.push_back(ms);
      worst = std::max(worst, ms);
    } else if (sse.isOpen(i)) {
      out.undelivered++;
    }
  }
  if (worst >= 0) last.push_back(worst);
}

std::string framesByType(const SseClient& sse) {
  const auto c = sse.counts();
  std::string out =
      fmt::format("{} frames ({:.1f} MB):", c.frames, static_cast<double>(c.bytes) / 1e6);
  for (const auto& [type, n] : c.byType) out += fmt::format(" {}={}", type, n);
  return out;
}

// Opening rate at the start and at the end: a rate that falls as streams accumulate
// means each new stream costs the server work proportional to those already open.
// Returns the seconds from start to the last head.
double openProfile(const SseClient& sse, int64_t start, FanoutFigures& out) {
  std::vector<int64_t> heads;
  for (std::size_t i = 0; i < sse.size(); ++i) {
    if (sse.headAt(i) > 0) heads.push_back(sse.headAt(i));
  }
  std::sort(heads.begin(), heads.end());
  if (heads.empty()) return 0;
  const double seconds = static_cast<double>(heads.back() - start) / 1e9;
  const std::size_t tenth = heads.size() / 10;
  if (tenth < 2) return seconds;
  const auto rate = [&](int64_t from, int64_t to) {
    return to > from ? static_cast<double>(tenth) * 1e9 / static_cast<double>(to - from) : 0;
  };
  out.firstTenthRate = rate(start, heads[tenth - 1]);
  out.lastTenthRate = rate(heads[heads.size() - tenth - 1], heads.back());
  return seconds;
}

}  // namespace

std::string loadAverage1() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

void measureStreams(SseClient& sse, std::vector<SseTarget> targets, const Publish& publish,
                    const ServerGauges& server, int rounds, FanoutFigures& out) {
  out.wanted = targets.size();
  std::this_thread::sleep_for(500ms);
  out.rssBeforeKiB = server.rssKiB();
  const auto start = std::chrono::steady_clock::now();
  const int64_t startNs = nowNs();
  sse.open(std::move(targets), std::chrono::minutes(1));
  // Whatever opening the streams caused (presence events) must be over first.
  settle(sse, 1s, std::chrono::minutes(30));
  out.headOk = sse.counts().headOk;
  out.openSeconds = openProfile(sse, startNs, out);
  out.settleSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - 1 -
      out.openSeconds;
  out.openFrames = framesByType(sse);
  // The server may attach a stream to its room a little after the head: warm up until
  // every open stream got an event.
  int round = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::size_t open = openCount(sse);
    sse.armRound();
    int64_t sent = 0;
    publish(round++, &sent);
    sse.waitRound(open, 30s);
    out.attached = sse.roundCount();
    if (out.attached >= openCount(sse)) break;
    out.notes.push_back(fmt::format("warm-up {}: {} of {} open streams got the event", attempt + 1,
                                    out.attached, open));
  }
  settle(sse, 500ms, std::chrono::minutes(1));
  out.rssAfterKiB = server.rssKiB();
  const std::size_t idle = openCount(sse);
  if (idle > 0) {
    out.rssPerConnKiB =
        static_cast<double>(out.rssAfterKiB - out.rssBeforeKiB) / static_cast<double>(idle);
  }
  std::vector<double> all, last;
  all.reserve(idle * static_cast<std::size_t>(rounds));
  const double serverCpu = server.cpuSeconds(), clientCpu = selfCpuSeconds();
  const std::string loadBefore = loadAverage1();
  for (int r = 0; r < rounds; ++r) {
    std::this_thread::sleep_for(50ms);
    fanoutRound(sse, publish, round++, all, last, out);
  }
  out.fanoutLoad = loadBefore + " / " + loadAverage1();
  if (!all.empty()) {
    const auto n = static_cast<double>(all.size());
    out.serverCpuUsPerDelivery = (server.cpuSeconds() - serverCpu) * 1e6 / n;
    out.clientCpuUsPerDelivery = (selfCpuSeconds() - clientCpu) * 1e6 / n;
  }
  out.delays = summarize(all);
  out.lastPerEvent = summarize(last);
}

void finishStreams(const SseClient& sse, FanoutFigures& out) {
  out.held = openCount(sse);
  const auto c = sse.counts();
  out.closed = c.closed;
  for (const auto& [status, n] : c.statuses) {
    if (status < 0) {
      out.notes.push_back(
          fmt::format("{} streams failed before their head: {}", n, std::strerror(-status)));
    } else if (status == 0) {
      out.notes.push_back(fmt::format("{} streams closed by the server before their head", n));
    } else {
      out.notes.push_back(fmt::format("{} streams refused with HTTP {}", n, status));
    }
  }
  out.notes.push_back("frames received in all: " + framesByType(sse));
}

}  // namespace bench
