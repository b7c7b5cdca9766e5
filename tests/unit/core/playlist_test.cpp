#include "core/playlist.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/hls_window.hpp"
#include "window_feed.hpp"

namespace amphi::core::hls {
namespace {

constexpr uint64_t kEpochA = 1700000000000;  // 2023-11-14T22:13:20Z
constexpr uint64_t kEpochB = 1700000100000;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string{};
}

// Compares with tests/unit/core/golden/<name>; AMPHI_UPDATE_GOLDEN=1 rewrites it instead
// (review the diff by eye before committing).
void expectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(AMPHI_GOLDEN_DIR) + "/" + name;
  const char* update = std::getenv("AMPHI_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    std::cout << "updated golden " << path << "\n";
    return;
  }
  const std::string expected = readFile(path);
  ASSERT_FALSE(expected.empty()) << "missing golden " << path;
  EXPECT_EQ(actual, expected) << "differs from " << path << " (AMPHI_UPDATE_GOLDEN=1 rewrites it)";
}

// Segments 100..104 complete (4 x 0.5 s), 105 open with two parts.
void feedLiveEdge(LiveWindow& window) {
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  Feeder a{window, kEpochA, static_cast<int64_t>(kEpochA) + 5000};
  for (uint64_t msn = 100; msn <= 104; ++msn) a.segment(msn);
  a.segment(105, 2);
}

TEST(MediaPlaylist, LiveEdgeListsPartsOfTheLastSegmentsAndAHint) {
  LiveWindow window;
  feedLiveEdge(window);
  const std::string text = render(window);
  expectGolden("live_edge.m3u8", text);
  EXPECT_EQ(count(text, "#EXT-X-PART:"), 4u + 4u + 2u);  // segments 103, 104 and 105
  EXPECT_EQ(count(text, "#EXTINF:"), 5u);
  EXPECT_EQ(count(text, "#EXT-X-PROGRAM-DATE-TIME:"), 6u);
  EXPECT_EQ(text.find("\"1700000000000/102.0.m4s\""), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"1700000000000/105.2.m4s\"\n"),
            std::string::npos);
  EXPECT_EQ(window.liveEdge()->msn, 105u);
  EXPECT_EQ(window.liveEdge()->part, 1u);
}

TEST(MediaPlaylist, EmptyWindowRendersNothing) {
  LiveWindow window;
  EXPECT_FALSE(renderMediaPlaylist(window).has_value());
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  EXPECT_FALSE(renderMediaPlaylist(window).has_value());
  ASSERT_NE(window.latestInit(), nullptr);
  EXPECT_EQ(window.latestInit()->epoch, kEpochA);
}

TEST(MediaPlaylist, NewEpochClosesTheSegmentAndStartsADiscontinuity) {
  LiveWindow window;
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  Feeder a{window, kEpochA, static_cast<int64_t>(kEpochA) + 1000};
  for (uint64_t msn = 100; msn <= 102; ++msn) a.segment(msn);
  a.segment(103, 2);  // the egress crashes mid-segment
  ASSERT_EQ(window.addInit(initMeta(kEpochB), blob("initB")), AddResult::Added);
  Feeder reuse{window, kEpochB, 0};
  EXPECT_EQ(reuse.part(103, 0), AddResult::Stale);  // never reuse a name
  Feeder b{window, kEpochB, static_cast<int64_t>(kEpochB) + 500};
  b.segment(104);
  b.segment(105, 1);
  const std::string text = render(window);
  expectGolden("discontinuity.m3u8", text);
  EXPECT_EQ(count(text, "#EXT-X-DISCONTINUITY\n"), 1u);
  EXPECT_EQ(count(text, "#EXT-X-MAP:"), 2u);
  EXPECT_NE(text.find("#EXTINF:1.000,\n1700000000000/103.m4s\n#EXT-X-DISCONTINUITY\n"
                      "#EXT-X-MAP:URI=\"1700000100000/init.mp4\"\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:15:00.500Z\n"),
            std::string::npos);
  EXPECT_EQ(*window.segmentBytes(kEpochA, 103),
            partUri(kEpochA, 103, 0) + partUri(kEpochA, 103, 1));
  EXPECT_EQ(window.discontinuitySequence(), 0u);
}

