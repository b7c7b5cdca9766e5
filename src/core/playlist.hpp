// LL-HLS playlist text from a LiveWindow (core/hls_window.hpp), free of I/O. The output is
// a function of the window's content only (no clock, no locale), so every origin fed the
// same messages serves the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/hls_window.hpp"

namespace amphi::core::hls {

// The media playlist (/hls/<room>/media.m3u8), version 6 (the lowest for EXT-X-MAP in a
// playlist of full segments; nothing used needs more). In order: TARGETDURATION,
// SERVER-CONTROL (CAN-BLOCK-RELOAD=YES, PART-HOLD-BACK = 3 x PART-TARGET, HOLD-BACK = 3 x
// TARGETDURATION), PART-INF, MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE; then per segment:
// DISCONTINUITY (first segment of a new epoch or after a restart), MAP (first segment and
// after each discontinuity), PROGRAM-DATE-TIME (capture time of its first part, UTC with
// milliseconds), EXT-X-PART tags for the last partsSegments segments, EXTINF + URI for
// complete ones; then PRELOAD-HINT for (lastMsn, lastPart + 1) — or ENDLIST once ended.
// Durations have three decimals. nullopt for an empty window (nothing to play: 404/503).
std::optional<std::string> renderMediaPlaylist(const LiveWindow& window);

// The multivariant playlist: one EXT-X-STREAM-INF (BANDWIDTH, CODECS when it is a valid
// RFC 6381 list, RESOLUTION when known) pointing at mediaUri (control characters and quotes
// are dropped from it).
std::string renderMultivariantPlaylist(const InitMeta& init,
                                       std::string_view mediaUri = "media.m3u8");

// Formatting helpers, exposed for tests and logs.
// Microseconds as seconds with three decimals, rounded half up to the millisecond: "2.000".
std::string formatSeconds(int64_t us);
// Unix milliseconds as ISO 8601 UTC with milliseconds: "2023-11-14T22:13:20.000Z"
// (clamped to years 0000..9999).
std::string formatProgramDateTime(int64_t unixMs);

}  // namespace amphi::core::hls
