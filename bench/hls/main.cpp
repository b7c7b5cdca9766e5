// hls_bench: how `amphi serve`'s LL-HLS origin holds many low-latency viewers, next to nginx
// serving the same files. Prints figures with targets; exits non-zero only when setup fails.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "http_util.hpp"
#include "publisher.hpp"

namespace bench::hls {
namespace {

const char* kHelp = R"(usage: hls_bench [flags]

Starts a private nats-server and `amphi serve` (origin only) on free loopback ports, and a
synthetic broadcast inside this process: an init, then a part of --part-bytes every 0.5 s
(segments of 2 s) for room `bench`, published to the HLS stream the way amphi egress does.
Then, in turn:
  - viewers: N simulated LL-HLS viewers (one keep-alive connection each, opened at
    --open-rate) do what hls.js does in low-latency mode: blocking playlist reload for
    the preload hint, then GET the new part. Per (viewer, part): publish() returned ->
    part fully received. Once per value of --viewers;
  - held: --held-viewers connections only doing blocking reloads; per part, publish()
    returned -> the last held playlist response;
  - peer: the publisher stops; its newest parts and serve's playlist are written to disk
    and served by nginx; --rps-connections connections GET them in turn as fast as each
    answer comes, against serve and against nginx.
Everything shares this machine's CPUs: the figures include that competition.

flags:
  --amphi PATH             amphi binary (default: the one built beside this benchmark)
  --amphi-arg ARG          extra `amphi serve` argument (repeat)
  --io-threads N           serve --io-threads (default 2)
  --worker-threads N       serve --worker-threads (default 8)
  --viewers N[,N...]       viewer counts, one phase each (default 1000,10000)
  --held-viewers N         connections held on the next part (default 5000)
  --held-parts N           parts measured in the held phase (default 20)
  --open-rate R            new connections per second (default 500)
  --max-connecting N       connections between connect() and their first answer (default 256)
  --client-threads N       epoll threads of this client (default 1)
  --settle-seconds S       after the last viewer joined, before measuring (default 5)
  --measure-seconds S      length of each viewer measurement (default 40)
  --part-bytes B           bytes per part (default 18750: 300 kbit/s)
  --rps-connections N      connections of the peer run (default 200)
  --rps-seconds S          length of each peer measurement (default 15)
  --nginx PATH             nginx binary (default: nginx from PATH)
  --nginx-workers N|auto   nginx worker_processes (default auto)
  --nats-server PATH       nats-server binary (default: from PATH)
  --no-viewers, --no-held, --no-peer   skip a phase
  --quickack               the client ACKs every read at once (TCP_QUICKACK), which no
                           browser does: hides a server's Nagle + delayed-ACK stall so
                           that what else limits it shows (a diagnostic, not a figure)
  --keep-tmp               keep the temporary directory (logs, NATS store, nginx files)
  --help                   this text
)";

std::vector<std::size_t> sizeList(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
  if (out.empty()) throw std::runtime_error("--viewers needs at least one number");
  return out;
}

double num(const std::string& v) {
  return std::stod(v);
}
std::size_t count(const std::string& v) {
  return static_cast<std::size_t>(std::stod(v));
}
int integer(const std::string& v) {
  return static_cast<int>(std::stod(v));
}

struct Flag {
  const char* name;
  bool takesValue;
  void (*set)(Options&, const std::string&);
};

// One row per flag (see kHelp).
const Flag kFlags[] = {
    {"--amphi", true, [](Options& o, const std::string& v) { o.amphi = v; }},
    {"--amphi-arg", true, [](Options& o, const std::string& v) { o.amphiArgs.push_back(v); }},
    {"--io-threads", true, [](Options& o, const std::string& v) { o.ioThreads = integer(v); }},
    {"--worker-threads", true,
     [](Options& o, const std::string& v) { o.workerThreads = integer(v); }},
    {"--viewers", true, [](Options& o, const std::string& v) { o.viewers = sizeList(v); }},
    {"--held-viewers", true, [](Options& o, const std::string& v) { o.heldViewers = count(v); }},
    {"--held-parts", true, [](Options& o, const std::string& v) { o.heldParts = integer(v); }},
    {"--open-rate", true, [](Options& o, const std::string& v) { o.openRate = num(v); }},
    {"--max-connecting", true,
     [](Options& o, const std::string& v) { o.maxConnecting = count(v); }},
    {"--client-threads", true,
     [](Options& o, const std::string& v) { o.clientThreads = integer(v); }},
    {"--settle-seconds", true, [](Options& o, const std::string& v) { o.settleSeconds = num(v); }},
    {"--measure-seconds", true,
     [](Options& o, const std::string& v) { o.measureSeconds = num(v); }},
    {"--part-bytes", true, [](Options& o, const std::string& v) { o.partBytes = count(v); }},
    {"--rps-connections", true,
     [](Options& o, const std::string& v) { o.rpsConnections = count(v); }},
    {"--rps-seconds", true, [](Options& o, const std::string& v) { o.rpsSeconds = num(v); }},
    {"--nginx", true, [](Options& o, const std::string& v) { o.nginx = v; }},
    {"--nginx-workers", true, [](Options& o, const std::string& v) { o.nginxWorkers = v; }},
    {"--nats-server", true, [](Options& o, const std::string& v) { o.natsServer = v; }},
    {"--no-viewers", false, [](Options& o, const std::string&) { o.viewerPhase = false; }},
    {"--no-held", false, [](Options& o, const std::string&) { o.heldPhase = false; }},
    {"--no-peer", false, [](Options& o, const std::string&) { o.peerPhase = false; }},
    {"--quickack", false, [](Options& o, const std::string&) { o.quickAck = true; }},
    {"--keep-tmp", false, [](Options& o, const std::string&) { o.keepTmp = true; }},
};

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kHelp;
      return std::nullopt;
    }
    const auto* f = std::find_if(std::begin(kFlags), std::end(kFlags),
                                 [&](const Flag& x) { return flag == x.name; });
    if (f == std::end(kFlags)) throw std::runtime_error("unknown flag " + flag + " (see --help)");
    if (f->takesValue && i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
    f->set(o, f->takesValue ? argv[++i] : "");
  }
  if (o.openRate <= 0 || o.measureSeconds <= 0 || o.rpsConnections < 1 || o.partBytes < 64) {
    throw std::runtime_error(
        "--open-rate, --measure-seconds, --rps-connections must be positive "
        "and --part-bytes at least 64");
  }
  return o;
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// Every connection of a phase lives in this process and in serve's: both need fds.
void checkFds(const Options& o, long fds) {
  std::size_t most = o.heldPhase ? o.heldViewers : 0;
  if (o.viewerPhase) {
    for (auto n : o.viewers) most = std::max(most, n);
  }
  if (static_cast<long>(most) + 200 > fds) {
    throw std::runtime_error(
        fmt::format("{} connections need more than the {} open files allowed", most, fds));
  }
}

