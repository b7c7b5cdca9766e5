// Internal to src/egress: conversions from GStreamer samples, caps and messages to the
// graph's plain types (no state, no pipeline knowledge).
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <optional>
#include <string>

#include "egress/graph.hpp"

namespace amphi::egress::gst {

std::string bufferBytes(GstBuffer* buf);
// Buffer time as running time (x264enc shifts its segment by 1000 h); fallback when invalid.
std::int64_t runningTime(const GstSegment* segment, GstClockTime t, std::int64_t fallback);
EncodedSample toEncoded(GstSample* sample, std::int64_t defaultDurationNs);

struct StreamConfig {
  std::string codecData;
  int first = 0, second = 0;  // width/height or rate/channels
  bool operator==(const StreamConfig&) const = default;
};
StreamConfig configOf(GstCaps* caps, const char* firstField, const char* secondField);

// "element: message (debug)" of an error or warning message.
std::string describe(GstMessage* msg);
// What gst_video_event_new_downstream_force_key_unit builds ("now", with headers).
GstEvent* forceKeyUnitEvent();
// Loudest channel of a `level` message's RMS, in dB.
std::optional<double> loudestRms(const GstStructure* s);

}  // namespace amphi::egress::gst
