#include "core/room_codec.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace amphi::core {
namespace {

TEST(RoomCodec, RoundTripsEveryField) {
  RoomState r;
  r.id = "demo";
  r.title = "Démo \"room\"";
  r.maxStage = 3;
  r.live = true;
  r.createdAtMs = 5;
  r.liveSinceMs = 6;
  r.moderatorInvite = {"m", 0};
  r.viewerInvite = {"v", 99};
  r.hands = {{"a", "Ann", 1}, {"b", "Bob", 2}};
  r.stage = {{"c", "Cy", 3}};
  auto back = decodeRoom(encodeRoom(r));
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.title, r.title);
  EXPECT_EQ(back.maxStage, 3);
  EXPECT_TRUE(back.live);
  EXPECT_EQ(back.liveSinceMs, 6);
  EXPECT_EQ(back.viewerInvite.expiresAtMs, 99);
  ASSERT_EQ(back.hands.size(), 2u);
  EXPECT_EQ(back.hands[1].displayName, "Bob");
  ASSERT_EQ(back.stage.size(), 1u);
  EXPECT_EQ(back.stage[0].sinceMs, 3);
}

TEST(RoomCodec, CorruptRecordIsAnInternalError) {
  EXPECT_THROW(decodeRoom("{"), Error);
  EXPECT_THROW(decodeRoom("{\"id\":1}"), Error);
}

}  // namespace
}  // namespace amphi::core
