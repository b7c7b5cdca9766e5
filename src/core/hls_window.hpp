// The live window of one room's LL-HLS stream, free of I/O. The origin feeds it the egress's
// init and part messages in stream order and answers HLS requests from it: playlists
// (core/playlist.hpp), init, parts and segments, blocking reloads.
//
// Everything it holds and reports is a function of the messages fed in (durations are summed
// in integer microseconds, never local time or arrival time), so two origins fed the same
// messages render the same bytes. Not thread-safe: one owner (a strand) feeds and reads it.
//
// Model. Parts of one egress run ("epoch") arrive in order (msn, part). The last segment is
// "open" until a part of a later segment (or a new epoch, or endStream) closes it; a closed
// segment's EXTINF is the sum of its parts. A new epoch continues the numbering: its first
// msn must be above the last one (else Stale, names are never reused). Segments listed in a
// playlist must have consecutive msns, so a part 0 that skips msns (a new epoch that numbers
// too far ahead, or a lost segment) restarts the window: every held segment leaves the
// listing at once (into the grace list) and the new one carries a discontinuity.
//
// Retention: complete segments stay listed while the newer complete ones alone cover less
// than max(retentionSeconds, 3 target durations); that is the shortest suffix covering it,
// whatever point the history was joined at. A removed segment (RFC 8216 6.2.2) stays
// fetchable in the grace list until the media fed after its removal reaches its duration plus
// the duration of the playlist it was removed from (media time, not wall time: a stalled
// stream keeps it longer, never shorter). Part bytes of complete segments are released
// (partsSegments + 3) target durations behind the live edge: parts are listed for the last
// partsSegments segments only and must stay fetchable 3 target durations after that.
// Memory: about twice retention x bitrate (parts near the edge and whole segments).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amphi::core::hls {

using Bytes = std::shared_ptr<const std::string>;

inline constexpr uint32_t kMaxPartsPerSegment = 1000;

// One per egress run ("epoch").
struct InitMeta {
  uint64_t epoch = 0;  // egress run id (unix ms of its start); URIs live under "<epoch>/"
  std::string codecs;  // e.g. "avc1.64001f,mp4a.40.2"
  int width = 0, height = 0;
  uint32_t bandwidth = 0;      // bits/s, for the multivariant playlist
  double partTarget = 0.5;     // seconds, (0, 10]
  double segmentTarget = 2.0;  // seconds, [partTarget, 60]
  // Where this run sits in the room's stream, so every origin derives the same
  // EXT-X-DISCONTINUITY(-SEQUENCE) whatever part of the history it saw: the runs before this
  // one (each later run starts with a discontinuity) and the msn of this run's first segment.
  uint64_t run = 0;
  std::optional<uint64_t> firstMsn;  // unknown (older egress): discontinuities seen locally only
};

struct PartMeta {
  uint64_t epoch = 0;
  uint64_t msn = 0;          // media sequence number of the segment this part belongs to
  uint32_t part = 0;         // index within the segment, from 0
  double duration = 0;       // seconds, (0, 60]
  bool independent = false;  // starts with a keyframe (part 0 of a segment always is)
  int64_t captureMs = 0;     // unix ms of the part's first frame (for PROGRAM-DATE-TIME)
};

struct WindowOptions {
  // Complete segments stay listed while the newer complete ones cover less than this
  // (never less than three target durations).
  double retentionSeconds = 60;
  // The last N segments (the open one included) list their parts (EXT-X-PART); at least 1.
  int partsSegments = 3;
};

enum class AddResult {
  Added,      // stored
  Restarted,  // stored; its msn skipped ahead, so the window restarted at it (discontinuity)
  Duplicate,  // already held: nothing changed
  Stale,      // behind the live edge, from an older epoch, or a new epoch not numbered past
              // the last msn: dropped
  Gap,        // a part is missing before it (in its segment, or it is not part 0 of a new
              // segment or epoch): dropped
  NoInit,     // no init for its epoch: dropped
  Invalid,    // null bytes, duration or targets out of range, part index too high
  Ended,      // endStream() was called: dropped
};
std::string_view toString(AddResult result);
inline bool accepted(AddResult r) {
  return r == AddResult::Added || r == AddResult::Restarted;
}

// Names, relative to the media playlist (/hls/<room>/media.m3u8): "<epoch>/init.mp4",
// "<epoch>/<msn>.<part>.m4s", "<epoch>/<msn>.m4s". Numbers are canonical decimals.
enum class MediaKind { Init, Part, Segment };
struct MediaName {
  MediaKind kind = MediaKind::Init;
  uint64_t epoch = 0;
  uint64_t msn = 0;   // Part and Segment
  uint32_t part = 0;  // Part
  bool operator==(const MediaName&) const = default;
};
// Strict: exactly one of the three forms, digits only, no sign, no leading zero (but "0"),
// within range, nothing before or after. Safe on any input.
std::optional<MediaName> parseMediaName(std::string_view name);
std::string mediaUri(const MediaName& name);
std::string initUri(uint64_t epoch);
std::string partUri(uint64_t epoch, uint64_t msn, uint32_t part);
std::string segmentUri(uint64_t epoch, uint64_t msn);

struct Part {
  PartMeta meta;
  int64_t durationUs = 0;
  Bytes bytes;  // null once released (far behind the live edge)
};

struct Segment {
  uint64_t epoch = 0;
  uint64_t msn = 0;
  std::vector<Part> parts;     // never empty; parts[i].meta.part == i
  int64_t durationUs = 0;      // sum of the parts
  bool complete = false;       // a later part (or endStream) closed it: listed with EXTINF
  bool discontinuity = false;  // first segment of a new epoch, or after a restart
  Bytes bytes;                 // concatenated parts, once complete
  int64_t captureMs() const { return parts.front().meta.captureMs; }
};

