// The deployment of deploy/ end to end on loopback: a 3-node NATS cluster (R3 streams and
// buckets) and two serves behind nginx, all from the files users copy. One NATS node and
// one serve are killed during a stream of raise-hands: every acknowledged raise reaches
// every moderator stream exactly once, and SSE clients behind nginx resume by id (also
// when the serve they resume on lags behind the stream: its consumer was on the dead node).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "classroom.hpp"
#include "deploy_fixtures.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

using Clock = std::chrono::steady_clock;

// One event stream read on its own thread through nginx; reconnects with the last id
// whenever the stream ends, and counts RAISE_HAND frames per user.
class StreamReader {
 public:
  StreamReader(std::string base, std::string target, User user)
      : base_(std::move(base)), target_(std::move(target)), user_(std::move(user)) {
    connect();
    thread_ = std::thread([this] { run(); });
  }
  ~StreamReader() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int count(const std::string& userId) const {
    std::lock_guard lock(mu_);
    auto it = raises_.find(userId);
    return it == raises_.end() ? 0 : it->second;
  }
  std::map<std::string, int> raises() const {
    std::lock_guard lock(mu_);
    return raises_;
  }
  int reconnects() const { return reconnects_; }
  std::string ids(const std::string& userId) const {
    std::lock_guard lock(mu_);
    auto it = ids_.find(userId);
    return it == ids_.end() ? "" : it->second;
  }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  void run() {
    while (!stop_) {
      auto e = sse_ ? sse_->next(200ms) : std::nullopt;
      if (e) {
        lastId_ = e->id;
        if (e->event == "RAISE_HAND") {
          std::lock_guard lock(mu_);
          const auto user = nlohmann::json::parse(e->data)["userId"].get<std::string>();
          ++raises_[user];
          ids_[user] += " " + e->id + (reconnects_ ? "r" : "");
        }
      } else if (!sse_ || sse_->closedByServer()) {
        ++reconnects_;
        connect();
      }
    }
  }
  void connect() {
    for (int attempt = 0; attempt < 150 && !stop_; ++attempt) {
      auto headers = user_.auth();
      if (!lastId_.empty()) headers.emplace_back("Last-Event-ID", lastId_);
      try {
        sse_ = std::make_unique<SseClient>(base_, target_, headers, 5s);
        if (sse_->status() == 200) return;
        lastFailure_ = "status " + std::to_string(sse_->status());
      } catch (const std::exception& e) {
        lastFailure_ = e.what();
      }
      sse_.reset();
      std::this_thread::sleep_for(200ms);
    }
    if (stop_) return;
    std::lock_guard lock(mu_);
    error_ = "could not reconnect " + target_ + ": " + lastFailure_;
  }

