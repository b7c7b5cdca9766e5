// The amphi run: start `amphi serve`, join users, open their streams, then measure
// fan-out, raise-hand → moderator, promote → user and the bus cost per state change.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "bench.hpp"
#include "http_util.hpp"
#include "procs.hpp"
#include "sse_client.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kRoom = "bench";

struct User {
  std::string token, userId;
};

struct Server {
  Child child;
  uint16_t port = 0;
  std::string adminKey;
  std::string log;
};

std::string randomHex(std::size_t bytes) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", in.get() & 0xff);
  return out;
}

Server startServer(const Options& o, const TempDir& tmp) {
  Server s;
  s.adminKey = randomHex(24);
  s.log = tmp.path() + "/amphi.log";
  std::vector<std::string> argv = {o.amphi,
                                   "serve",
                                   "--http",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   tmp.path() + "/data",
                                   "--join-per-minute",
                                   "0",
                                   "--hand-per-minute",
                                   "0",
                                   "--log-level",
                                   "warn"};
  argv.insert(argv.end(), o.amphiArgs.begin(), o.amphiArgs.end());
  s.child = Child::spawn(argv, {"AMPHI_ADMIN_KEY=" + s.adminKey}, s.log);
  auto line = waitForLine(s.log, "Amphi listening on http://127.0.0.1:", 60s, s.child);
  if (!line) {
    throw std::runtime_error("amphi serve did not start; its log:\n" + tailFile(s.log, 20));
  }
  s.port = static_cast<uint16_t>(std::stoi(*line));
  return s;
}

// Creates the room and joins n users (the first a moderator) over pipelined keep-alive.
std::vector<User> joinUsers(const Server& s, std::size_t n, AmphiFigures& out) {
  HttpConn admin(s.port);
  auto created = admin.request("POST", "/api/rooms",
                               R"({"id":"bench","title":"Bench","maxStage":16})", s.adminKey);
  if (created.status != 201) {
    throw std::runtime_error(
        fmt::format("POST /api/rooms: HTTP {} {}", created.status, created.body));
  }
  const auto invites = json::parse(created.body).at("invites");
  const std::string codes[2] = {invites.at("moderator").at("code"),
                                invites.at("viewer").at("code")};
  std::vector<User> users(n);
  std::size_t failed = 0;
  PoolJob job;
  job.total = n;
  job.connections = 8;
  job.maxInFlight = 16;
  job.request = [&](std::size_t k) {
    const json body = {{"invite", codes[k == 0 ? 0 : 1]}, {"displayName", fmt::format("u{}", k)}};
    return buildRequest("POST", fmt::format("/api/rooms/{}/join", kRoom), s.port, body.dump());
  };
  job.done = [&](std::size_t k, int64_t, int64_t, const HttpResponse& r) {
    if (r.status != 200) {
      if (failed++ < 3) fmt::print(stderr, "join {}: HTTP {} {}\n", k, r.status, r.body);
      return;
    }
    const auto j = json::parse(r.body);
    users[k] = {j.at("token"), j.at("userId")};
  };
  const auto result = runPool(s.port, job);
  out.joinSeconds = static_cast<double>(result.endNs - result.startNs) / 1e9;
  out.joins = n - failed;
  if (failed > 0) throw std::runtime_error(fmt::format("{} of {} joins failed", failed, n));
  return users;
}

std::string scrape(uint16_t port) {
  return HttpConn(port).request("GET", "/metrics").body;
}

// Viewers 1..promoteTargets are promote targets; hand users follow them.
struct Layout {
  std::size_t promoteTargets = 0;
  std::vector<std::size_t> hands;  // user indexes
};

Layout layoutFor(const Options& o) {
  Layout l;
  const std::size_t viewers = o.connections - 1;
  l.promoteTargets = std::min<std::size_t>(4, viewers);
  for (std::size_t u = l.promoteTargets + 1; u < o.connections && l.hands.size() < o.handUsers;
       ++u) {
    l.hands.push_back(u);
  }
  if (l.hands.empty()) {  // tiny runs: share
    for (std::size_t u = 1; u < o.connections && l.hands.size() < o.handUsers; ++u)
      l.hands.push_back(u);
  }
  return l;
}

// Post k is by hand user k % H, a raise when (k / H) is even: each post changes state.
struct RaisePlan {
  std::size_t hands = 0, total = 0;
  bool isRaise(std::size_t k) const { return (k / hands) % 2 == 0; }
  std::vector<int64_t> sent;
  std::vector<int> status;
  std::vector<char> changed;
  bool counts(std::size_t k) const { return status[k] == 200 && changed[k]; }
};

