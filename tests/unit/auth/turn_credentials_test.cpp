#include "auth/turn_credentials.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace amphi::auth {
namespace {

// Known answer, computed independently with
//   printf '%s' 1700000000:alice | openssl dgst -sha1 -hmac north-wind-secret -binary | base64
TEST(TurnCredential, KnownAnswer) {
  auto c = turnCredential("north-wind-secret", "alice", 1700000000);
  EXPECT_EQ(c.username, "1700000000:alice");
  EXPECT_EQ(c.password, "r/l6ttQtMIfbS2lfULS0mDRRNUg=");
}

TEST(TurnCredential, PasswordDependsOnSecretUserAndExpiry) {
  auto base = turnCredential("s3cret", "u1", 100).password;
  EXPECT_EQ(base.size(), 28u);  // 20 bytes of HMAC-SHA1 in padded base64
  EXPECT_NE(turnCredential("s3cret!", "u1", 100).password, base);
  EXPECT_NE(turnCredential("s3cret", "u2", 100).password, base);
  EXPECT_NE(turnCredential("s3cret", "u1", 101).password, base);
  EXPECT_EQ(turnCredential("s3cret", "u1", 100).password, base);
}

TEST(TurnCredential, RefusesAColonInTheUserIdAndAnEmptySecret) {
  EXPECT_THROW(turnCredential("s", "a:b", 1), core::Error);
  EXPECT_THROW(turnCredential("", "a", 1), core::Error);
}

}  // namespace
}  // namespace amphi::auth
