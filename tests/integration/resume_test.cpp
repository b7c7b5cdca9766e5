// Resuming an event stream by Last-Event-ID: exactly the missed events, in order,
// with no duplicates, then live; RESET for ids the stream cannot serve.
#include <gtest/gtest.h>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

class Resume : public SharedServe<Resume> {
 public:
  static constexpr int kServes = 1;
  static std::vector<std::string> serveArgs() { return {"--hand-per-minute", "0"}; }
};

std::vector<std::string> ids(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id + ":" + e.event);
  return out;
}

// Reads events until one with the given id (inclusive), or times out.
std::vector<SseEvent> until(SseClient& sse, const std::string& id) {
  std::vector<SseEvent> out;
  while (auto e = sse.next(5s)) {
    out.push_back(*e);
    if (e->id == id) break;
  }
  return out;
}

TEST_F(Resume, MissedEventsExactlyOnceInOrder) {
  auto room = createRoom(base(), "resume");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 4; ++i) {
    viewers.push_back(join(base(), room.id, room.viewerInvite, "V" + std::to_string(i)));
  }
  SseClient control(base(), "/api/rooms/resume/events", mod.auth());
  std::string lastSeen;
  {
    SseClient client(base(), "/api/rooms/resume/events", mod.auth());
    ASSERT_EQ(post(base(), "/api/rooms/resume/raise-hand", viewers[0]).status, 200);
    auto first = client.next(5s);
    while (first && first->event != "RAISE_HAND") first = client.next(5s);
    ASSERT_TRUE(first);
    lastSeen = first->id;
  }  // disconnected
  // Events the client misses: hands of every viewer, up and down, and a live flag.
  for (int round = 0; round < 2; ++round) {
    for (auto& v : viewers) {
      ASSERT_EQ(post(base(), "/api/rooms/resume/raise-hand", v).status, 200);
      ASSERT_EQ(post(base(), "/api/rooms/resume/lower-hand", v).status, 200);
    }
  }
  auto live = post(base(), "/api/rooms/resume/live", mod);
  ASSERT_EQ(live.status, 200);
  auto controlEvents = until(control, "");  // drain what is there (times out at the end)
  std::vector<SseEvent> expected;
  bool after = false;
  for (auto& e : controlEvents) {
    if (after) expected.push_back(e);
    if (e.id == lastSeen) after = true;
  }
  ASSERT_TRUE(after) << "control stream never saw id " << lastSeen;
  // 15 hand changes (Ann's first raise in round 0 repeats one already seen) + ROOM_LIVE,
  // plus whatever presence events the control stream saw meanwhile.
  ASSERT_GE(expected.size(), 16u);

  SseClient resumed(base(), "/api/rooms/resume/events",
                    {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", lastSeen}});
  ASSERT_EQ(resumed.status(), 200);
  auto replay = until(resumed, expected.back().id);
  EXPECT_EQ(ids(replay), ids(expected));
  for (std::size_t i = 0; i < std::min(replay.size(), expected.size()); ++i) {
    EXPECT_EQ(replay[i].data, expected[i].data);
  }
  // Then live, with nothing repeated.
  ASSERT_EQ(post(base(), "/api/rooms/resume/end", mod).status, 200);
  auto next = resumed.next(5s);
  while (next && next->event.rfind("PARTICIPANT_", 0) == 0) next = resumed.next(5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->event, "ROOM_ENDED");
  EXPECT_GT(std::stoull(next->id), std::stoull(expected.back().id));
}

TEST_F(Resume, ViewerReplayOnlyHoldsWhatTheViewerMaySee) {
  auto room = createRoom(base(), "resume-viewer");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  auto bob = join(base(), room.id, room.viewerInvite, "Bob");
  auto state = get(base(), "/api/rooms/resume-viewer/state", ann).json();
  const std::string from = std::to_string(state["lastEventId"].get<uint64_t>());
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/raise-hand", bob).status, 200);
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/raise-hand", ann).status, 200);
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/promote/" + bob.userId, mod).status, 200);
  // The query parameter works too (a fresh page resuming).
  SseClient annEvents(base(), "/api/rooms/resume-viewer/user-events?lastEventId=" + from,
                      ann.auth());
  std::vector<std::string> types;
  while (auto e = annEvents.next(2s)) {
    auto data = nlohmann::json::parse(e->data);
    if (e->event == "RAISE_HAND" || e->event == "PROMOTE") {
      EXPECT_EQ(data["userId"], ann.userId) << "Ann saw someone else's " << e->event;
    }
    types.push_back(e->event);
  }
  EXPECT_NE(std::find(types.begin(), types.end(), "RAISE_HAND"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "STAGE_CHANGED"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "PROMOTE"), types.end());
}

TEST_F(Resume, UnknownIdGetsReset) {
  auto room = createRoom(base(), "resume-reset");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  SseClient client(base(), "/api/rooms/resume-reset/events",
                   {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", "99999999"}});
  ASSERT_EQ(client.status(), 200);
  auto first = client.next(5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->event, "RESET");
  // The header wins over the query parameter.
  SseClient both(base(), "/api/rooms/resume-reset/events?lastEventId=1",
                 {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", "99999999"}});
  auto e = both.next(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "RESET");
}

}  // namespace
}  // namespace amphi::testing
