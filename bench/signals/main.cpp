// bench_signals: how `amphi serve` carries live-classroom signals over SSE, next to
// nginx + nchan. Prints figures with targets; exits non-zero only when setup fails.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "bench.hpp"
#include "procs.hpp"

namespace bench {
namespace {

const char* kHelp = R"(usage: bench_signals [flags]

Starts `amphi serve` on a free loopback port with a temporary data dir, joins N users to
a room, opens their SSE streams (1 moderator on /events, N-1 viewers on /user-events)
and measures:
  - streams held and the server's RSS per idle stream;
  - room-wide fan-out (POST /live, /end alternately): delay from just before the POST
    to each stream's receipt;
  - raise-hand / lower-hand POSTs at a fixed open-loop rate → the moderator's stream;
  - promote → the promoted viewer's own stream;
  - amphi_kv_cas_seconds (the KV compare-and-set of a change) and
    amphi_bus_change_seconds (compare-and-set + the event's publish) over the raise phase.
Then the same streams and fan-out against nginx + nchan. Both servers run on this
machine, as does this client: the figures include their competition for the CPU.

flags:
  --amphi PATH            amphi binary (default: the one built beside this benchmark)
  --amphi-arg ARG         extra `amphi serve` argument (repeat), e.g. --amphi-arg
                          --sse-queue-limit --amphi-arg 2000
  --connections N         SSE streams (default 2000)
  --events M              fan-out events measured (default 20)
  --raise-rate R          raise/lower POSTs per second (default 500)
  --raise-seconds S       length of the raise phase (default 5)
  --hand-users H          viewers taking turns to raise and lower (default 100)
  --promotes K            promote/demote rounds (default 20)
  --post-connections P    keep-alive connections for the raise POSTs (default 16)
  --client-threads T      epoll threads reading the streams (default 1)
  --max-connecting C      streams between connect() and their head at once (default 256)
  --no-nchan              skip the nginx + nchan comparison
  --no-amphi              skip amphi (only the nchan figures)
  --nginx PATH            nginx binary (default: nginx from PATH)
  --nchan-module PATH     ngx_nchan_module.so (default: looked up)
  --keep-tmp              keep the temporary dirs (logs, data, nginx.conf)
  --help                  this text
)";

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&]() { return std::stod(value()); };
    if (flag == "--help" || flag == "-h") {
      std::cout << kHelp;
      return std::nullopt;
    } else if (flag == "--amphi") {
      o.amphi = value();
    } else if (flag == "--amphi-arg") {
      o.amphiArgs.push_back(value());
    } else if (flag == "--connections") {
      o.connections = static_cast<std::size_t>(number());
    } else if (flag == "--events") {
      o.events = static_cast<int>(number());
    } else if (flag == "--raise-rate") {
      o.raiseRate = number();
    } else if (flag == "--raise-seconds") {
      o.raiseSeconds = number();
    } else if (flag == "--hand-users") {
      o.handUsers = static_cast<std::size_t>(number());
    } else if (flag == "--promotes") {
      o.promotes = static_cast<int>(number());
    } else if (flag == "--post-connections") {
      o.postConnections = static_cast<int>(number());
    } else if (flag == "--client-threads") {
      o.clientThreads = static_cast<int>(number());
    } else if (flag == "--max-connecting") {
      o.maxConnecting = static_cast<std::size_t>(number());
    } else if (flag == "--no-amphi") {
      o.amphiRun = false;
    } else if (flag == "--no-nchan") {
      o.nchan = false;
    } else if (flag == "--nginx") {
      o.nginx = value();
    } else if (flag == "--nchan-module") {
      o.nchanModule = value();
    } else if (flag == "--keep-tmp") {
      o.keepTmp = true;
    } else {
      throw std::runtime_error("unknown flag " + flag + " (see --help)");
    }
  }
  if (o.connections < 2) throw std::runtime_error("--connections must be at least 2");
  if (o.raiseRate <= 0 || o.postConnections < 1) {
    throw std::runtime_error("--raise-rate and --post-connections must be positive");
  }
  return o;
}

// The 1, 5 and 15 minute load averages: other work on the machine shows in every figure.
std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

int run(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up at once in a log file
  const auto options = parse(argc, argv);
  if (!options) return 0;
  const long fds = raiseFdLimit();
  if (static_cast<long>(options->connections) + 200 > fds) {
    throw std::runtime_error(fmt::format("{} streams need more than the {} open files allowed",
                                         options->connections, fds));
  }
  fmt::print(
      "bench_signals: {} streams, {} fan-out events, raise {:.0f}/s for {:.0f} s over {} "
      "hand users, {} promotes; open-files limit {}\n",
      options->connections, options->events, options->raiseRate, options->raiseSeconds,
      options->handUsers, options->promotes, fds);
  const std::string startLoad = loadAverage();
  std::optional<AmphiFigures> amphi;
  if (options->amphiRun) amphi = runAmphi(*options);
  std::optional<FanoutFigures> nchan;
  if (options->nchan) nchan = runNchan(*options);
  printReport(*options, amphi, nchan);
  fmt::print("machine: {} CPUs; load average {} at the start, {} at the end\n",
             std::thread::hardware_concurrency(), startLoad, loadAverage());
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  try {
    return bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_signals: " << e.what() << "\n";
    return 1;
  }
}