// Sends the posts open loop; fills the plan and the HTTP figures.
void sendRaises(const Options& o, const Server& s, const std::vector<User>& users, const Layout& l,
                RaisePlan& plan, AmphiFigures& out) {
  std::vector<double> http, late;
  const double gapNs = 1e9 / o.raiseRate;
  const int64_t start = nowNs() + 20'000'000;
  PoolJob job;
  job.total = plan.total;
  job.connections = o.postConnections;
  job.maxInFlight = 4;
  job.due = [&](std::size_t k) {
    return start + static_cast<int64_t>(static_cast<double>(k) * gapNs);
  };
  job.request = [&](std::size_t k) {
    const auto& u = users[l.hands[k % plan.hands]];
    const char* action = plan.isRaise(k) ? "raise-hand" : "lower-hand";
    return buildRequest("POST", fmt::format("/api/rooms/{}/{}", kRoom, action), s.port, "{}",
                        u.token);
  };
  job.done = [&](std::size_t k, int64_t sentNs, int64_t doneNs, const HttpResponse& r) {
    plan.sent[k] = sentNs;
    plan.status[k] = r.status;
    plan.changed[k] = r.body.find("\"changed\":true") != std::string::npos;
    http.push_back(static_cast<double>(doneNs - sentNs) / 1e6);
    late.push_back(static_cast<double>(sentNs - job.due(k)) / 1e6);
  };
  out.raiseSent = runPool(s.port, job).sent;
  const int64_t lastSent = *std::max_element(plan.sent.begin(), plan.sent.end());
  out.raiseRate = lastSent > start ? static_cast<double>(plan.total - 1) * 1e9 /
                                         static_cast<double>(lastSent - start)
                                   : 0;
  for (std::size_t k = 0; k < plan.total; ++k) {
    if (plan.status[k] != 200) out.raiseErrors++;
    if (plan.status[k] == 200 && !plan.changed[k]) out.raiseUnchanged++;
  }
  out.raiseHttp = summarize(http);
  out.raiseLate = summarize(late);
}

// Matches each RAISE_HAND / LOWER_HAND on the moderator's stream (connection 0) to the
// post that caused it: the user's next post of that kind that changed state.
void matchRaises(const std::vector<CapturedFrame>& frames, const std::vector<User>& users,
                 const Layout& l, const RaisePlan& plan, AmphiFigures& out) {
  std::unordered_map<std::string, std::size_t> handOf;
  for (std::size_t h = 0; h < plan.hands; ++h) handOf[users[l.hands[h]].userId] = h;
  std::vector<std::size_t> cursor(plan.hands, 0);
  std::vector<char> matched(plan.total, 0);
  std::vector<double> delays;
  for (const auto& f : frames) {
    if (f.conn != 0 || (f.type != "RAISE_HAND" && f.type != "LOWER_HAND")) continue;
    auto it = handOf.find(json::parse(f.data).value("userId", ""));
    if (it == handOf.end()) continue;
    const std::size_t h = it->second;
    const bool raise = f.type == "RAISE_HAND";
    std::size_t k = h + plan.hands * cursor[h];
    while (k < plan.total && (plan.isRaise(k) != raise || !plan.counts(k))) {
      k += plan.hands;
      cursor[h]++;
    }
    if (k >= plan.total) {
      out.raiseUnexpected++;
      continue;
    }
    cursor[h]++;
    matched[k] = 1;
    delays.push_back(static_cast<double>(f.recvNs - plan.sent[k]) / 1e6);
  }
  for (std::size_t k = 0; k < plan.total; ++k) {
    if (plan.counts(k) && !matched[k]) out.raiseMissing++;
  }
  out.raise = summarize(delays);
}

// p99 interpolated inside the histogram's buckets and the mean, over one phase.
void histogramFigures(const std::string& before, const std::string& after, const char* name,
                      std::optional<double>& p99Ms, std::optional<double>& meanMs,
                      double* count) {
  auto b = parseHistogram(before, name);
  auto a = parseHistogram(after, name);
  if (!a || !b) return;
  const auto d = a->minus(*b);
  if (count) *count = d.count;
  if (auto q = d.quantile(0.99)) p99Ms = *q * 1000;
  if (d.count > 0) meanMs = d.sum / d.count * 1000;
}

void busFigures(const std::string& before, const std::string& after, AmphiFigures& out) {
  const auto conflicts = [](const std::string& text) {
    return parseGauge(text, "amphi_kv_cas_conflicts_total").value_or(0);
  };
  out.casConflicts = conflicts(after) - conflicts(before);
  histogramFigures(before, after, "amphi_bus_change_seconds", out.busP99Ms, out.busMeanMs,
                   &out.busCount);
  histogramFigures(before, after, "amphi_kv_cas_seconds", out.casP99Ms, out.casMeanMs, nullptr);
}

void raisePhase(const Options& o, const Server& s, const std::vector<User>& users, const Layout& l,
                SseClient& sse, AmphiFigures& out) {
  RaisePlan plan;
  plan.hands = l.hands.size();
  plan.total = static_cast<std::size_t>(o.raiseRate * o.raiseSeconds);
  if (plan.hands == 0 || plan.total == 0) return;
  plan.sent.assign(plan.total, 0);
  plan.status.assign(plan.total, 0);
  plan.changed.assign(plan.total, 0);
  sse.takeCaptured();
  const std::string before = scrape(s.port);
  const std::string loadBefore = loadAverage1();
  sendRaises(o, s, users, l, plan, out);
  out.raiseLoad = loadBefore + " / " + loadAverage1();
  std::this_thread::sleep_for(1s);
  const std::string after = scrape(s.port);
  matchRaises(sse.takeCaptured(), users, l, plan, out);
  busFigures(before, after, out);
}

