#include "core/layout.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace amphi::core {
namespace {

using std::chrono::milliseconds;

std::int64_t area(const Rect& r) {
  return std::int64_t{r.w} * r.h;
}

bool overlap(const Rect& a, const Rect& b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

void checkGeometry(int width, int height, std::size_t count, std::size_t speaker) {
  SCOPED_TRACE(testing::Message() << width << "x" << height << " count " << count << " speaker "
                                  << speaker);
  const std::vector<Rect> rects = speakerLayout(width, height, count, speaker);
  ASSERT_EQ(rects.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    const Rect& r = rects[i];
    EXPECT_GE(r.x, 0);
    EXPECT_GE(r.y, 0);
    EXPECT_GT(r.w, 0);
    EXPECT_GT(r.h, 0);
    EXPECT_LE(r.x + r.w, width);
    EXPECT_LE(r.y + r.h, height);
    EXPECT_EQ(r.x % 2, 0);
    EXPECT_EQ(r.y % 2, 0);
    EXPECT_EQ(r.w % 2, 0);
    EXPECT_EQ(r.h % 2, 0);
    // Aspect kept within rounding to even sizes: |w/h - W/H| small.
    EXPECT_NEAR(double(r.w) / r.h, double(width) / height, 0.05 * width / height + 2.0 / r.h);
    for (std::size_t j = i + 1; j < count; ++j) {
      EXPECT_FALSE(overlap(r, rects[j])) << i << "," << j;
    }
    if (i != speaker && count > 1) {
      EXPECT_GT(area(rects[speaker]), 4 * area(r));
    }
  }
}

TEST(SpeakerLayout, EmptyForNoPublishersOrNoFrame) {
  EXPECT_TRUE(speakerLayout(1280, 720, 0, 0).empty());
  EXPECT_TRUE(speakerLayout(1, 720, 3, 0).empty());
  EXPECT_TRUE(speakerLayout(1280, 0, 3, 0).empty());
}

TEST(SpeakerLayout, OnePublisherFillsTheFrame) {
  EXPECT_EQ(speakerLayout(1280, 720, 1, 0), (std::vector<Rect>{{0, 0, 1280, 720}}));
  // Odd frame sizes round down to even.
  EXPECT_EQ(speakerLayout(641, 361, 1, 0), (std::vector<Rect>{{0, 0, 640, 360}}));
}

TEST(SpeakerLayout, GeometryHoldsUpToNinePublishersAndEverySpeaker) {
  for (auto [w, h] : {std::pair{1280, 720}, std::pair{640, 360}, std::pair{1920, 1080},
                      std::pair{854, 480}, std::pair{1281, 721}}) {
    for (std::size_t count = 1; count <= 9; ++count) {
      for (std::size_t speaker = 0; speaker < count; ++speaker) checkGeometry(w, h, count, speaker);
    }
  }
}

TEST(SpeakerLayout, SpeakerOnTopThumbnailsInOrderAlongTheBottom) {
  const auto rects = speakerLayout(1280, 720, 3, 1);
  ASSERT_EQ(rects.size(), 3u);
  EXPECT_EQ(rects[1].y, 0);
  EXPECT_EQ(rects[0].y, rects[2].y);
  EXPECT_EQ(rects[0].y, rects[1].h);
  EXPECT_LT(rects[0].x, rects[2].x);
  EXPECT_EQ(rects[0].w, 320);  // at least four slots: a quarter of the width
  // The speaker box is centred horizontally.
  EXPECT_EQ(rects[1].x * 2 + rects[1].w, 1280);
}

TEST(SpeakerLayout, DeterministicAndOutOfRangeSpeakerIsTheFirst) {
  EXPECT_EQ(speakerLayout(1280, 720, 5, 2), speakerLayout(1280, 720, 5, 2));
  EXPECT_EQ(speakerLayout(1280, 720, 5, 9), speakerLayout(1280, 720, 5, 0));
  EXPECT_NE(speakerLayout(1280, 720, 5, 1), speakerLayout(1280, 720, 5, 0));
}

// Feeds a level every 100 ms from `from` (inclusive) to `to` (exclusive); returns the time of
// the first speaker change, or -1.
std::int64_t feed(SpeakerSelector& s, const std::string& id, double db, std::int64_t from,
                  std::int64_t to) {
  std::int64_t changedAt = -1;
  for (std::int64_t t = from; t < to; t += 100) {
    if (s.update(id, db, milliseconds(t)) && changedAt < 0) changedAt = t;
  }
  return changedAt;
}

// Both publishers report every 100 ms, `a` at aDb and `b` at bDb; returns first change or -1.
std::int64_t feedBoth(SpeakerSelector& s, double aDb, double bDb, std::int64_t from,
                      std::int64_t to) {
  std::int64_t changedAt = -1;
  for (std::int64_t t = from; t < to; t += 100) {
    const bool changed = s.update("a", aDb, milliseconds(t)) | s.update("b", bDb, milliseconds(t));
    if (changed && changedAt < 0) changedAt = t;
  }
  return changedAt;
}

SpeakerSelector twoPublishers() {
  SpeakerSelector s;
  s.add("a");
  s.add("b");
  return s;
}

TEST(SpeakerSelector, FirstAddedHoldsTheFloor) {
  SpeakerSelector s;
  EXPECT_EQ(s.speaker(), "");
  s.add("a");
  s.add("b");
  s.add("a");
  EXPECT_EQ(s.speaker(), "a");
}

TEST(SpeakerSelector, BriefBurstDoesNotSwitch) {
  auto s = twoPublishers();
  EXPECT_EQ(feedBoth(s, -30, -60, 0, 1000), -1);
  EXPECT_EQ(feedBoth(s, -30, -10, 1000, 1800), -1);  // 0.8 s burst
  EXPECT_EQ(feedBoth(s, -30, -60, 1800, 5000), -1);
  EXPECT_EQ(s.speaker(), "a");
}

TEST(SpeakerSelector, SustainedLouderSwitchesAfterTheHold) {
  auto s = twoPublishers();
  feedBoth(s, -30, -60, 0, 1000);
  const std::int64_t at = feedBoth(s, -30, -10, 1000, 4000);
  EXPECT_GE(at, 2500);
  EXPECT_LE(at, 2600);
  EXPECT_EQ(s.speaker(), "b");
  // And back only after the other has been louder for the hold again (a is compared with
  // b's latest level, still -10 at 4000: the run starts at 4100).
  EXPECT_EQ(feedBoth(s, -10, -30, 4000, 5500), -1);
  EXPECT_EQ(feedBoth(s, -10, -30, 5500, 6000), 5600);
  EXPECT_EQ(s.speaker(), "a");
}

TEST(SpeakerSelector, ShortPausesInSpeechKeepTheRunButLongOnesRestartIt) {
  auto s = twoPublishers();
  // b talks 400 ms, pauses 300 ms, ... : still a run, switches.
  std::int64_t at = -1;
  for (std::int64_t t = 0; t < 4000 && at < 0; t += 700) {
    at = feedBoth(s, -30, -10, t, t + 400);
    if (at < 0) at = feedBoth(s, -30, -70, t + 400, t + 700);
  }
  EXPECT_GE(at, 1500);
  EXPECT_EQ(s.speaker(), "b");

  auto s2 = twoPublishers();  // pauses of 1 s restart the run every time
  for (std::int64_t t = 0; t < 10000; t += 2200) {
    EXPECT_EQ(feedBoth(s2, -30, -10, t, t + 1200), -1);
    EXPECT_EQ(feedBoth(s2, -30, -70, t + 1200, t + 2200), -1);
  }
  EXPECT_EQ(s2.speaker(), "a");
}

TEST(SpeakerSelector, NeedsTheMargin) {
  auto s = twoPublishers();
  EXPECT_EQ(feedBoth(s, -30, -25, 0, 5000), -1);  // 5 dB louder, margin is 6
  EXPECT_EQ(feedBoth(s, -30, -23, 5000, 8000), 6500);
}

TEST(SpeakerSelector, SilenceNeverStealsTheFloor) {
  auto s = twoPublishers();
  // The speaker is silent; b is louder but still below the floor (-50 dB).
  EXPECT_EQ(feedBoth(s, -90, -55, 0, 5000), -1);
  // Above the floor but not by the margin.
  EXPECT_EQ(feedBoth(s, -90, -46, 5000, 9000), -1);
  EXPECT_EQ(feedBoth(s, -90, -40, 9000, 12000), 10500);
  EXPECT_EQ(s.speaker(), "b");
}

TEST(SpeakerSelector, SpeakerWithoutLevelsCountsAsSilent) {
  auto s = twoPublishers();
  feedBoth(s, -20, -60, 0, 1000);
  // a stops reporting (its audio went away); after staleAfter it counts as silent.
  const std::int64_t at = feed(s, "b", -30, 1000, 5000);
  EXPECT_GE(at, 2500);  // needs staleAfter (a's last level at 900) and the hold
  EXPECT_LE(at, 3500);
  EXPECT_EQ(s.speaker(), "b");
}

TEST(SpeakerSelector, RemovalDropsThePublisher) {
  SpeakerSelector s;
  for (const char* id : {"a", "b", "c"}) s.add(id);
  for (std::int64_t t = 0; t < 1000; t += 100) {
    s.update("a", -20, milliseconds(t));
    s.update("b", -60, milliseconds(t));
    s.update("c", -35, milliseconds(t));
  }
  EXPECT_FALSE(s.remove("b", milliseconds(1000)));  // not the speaker
  EXPECT_EQ(s.speaker(), "a");
  EXPECT_TRUE(s.remove("a", milliseconds(1000)));
  EXPECT_EQ(s.speaker(), "c");                          // the loudest remaining
  EXPECT_FALSE(s.update("a", -5, milliseconds(1100)));  // removed: ignored
  EXPECT_FALSE(s.update("zz", -5, milliseconds(1100)));
  EXPECT_TRUE(s.remove("c", milliseconds(1200)));
  EXPECT_EQ(s.speaker(), "");
  s.add("d");
  EXPECT_EQ(s.speaker(), "d");
}

TEST(SpeakerSelector, RemovedSpeakerWithSilentOthersFallsBackToTheEarliest) {
  SpeakerSelector s;
  for (const char* id : {"a", "b", "c"}) s.add(id);
  s.update("c", -70, milliseconds(0));
  EXPECT_TRUE(s.remove("a", milliseconds(100)));
  EXPECT_EQ(s.speaker(), "b");
}

TEST(SpeakerSelector, OptionsAreHonoured) {
  SpeakerSelector s(SpeakerOptions{.marginDb = 3.0, .hold = milliseconds(500)});
  s.add("a");
  s.add("b");
  EXPECT_EQ(feedBoth(s, -30, -26, 0, 2000), 500);
}

}  // namespace
}  // namespace amphi::core