// Waits until serve answers the room's playlist (it follows the stream on first request).
void waitPlaylist(const Stack& s) {
  for (int i = 0; i < 200; ++i) {
    if (HttpConn(s.httpPort).request("GET", "/hls/bench/media.m3u8").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("serve does not answer /hls/bench/media.m3u8; its log:\n" +
                           tailFile(s.serveLog, 20));
}

// Ctrl-C or SIGTERM: serve, nats-server and nginx run in process groups of their own (a
// Ctrl-C reaches only this process), so the watcher stops them before leaving. A signal
// handler can only reach a file-scope descriptor: the write end of its pipe.
int signalPipe[2] = {-1, -1};

void onSignal(int sig) {
  const char c = static_cast<char>(sig);
  [[maybe_unused]] auto n = write(signalPipe[1], &c, 1);
}

std::vector<pid_t> children() {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    std::istringstream rest(close == std::string::npos ? "" : stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == getpid()) out.push_back(std::stoi(name));
  }
  return out;
}

// What the watcher removes besides stopping the children (set once the stack is up).
struct Leftovers {
  std::mutex mu;
  std::string tmpDir;
  bool keep = false;
};

void watchSignals(std::shared_ptr<Leftovers> leftovers) {
  if (pipe2(signalPipe, O_CLOEXEC) != 0) return;
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::thread([leftovers] {
    char sig = 0;
    if (read(signalPipe[0], &sig, 1) != 1) return;
    std::fprintf(stderr, "hls_bench: signal %d: stopping serve, nats-server and nginx\n", sig);
    for (pid_t pid : children()) kill(pid, SIGTERM);
    for (int i = 0; i < 100 && !children().empty(); ++i) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (pid_t pid : children()) kill(pid, SIGKILL);
    std::lock_guard lock(leftovers->mu);
    std::error_code ec;
    if (!leftovers->keep && !leftovers->tmpDir.empty())
      std::filesystem::remove_all(leftovers->tmpDir, ec);
    std::_Exit(128 + sig);
  }).detach();
}

int run(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  spdlog::set_level(spdlog::level::warn);
  const auto options = parse(argc, argv);
  if (!options) return 0;
  const Options& o = *options;
  auto leftovers = std::make_shared<Leftovers>();
  watchSignals(leftovers);
  const long fds = raiseFdLimit();  // before spawning: serve inherits it
  checkFds(o, fds);
  const std::string startLoad = loadAverage();
  Stack stack(o);
  {
    std::lock_guard lock(leftovers->mu);
    leftovers->tmpDir = stack.tmp.path();
    leftovers->keep = o.keepTmp;
  }
  fmt::print(
      "hls_bench: serve on 127.0.0.1:{} (pid {}), nats-server {} (pid {}); open-files "
      "limit {}; tmp {}\n",
      stack.httpPort, stack.serve.pid(), stack.natsUrl, stack.nats.pid(), fds, stack.tmp.path());
  SyntheticPublisher pub({stack.natsUrl, "bench", 0.5, 4, o.partBytes, 64});
  pub.start();
  pub.waitParts(2, 5000);
  waitPlaylist(stack);
  Report report;
  if (o.viewerPhase) {
    for (auto n : o.viewers) report.viewers.push_back(runViewers(o, stack, pub, n));
  }
  if (o.heldPhase) report.held.push_back(runHeld(o, stack, pub));
  if (o.peerPhase) report.peer.push_back(runPeer(o, stack, pub));
  pub.stop();
  printReport(o, report);
  if (pub.errors() > 0) fmt::print("publisher: {} parts failed to publish\n", pub.errors());
  fmt::print("machine: {} CPUs; load average {} at the start, {} at the end\n",
             std::thread::hardware_concurrency(), startLoad, loadAverage());
  return 0;
}

}  // namespace
}  // namespace bench::hls

int main(int argc, char** argv) {
  try {
    return bench::hls::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hls_bench: " << e.what() << "\n";
    return 1;
  }
}