TEST(MediaPlaylist, RetentionAdvancesSequencesAndKeepsRemovedBytesForTheGraceTime) {
  LiveWindow window(WindowOptions{.retentionSeconds = 6, .partsSegments = 3});
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  Feeder a{window, kEpochA, static_cast<int64_t>(kEpochA)};
  for (uint64_t msn = 100; msn <= 103; ++msn) a.segment(msn);
  ASSERT_EQ(window.addInit(initMeta(kEpochB), blob("initB")), AddResult::Added);
  Feeder b{window, kEpochB, static_cast<int64_t>(kEpochB)};
  b.segment(104);
  b.segment(105);
  b.part(106, 0);
  // Complete 103 (A), 104 (B, discontinuity), 105: the shortest suffix covering 6 s.
  EXPECT_EQ(window.mediaSequence(), 103u);
  EXPECT_EQ(window.discontinuitySequence(), 0u);
  EXPECT_EQ(count(render(window), "#EXT-X-DISCONTINUITY\n"), 1u);
  for (uint32_t part = 1; part <= 3; ++part) b.part(106, part);
  for (uint64_t msn = 107; msn <= 108; ++msn) b.segment(msn);
  b.part(109, 0);  // closes 108: 105 leaves, and 104 (whose tag left) before it
  EXPECT_EQ(window.mediaSequence(), 106u);
  EXPECT_EQ(window.discontinuitySequence(), 1u);
  const std::string text = render(window);
  expectGolden("retention.m3u8", text);
  EXPECT_EQ(count(text, "#EXT-X-DISCONTINUITY\n"), 0u);
  // 105 was removed from a playlist of 8.5 s: fetchable for 2 + 8.5 s of media more.
  const std::string whole105 = partUri(kEpochB, 105, 0) + partUri(kEpochB, 105, 1) +
                               partUri(kEpochB, 105, 2) + partUri(kEpochB, 105, 3);
  ASSERT_NE(window.segmentBytes(kEpochB, 105), nullptr);
  EXPECT_EQ(*window.segmentBytes(kEpochB, 105), whole105);
  EXPECT_NE(window.partBytes(kEpochB, 105, 3), nullptr);
  b.part(109, 1);
  b.part(109, 2);
  b.part(109, 3);
  for (uint64_t msn = 110; msn <= 113; ++msn) b.segment(msn);
  b.part(114, 0);  // 10.0 s fed since
  EXPECT_NE(window.segmentBytes(kEpochB, 105), nullptr);
  b.part(114, 1);  // 10.5 s
  EXPECT_EQ(window.segmentBytes(kEpochB, 105), nullptr);
  EXPECT_EQ(window.segmentBytes(kEpochA, 103), nullptr);
  EXPECT_EQ(window.initBytes(kEpochA), nullptr);  // no segment of run A is held any more
  EXPECT_NE(window.initBytes(kEpochB), nullptr);
}

TEST(LiveWindow, ReleasesPartBytesFarBehindTheEdgeButKeepsSegments) {
  LiveWindow window;
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  Feeder a{window, kEpochA, static_cast<int64_t>(kEpochA)};
  for (uint64_t msn = 100; msn <= 119; ++msn) a.segment(msn);
  a.part(120, 0);
  // Kept (3 + 3) x 2 s = 12 s behind the edge: 114 ends 10.5 s before it, 113 12.5 s.
  EXPECT_EQ(window.partBytes(kEpochA, 113, 0), nullptr);
  EXPECT_NE(window.partBytes(kEpochA, 114, 0), nullptr);
  ASSERT_NE(window.segmentBytes(kEpochA, 100), nullptr);
  EXPECT_EQ(window.segmentBytes(kEpochA, 100)->size(), 4 * partUri(kEpochA, 100, 0).size());
  EXPECT_EQ(window.mediaSequence(), 100u);  // 60 s retention keeps all of them
}

