#include "core/playlist.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace amphi::core::hls {
namespace {

constexpr int kVersion = 6;

void appendInt(std::string& out, int64_t value) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 24 chars always suffice for an i64
  out.append(buf, ptr);
}

// Zero-padded to width digits (value >= 0).
void appendPadded(std::string& out, int64_t value, std::size_t width) {
  std::string digits;
  appendInt(digits, value);
  if (digits.size() < width) out.append(width - digits.size(), '0');
  out += digits;
}

void appendSeconds(std::string& out, int64_t us) {
  const int64_t ms = (std::max<int64_t>(us, 0) + 500) / 1000;
  appendInt(out, ms / 1000);
  out += '.';
  appendPadded(out, ms % 1000, 3);
}

void appendHeader(std::string& out, const LiveWindow& window) {
  const int targetDuration = window.targetDurationSeconds();
  const int64_t partTargetUs = window.partTargetUs();
  out += "#EXTM3U\n#EXT-X-VERSION:";
  appendInt(out, kVersion);
  out += "\n#EXT-X-TARGETDURATION:";
  appendInt(out, targetDuration);
  out += "\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=";
  appendSeconds(out, 3 * partTargetUs);
  out += ",HOLD-BACK=";
  appendSeconds(out, int64_t{3} * targetDuration * 1'000'000);
  out += "\n#EXT-X-PART-INF:PART-TARGET=";
  appendSeconds(out, partTargetUs);
  out += "\n#EXT-X-MEDIA-SEQUENCE:";
  appendInt(out, static_cast<int64_t>(window.mediaSequence()));
  out += "\n#EXT-X-DISCONTINUITY-SEQUENCE:";
  appendInt(out, static_cast<int64_t>(window.discontinuitySequence()));
  out += '\n';
}

void appendParts(std::string& out, const Segment& segment) {
  for (const auto& part : segment.parts) {
    out += "#EXT-X-PART:DURATION=";
    appendSeconds(out, part.durationUs);
    out += ",URI=\"";
    out += partUri(segment.epoch, segment.msn, part.meta.part);
    out += part.meta.independent ? "\",INDEPENDENT=YES\n" : "\"\n";
  }
}

void appendSegment(std::string& out, const Segment& segment, const Segment* previous,
                   bool withParts) {
  if (segment.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
  if (previous == nullptr || segment.discontinuity || previous->epoch != segment.epoch) {
    out += "#EXT-X-MAP:URI=\"" + initUri(segment.epoch) + "\"\n";
  }
  out += "#EXT-X-PROGRAM-DATE-TIME:" + formatProgramDateTime(segment.captureMs()) + '\n';
  if (withParts) appendParts(out, segment);
  if (!segment.complete) return;
  out += "#EXTINF:";
  appendSeconds(out, segment.durationUs);
  out += ",\n" + segmentUri(segment.epoch, segment.msn) + '\n';
}

void appendEnd(std::string& out, const LiveWindow& window) {
  if (window.ended()) {
    out += "#EXT-X-ENDLIST\n";
    return;
  }
  // Always the next part of the open segment: if that segment ends instead, (M + 1, 0)
  // satisfies a blocking request for it and the hinted name answers 404.
  const auto edge = window.liveEdge();
  out += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"" + partUri(edge->epoch, edge->msn, edge->part + 1) +
         "\"\n";
}

bool validCodecs(std::string_view codecs) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == ',' || c == '-' || c == '_' || c == '+';
  };
  return !codecs.empty() && std::all_of(codecs.begin(), codecs.end(), allowed);
}

}  // namespace

std::string formatSeconds(int64_t us) {
  std::string out;
  appendSeconds(out, us);
  return out;
}

std::string formatProgramDateTime(int64_t unixMs) {
  using namespace std::chrono;
  constexpr int64_t kMaxMs = 253402300799999;  // 9999-12-31T23:59:59.999Z
  constexpr int64_t kMinMs = -62167219200000;  // 0000-01-01T00:00:00.000Z
  const sys_time<milliseconds> time{milliseconds{std::clamp(unixMs, kMinMs, kMaxMs)}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  std::string out;
  appendPadded(out, static_cast<int>(date.year()), 4);
  out += '-';
  appendPadded(out, static_cast<unsigned>(date.month()), 2);
  out += '-';
  appendPadded(out, static_cast<unsigned>(date.day()), 2);
  out += 'T';
  appendPadded(out, clock.hours().count(), 2);
  out += ':';
  appendPadded(out, clock.minutes().count(), 2);
  out += ':';
  appendPadded(out, clock.seconds().count(), 2);
  out += '.';
  appendPadded(out, clock.subseconds().count(), 3);
  out += 'Z';
  return out;
}

std::optional<std::string> renderMediaPlaylist(const LiveWindow& window) {
  if (window.empty()) return std::nullopt;
  const auto& segments = window.segments();
  const std::size_t keep = static_cast<std::size_t>(window.partsSegments());
  const std::size_t firstWithParts = segments.size() > keep ? segments.size() - keep : 0;
  std::string out;
  out.reserve(512 + segments.size() * 96 + keep * 8 * 72);
  appendHeader(out, window);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    appendSegment(out, segments[i], i == 0 ? nullptr : &segments[i - 1], i >= firstWithParts);
  }
  appendEnd(out, window);
  return out;
}

std::string renderMultivariantPlaylist(const InitMeta& init, std::string_view mediaUri) {
  std::string out = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=";
  appendInt(out, init.bandwidth);
  if (validCodecs(init.codecs)) out += ",CODECS=\"" + init.codecs + '"';
  if (init.width > 0 && init.height > 0) {
    out += ",RESOLUTION=";
    appendInt(out, init.width);
    out += 'x';
    appendInt(out, init.height);
  }
  out += '\n';
  for (char c : mediaUri) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f && c != '"') out += c;
  }
  out += '\n';
  return out;
}

}  // namespace amphi::core::hls
