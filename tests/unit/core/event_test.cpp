#include "core/event.hpp"

#include <gtest/gtest.h>

namespace amphi::core {
namespace {

Event make(EventType type, std::string user = "u1") {
  return Event{type, "demo", std::move(user), "Ann", 1700000000000, nlohmann::json::object()};
}

TEST(EventVisibility, HandAndStageChangesGoToModeratorsAndTheUser) {
  for (auto type : {EventType::RaiseHand, EventType::LowerHand, EventType::Promote,
                    EventType::Demote}) {
    auto e = make(type);
    EXPECT_TRUE(visibleTo(e, Role::Moderator, "mod"));
    EXPECT_TRUE(visibleTo(e, Role::Viewer, "u1"));
    EXPECT_FALSE(visibleTo(e, Role::Viewer, "u2"));
    EXPECT_FALSE(visibleTo(e, Role::Viewer, ""));
  }
}

TEST(EventVisibility, PublicEventsGoToEveryone) {
  for (auto type : {EventType::StageChanged, EventType::ParticipantJoined,
                    EventType::ParticipantLeft, EventType::RoomLive, EventType::RoomEnded}) {
    EXPECT_TRUE(visibleTo(make(type), Role::Viewer, "someone-else"));
  }
}

TEST(EventVisibility, AnEmptyUserIdNeverMatchesAnEmptyViewer) {
  EXPECT_FALSE(visibleTo(make(EventType::RaiseHand, ""), Role::Viewer, ""));
}

TEST(EventSubjects, FollowTheSeed) {
  EXPECT_EQ(subjectFor(make(EventType::RaiseHand)), "room.demo.signal.raise_hand");
  EXPECT_EQ(subjectFor(make(EventType::StageChanged)), "room.demo.signal.stage_changed");
  EXPECT_EQ(subjectFor(make(EventType::Promote)), "room.demo.user.u1.event");
  EXPECT_EQ(subjectFor(make(EventType::Demote)), "room.demo.user.u1.event");
  EXPECT_EQ(roomSubjectFilter("demo"), "room.demo.>");
}

TEST(EventNames, RoundTrip) {
  for (auto type : {EventType::RaiseHand, EventType::LowerHand, EventType::Promote,
                    EventType::Demote, EventType::StageChanged, EventType::ParticipantJoined,
                    EventType::ParticipantLeft, EventType::RoomLive, EventType::RoomEnded,
                    EventType::Reset}) {
    EXPECT_EQ(typeFromName(typeName(type)), type);
  }
  EXPECT_EQ(typeFromName("raise_hand"), std::nullopt);
}

TEST(EventEncoding, JsonCarriesTheFieldsAndExtras) {
  auto e = make(EventType::RaiseHand);
  e.data["position"] = 3;
  auto j = nlohmann::json::parse(encodeEvent(e));
  EXPECT_EQ(j["type"], "RAISE_HAND");
  EXPECT_EQ(j["roomId"], "demo");
  EXPECT_EQ(j["userId"], "u1");
  EXPECT_EQ(j["displayName"], "Ann");
  EXPECT_EQ(j["timestamp"], 1700000000000);
  EXPECT_EQ(j["position"], 3);
  auto back = decodeEvent(encodeEvent(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, EventType::RaiseHand);
  EXPECT_EQ(back->data["position"], 3);
  EXPECT_FALSE(back->data.contains("type"));
}

TEST(EventEncoding, ExtrasCannotOverrideCoreFields) {
  auto e = make(EventType::RaiseHand);
  e.data["type"] = "PROMOTE";
  e.data["userId"] = "mallory";
  auto j = nlohmann::json::parse(encodeEvent(e));
  EXPECT_EQ(j["type"], "RAISE_HAND");
  EXPECT_EQ(j["userId"], "u1");
}

TEST(EventEncoding, RejectsMalformed) {
  EXPECT_FALSE(decodeEvent(""));
  EXPECT_FALSE(decodeEvent("[]"));
  EXPECT_FALSE(decodeEvent("{\"type\":\"NOPE\",\"roomId\":\"r\",\"userId\":\"u\","
                           "\"displayName\":\"d\",\"timestamp\":1}"));
  EXPECT_FALSE(decodeEvent("{\"type\":\"RAISE_HAND\",\"roomId\":\"r\"}"));
  EXPECT_FALSE(decodeEvent("{\"type\":\"RAISE_HAND\",\"roomId\":\"r\",\"userId\":\"u\","
                           "\"displayName\":\"d\",\"timestamp\":\"1\"}"));
}

TEST(SseFrames, HaveIdEventAndOneDataLine) {
  auto e = make(EventType::Promote);
  e.displayName = "line\nbreak";  // escaped by JSON, must not split the frame
  auto frame = sseFrame(42, e);
  EXPECT_EQ(frame.rfind("id: 42\nevent: PROMOTE\ndata: {", 0), 0u);
  EXPECT_EQ(frame.substr(frame.size() - 2), "\n\n");
  EXPECT_EQ(std::count(frame.begin(), frame.end(), '\n'), 4);
}

}  // namespace
}  // namespace amphi::core
