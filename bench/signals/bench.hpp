// What bench_signals measures: options and the figures of each run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stats.hpp"

namespace bench {

class SseClient;

struct Options {
  std::string amphi = BENCH_DEFAULT_AMPHI;
  std::vector<std::string> amphiArgs;  // extra `amphi serve` flags
  std::size_t connections = 2000;
  int events = 20;         // room-wide fan-out events
  double raiseRate = 500;  // raise/lower POSTs per second
  double raiseSeconds = 5;
  std::size_t handUsers = 100;
  int promotes = 20;
  int postConnections = 16;  // keep-alive connections for the raise phase
  int clientThreads = 1;
  std::size_t maxConnecting = 256;
  bool amphiRun = true;
  bool nchan = true;
  std::string nginx = "nginx";
  std::string nchanModule;  // empty: looked up
  bool keepTmp = false;
};

// Opening N streams, their memory, and room-wide fan-out over them.
struct FanoutFigures {
  std::size_t wanted = 0;
  std::size_t headOk = 0;     // 200 + event-stream head
  std::size_t attached = 0;   // received the warm-up event
  std::size_t held = 0;       // still open at the end of the run
  std::size_t closed = 0;     // closed by the server or an error after the head
  double openSeconds = 0;     // connect + head for all
  double settleSeconds = 0;   // until the streams went quiet after opening
  double firstTenthRate = 0;  // streams/s over the first 10% of heads
  double lastTenthRate = 0;   // streams/s over the last 10%
  std::string openFrames;     // frames by type received while opening and settling
  long rssBeforeKiB = 0, rssAfterKiB = 0;
  double rssPerConnKiB = 0;
  Summary delays;               // ms, every (connection, event) delivery
  Summary lastPerEvent;         // ms, the slowest connection of each event
  std::size_t undelivered = 0;  // (open connection, event) pairs never received
  std::size_t postErrors = 0;
  // CPU spent per delivered frame over the fan-out rounds: a figure that depends less
  // on what else the machine is doing than the delays do.
  double serverCpuUsPerDelivery = 0;
  double clientCpuUsPerDelivery = 0;
  std::string fanoutLoad;       // 1-minute load average before and after the fan-out rounds
  std::vector<std::string> notes;
};

struct AmphiFigures {
  FanoutFigures fan;
  double joinSeconds = 0;
  std::size_t joins = 0;
  // raise-hand / lower-hand → moderator stream
  Summary raise;         // ms
  Summary raiseHttp;     // ms, POST response time
  Summary raiseLate;     // ms, how late the open-loop sender was
  double raiseRate = 0;  // achieved POSTs per second
  std::size_t raiseSent = 0, raiseErrors = 0, raiseUnchanged = 0, raiseMissing = 0;
  std::size_t raiseUnexpected = 0;
  Summary promote, demote;  // ms, POST → the user's own stream
  std::size_t promoteMissing = 0;
  std::optional<double> busP99Ms, busMeanMs;  // KV compare-and-set + publish
  std::optional<double> casP99Ms, casMeanMs;  // the KV compare-and-set alone
  double busCount = 0;
  std::string raiseLoad;  // 1-minute load average before and after the raise phase
  double casConflicts = 0;  // amphi_kv_cas_conflicts_total over the raise phase
  std::optional<double> serverSseGauge;
  std::optional<double> droppedSlow;
  std::optional<std::chrono::milliseconds> shutdown;  // nothing: had to be killed
  std::vector<std::string> notes;
};

// Shared by the amphi and nchan runs. post(round, &sentNs) publishes one room-wide
// event and returns its HTTP status.
using Publish = std::function<int(int round, int64_t* sentNs)>;
// The server's resident memory (KiB) and CPU time (s), for measureStreams.
struct ServerGauges {
  std::function<long()> rssKiB;
  std::function<double()> cpuSeconds;
};
// Opens the streams, waits until all receive a warm-up event, measures the server's RSS
// before and after, then runs `rounds` fan-out events.
void measureStreams(SseClient& sse, std::vector<struct SseTarget> targets, const Publish& publish,
                    const ServerGauges& server, int rounds, FanoutFigures& out);
void finishStreams(const SseClient& sse, FanoutFigures& out);
// The 1-minute load average: other work on the machine shows in every figure.
std::string loadAverage1();

AmphiFigures runAmphi(const Options& options);
FanoutFigures runNchan(const Options& options);
// The table with targets, then notes on each run.
void printReport(const Options& options, const std::optional<AmphiFigures>& amphi,
                 const std::optional<FanoutFigures>& nchan);

}  // namespace bench
