#include "auth/random.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

namespace amphi::auth {
namespace {

bool onlyChars(const std::string& text, std::string_view alphabet) {
  return text.find_first_not_of(alphabet) == std::string::npos;
}

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

TEST(RandomToken, HasUnpaddedBase64UrlLength) {
  EXPECT_EQ(randomToken(0), "");
  EXPECT_EQ(randomToken(1).size(), 2u);
  EXPECT_EQ(randomToken(2).size(), 3u);
  EXPECT_EQ(randomToken(3).size(), 4u);
  EXPECT_EQ(randomToken(32).size(), 43u);
  EXPECT_EQ(randomToken(3 << 20).size(), 4u << 20);  // crosses internal chunk sizes
}

TEST(RandomToken, UsesOnlyTheUrlSafeAlphabet) {
  for (int i = 0; i < 200; ++i) {
    const auto token = randomToken(static_cast<std::size_t>(i));
    EXPECT_TRUE(onlyChars(token, kBase64Url)) << token;
  }
  EXPECT_TRUE(onlyChars(randomToken(3 << 20), kBase64Url));
}

TEST(RandomToken, IsUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(randomToken(16));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomId, HasRequestedLengthAndAlphabet) {
  EXPECT_EQ(randomId(0), "");
  for (std::size_t length : {1u, 7u, 16u, 100u, 100000u}) {
    const auto id = randomId(length);
    EXPECT_EQ(id.size(), length);
    EXPECT_TRUE(onlyChars(id, kIdAlphabet));
  }
}

TEST(RandomId, IsUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(randomId(12));
  EXPECT_EQ(seen.size(), 10000u);
}

// 360000 draws: each of the 36 characters is expected 10000 times (sd ~98); a modulo
// bias towards the first four characters would add ~1.6% (~160) to them.
TEST(RandomId, IsUniformOverTheAlphabet) {
  std::array<int, 256> counts{};
  for (unsigned char c : randomId(360000)) ++counts[c];
  for (char c : kIdAlphabet) {
    EXPECT_GT(counts[static_cast<unsigned char>(c)], 9500) << c;
    EXPECT_LT(counts[static_cast<unsigned char>(c)], 10500) << c;
  }
}

}  // namespace
}  // namespace amphi::auth
