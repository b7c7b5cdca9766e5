// The full signal path over HTTP with a real nats-server: raise → moderator SSE;
// promote → that viewer's /user-events and nobody else's.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

class SignalPath : public SharedServe<SignalPath> {
 public:
  static constexpr int kServes = 1;
  static std::vector<std::string> serveArgs() { return {}; }
};

// The next event of one of the given types, skipping presence events.
std::optional<SseEvent> nextOf(SseClient& sse, std::initializer_list<const char*> types,
                               std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = sse.next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!e) return std::nullopt;
    for (const char* t : types) {
      if (e->event == t) return e;
    }
  }
  return std::nullopt;
}

TEST_F(SignalPath, RaiseReachesModeratorAndPromoteOnlyThatViewer) {
  auto room = createRoom(base(), "signals");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  auto bob = join(base(), room.id, room.viewerInvite, "Bob");
  SseClient modEvents(base(), "/api/rooms/signals/events", mod.auth());
  SseClient annEvents(base(), "/api/rooms/signals/user-events", ann.auth());
  SseClient bobEvents(base(), "/api/rooms/signals/user-events", bob.auth());
  ASSERT_EQ(modEvents.status(), 200);
  ASSERT_EQ(annEvents.status(), 200);
  ASSERT_EQ(bobEvents.status(), 200);
  EXPECT_EQ(modEvents.headers().at("content-type").rfind("text/event-stream", 0), 0u);
  EXPECT_EQ(modEvents.headers().at("x-accel-buffering"), "no");

  auto raised = post(base(), "/api/rooms/signals/raise-hand", ann);
  ASSERT_EQ(raised.status, 200) << raised.body;
  EXPECT_EQ(raised.json()["position"], 1);

  auto seen = nextOf(modEvents, {"RAISE_HAND"});
  ASSERT_TRUE(seen) << "moderator never saw RAISE_HAND";
  auto data = nlohmann::json::parse(seen->data);
  EXPECT_EQ(data["type"], "RAISE_HAND");
  EXPECT_EQ(data["userId"], ann.userId);
  EXPECT_EQ(data["displayName"], "Ann");
  EXPECT_EQ(data["roomId"], "signals");
  EXPECT_TRUE(data["timestamp"].is_number_integer());
  EXPECT_FALSE(seen->id.empty());

  ASSERT_EQ(post(base(), "/api/rooms/signals/promote/" + ann.userId, mod).status, 200);
  auto promoted = nextOf(annEvents, {"PROMOTE"});
  ASSERT_TRUE(promoted) << "Ann never got PROMOTE";
  EXPECT_EQ(nlohmann::json::parse(promoted->data)["userId"], ann.userId);
  auto modPromote = nextOf(modEvents, {"PROMOTE"});
  ASSERT_TRUE(modPromote);

  // Bob sees the public STAGE_CHANGED, never Ann's RAISE_HAND or PROMOTE.
  auto stage = nextOf(bobEvents, {"STAGE_CHANGED", "PROMOTE", "RAISE_HAND"});
  ASSERT_TRUE(stage);
  EXPECT_EQ(stage->event, "STAGE_CHANGED");
  EXPECT_EQ(nlohmann::json::parse(stage->data)["stage"][0]["userId"], ann.userId);
  // A later public event proves everything before it was delivered (the stream is ordered).
  ASSERT_EQ(post(base(), "/api/rooms/signals/live", mod).status, 200);
  auto rest = nextOf(bobEvents, {"ROOM_LIVE", "PROMOTE", "RAISE_HAND"});
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->event, "ROOM_LIVE");

  auto state = get(base(), "/api/rooms/signals/state", mod).json();
  EXPECT_EQ(state["stage"][0]["userId"], ann.userId);
  EXPECT_TRUE(state["hands"].empty());
  EXPECT_TRUE(state["live"]);
}

TEST_F(SignalPath, HandQueueIsFifoAndRaiseIsIdempotent) {
  auto room = createRoom(base(), "fifo");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 3; ++i) {
    viewers.push_back(join(base(), room.id, room.viewerInvite, "V" + std::to_string(i)));
  }
  for (int i = 0; i < 3; ++i) {
    auto res = post(base(), "/api/rooms/fifo/raise-hand", viewers[i]);
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.json()["position"], i + 1);
  }
  auto again = post(base(), "/api/rooms/fifo/raise-hand", viewers[0]).json();
  EXPECT_EQ(again["position"], 1);
  EXPECT_FALSE(again["changed"]);
  ASSERT_EQ(post(base(), "/api/rooms/fifo/lower-hand", mod,
                 nlohmann::json{{"userId", viewers[0].userId}}.dump())
                .status,
            200);
  auto state = get(base(), "/api/rooms/fifo/state", mod).json();
  ASSERT_EQ(state["hands"].size(), 2u);
  EXPECT_EQ(state["hands"][0]["userId"], viewers[1].userId);
  EXPECT_EQ(state["hands"][0]["position"], 1);
  EXPECT_EQ(state["hands"][1]["userId"], viewers[2].userId);
  auto mine = get(base(), "/api/rooms/fifo/state", viewers[2]).json();
  EXPECT_EQ(mine["you"]["handPosition"], 2);
  EXPECT_TRUE(mine["hands"].empty()) << "viewers must not see who else raised a hand";
  EXPECT_EQ(mine["counts"]["hands"], 2);
}

