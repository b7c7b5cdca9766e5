// The viewer phases: N LL-HLS viewers (blocking reload + part GET), and viewers held on
// the next part's playlist. Each opens its connections gradually, lets them settle, then
// measures against the publisher's stamps (same monotonic clock, same process).
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "bench.hpp"
#include "http_util.hpp"
#include "publisher.hpp"

namespace bench::hls {
namespace {

using namespace std::chrono_literals;
constexpr double kNsPerMs = 1e6;
constexpr int64_t kTailNs = 5'000'000'000;  // "progressing": got parts of the window's last 5 s

void sleepSeconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// Waits until every connection is established; gives up when none got established for
// 15 s after all were opened, or after twice the planned ramp plus 30 s (a server that
// answers too slowly keeps the client's gate on new connections shut). Prints progress.
// Returns the seconds it took.
double waitEstablished(const HlsClient& client, std::size_t n, double openRate, const char* what) {
  const int64_t start = nowNs();
  const auto deadline =
      start + static_cast<int64_t>((2.0 * static_cast<double>(n) / openRate + 30) * 1e9);
  std::size_t last = 0;
  int64_t lastChange = start, lastPrint = start;
  while (client.established() < n) {
    std::this_thread::sleep_for(100ms);
    const int64_t now = nowNs();
    const std::size_t est = client.established();
    if (est != last) {
      last = est;
      lastChange = now;
    }
    if (now - lastPrint > 5'000'000'000) {
      fmt::print("  {}: {} of {} established ({} opened)\n", what, est, n, client.opened());
      lastPrint = now;
    }
    if (client.opened() >= n && now - lastChange > 15'000'000'000) break;
    if (now > deadline) {
      fmt::print("  {}: giving up the ramp with {} of {} established\n", what, est, n);
      break;
    }
  }
  return static_cast<double>(nowNs() - start) / 1e9;
}

struct Gauges {
  double serveCpu, natsCpu, clientCpu;
  int64_t ns;
};

Gauges gauges(Stack& s) {
  return {cpuTreeSeconds(s.serve.pid()), cpuTreeSeconds(s.nats.pid()), selfCpuSeconds(), nowNs()};
}

double pct(double cpuSeconds, int64_t ns) {
  return 100.0 * cpuSeconds * 1e9 / static_cast<double>(ns);
}

void fillCpu(ViewerFigures& f, const Gauges& a, const Gauges& b) {
  const int64_t ns = b.ns - a.ns;
  f.serveCpuPct = pct(b.serveCpu - a.serveCpu, ns);
  f.natsCpuPct = pct(b.natsCpu - a.natsCpu, ns);
  f.clientCpuPct = pct(b.clientCpu - a.clientCpu, ns);
}

// Parts whose publishPart() started and returned inside [from, to].
std::vector<PublishedPart> partsIn(const SyntheticPublisher& pub, int64_t from, int64_t to) {
  std::vector<PublishedPart> out;
  for (const auto& p : pub.log()) {
    if (p.ok && p.startNs >= from && p.returnNs <= to) out.push_back(p);
  }
  return out;
}

void analyseViewers(const HlsClient& client, const std::vector<PublishedPart>& parts,
                    int64_t mStart, int64_t mEnd, ViewerFigures& f) {
  std::unordered_map<PartKey, int64_t> published;
  std::unordered_map<PartKey, double> slowest;
  std::vector<double> publishMs;
  for (const auto& p : parts) {
    published[p.key] = p.returnNs;
    publishMs.push_back(static_cast<double>(p.returnNs - p.startNs) / kNsPerMs);
  }
  const auto states = client.viewers();
  std::vector<uint32_t> got(states.size(), 0);
  std::vector<bool> tail(states.size(), false);
  std::vector<double> delays;
  for (const auto& d : client.deliveries()) {
    auto it = published.find(d.key);
    if (it == published.end()) continue;
    const double ms = static_cast<double>(d.recvNs - it->second) / kNsPerMs;
    delays.push_back(ms);
    f.negative += ms < 0;
    slowest[d.key] = std::max(slowest[d.key], ms);
    got[d.viewer]++;
    if (it->second >= mEnd - kTailNs) tail[d.viewer] = true;
  }
  for (std::size_t v = 0; v < states.size(); ++v) {
    if (!states[v].established) continue;
    f.established++;
    const bool dropped = states[v].drops > 0 && states[v].lastDropNs >= mStart;
    f.droppedInWindow += dropped;
    f.held += states[v].open && !dropped && tail[v];
    f.undelivered += parts.size() > got[v] ? parts.size() - got[v] : 0;
  }
  std::vector<double> worst;
  for (const auto& [key, ms] : slowest) worst.push_back(ms);
  f.partsInWindow = parts.size();
  f.delivered = delays.size();
  f.delay = distribution(delays);
  f.slowestPerPart = distribution(worst);
  f.publishMs = distribution(publishMs);
}

}  // namespace

ViewerFigures runViewers(const Options& o, Stack& s, SyntheticPublisher& pub, std::size_t n) {
  ViewerFigures f;
  f.asked = n;
  fmt::print("viewers {}: opening at {:.0f}/s\n", n, o.openRate);
  HlsClient client(clientOptions(o, s.httpPort, ClientMode::Viewer, n));
  client.start();
  f.openSeconds = waitEstablished(client, n, o.openRate, "viewers");
  f.establishedAtRamp = client.established();
  sleepSeconds(o.settleSeconds);
  fmt::print("viewers {}: {} established in {:.1f} s; measuring {:.0f} s\n", n, f.establishedAtRamp,
             f.openSeconds, o.measureSeconds);
  const Gauges before = gauges(s);
  const uint64_t responses0 = client.responses(), deliveries0 = client.deliveryCount();
  sleepSeconds(o.measureSeconds);
  const Gauges after = gauges(s);
  const uint64_t responses1 = client.responses(), deliveries1 = client.deliveryCount();
  f.serveRssKiB = rssTreeKiB(s.serve.pid());
  fillCpu(f, before, after);
  const double answered = static_cast<double>(std::max<uint64_t>(1, responses1 - responses0));
  f.serveUsPerResponse = (after.serveCpu - before.serveCpu) * 1e6 / answered;
  f.clientUsPerResponse = (after.clientCpu - before.clientCpu) * 1e6 / answered;
  const double secs = static_cast<double>(after.ns - before.ns) / 1e9;
  f.partsPerSecond = static_cast<double>(deliveries1 - deliveries0) / secs;
  f.playlistsPerSecond = static_cast<double>(responses1 - responses0) / secs - f.partsPerSecond;
  sleepSeconds(3);  // late deliveries of the window's last parts
  client.stop();
  f.counters = client.counters();
  analyseViewers(client, partsIn(pub, before.ns, after.ns), before.ns, after.ns, f);
  return f;
}

namespace {

// Per round's part: the requests for it sent before its publish started, and the last of
// their answers after publish() returned.
void analyseHeld(const std::vector<Delivery>& deliveries, const std::vector<PublishedPart>& log,
                 const std::vector<PartKey>& targets, HeldFigures& f) {
  std::unordered_map<PartKey, PublishedPart> published;
  for (const auto& p : log) published[p.key] = p;
  std::unordered_map<PartKey, std::pair<std::size_t, int64_t>> held;  // count, last receipt
  std::vector<double> all;
  for (const auto& d : deliveries) {
    auto it = published.find(d.key);
    if (it == published.end() || d.sentNs >= it->second.startNs) continue;
    auto& [count, last] = held[d.key];
    count++;
    last = std::max(last, d.recvNs);
    all.push_back(static_cast<double>(d.recvNs - it->second.returnNs) / kNsPerMs);
  }
  std::vector<double> lastMs;
  double sum = 0;
  for (PartKey t : targets) {
    auto it = published.find(t);
    if (it == published.end() || !it->second.ok) continue;
    const auto [count, last] = held[t];
    f.minHeld = f.parts == 0 ? count : std::min(f.minHeld, count);
    f.parts++;
    sum += static_cast<double>(count);
    if (count > 0) lastMs.push_back(static_cast<double>(last - it->second.returnNs) / kNsPerMs);
  }
  f.meanHeld = f.parts == 0 ? 0 : sum / static_cast<double>(f.parts);
  f.lastPerPart = distribution(lastMs);
  f.allHeld = distribution(all);
}

// One round: right after a publish, every connection asks for the part after the next one
// (so each request is in place at least one part duration before it is published); the
// round ends when all answered or 3 s after that part.
void heldRound(HlsClient& client, SyntheticPublisher& pub, std::size_t established,
               PartKey& target) {
  pub.waitParts(1, 2000);
  const auto log = pub.log();
  target = pub.after(log.back().key, 2);
  const uint64_t before = client.deliveryCount();
  client.startRound(target);
  pub.waitParts(2, 3000);
  for (int i = 0; i < 300 && client.deliveryCount() - before < established; ++i) {
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

HeldFigures runHeld(const Options& o, Stack& s, SyntheticPublisher& pub) {
  HeldFigures f;
  f.asked = o.heldViewers;
  fmt::print("held {}: opening at {:.0f}/s\n", f.asked, o.openRate);
  HlsClient client(clientOptions(o, s.httpPort, ClientMode::Held, f.asked));
  client.start();
  waitEstablished(client, f.asked, o.openRate, "held");
  f.established = client.established();
  sleepSeconds(std::min(o.settleSeconds, 3.0));
  fmt::print("held {}: {} established; measuring {} parts\n", f.asked, f.established, o.heldParts);
  std::vector<PartKey> targets(static_cast<std::size_t>(std::max(0, o.heldParts)));
  for (auto& target : targets) heldRound(client, pub, f.established, target);
  client.stop();
  f.counters = client.counters();
  analyseHeld(client.deliveries(), pub.log(), targets, f);
  return f;
}

}  // namespace bench::hls