TEST(MediaPlaylist, SkippedMsnRestartsTheWindow) {
  LiveWindow window;
  feedLiveEdge(window);
  ASSERT_EQ(window.addInit(initMeta(kEpochB), blob("initB")), AddResult::Added);
  Feeder b{window, kEpochB, static_cast<int64_t>(kEpochB)};
  EXPECT_EQ(b.part(110, 0), AddResult::Restarted);
  EXPECT_EQ(b.part(110, 1), AddResult::Added);
  EXPECT_EQ(window.mediaSequence(), 110u);
  EXPECT_EQ(window.discontinuitySequence(), 0u);  // no segment carried a discontinuity yet
  expectGolden("restart.m3u8", render(window));
  EXPECT_NE(window.segmentBytes(kEpochA, 105), nullptr);  // the closed open one, in grace
  EXPECT_NE(window.partBytes(kEpochA, 104, 3), nullptr);
  // Within one epoch too: a lost segment restarts rather than freezing the room.
  b.part(110, 2);
  EXPECT_EQ(b.part(112, 0), AddResult::Restarted);
  EXPECT_EQ(window.discontinuitySequence(), 1u);  // 110's tag left
  EXPECT_EQ(window.mediaSequence(), 112u);
}

TEST(MediaPlaylist, TargetDurationsFollowTheLongestSegmentAndPart) {
  LiveWindow window;
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  Feeder a{window, kEpochA, static_cast<int64_t>(kEpochA)};
  a.segment(1, 4, 0.6);  // 2.4 s rounds to 2
  a.part(2, 0);
  std::string text = render(window);
  EXPECT_NE(text.find("#EXT-X-TARGETDURATION:2\n"), std::string::npos);
  EXPECT_NE(text.find("#EXTINF:2.400,\n"), std::string::npos);
  EXPECT_NE(text.find("PART-HOLD-BACK=1.800,HOLD-BACK=6.000\n"), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-PART-INF:PART-TARGET=0.600\n"), std::string::npos);
  for (uint32_t part = 1; part <= 5; ++part) a.part(2, part, 0.45);  // 2.75 s rounds to 3
  a.part(3, 0);
  text = render(window);
  EXPECT_NE(text.find("#EXT-X-TARGETDURATION:3\n"), std::string::npos);
  EXPECT_NE(text.find("#EXTINF:2.750,\n"), std::string::npos);
  EXPECT_EQ(window.targetDurationSeconds(), 3);
}

TEST(MediaPlaylist, EndedStreamHasEndlistAndNoHint) {
  LiveWindow window;
  feedLiveEdge(window);
  window.endStream();
  const std::string text = render(window);
  EXPECT_TRUE(text.ends_with("#EXTINF:1.000,\n1700000000000/105.m4s\n#EXT-X-ENDLIST\n"));
  EXPECT_EQ(text.find("PRELOAD-HINT"), std::string::npos);
  Feeder a{window, kEpochA, 0};
  EXPECT_EQ(a.part(106, 0), AddResult::Ended);
  EXPECT_TRUE(satisfied(BlockingRequest{1000, std::nullopt}, window));
  EXPECT_FALSE(validate(BlockingRequest{1000, 0}, window).has_value());
}

TEST(MediaPlaylist, TwoWindowsFedTheSameMessagesRenderTheSameBytes) {
  LiveWindow first;
  LiveWindow second;
  for (LiveWindow* window : {&first, &second}) {
    feedLiveEdge(*window);
    Feeder a{*window, kEpochA, static_cast<int64_t>(kEpochA) + 20000};
    a.part(105, 0);  // duplicate
    a.part(105, 2, 0.333);
    ASSERT_EQ(window->addInit(initMeta(kEpochB), blob("initB")), AddResult::Added);
    Feeder b{*window, kEpochB, static_cast<int64_t>(kEpochB)};
    b.segment(106, 3, 0.4667);
  }
  EXPECT_EQ(render(first), render(second));
  EXPECT_EQ(first.revision(), second.revision());
}

TEST(MultivariantPlaylist, NamesTheMediaPlaylist) {
  expectGolden("multivariant.m3u8", renderMultivariantPlaylist(initMeta(kEpochA)));
  InitMeta odd = initMeta(kEpochA);
  odd.codecs = "avc1\",x";
  odd.width = 0;
  EXPECT_EQ(renderMultivariantPlaylist(odd, "media.m3u8\n#EVIL"),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2500000\nmedia.m3u8#EVIL\n");
}

TEST(Formatting, SecondsAndProgramDateTime) {
  EXPECT_EQ(formatSeconds(0), "0.000");
  EXPECT_EQ(formatSeconds(499), "0.000");
  EXPECT_EQ(formatSeconds(500), "0.001");
  EXPECT_EQ(formatSeconds(533333), "0.533");
  EXPECT_EQ(formatSeconds(12'345'678), "12.346");
  EXPECT_EQ(formatProgramDateTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatProgramDateTime(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(formatProgramDateTime(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatProgramDateTime(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(formatProgramDateTime(std::numeric_limits<int64_t>::max()), "9999-12-31T23:59:59.999Z");
}

// --- ingest --------------------------------------------------------------------------------

TEST(LiveWindow, DuplicateStaleGapAndInvalidParts) {
  LiveWindow window;
  Feeder a{window, kEpochA, 0};
  EXPECT_EQ(a.part(100, 0), AddResult::NoInit);
  ASSERT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Added);
  EXPECT_EQ(a.part(100, 1), AddResult::Gap);  // the first part held must start a segment
  a.segment(100);
  a.segment(101, 2);
  const uint64_t revision = window.revision();
  EXPECT_EQ(a.part(101, 1), AddResult::Duplicate);
  EXPECT_EQ(a.part(100, 3), AddResult::Duplicate);
  EXPECT_EQ(a.part(100, 4), AddResult::Stale);  // 100 ended at part 3
  EXPECT_EQ(a.part(99, 0), AddResult::Stale);
  EXPECT_EQ(a.part(101, 3), AddResult::Gap);
  EXPECT_EQ(a.part(102, 1), AddResult::Gap);
  EXPECT_EQ(a.part(101, 2, 0), AddResult::Invalid);
  EXPECT_EQ(a.part(101, 2, std::nan("")), AddResult::Invalid);
  EXPECT_EQ(a.part(101, 2, 61), AddResult::Invalid);
  EXPECT_EQ(a.part(101, kMaxPartsPerSegment), AddResult::Invalid);
  EXPECT_EQ(window.addPart(PartMeta{kEpochA, 101, 2, 0.5, false, 0}, nullptr), AddResult::Invalid);
  EXPECT_EQ(window.revision(), revision);
  EXPECT_EQ(window.liveEdge()->part, 1u);
  EXPECT_EQ(a.part(101, 2), AddResult::Added);
}

TEST(LiveWindow, NewEpochMustNumberPastTheLastMsnAndOldEpochsAreStale) {
  LiveWindow window;
  feedLiveEdge(window);  // edge (105, 1)
  Feeder b{window, kEpochB, 0};
  EXPECT_EQ(b.part(106, 0), AddResult::NoInit);
  ASSERT_EQ(window.addInit(initMeta(kEpochB), blob("initB")), AddResult::Added);
  EXPECT_EQ(b.part(105, 0), AddResult::Stale);
  EXPECT_EQ(b.part(100, 0), AddResult::Stale);
  EXPECT_EQ(b.part(106, 1), AddResult::Gap);
  EXPECT_EQ(b.part(106, 0), AddResult::Added);
  Feeder zombie{window, kEpochA, 0};
  EXPECT_EQ(zombie.part(105, 2), AddResult::Stale);
  EXPECT_EQ(zombie.part(107, 0), AddResult::Stale);
  EXPECT_EQ(window.addInit(initMeta(kEpochA), blob("initA")), AddResult::Duplicate);
  EXPECT_EQ(window.addInit(initMeta(kEpochA - 1), blob("old")), AddResult::Stale);
  EXPECT_EQ(window.addInit(initMeta(kEpochB), blob("initB2")), AddResult::Duplicate);
  EXPECT_EQ(*window.initBytes(kEpochB), "initB");
  InitMeta bad = initMeta(kEpochB + 1);
  bad.partTarget = 3;  // above the segment target
  EXPECT_EQ(window.addInit(bad, blob("x")), AddResult::Invalid);
  EXPECT_EQ(window.addInit(initMeta(kEpochB + 1), nullptr), AddResult::Invalid);
}

TEST(LiveWindow, LookupsAndAvailability) {
  LiveWindow window;
  feedLiveEdge(window);  // edge (105, 1)
  const auto name = [](MediaKind kind, uint64_t epoch, uint64_t msn, uint32_t part) {
    return MediaName{kind, epoch, msn, part};
  };
  EXPECT_EQ(*window.bytes(name(MediaKind::Init, kEpochA, 0, 0)), "initA");
  EXPECT_EQ(*window.bytes(name(MediaKind::Part, kEpochA, 105, 1)), partUri(kEpochA, 105, 1));
  EXPECT_EQ(window.bytes(name(MediaKind::Part, kEpochB, 105, 1)), nullptr);
  EXPECT_EQ(window.segmentBytes(kEpochA, 105), nullptr);  // still open
  EXPECT_EQ(window.availability(name(MediaKind::Segment, kEpochA, 104, 0)),
            Availability::Available);
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochA, 105, 2)), Availability::Pending);
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochA, 106, 0)), Availability::Pending);
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochA, 105, 3)), Availability::Absent);
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochA, 106, 1)), Availability::Absent);
  EXPECT_EQ(window.availability(name(MediaKind::Segment, kEpochA, 105, 0)), Availability::Absent);
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochB, 105, 2)), Availability::Absent);
  Feeder a{window, kEpochA, 0};
  a.part(106, 0);  // 105 ended at part 1: the hinted 105.2 will never exist
  EXPECT_EQ(window.availability(name(MediaKind::Part, kEpochA, 105, 2)), Availability::Absent);
  EXPECT_EQ(*window.segmentBytes(kEpochA, 105),
            partUri(kEpochA, 105, 0) + partUri(kEpochA, 105, 1));
}

