// What hls_bench measures: options, the processes it runs, and the figures of each phase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hls_client.hpp"
#include "procs.hpp"

namespace bench::hls {

class SyntheticPublisher;

struct Options {
  std::string amphi = BENCH_DEFAULT_AMPHI;
  std::vector<std::string> amphiArgs;  // extra `amphi serve` flags
  std::string natsServer = "nats-server";
  std::string nginx = "nginx";
  std::string nginxWorkers = "auto";
  int ioThreads = 2;      // serve --io-threads
  int workerThreads = 8;  // serve --worker-threads
  std::vector<std::size_t> viewers{1000, 10000};
  std::size_t heldViewers = 5000;
  int heldParts = 20;
  double openRate = 500;  // connections per second
  std::size_t maxConnecting = 256;
  int clientThreads = 1;
  double settleSeconds = 5;
  double measureSeconds = 40;
  std::size_t partBytes = 18750;  // 300 kbit/s at 0.5 s parts
  std::size_t rpsConnections = 200;
  double rpsSeconds = 15;
  bool viewerPhase = true, heldPhase = true, peerPhase = true;
  bool quickAck = false;  // client ACKs at once (see ClientOptions::quickAck)
  bool keepTmp = false;
};

// The client options every phase shares.
ClientOptions clientOptions(const Options& o, uint16_t port, ClientMode mode, std::size_t n);

// nats-server and `amphi serve` on free loopback ports, in one temporary directory.
struct Stack {
  explicit Stack(const Options& o);
  TempDir tmp;
  std::string natsUrl;
  std::string natsLog, serveLog;
  uint16_t httpPort = 0;
  Child nats;
  Child serve;
};

// Percentiles (nearest rank) of milliseconds.
struct Dist {
  std::size_t n = 0;
  double min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};
Dist distribution(std::vector<double>& values);

struct ViewerFigures {
  std::size_t asked = 0;
  std::size_t established = 0;        // got their first playlist (by the end)
  std::size_t establishedAtRamp = 0;  // when the ramp ended
  std::size_t held = 0;               // no drop in the window and received parts of its last 5 s
  std::size_t droppedInWindow = 0;
  double openSeconds = 0;  // until every viewer was established (or gave up)
  std::size_t partsInWindow = 0;
  Dist delay;           // publish() returned → part fully received, every (viewer, part)
  Dist slowestPerPart;  // the slowest viewer of each part
  uint64_t delivered = 0, undelivered = 0;
  std::size_t negative = 0;  // received before publish() returned (the stream's ack raced)
  Dist publishMs;            // how long publishPart() took
  double serveCpuPct = 0, natsCpuPct = 0, clientCpuPct = 0;  // % of one core over the window
  long serveRssKiB = 0;
  // CPU time per HTTP response over the window: less sensitive to the machine's other load.
  double serveUsPerResponse = 0, clientUsPerResponse = 0;
  double playlistsPerSecond = 0, partsPerSecond = 0;  // responses over the window
  ClientCounters counters;
};

struct HeldFigures {
  std::size_t asked = 0, established = 0;
  std::size_t parts = 0;    // parts measured
  std::size_t minHeld = 0;  // fewest requests held for one part
  double meanHeld = 0;
  Dist lastPerPart;  // publish() returned → the last held playlist response, per part
  Dist allHeld;      // every held response
  ClientCounters counters;
};

struct RpsFigures {
  std::size_t connections = 0, established = 0;
  double seconds = 0;
  double rps = 0;
  double mbps = 0;  // body MB/s
  double serverCpuPct = 0;
  double serverUsPerResponse = 0, clientUsPerResponse = 0;  // CPU time per response
  ClientCounters counters;
};

struct PeerFigures {
  std::size_t parts = 0;  // distinct parts requested in turn
  std::size_t partBytes = 0, playlistBytes = 0;
  RpsFigures serveParts, nginxParts, servePlaylist, nginxPlaylist;
  bool nginxRan = false;
  std::string nginxError;
};

ViewerFigures runViewers(const Options& o, Stack& s, SyntheticPublisher& pub, std::size_t n);
HeldFigures runHeld(const Options& o, Stack& s, SyntheticPublisher& pub);
// Stops the publisher first: both servers then hold the same parts.
PeerFigures runPeer(const Options& o, Stack& s, SyntheticPublisher& pub);

struct Report {
  std::vector<ViewerFigures> viewers;
  std::vector<HeldFigures> held;
  std::vector<PeerFigures> peer;
};
void printReport(const Options& o, const Report& r);

}  // namespace bench::hls