  std::string base_, target_;
  User user_;
  std::unique_ptr<SseClient> sse_;
  std::string lastId_;
  std::string lastFailure_;
  mutable std::mutex mu_;
  std::map<std::string, int> raises_;
  std::map<std::string, std::string> ids_;  // event ids seen per user ("r": after a reconnect)
  std::string error_;
  std::atomic<int> reconnects_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int raise(const std::string& base, const User& viewer) {
  try {
    return post(base, "/api/rooms/cluster/raise-hand", viewer).status;
  } catch (const std::exception&) {
    return 0;  // connection cut: not acknowledged
  }
}

std::vector<std::string> serveArgs() {
  return {"--nats-replicas", "3",     "--join-per-minute", "0",    "--hand-per-minute", "0",
          "--janus",         "false", "--egress",          "false"};
}

TEST(Cluster, NatsNodeAndServeDieDuringRaisesNothingAcknowledgedIsLostOrDoubled) {
  NatsCluster nats;
  ServeProcess a(nats.url(), serveArgs());
  ServeProcess b(nats.url(), serveArgs());
  ASSERT_TRUE(a.waitReady(60s)) << a.logTail();
  ASSERT_TRUE(b.waitReady(60s)) << b.logTail();
  NginxProcess nginx({a.port(), b.port()});
  const auto base = nginx.baseUrl();

  auto room = createRoom(base, "cluster");
  std::vector<User> moderators, viewers;
  for (int i = 0; i < 2; ++i) moderators.push_back(join(base, room.id, room.moderatorInvite, "T"));
  constexpr int kViewers = 60, kWatching = 6;
  for (int i = 0; i < kViewers; ++i) viewers.push_back(join(base, room.id, room.viewerInvite, "V"));

  // Two moderator tabs and a few viewers' own streams; least_conn spreads them over
  // both serves, so some are on the one that dies.
  std::vector<std::unique_ptr<StreamReader>> mods, own;
  for (auto& m : moderators)
    mods.push_back(std::make_unique<StreamReader>(base, "/api/rooms/cluster/events", m));
  for (int i = 0; i < kWatching; ++i)
    own.push_back(
        std::make_unique<StreamReader>(base, "/api/rooms/cluster/user-events", viewers[i]));
  std::this_thread::sleep_for(500ms);

  std::set<std::string> acknowledged;
  std::vector<int> failed;
  for (int i = 0; i < kViewers; ++i) {
    if (i == kViewers / 3) nats.kill(0);
    if (i == 2 * kViewers / 3) a.kill(SIGKILL);
    if (raise(base, viewers[i]) == 200) {
      acknowledged.insert(viewers[i].userId);
    } else {
      failed.push_back(i);
    }
    std::this_thread::sleep_for(100ms);
  }
  // Raises refused during the failover are sent again: the service must accept them
  // once the cluster has settled (two NATS nodes and serve B left).
  const auto retryUntil = Clock::now() + 30s;
  while (!failed.empty() && Clock::now() < retryUntil) {
    std::vector<int> still;
    for (int i : failed) {
      if (raise(base, viewers[i]) == 200) {
        acknowledged.insert(viewers[i].userId);
      } else {
        still.push_back(i);
      }
    }
    failed.swap(still);
    if (!failed.empty()) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(failed.empty()) << failed.size() << " raises never accepted after the failover";

  // Every acknowledged raise reaches every moderator stream (generous deadline).
  const auto deadline = Clock::now() + 30s;
  auto complete = [&] {
    for (auto& r : mods)
      for (auto& id : acknowledged)
        if (r->count(id) == 0) return false;
    return true;
  };
  while (!complete() && Clock::now() < deadline) std::this_thread::sleep_for(200ms);
  std::this_thread::sleep_for(1s);  // a duplicate would arrive right behind
  for (auto& r : mods) r->stop();
  for (auto& r : own) r->stop();

  int reconnects = 0;
  for (std::size_t m = 0; m < mods.size(); ++m) {
    EXPECT_EQ(mods[m]->error(), "");
    reconnects += mods[m]->reconnects();
    for (auto& id : acknowledged) {
      EXPECT_EQ(mods[m]->count(id), 1) << "moderator stream " << m << ", raise of " << id;
    }
    for (auto& [id, n] : mods[m]->raises())
      EXPECT_EQ(n, 1) << "moderator stream " << m << ": RAISE_HAND of " << id << " in frames"
                      << mods[m]->ids(id);
  }
  for (int i = 0; i < kWatching; ++i) {
    EXPECT_EQ(own[i]->error(), "");
    reconnects += own[i]->reconnects();
    if (acknowledged.count(viewers[i].userId)) {
      EXPECT_EQ(own[i]->count(viewers[i].userId), 1) << "viewer " << i << "'s own stream";
    }
  }
  EXPECT_GE(reconnects, 1) << "no stream was on the killed serve: the failover went untested";
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(kViewers));
  auto state = get(base, "/api/rooms/cluster/state", moderators[0]).json();
  EXPECT_EQ(state["hands"].size(), acknowledged.size());
}

}  // namespace
}  // namespace amphi::testing
