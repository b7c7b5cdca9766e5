// cluster_bench: raise-hand → moderator delay through nginx (deploy/nginx) in front of
// two serves, with a 3-node NATS cluster and R3 streams (deploy/nats) next to one NATS
// node and R1. The same setup as tests/integration/cluster_test.cpp, without faults.
// See bench/cluster/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "classroom.hpp"
#include "deploy_fixtures.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace {

using namespace amphi::testing;
using Clock = std::chrono::steady_clock;

struct Options {
  int raises = 300;
  double rate = 25;  // raises per second, open loop
  bool single = true;
  bool cluster = true;
};

struct Figures {
  std::vector<double> delivery, post;  // ms
  int sent = 0, acknowledged = 0, missing = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Reads the moderator's stream through nginx and stamps each RAISE_HAND's arrival.
class Arrivals {
 public:
  Arrivals(const std::string& base, const User& mod)
      : sse_(base, "/api/rooms/bench/events", mod.auth()) {
    if (sse_.status() != 200) throw std::runtime_error("moderator stream refused");
    thread_ = std::thread([this] {
      while (!stop_) {
        auto e = sse_.next(200ms);
        if (!e || e->event != "RAISE_HAND") continue;
        auto id = nlohmann::json::parse(e->data)["userId"].get<std::string>();
        std::lock_guard lock(mu_);
        at_.emplace(std::move(id), Clock::now());
      }
    });
  }
  ~Arrivals() {
    stop_ = true;
    thread_.join();
  }
  std::optional<Clock::time_point> at(const std::string& userId) {
    std::lock_guard lock(mu_);
    auto it = at_.find(userId);
    if (it == at_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return at_.size();
  }

 private:
  SseClient sse_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> at_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Figures measure(const Options& o, const std::string& natsUrl, int replicas) {
  const std::vector<std::string> args{"--nats-replicas",   std::to_string(replicas),
                                      "--join-per-minute", "0",
                                      "--hand-per-minute", "0",
                                      "--janus",           "false",
                                      "--egress",          "false",
                                      "--log-level",       "warn"};
  ServeProcess a(natsUrl, args), b(natsUrl, args);
  if (!a.waitReady(60s) || !b.waitReady(60s)) throw std::runtime_error("serves not ready");
  NginxProcess nginx({a.port(), b.port()});
  const auto base = nginx.baseUrl();
  auto room = createRoom(base, "bench");
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < o.raises; ++i) viewers.push_back(join(base, room.id, room.viewerInvite, "V"));
  Arrivals arrivals(base, mod);
  std::this_thread::sleep_for(500ms);

  Figures f;
  std::vector<std::pair<std::string, Clock::time_point>> sentAt;
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
  auto next = Clock::now();
  for (const auto& v : viewers) {
    std::this_thread::sleep_until(next);
    next += period;
    const auto t0 = Clock::now();
    ++f.sent;
    int status = 0;
    try {
      status = post(base, "/api/rooms/bench/raise-hand", v).status;
    } catch (const std::exception&) {
    }
    f.post.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (status == 200) {
      ++f.acknowledged;
      sentAt.emplace_back(v.userId, t0);
    }
  }
  const auto deadline = Clock::now() + 10s;
  while (arrivals.count() < sentAt.size() && Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  for (auto& [id, t0] : sentAt) {
    auto t1 = arrivals.at(id);
    if (!t1) {
      ++f.missing;
      continue;
    }
    f.delivery.push_back(std::chrono::duration<double, std::milli>(*t1 - t0).count());
  }
  return f;
}

void printRow(const std::string& name, const Figures& f) {
  fmt::print("{:<34} {:>5}/{:<5} {:>7} {:>7.1f} {:>7.1f} {:>7.1f} {:>7.1f} {:>9.1f}\n", name,
             f.acknowledged, f.sent, f.missing, percentile(f.delivery, 50),
             percentile(f.delivery, 90), percentile(f.delivery, 99), percentile(f.delivery, 100),
             percentile(f.post, 99));
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"raise-hand → moderator through nginx: 3-node NATS cluster (R3) vs one node"};
  app.add_option("--raises", o.raises, "raises (one viewer each)")->capture_default_str();
  app.add_option("--rate", o.rate, "raises per second (open loop)")->capture_default_str();
  app.add_flag("!--no-single", o.single, "skip the one-node run");
  app.add_flag("!--no-cluster", o.cluster, "skip the cluster run");
  CLI11_PARSE(app, argc, argv);
  try {
    std::optional<Figures> single, cluster;
    if (o.single) {
      NatsFixture nats;
      single = measure(o, nats.url(), 1);
    }
    if (o.cluster) {
      NatsCluster nats;
      cluster = measure(o, nats.url(), 3);
    }
    fmt::print(
        "\nraise-hand POST → moderator RAISE_HAND, through nginx, 2 serves, {} raises at "
        "{}/s\n\n",
        o.raises, o.rate);
    fmt::print("{:<34} {:>11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}\n", "setup", "acked/sent",
               "missing", "p50 ms", "p90 ms", "p99 ms", "max ms", "POST p99");
    if (single) printRow("1 NATS node, R1", *single);
    if (cluster) printRow("3-node NATS cluster, R3", *cluster);
    fmt::print("\nload average: {}\n", loadAverage());
  } catch (const std::exception& e) {
    std::cerr << "cluster_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