// Waits for a frame of `type` on connection conn; its receive time, or 0.
int64_t awaitFrame(SseClient& sse, std::size_t conn, const std::string& type) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& f : sse.takeCaptured(100ms)) {
      if (f.conn == conn && f.type == type) return f.recvNs;
    }
  }
  return 0;
}

void promotePhase(const Options& o, const Server& s, const std::vector<User>& users,
                  const Layout& l, SseClient& sse, AmphiFigures& out) {
  if (l.promoteTargets == 0) return;
  HttpConn mod(s.port);
  std::vector<double> promote, demote;
  for (int r = 0; r < o.promotes; ++r) {
    const std::size_t target = 1 + static_cast<std::size_t>(r) % l.promoteTargets;
    const auto path = [&](const char* action) {
      return fmt::format("/api/rooms/{}/{}/{}", kRoom, action, users[target].userId);
    };
    sse.takeCaptured();
    int64_t t0 = 0;
    auto res = mod.send(buildRequest("POST", path("promote"), s.port, "{}", users[0].token), &t0);
    if (const int64_t got = res.status == 200 ? awaitFrame(sse, target, "PROMOTE") : 0) {
      promote.push_back(static_cast<double>(got - t0) / 1e6);
    } else {
      out.promoteMissing++;
      out.notes.push_back(fmt::format("promote {}: HTTP {} {}", r, res.status, res.body));
    }
    res = mod.send(buildRequest("POST", path("demote"), s.port, "{}", users[0].token), &t0);
    if (const int64_t got = res.status == 200 ? awaitFrame(sse, target, "DEMOTE") : 0) {
      demote.push_back(static_cast<double>(got - t0) / 1e6);
    }
    std::this_thread::sleep_for(20ms);
  }
  out.promote = summarize(promote);
  out.demote = summarize(demote);
}

}  // namespace

AmphiFigures runAmphi(const Options& o) {
  AmphiFigures out;
  TempDir tmp("amphi-bench-");
  if (o.keepTmp) tmp.keep();
  Server s = startServer(o, tmp);
  fmt::print("amphi: serving on port {} (pid {}, log {})\n", s.port, s.child.pid(), s.log);
  const auto users = joinUsers(s, o.connections, out);
  fmt::print("amphi: {} users joined in {:.1f} s\n", users.size(), out.joinSeconds);
  const Layout l = layoutFor(o);

  std::vector<SseTarget> targets;
  for (std::size_t u = 0; u < users.size(); ++u) {
    const char* stream = u == 0 ? "events" : "user-events";
    targets.push_back({buildRequest("GET", fmt::format("/api/rooms/{}/{}", kRoom, stream), s.port,
                                    {}, users[u].token),
                       u <= l.promoteTargets});
  }
  SseClient sse({s.port, o.clientThreads, o.maxConnecting, {"ROOM_LIVE", "ROOM_ENDED"}});
  HttpConn mod(s.port);
  bool live = false;
  const Publish publish = [&](int, int64_t* sentNs) {
    live = !live;
    const auto path = fmt::format("/api/rooms/{}/{}", kRoom, live ? "live" : "end");
    return mod.send(buildRequest("POST", path, s.port, "{}", users[0].token), sentNs).status;
  };
  const pid_t pid = s.child.pid();
  // RSS of amphi alone (its nats-server holds no stream); CPU of amphi and nats-server.
  const ServerGauges gauges{[pid] { return rssKiB(pid); }, [pid] { return cpuTreeSeconds(pid); }};
  measureStreams(sse, std::move(targets), publish, gauges, o.events, out.fan);
  fmt::print("amphi: {} streams open in {:.1f} s, quiet after {:.1f} s more; fan-out done\n",
             out.fan.headOk, out.fan.openSeconds, out.fan.settleSeconds);
  raisePhase(o, s, users, l, sse, out);
  fmt::print("amphi: raise phase done\n");
  promotePhase(o, s, users, l, sse, out);
  const std::string metrics = scrape(s.port);
  out.serverSseGauge = parseGauge(metrics, "amphi_sse_connections");
  out.droppedSlow = parseGauge(metrics, "amphi_sse_dropped_slow_total");
  finishStreams(sse, out.fan);
  out.shutdown = s.child.stop(30s);
  std::size_t warnings = 0;
  std::ifstream log(s.log);
  for (std::string line; std::getline(log, line);) {
    if (line.find(" warning ") == std::string::npos && line.find(" error ") == std::string::npos &&
        line.find(" critical ") == std::string::npos) {
      continue;
    }
    if (warnings++ < 10) out.notes.push_back("log: " + line);
  }
  out.notes.push_back(fmt::format("{} warning/error lines in the amphi log", warnings));
  return out;
}

}  // namespace bench