TEST_F(SignalPath, PresenceCountsViewersOncePerUser) {
  auto room = createRoom(base(), "presence");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  SseClient modEvents(base(), "/api/rooms/presence/events", mod.auth());
  {
    SseClient tab1(base(), "/api/rooms/presence/user-events", ann.auth());
    SseClient tab2(base(), "/api/rooms/presence/user-events", ann.auth());
    auto joined = nextOf(modEvents, {"PARTICIPANT_JOINED"});
    ASSERT_TRUE(joined);
    std::optional<SseEvent> annJoined = joined;
    while (annJoined && nlohmann::json::parse(annJoined->data)["userId"] != ann.userId) {
      annJoined = nextOf(modEvents, {"PARTICIPANT_JOINED"});
    }
    ASSERT_TRUE(annJoined);
    auto info = httpRequest(base(), "GET", "/api/rooms/presence").json();
    EXPECT_EQ(info["viewers"], 1) << "two tabs are one participant";
  }
  auto left = nextOf(modEvents, {"PARTICIPANT_LEFT"}, 20s);
  ASSERT_TRUE(left) << "no PARTICIPANT_LEFT after both tabs closed";
  EXPECT_EQ(nlohmann::json::parse(left->data)["userId"], ann.userId);
  EXPECT_EQ(httpRequest(base(), "GET", "/api/rooms/presence").json()["viewers"], 0);
}

// Streams that open together (a class arriving, a room-wide reconnect) are announced in
// fewer events than users: a burst becomes one PARTICIPANT_JOINED with a count and some
// names. Whatever the batching, every user is counted exactly once and the last event
// carries the right number of viewers.
TEST_F(SignalPath, JoinBurstIsAnnouncedOnceWithRightCounts) {
  auto room = createRoom(base(), "burst");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  SseClient modEvents(base(), "/api/rooms/burst/events", mod.auth());
  std::optional<SseEvent> own;
  do {
    own = nextOf(modEvents, {"PARTICIPANT_JOINED"});
  } while (own && nlohmann::json::parse(own->data)["userId"] != mod.userId);
  ASSERT_TRUE(own) << "the moderator's own join was never announced";

  constexpr std::size_t kViewers = 20;
  std::vector<User> viewers;
  std::map<std::string, std::string> names;  // userId → displayName
  for (std::size_t i = 0; i < kViewers; ++i) {
    viewers.push_back(join(base(), room.id, room.viewerInvite, "V" + std::to_string(i)));
    names[viewers.back().userId] = viewers.back().displayName;
  }
  std::vector<std::unique_ptr<SseClient>> tabs(kViewers);
  {
    std::vector<std::thread> openers;
    for (std::size_t i = 0; i < kViewers; ++i) {
      openers.emplace_back([&, i] {
        tabs[i] = std::make_unique<SseClient>(base(), "/api/rooms/burst/user-events",
                                              viewers[i].auth());
      });
    }
    for (auto& t : openers) t.join();
  }
  std::set<std::string> named;
  std::size_t counted = 0, frames = 0;
  nlohmann::json last;
  while (counted < kViewers) {
    auto e = nextOf(modEvents, {"PARTICIPANT_JOINED"}, 10s);
    ASSERT_TRUE(e) << counted << " of " << kViewers << " joins announced";
    ++frames;
    last = nlohmann::json::parse(e->data);
    if (!last["userId"].get<std::string>().empty()) {
      EXPECT_TRUE(names.count(last["userId"])) << e->data;
      EXPECT_TRUE(named.insert(last["userId"]).second) << "announced twice: " << e->data;
      ++counted;
      continue;
    }
    ASSERT_TRUE(last["count"].is_number_unsigned()) << e->data;
    counted += last["count"].get<std::size_t>();
    ASSERT_FALSE(last["participants"].empty()) << e->data;
    for (const auto& p : last["participants"]) {
      EXPECT_EQ(names[p["userId"]], p["displayName"]) << e->data;
      EXPECT_TRUE(named.insert(p["userId"]).second) << "announced twice: " << e->data;
    }
  }
  EXPECT_EQ(counted, kViewers);
  EXPECT_EQ(last["viewers"], kViewers);
  EXPECT_EQ(last["moderators"], 1);
  std::cout << kViewers << " joins announced in " << frames << " PARTICIPANT_JOINED events\n";
}

}  // namespace
}  // namespace amphi::testing
