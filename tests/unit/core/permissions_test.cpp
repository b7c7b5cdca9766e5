#include "core/permissions.hpp"

#include <gtest/gtest.h>

namespace amphi::core {
namespace {

TEST(Permissions, ModeratorOnlyActions) {
  for (auto a : {Action::ReadRoomEvents, Action::LowerAnyHand, Action::Promote, Action::DemoteAny,
                 Action::SetLive, Action::ReadInvites}) {
    EXPECT_TRUE(allowed(Role::Moderator, a));
    EXPECT_FALSE(allowed(Role::Viewer, a));
  }
}

TEST(Permissions, ViewerActions) {
  EXPECT_TRUE(allowed(Role::Viewer, Action::RaiseHand));
  EXPECT_FALSE(allowed(Role::Moderator, Action::RaiseHand));
  for (auto a : {Action::ReadState, Action::ReadOwnEvents, Action::LowerOwnHand,
                 Action::DemoteSelf}) {
    EXPECT_TRUE(allowed(Role::Viewer, a));
    EXPECT_TRUE(allowed(Role::Moderator, a));
  }
}

TEST(Permissions, RoleNames) {
  EXPECT_EQ(roleFromString("moderator"), Role::Moderator);
  EXPECT_EQ(roleFromString("viewer"), Role::Viewer);
  EXPECT_EQ(roleFromString("admin"), std::nullopt);
  EXPECT_EQ(toString(Role::Viewer), "viewer");
}

}  // namespace
}  // namespace amphi::core
