// Internal to the egress graph (graph.cpp): pipeline descriptions in gst-launch syntax and
// the checks on what goes into them. No GStreamer types, so it is readable and testable alone.
#pragma once

#include <cstdint>
#include <string>

#include "egress/graph.hpp"

namespace amphi::egress::detail {

// Element names the graph looks up after parsing.
inline constexpr const char* kVideoMixer = "vmix";
inline constexpr const char* kAudioMixer = "amix";
inline constexpr const char* kVideoEncoder = "venc";
inline constexpr const char* kAudioEncoder = "aenc";
inline constexpr const char* kVideoSink = "vsink";
inline constexpr const char* kAudioSink = "asink";
inline constexpr const char* kSlateText = "slatetext";  // title on the slate
inline constexpr const char* kClockText = "clocktext";  // wall clock of the test source
// Inside a publisher bin.
inline constexpr const char* kPubVideoOut = "vout";  // a queue after the decoder
inline constexpr const char* kPubVideoDepay = "vdepay";
inline constexpr const char* kPubAudioOut = "aout";  // a queue after the level
inline constexpr const char* kPubLevel = "level";

inline constexpr int kAudioRate = 48000;
inline constexpr int kAudioChannels = 2;
inline constexpr std::int64_t kLevelIntervalNs = 100'000'000;  // ~10 level messages/s

// Empty when usable, else what is wrong.
std::string validate(const GraphOptions& options);
std::string validate(const PublisherInput& input);

// Frames per segment.
int keyframeInterval(const GraphOptions& options);

// Mixers, encoders, sinks, the background (slate or test pattern) and the always-on audio.
std::string mainPipeline(const GraphOptions& options);
// One publisher's receive/decode chains, ending in kPubVideoOut and kPubAudioOut. The
// queues decouple decoding from the mixers and give them room for their latency.
std::string publisherBin(const PublisherInput& input, const std::string& address);

// "HH:MM:SS.mmm" (UTC) for the burned-in clock.
std::string clockText(std::int64_t unixMs);

}  // namespace amphi::egress::detail
