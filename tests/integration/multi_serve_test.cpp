// Two serve processes on one NATS act as one: a token from A works on B, a raise on A
// reaches a moderator on B, and concurrent raises over both land exactly once.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

class MultiServe : public SharedServe<MultiServe> {
 public:
  static constexpr int kServes = 2;
  static std::vector<std::string> serveArgs() { return {"--join-per-minute", "0"}; }
};

TEST_F(MultiServe, RaiseOnAReachesModeratorOnB) {
  const auto a = base(0), b = base(1);
  auto room = createRoom(a, "cross");
  auto mod = join(a, room.id, room.moderatorInvite, "Teacher");  // token from A ...
  auto ann = join(b, room.id, room.viewerInvite, "Ann");
  SseClient modOnB(b, "/api/rooms/cross/events", mod.auth());  // ... accepted by B
  ASSERT_EQ(modOnB.status(), 200);
  ASSERT_EQ(post(a, "/api/rooms/cross/raise-hand", ann).status, 200);
  std::optional<SseEvent> e;
  do {
    e = modOnB.next(5s);
  } while (e && e->event != "RAISE_HAND");
  ASSERT_TRUE(e) << "raise on A never reached the moderator on B";
  EXPECT_EQ(nlohmann::json::parse(e->data)["userId"], ann.userId);
}

TEST_F(MultiServe, FiftyConcurrentRaisesLandExactlyOnce) {
  const auto a = base(0), b = base(1);
  auto room = createRoom(a, "crowd");
  auto mod = join(a, room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 50; ++i) {
    viewers.push_back(join(i % 2 ? a : b, room.id, room.viewerInvite, "V" + std::to_string(i)));
  }
  SseClient modEvents(a, "/api/rooms/crowd/events", mod.auth());
  std::vector<std::future<HttpResult>> results;
  for (int i = 0; i < 50; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      return post(i % 2 ? b : a, "/api/rooms/crowd/raise-hand", viewers[i]);
    }));
  }
  std::set<int> positions;
  for (auto& r : results) {
    auto res = r.get();
    ASSERT_EQ(res.status, 200) << res.body;
    positions.insert(res.json()["position"].get<int>());
  }
  EXPECT_EQ(positions.size(), 50u) << "every raise got its own queue position";
  EXPECT_EQ(*positions.begin(), 1);
  EXPECT_EQ(*positions.rbegin(), 50);

  auto state = get(b, "/api/rooms/crowd/state", mod).json();
  ASSERT_EQ(state["hands"].size(), 50u);
  std::set<std::string> inQueue;
  for (const auto& h : state["hands"]) inQueue.insert(h["userId"].get<std::string>());
  EXPECT_EQ(inQueue.size(), 50u);

  std::multiset<std::string> raised;
  while (raised.size() < 50) {
    auto e = modEvents.next(5s);
    if (!e) break;
    if (e->event == "RAISE_HAND") raised.insert(nlohmann::json::parse(e->data)["userId"]);
  }
  EXPECT_EQ(raised.size(), 50u);
  EXPECT_EQ(std::set<std::string>(raised.begin(), raised.end()).size(), 50u) << "duplicates";
  // No more RAISE_HANDs after the 50 (no duplicate publish).
  while (auto e = modEvents.next(1500ms)) EXPECT_NE(e->event, "RAISE_HAND");
}

}  // namespace
}  // namespace amphi::testing
