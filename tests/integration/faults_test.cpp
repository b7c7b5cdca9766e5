// Faults: nats-server restarts under load, and a serve process dies. Nothing whose
// POST returned 2xx is lost; clients recover by reconnecting and resuming by id.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

bool waitStatus(const std::string& base, const std::string& path, int status,
                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (httpRequest(base, "GET", path, "", {}, 2s).status == status) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Collects RAISE_HAND user ids from a moderator stream, reconnecting with the last id
// whenever the stream ends.
class Collector {
 public:
  Collector(std::string base, std::string room, User mod)
      : base_(std::move(base)), room_(std::move(room)), mod_(std::move(mod)) {
    connect();
  }
  void drainFor(std::chrono::milliseconds window) {
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline) {
      auto e = sse_->next(500ms);
      if (e) {
        lastId_ = e->id;
        if (e->event == "RAISE_HAND") raised_.insert(nlohmann::json::parse(e->data)["userId"]);
        if (e->event == "RAISE_HAND") ++raiseFrames_;
      } else if (sse_->closedByServer()) {
        connect();
      }
    }
  }
  void switchTo(std::string base) {
    base_ = std::move(base);
    connect();
  }
  const std::set<std::string>& raised() const { return raised_; }
  int raiseFrames() const { return raiseFrames_; }

 private:
  void connect() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto headers = mod_.auth();
      if (!lastId_.empty()) headers.emplace_back("Last-Event-ID", lastId_);
      try {
        sse_ = std::make_unique<SseClient>(base_, "/api/rooms/" + room_ + "/events", headers);
        if (sse_->status() == 200) return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(200ms);
    }
    FAIL() << "could not reconnect the event stream";
  }
  std::string base_, room_;
  User mod_;
  std::unique_ptr<SseClient> sse_;
  std::string lastId_;
  std::set<std::string> raised_;
  int raiseFrames_ = 0;
};

TEST(Faults, NatsRestartLosesNoAcknowledgedSignal) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), {"--join-per-minute", "0", "--hand-per-minute", "0"});
  const auto base = serve.baseUrl();
  auto room = createRoom(base, "faults");
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 30; ++i) viewers.push_back(join(base, room.id, room.viewerInvite, "V"));
  ASSERT_TRUE(waitStatus(base, "/readyz", 200, 10s));
  Collector collector(base, room.id, mod);

  std::set<std::string> acknowledged;
  auto raise = [&](const User& v) {
    try {
      if (post(base, "/api/rooms/faults/raise-hand", v).status == 200) acknowledged.insert(v.userId);
    } catch (const std::exception&) {
    }
  };
  for (int i = 0; i < 10; ++i) raise(viewers[i]);
  nats.stop();
  EXPECT_TRUE(waitStatus(base, "/readyz", 503, 15s)) << "readyz stayed 200 without NATS";
  for (int i = 10; i < 15; ++i) raise(viewers[i]);  // may fail (503); must not lie
  nats.start();
  EXPECT_TRUE(waitStatus(base, "/readyz", 200, 30s)) << "readyz never recovered";
  for (int i = 15; i < 30; ++i) raise(viewers[i]);
  collector.drainFor(6s);

  EXPECT_GE(acknowledged.size(), 25u);
  for (const auto& id : acknowledged) {
    EXPECT_TRUE(collector.raised().count(id)) << "acknowledged raise of " << id << " was lost";
  }
  EXPECT_EQ(collector.raiseFrames(), static_cast<int>(collector.raised().size()))
      << "a RAISE_HAND was delivered twice";
  auto state = get(base, "/api/rooms/faults/state", mod).json();
  EXPECT_EQ(state["hands"].size(), acknowledged.size());
}

TEST(Faults, KilledServeClientsResumeOnTheOther) {
  NatsFixture nats;
  ServeProcess a(nats.url(), {"--join-per-minute", "0"});
  ServeProcess b(nats.url(), {"--join-per-minute", "0"});
  auto room = createRoom(a.baseUrl(), "failover");
  auto mod = join(a.baseUrl(), room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 6; ++i) viewers.push_back(join(b.baseUrl(), room.id, room.viewerInvite, "V"));
  Collector collector(a.baseUrl(), room.id, mod);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(post(b.baseUrl(), "/api/rooms/failover/raise-hand", viewers[i]).status, 200);
  }
  collector.drainFor(2s);
  ASSERT_EQ(collector.raised().size(), 3u);
  a.kill(SIGKILL);
  for (int i = 3; i < 6; ++i) {  // raised while the moderator's serve is dead
    ASSERT_EQ(post(b.baseUrl(), "/api/rooms/failover/raise-hand", viewers[i]).status, 200);
  }
  collector.switchTo(b.baseUrl());  // resumes by Last-Event-ID on B
  collector.drainFor(3s);
  EXPECT_EQ(collector.raised().size(), 6u);
  EXPECT_EQ(collector.raiseFrames(), 6) << "no event twice across the failover";
}

TEST(Faults, SigtermStopsServeAndItsNatsServer) {
  auto dir = uniqueTempDir("amphi-sigterm");
  auto port = app::freeLoopbackPort();
  auto child = app::ChildProcess::spawn(
      {ServeProcess::binary(), "serve", "--http", "127.0.0.1:" + std::to_string(port),
       "--data-dir", dir},
      {.logFile = dir + "/serve.log"});
  const auto base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(waitStatus(base, "/readyz", 200, 20s));
  auto demo = httpRequest(base, "GET", "/api/rooms/demo");
  EXPECT_EQ(demo.status, 200) << "a fresh data dir gets the demo room";
  child.signal(SIGTERM);
  auto status = child.waitFor(10s);
  ASSERT_TRUE(status) << "serve did not stop within 10 s of SIGTERM";
  EXPECT_EQ(*status, 0);
  // The private nats-server is gone too: its port no longer accepts connections.
  std::ifstream urlFile(dir + "/nats.url");
  std::string natsUrl;
  std::getline(urlFile, natsUrl);
  const auto natsPort = static_cast<uint16_t>(std::stoi(natsUrl.substr(natsUrl.rfind(':') + 1)));
  EXPECT_FALSE(app::waitForTcp("127.0.0.1", natsPort, 500ms)) << "orphan nats-server";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace amphi::testing