// --- blocking reload -----------------------------------------------------------------------

TEST(BlockingReload, ParsesStrictly) {
  const auto msnOnly = parseBlockingRequest("42", std::nullopt);
  ASSERT_TRUE(msnOnly.request.has_value());
  EXPECT_EQ(msnOnly.request->msn, 42u);
  EXPECT_FALSE(msnOnly.request->part.has_value());
  const auto both = parseBlockingRequest("18446744073709551615", "007");
  ASSERT_TRUE(both.request.has_value());
  EXPECT_EQ(both.request->msn, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(both.request->part, 7u);
  const auto none = parseBlockingRequest(std::nullopt, std::nullopt);
  ASSERT_TRUE(none.request.has_value());
  EXPECT_FALSE(none.request->msn.has_value());

  EXPECT_EQ(parseBlockingRequest(std::nullopt, "1").error, "_HLS_part requires _HLS_msn");
  EXPECT_EQ(parseBlockingRequest("", std::nullopt).error, "_HLS_msn is empty");
  for (const char* junk : {"-1", "1e3", "+1", " 1", "1 ", "0x10", "1.0", "١"}) {
    const auto parsed = parseBlockingRequest(junk, std::nullopt);
    EXPECT_FALSE(parsed.request.has_value()) << junk;
    EXPECT_EQ(parsed.error, "_HLS_msn must be a decimal integer (digits only)") << junk;
  }
  EXPECT_EQ(parseBlockingRequest("99999999999999999999", std::nullopt).error,
            "_HLS_msn is out of range");
  EXPECT_EQ(parseBlockingRequest("1", "4294967296").error, "_HLS_part is out of range");
  EXPECT_EQ(parseBlockingRequest("1", "-1").error,
            "_HLS_part must be a decimal integer (digits only)");
  EXPECT_EQ(parseBlockingRequest("1", "").error, "_HLS_part is empty");
}

TEST(BlockingReload, ValidatesAgainstTheLiveEdge) {
  LiveWindow window;
  EXPECT_FALSE(validate(BlockingRequest{500, 0}, window).has_value());  // nothing yet
  EXPECT_FALSE(satisfied(BlockingRequest{500, 0}, window));
  feedLiveEdge(window);  // edge (105, 1), PART-TARGET 0.5: Advance Part Limit 6
  EXPECT_FALSE(validate(BlockingRequest{107, std::nullopt}, window).has_value());
  EXPECT_FALSE(satisfied(BlockingRequest{107, std::nullopt}, window));
  EXPECT_FALSE(validate(BlockingRequest{107, 0}, window).has_value());
  EXPECT_EQ(validate(BlockingRequest{108, std::nullopt}, window),
            "_HLS_msn is more than two segments past the last one (105)");
  EXPECT_TRUE(
      validate(BlockingRequest{std::numeric_limits<uint64_t>::max(), 0}, window).has_value());
  EXPECT_EQ(validate(BlockingRequest{std::nullopt, 1}, window), "_HLS_part requires _HLS_msn");
  EXPECT_FALSE(validate(BlockingRequest{105, 7}, window).has_value());
  EXPECT_TRUE(validate(BlockingRequest{105, 8}, window).has_value());
  EXPECT_FALSE(validate(BlockingRequest{106, 6}, window).has_value());
  EXPECT_TRUE(validate(BlockingRequest{106, 7}, window).has_value());
  EXPECT_FALSE(validate(BlockingRequest{3, 900}, window).has_value());  // long past
}

TEST(BlockingReload, SatisfiedByTheRequestedPartOrAnyLaterOne) {
  LiveWindow window;
  feedLiveEdge(window);  // edge (105, 1)
  EXPECT_TRUE(satisfied(BlockingRequest{}, window));
  EXPECT_TRUE(satisfied(BlockingRequest{105, 1}, window));
  EXPECT_TRUE(satisfied(BlockingRequest{104, 9}, window));
  EXPECT_TRUE(satisfied(BlockingRequest{2, 0}, window));  // left the window long ago
  EXPECT_FALSE(satisfied(BlockingRequest{105, 2}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{106, 0}, window));
  // _HLS_msn alone: segment M complete, or a later one started.
  EXPECT_TRUE(satisfied(BlockingRequest{104, std::nullopt}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{105, std::nullopt}, window));
  Feeder a{window, kEpochA, 0};
  a.part(105, 2);
  EXPECT_TRUE(satisfied(BlockingRequest{105, 2}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{105, 3}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{105, std::nullopt}, window));
  a.part(106, 0);  // 105 ended at part 2: a wait for the hinted 105.3 ends here
  EXPECT_TRUE(satisfied(BlockingRequest{105, 3}, window));
  EXPECT_TRUE(satisfied(BlockingRequest{105, std::nullopt}, window));
  EXPECT_TRUE(satisfied(BlockingRequest{106, 0}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{106, 1}, window));
  EXPECT_FALSE(satisfied(BlockingRequest{106, std::nullopt}, window));
}

// --- names ---------------------------------------------------------------------------------

TEST(MediaName, AcceptsTheThreeCanonicalForms) {
  struct Case {
    std::string_view text;
    MediaName name;
  };
  const Case cases[] = {
      {"1700000000000/init.mp4", {MediaKind::Init, kEpochA, 0, 0}},
      {"0/0.m4s", {MediaKind::Segment, 0, 0, 0}},
      {"1/2.3.m4s", {MediaKind::Part, 1, 2, 3}},
      {"1700000000000/105.0.m4s", {MediaKind::Part, kEpochA, 105, 0}},
      {"18446744073709551615/18446744073709551615.4294967295.m4s",
       {MediaKind::Part, std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max(),
        std::numeric_limits<uint32_t>::max()}},
  };
  for (const auto& c : cases) {
    const auto parsed = parseMediaName(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text;
    EXPECT_EQ(*parsed, c.name) << c.text;
    EXPECT_EQ(mediaUri(*parsed), c.text);
  }
}

TEST(MediaName, RejectsEverythingElse) {
  const std::string_view rejected[] = {
      "",
      "/",
      "1",
      "1/",
      "/init.mp4",
      "01/init.mp4",
      "1/init.mp4x",
      "1/init.MP4",
      "1/init.m4s",
      "1/00.m4s",
      "1/01.m4s",
      "1/1.01.m4s",
      "1/1.2.3.m4s",
      "1/1..m4s",
      "1/.1.m4s",
      "1/.m4s",
      "1/1.m4s/",
      "1/1.m4s?x=1",
      "1/1.m4",
      "1/1.mp4",
      "18446744073709551616/1.m4s",
      "1/18446744073709551616.m4s",
      "1/1.4294967296.m4s",
      "-1/1.m4s",
      "+1/1.m4s",
      "1/ 1.m4s",
      "1/1 .m4s",
      "a/1.m4s",
      "1//1.m4s",
      "../1.m4s",
      "1/../1.m4s",
      "1/1/1.m4s",
      "1/1.M4S",
      "media.m3u8",
      "1/1.m4s.m4s",
      "1/-1.m4s",
      "1/1.-1.m4s",
      "1/1e3.m4s",
      std::string_view("1/1.m4s\0", 8),
      std::string_view("1\0/1.m4s", 8),
  };
  for (const auto text : rejected) {
    EXPECT_FALSE(parseMediaName(text).has_value()) << "accepted: " << text;
  }
}

}  // namespace
}  // namespace amphi::core::hls
