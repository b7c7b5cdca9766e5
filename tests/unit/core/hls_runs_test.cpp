// Egress runs in the HLS stream: the init carries the run's place (run index, first msn) so
// that every origin renders the same discontinuities whatever part of the history it saw.
#include <gtest/gtest.h>

#include "core/hls_wire.hpp"
#include "window_feed.hpp"

namespace amphi::core::hls {
namespace {

constexpr uint64_t kRun0 = 1700000000000;
constexpr uint64_t kRun1 = 1700000060000;
constexpr uint64_t kRun2 = 1700000120000;

InitMeta runInit(uint64_t epoch, uint64_t run, uint64_t firstMsn) {
  InitMeta meta = initMeta(epoch);
  meta.run = run;
  meta.firstMsn = firstMsn;
  return meta;
}

// The room's whole stream: run 0 has segments 0..9, run 1 10..19, run 2 from 20 on
// (2 s segments of four parts). Feeds the messages from segment `from` to segment `to`
// (exclusive), each run's init before its first part, as an origin following from a point
// in the stream receives them (the init is repeated in the stream, so a late origin has it).
void feedStream(LiveWindow& window, uint64_t from, uint64_t to) {
  struct Run {
    uint64_t epoch, index, firstMsn, endMsn;
  };
  const Run runs[] = {{kRun0, 0, 0, 10}, {kRun1, 1, 10, 20}, {kRun2, 2, 20, 1000}};
  for (const Run& run : runs) {
    const uint64_t begin = std::max(from, run.firstMsn);
    const uint64_t end = std::min(to, run.endMsn);
    if (begin >= end) continue;
    // the init again (repeated in the stream) is a duplicate
    const AddResult added = window.addInit(runInit(run.epoch, run.index, run.firstMsn), blob("i"));
    ASSERT_TRUE(added == AddResult::Added || added == AddResult::Duplicate);
    Feeder feed{window, run.epoch, static_cast<int64_t>(run.epoch) + 2000 * int64_t(begin)};
    for (uint64_t msn = begin; msn < end; ++msn) feed.segment(msn);
  }
}

WindowOptions shortWindow() {
  WindowOptions o;
  o.retentionSeconds = 6;  // three 2 s segments
  return o;
}

TEST(HlsRuns, InitHeadersCarryTheRunAndRoundTrip) {
  const InitMeta meta = runInit(kRun2, 2, 20);
  auto back = decodeInit(encodeInit(meta));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->run, 2u);
  EXPECT_EQ(back->firstMsn, std::optional<uint64_t>(20));
  EXPECT_EQ(back->epoch, kRun2);
}

TEST(HlsRuns, OlderInitsWithoutTheRunStillDecodeAndBadValuesAreRefused) {
  WireHeaders headers = encodeInit(initMeta(kRun0));  // firstMsn unknown
  std::erase_if(headers, [](const auto& h) { return h.first == "Amphi-Run"; });
  auto legacy = decodeInit(headers);
  ASSERT_TRUE(legacy.has_value());
  EXPECT_EQ(legacy->run, 0u);
  EXPECT_FALSE(legacy->firstMsn.has_value());
  for (const char* bad : {"", "-1", "x", "1.5"}) {
    WireHeaders h = encodeInit(runInit(kRun1, 1, 10));
    for (auto& [name, value] : h) {
      if (name == "Amphi-First-Msn") value = bad;
    }
    EXPECT_FALSE(decodeInit(h).has_value()) << "First-Msn '" << bad << "'";
  }
}

TEST(HlsRuns, RepeatedInitsGetTheirOwnMessageIds) {
  EXPECT_EQ(initMessageId("demo", 7), "demo:7:init");
  EXPECT_EQ(initMessageId("demo", 7, 0), "demo:7:init");
  EXPECT_EQ(initMessageId("demo", 7, 3), "demo:7:init.3");
}

// An origin that saw everything, one that started following exactly at run 2's first
// segment, and one that started in its middle render the same playlist once they list the
// same segments, and agree on the discontinuity sequence at every step after that.
TEST(HlsRuns, OriginsThatJoinedLaterRenderTheSameDiscontinuities) {
  LiveWindow full(shortWindow()), atStart(shortWindow()), midRun(shortWindow());
  feedStream(full, 0, 20);
  feedStream(atStart, 20, 20);  // nothing yet
  // Run 2's first segment: the origin that starts right there tags it too.
  feedStream(full, 20, 22);
  feedStream(atStart, 20, 22);
  ASSERT_EQ(count(render(atStart), "#EXT-X-DISCONTINUITY\n"), 1u) << render(atStart);
  EXPECT_EQ(atStart.discontinuitySequence(), 1u);  // run 1's start came before
  feedStream(midRun, 23, 23);
  for (uint64_t msn = 22; msn < 40; ++msn) {
    feedStream(full, msn, msn + 1);
    feedStream(atStart, msn, msn + 1);
    if (msn >= 24) feedStream(midRun, msn, msn + 1);
    if (msn >= 27) {  // all three list the same segments (three complete + the open one)
      EXPECT_EQ(render(full), render(atStart)) << "after segment " << msn;
      EXPECT_EQ(render(full), render(midRun)) << "after segment " << msn;
      EXPECT_EQ(full.discontinuitySequence(), 2u);
    }
  }
  // While run 2's first segment is still listed on both, the tag and sequence agree too.
  LiveWindow a(shortWindow()), b(shortWindow());
  feedStream(a, 0, 21);
  feedStream(b, 20, 21);
  EXPECT_EQ(a.discontinuitySequence(), 1u);
  EXPECT_EQ(b.discontinuitySequence(), 1u);
}

}  // namespace
}  // namespace amphi::core::hls
