#include "core/room.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace amphi::core {
namespace {

RoomState room(int maxStage = 2) {
  RoomState r;
  r.id = "math-101";
  r.title = "Math";
  r.maxStage = maxStage;
  r.moderatorInvite = {"mod-code", 0};
  r.viewerInvite = {"view-code", 5000};
  return r;
}

TEST(HandQueue, RaisesInFifoOrderWithPositions) {
  auto r = room();
  EXPECT_EQ(raiseHand(r, "a", "Ann", 10).position, 1u);
  EXPECT_EQ(raiseHand(r, "b", "Bob", 20).position, 2u);
  EXPECT_EQ(raiseHand(r, "c", "Cy", 30).position, 3u);
  ASSERT_EQ(r.hands.size(), 3u);
  EXPECT_EQ(r.hands[0].userId, "a");
  EXPECT_EQ(r.hands[2].raisedAtMs, 30);
}

TEST(HandQueue, RaiseIsIdempotentAndKeepsPlace) {
  auto r = room();
  raiseHand(r, "a", "Ann", 10);
  raiseHand(r, "b", "Bob", 20);
  auto again = raiseHand(r, "a", "Ann", 99);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.position, 1u);
  EXPECT_EQ(r.hands.size(), 2u);
  EXPECT_EQ(r.hands[0].raisedAtMs, 10);
}

TEST(HandQueue, LowerIsIdempotentAndShiftsOthers) {
  auto r = room();
  raiseHand(r, "a", "Ann", 10);
  raiseHand(r, "b", "Bob", 20);
  EXPECT_TRUE(lowerHand(r, "a"));
  EXPECT_FALSE(lowerHand(r, "a"));
  EXPECT_EQ(handPosition(r, "b"), 1u);
  EXPECT_EQ(handPosition(r, "a"), std::nullopt);
}

TEST(Stage, PromoteTakesHandDownAndRespectsLimit) {
  auto r = room(1);
  raiseHand(r, "a", "Ann", 10);
  EXPECT_TRUE(promote(r, "a", "Ann", 50));
  EXPECT_TRUE(onStage(r, "a"));
  EXPECT_EQ(handPosition(r, "a"), std::nullopt);
  EXPECT_FALSE(promote(r, "a", "Ann", 60));  // idempotent
  try {
    promote(r, "b", "Bob", 70);
    FAIL() << "expected stage_full";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Conflict);
    EXPECT_EQ(e.detail(), "stage_full");
  }
  EXPECT_FALSE(onStage(r, "b"));
}

TEST(Stage, DemoteFreesASeat) {
  auto r = room(1);
  promote(r, "a", "Ann", 1);
  EXPECT_TRUE(demote(r, "a"));
  EXPECT_FALSE(demote(r, "a"));
  EXPECT_TRUE(promote(r, "b", "Bob", 2));
}

TEST(Stage, RaisingWhileOnStageIsAConflict) {
  auto r = room();
  promote(r, "a", "Ann", 1);
  EXPECT_THROW(raiseHand(r, "a", "Ann", 2), Error);
  EXPECT_TRUE(r.hands.empty());
}

TEST(Live, SetLiveReportsChange) {
  auto r = room();
  EXPECT_TRUE(setLive(r, true, 100));
  EXPECT_EQ(r.liveSinceMs, 100);
  EXPECT_FALSE(setLive(r, true, 200));
  EXPECT_TRUE(setLive(r, false, 300));
  EXPECT_EQ(r.liveSinceMs, 0);
}

TEST(Invites, CodesOpenTheirRoleUntilExpiry) {
  auto r = room();
  EXPECT_EQ(inviteRole(r, "mod-code", 1'000'000), Role::Moderator);
  EXPECT_EQ(inviteRole(r, "view-code", 4999), Role::Viewer);
  EXPECT_EQ(inviteRole(r, "view-code", 5000), std::nullopt);
  EXPECT_EQ(inviteRole(r, "", 1), std::nullopt);
  EXPECT_EQ(inviteRole(r, "nope", 1), std::nullopt);
}

TEST(Validation, RoomAndUserIds) {
  EXPECT_TRUE(validRoomId("demo"));
  EXPECT_TRUE(validRoomId("math-101"));
  EXPECT_FALSE(validRoomId(""));
  EXPECT_FALSE(validRoomId("-x"));
  EXPECT_FALSE(validRoomId("Room"));
  EXPECT_FALSE(validRoomId("a.b"));
  EXPECT_FALSE(validRoomId("a>"));
  EXPECT_FALSE(validRoomId(std::string(65, 'a')));
  EXPECT_TRUE(validUserId("u1x"));
  EXPECT_FALSE(validUserId("u-1"));
}

TEST(Validation, DisplayNames) {
  EXPECT_EQ(normalizeDisplayName("  Ann  "), "Ann");
  EXPECT_EQ(normalizeDisplayName("   "), std::nullopt);
  EXPECT_EQ(normalizeDisplayName(std::string(65, 'x')), std::nullopt);
  EXPECT_EQ(normalizeDisplayName("a\x01b"), std::nullopt);
  EXPECT_EQ(normalizeDisplayName("Zoë"), "Zoë");
  std::string han30;
  for (int i = 0; i < 30; ++i) han30 += "学";
  EXPECT_EQ(normalizeDisplayName(han30), han30) << "90 bytes, 30 characters";
  EXPECT_EQ(normalizeText("line\nbreak", 200), std::nullopt);
  EXPECT_EQ(normalizeText("\xff\xfe", 200), std::nullopt) << "invalid UTF-8";
  EXPECT_EQ(normalizeText(std::string("a\xc2\x85") + "b", 200), std::nullopt) << "C1 control";
  std::string e150;
  for (int i = 0; i < 150; ++i) e150 += "é";
  EXPECT_EQ(normalizeText(e150, 200), e150) << "limits count characters, not bytes";
}

}  // namespace
}  // namespace amphi::core