struct Position {
  uint64_t epoch = 0;
  uint64_t msn = 0;
  uint32_t part = 0;
};

enum class Availability {
  Available,  // bytes held
  Pending,    // a part that may come next ((lastMsn, lastPart + 1) or (lastMsn + 1, 0)):
              // a request for it may wait (preload hint)
  Absent,     // 404
};

class LiveWindow {
 public:
  explicit LiveWindow(WindowOptions options = {});

  AddResult addInit(const InitMeta& meta, Bytes bytes);
  AddResult addPart(const PartMeta& meta, Bytes bytes);
  // The broadcast ended: closes the open segment; the playlist gets EXT-X-ENDLIST and later
  // parts are refused (a room that goes live again gets a new window).
  void endStream();

  bool empty() const { return segments_.empty(); }
  bool ended() const { return ended_; }
  // The last part held (the open segment's last part); nullopt when empty.
  std::optional<Position> liveEdge() const;
  uint64_t mediaSequence() const;  // msn of the first listed segment; 0 when empty
  // Discontinuities before the first listed segment: from the runs' positions (the same on
  // every origin), or more when this window also saw a run restart its numbering.
  uint64_t discontinuitySequence() const;
  // Listed segments, oldest first, consecutive msns; the last one is open unless ended().
  const std::deque<Segment>& segments() const { return segments_; }
  int partsSegments() const { return options_.partsSegments; }
  // EXT-X-TARGETDURATION: max of ceil(segmentTarget) of the listed epochs and the listed
  // EXTINFs rounded to the nearest second (RFC 8216 6.2.1, version 6); 1 when empty.
  int targetDurationSeconds() const;
  // PART-TARGET in microseconds, whole milliseconds: max of the listed epochs' partTarget
  // (rounded up) and of every part held (rounded), as a part must not exceed it.
  int64_t partTargetUs() const;
  // Changes on every accepted message: a cache key for rendered playlists.
  uint64_t revision() const { return revision_; }

  const InitMeta* init(uint64_t epoch) const;
  const InitMeta* latestInit() const;  // newest epoch's (for the multivariant playlist)
  Bytes initBytes(uint64_t epoch) const;
  Bytes partBytes(uint64_t epoch, uint64_t msn, uint32_t part) const;
  Bytes segmentBytes(uint64_t epoch, uint64_t msn) const;  // complete segments only
  Bytes bytes(const MediaName& name) const;                // null when absent
  Availability availability(const MediaName& name) const;

 private:
  enum class Step { None, Append, Open, OpenDiscontinuity, Restart };
  struct Verdict {
    AddResult result;
    Step step = Step::None;
  };
  struct InitEntry {
    InitMeta meta;
    Bytes bytes;
    int64_t partTargetUs = 0;
    int64_t segmentTargetUs = 0;
  };
  struct Removed {
    Segment segment;
    int64_t expiresAtUs = 0;  // on the media clock
  };

  Verdict classify(const PartMeta& meta) const;
  Verdict classifyNewEpoch(const PartMeta& meta, uint64_t lastMsn) const;
  bool holds(const PartMeta& meta) const;
  bool startsLaterRun(const PartMeta& meta) const;
  const Segment* find(uint64_t epoch, uint64_t msn) const;
  // Visits the init of each epoch that has listed segments.
  template <class F>
  void forEachListedInit(F&& visit) const;
  void apply(Step step, const PartMeta& meta, int64_t durationUs, Bytes bytes);
  void closeOpen();
  void retireFront(int64_t playlistUs);
  void evict();
  void releaseOldPartBytes();
  void expireGrace();
  void pruneInits();

  WindowOptions options_;
  std::map<uint64_t, InitEntry> inits_;  // by epoch
  std::deque<Segment> segments_;
  std::deque<Removed> grace_;
  int64_t clockUs_ = 0;  // media fed so far
  uint64_t discontinuitySequence_ = 0;
  uint64_t revision_ = 0;
  bool ended_ = false;
};

// Blocking playlist reload (RFC 8216bis 6.2.5.2): _HLS_msn=M[&_HLS_part=P].
struct BlockingRequest {
  std::optional<uint64_t> msn;   // none: not a blocking request
  std::optional<uint32_t> part;  // only with msn
};
struct BlockingParse {
  std::optional<BlockingRequest> request;  // set when valid
  std::string error;                       // why not (→ 400); never echoes the input
};
// From the raw (percent-decoded) values of _HLS_msn and _HLS_part, nullopt when absent:
// decimal digits only, in range (u64, u32); _HLS_part without _HLS_msn is an error.
BlockingParse parseBlockingRequest(std::optional<std::string_view> msn,
                                   std::optional<std::string_view> part);
// nullopt when the request may wait on this window, else why not (→ 400): M more than two
// past the last msn, or P more than the Advance Part Limit past the last part (3 / PART-TARGET
// when that is under 1 s, else 3). Directives are ignored on an empty or ended window.
std::optional<std::string> validate(const BlockingRequest& request, const LiveWindow& window);
// Whether the playlist can be answered now: always without directives or once ended; with
// M and P when a part (m, p) is held with m > M, or m == M and p >= P (so a P past the end
// of segment M is satisfied by (M + 1, 0)); with M alone when segment M is complete or a
// later one has started.
bool satisfied(const BlockingRequest& request, const LiveWindow& window);

}  // namespace amphi::core::hls
