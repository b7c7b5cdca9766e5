#include "egress/graph_gst.hpp"

#include <fmt/format.h>

namespace amphi::egress::gst {

std::string bufferBytes(GstBuffer* buf) {
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return {};
  std::string out(reinterpret_cast<const char*>(map.data), map.size);
  gst_buffer_unmap(buf, &map);
  return out;
}

// Buffer times are in the stream's segment (x264enc shifts it by 1000 h so that dts can
// precede pts): hand out running time, which is what the pipeline clock and the wall clock
// mapping speak.
std::int64_t runningTime(const GstSegment* segment, GstClockTime t, std::int64_t fallback) {
  const guint64 rt = GST_CLOCK_TIME_IS_VALID(t)
                         ? gst_segment_to_running_time(segment, GST_FORMAT_TIME, t)
                         : GST_CLOCK_TIME_NONE;
  return GST_CLOCK_TIME_IS_VALID(rt) ? static_cast<std::int64_t>(rt) : fallback;
}

EncodedSample toEncoded(GstSample* sample, std::int64_t defaultDurationNs) {
  GstBuffer* buf = gst_sample_get_buffer(sample);
  const GstSegment* segment = gst_sample_get_segment(sample);
  EncodedSample s;
  s.bytes = bufferBytes(buf);
  s.ptsNs = runningTime(segment, GST_BUFFER_PTS(buf), 0);
  s.dtsNs = runningTime(segment, GST_BUFFER_DTS(buf), s.ptsNs);
  const GstClockTime duration = GST_BUFFER_DURATION(buf);
  s.durationNs = GST_CLOCK_TIME_IS_VALID(duration) ? std::int64_t(duration) : defaultDurationNs;
  s.keyframe = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return s;
}

StreamConfig configOf(GstCaps* caps, const char* firstField, const char* secondField) {
  StreamConfig c;
  if (caps == nullptr || gst_caps_get_size(caps) == 0) return c;
  const GstStructure* st = gst_caps_get_structure(caps, 0);
  const GValue* v = gst_structure_get_value(st, "codec_data");
  if (v != nullptr && GST_VALUE_HOLDS_BUFFER(v)) c.codecData = bufferBytes(gst_value_get_buffer(v));
  gst_structure_get_int(st, firstField, &c.first);
  gst_structure_get_int(st, secondField, &c.second);
  return c;
}

std::string describe(GstMessage* msg) {
  GError* err = nullptr;
  gchar* debug = nullptr;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error(msg, &err, &debug);
  else
    gst_message_parse_warning(msg, &err, &debug);
  std::string what = fmt::format("{}: {} ({})", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                                 err ? err->message : "?", debug ? debug : "");
  g_clear_error(&err);
  g_free(debug);
  return what;
}

// What gst_video_event_new_downstream_force_key_unit builds ("now", with headers).
GstEvent* forceKeyUnitEvent() {
  GstStructure* s = gst_structure_new(
      "GstForceKeyUnit", "timestamp", G_TYPE_UINT64, GST_CLOCK_TIME_NONE, "stream-time",
      G_TYPE_UINT64, GST_CLOCK_TIME_NONE, "running-time", G_TYPE_UINT64, GST_CLOCK_TIME_NONE,
      "all-headers", G_TYPE_BOOLEAN, TRUE, "count", G_TYPE_UINT, 0u, nullptr);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

// Loudest channel of a `level` message's RMS, in dB.
std::optional<double> loudestRms(const GstStructure* s) {
  const GValue* v = gst_structure_get_value(s, "rms");
  std::optional<double> best;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  if (v == nullptr || !G_VALUE_HOLDS(v, g_value_array_get_type())) return best;
  const auto* channels = static_cast<const GValueArray*>(g_value_get_boxed(v));
  for (guint i = 0; channels != nullptr && i < channels->n_values; ++i) {
    const double db = g_value_get_double(&channels->values[i]);
    if (!best || db > *best) best = db;
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  return best;
}

}  // namespace amphi::egress::gst
