#include "egress/graph_desc.hpp"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace amphi::egress::detail {
namespace {

// Aggregators wait this long past a frame's time for live inputs; publisher chains report
// ~100 ms (jitter buffer) and are plugged in while playing, so the floor is set up front.
constexpr std::int64_t kMixerLatencyNs = 50'000'000;
constexpr std::int64_t kMinUpstreamLatencyNs = 200'000'000;
constexpr int kJitterLatencyMs = 100;
constexpr int kUdpBufferBytes = 2 * 1024 * 1024;
constexpr unsigned kSlateColor = 0xff1e2433;  // ARGB, dark slate blue

bool isAddress(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool isPort(int port) {
  return port > 0 && port < 65536;
}
bool isPayloadType(int pt) {
  return pt >= 0 && pt < 128;
}

std::string rawVideoCaps(const GraphOptions& o) {
  return fmt::format(
      "video/x-raw,format=I420,width={},height={},framerate={}/1,"
      "pixel-aspect-ratio=1/1",
      o.width, o.height, o.fps);
}

std::string mixerLatency() {
  return fmt::format("latency={} min-upstream-latency={}", kMixerLatencyNs, kMinUpstreamLatencyNs);
}

// Keyframes at segment starts are forced by the graph on the pts timeline (exact even when
// frames are lost); x264's own interval is only a safety net, set past the segment so it
// never adds a keyframe of its own mid-segment. scenecut=0: no extra keyframes on cuts.
std::string videoOutput(const GraphOptions& o) {
  return fmt::format(
      "compositor name={} background=black {} ! {} ! "
      "x264enc name={} tune=zerolatency speed-preset=veryfast key-int-max={} bitrate={} aud=false "
      "option-string=scenecut=0 ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! "
      "appsink name={} sync=false async=false",
      kVideoMixer, mixerLatency(), rawVideoCaps(o), kVideoEncoder, 2 * keyframeInterval(o),
      o.videoKbps, kVideoSink);
}

std::string audioOutput(const GraphOptions& o) {
  return fmt::format(
      "audiomixer name={} {} ! audio/x-raw,format=F32LE,layout=interleaved,rate={},channels={} ! "
      "audioconvert ! avenc_aac name={} bitrate={} ! aacparse ! "
      "audio/mpeg,mpegversion=4,stream-format=raw ! appsink name={} sync=false async=false",
      kAudioMixer, mixerLatency(), kAudioRate, kAudioChannels, kAudioEncoder, o.audioKbps * 1000,
      kAudioSink);
}

// One frame, drawn once, repeated live by imagefreeze: a static background costs ~nothing.
// imagefreeze reports a max latency of one frame; the queue raises it above the mixer's
// minimum, else the mixer cannot configure its latency once a publisher is plugged in.
std::string background(const GraphOptions& o) {
  if (o.testSource) {
    return fmt::format(
        "videotestsrc pattern=smpte num-buffers=1 ! {0} ! imagefreeze is-live=true ! {0} ! "
        "textoverlay name={1} valignment=top halignment=left font-desc=\"Monospace Bold 28\" "
        "shaded-background=true ! queue max-size-buffers=3 ! {2}.",
        rawVideoCaps(o), kClockText, kVideoMixer);
  }
  return fmt::format(
      "videotestsrc pattern=solid-color foreground-color={0} num-buffers=1 ! {1} ! "
      "textoverlay name={2} valignment=center halignment=center font-desc=\"Sans Bold 28\" ! "
      "imagefreeze is-live=true ! {1} ! queue max-size-buffers=3 ! {3}.",
      kSlateColor, rawVideoCaps(o), kSlateText, kVideoMixer);
}

std::string audioBed(const GraphOptions& o) {
  const char* wave = o.testSource ? "wave=sine freq=440 volume=0.2" : "wave=silence";
  return fmt::format(
      "audiotestsrc is-live=true {} samplesperbuffer=960 ! audio/x-raw,rate={},channels={} ! {}.",
      wave, kAudioRate, kAudioChannels, kAudioMixer);
}

std::string videoChain(const PublisherInput& in, const std::string& address) {
  const bool h264 = in.videoCodec == "h264";
  const std::string depayAndDecode =
      h264 ? fmt::format(
                 "rtph264depay name={} request-keyframe=true wait-for-keyframe=true ! "
                 "h264parse ! avdec_h264",
                 kPubVideoDepay)
           : fmt::format(
                 "rtpvp8depay name={} request-keyframe=true wait-for-keyframe=true ! "
                 "vp8dec",
                 kPubVideoDepay);
  return fmt::format(
      "udpsrc address={} port={} reuse=false buffer-size={} "
      "caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name={},payload={}\" ! "
      "rtpjitterbuffer latency={} do-lost=true ! {} ! queue name={} max-size-buffers=5",
      address, in.videoPort, kUdpBufferBytes, h264 ? "H264" : "VP8", in.videoPt, kJitterLatencyMs,
      depayAndDecode, kPubVideoOut);
}

std::string audioChain(const PublisherInput& in, const std::string& address) {
  return fmt::format(
      "udpsrc address={} port={} reuse=false "
      "caps=\"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={}\" ! "
      "rtpjitterbuffer latency={} ! rtpopusdepay ! opusdec plc=true ! "
      "level name={} interval={} post-messages=true ! queue name={}",
      address, in.audioPort, in.audioPt, kJitterLatencyMs, kPubLevel, kLevelIntervalNs,
      kPubAudioOut);
}

}  // namespace

std::string validate(const GraphOptions& o) {
  if (o.width < 16 || o.height < 16 || o.width > 4096 || o.height > 4096 || o.width % 2 != 0 ||
      o.height % 2 != 0) {
    return "width and height must be even and within 16..4096";
  }
  if (o.fps < 1 || o.fps > 120) return "fps must be within 1..120";
  if (o.videoKbps < 1 || o.audioKbps < 8) return "bitrates too low";
  if (!(o.segmentSeconds > 0) || keyframeInterval(o) < 1) return "segmentSeconds too small";
  if (!isAddress(o.rtpAddress)) return "rtpAddress must be a numeric IP address";
  return {};
}

std::string validate(const PublisherInput& in) {
  if (in.id.empty()) return "publisher id is empty";
  if (in.videoPort == 0 && in.audioPort == 0) return "publisher has neither video nor audio";
  if (in.videoPort != 0 && !isPort(in.videoPort)) return "bad video port";
  if (in.audioPort != 0 && !isPort(in.audioPort)) return "bad audio port";
  if (!isPayloadType(in.videoPt) || !isPayloadType(in.audioPt)) return "bad payload type";
  if (in.videoCodec != "vp8" && in.videoCodec != "h264") return "video codec must be vp8 or h264";
  return {};
}

int keyframeInterval(const GraphOptions& o) {
  return static_cast<int>(std::lround(o.fps * o.segmentSeconds));
}

std::string mainPipeline(const GraphOptions& o) {
  return fmt::format("{}  {}  {}  {}", videoOutput(o), audioOutput(o), background(o), audioBed(o));
}

std::string publisherBin(const PublisherInput& in, const std::string& address) {
  std::string desc;
  if (in.videoPort != 0) desc += videoChain(in, address);
  if (in.audioPort != 0) desc += "  " + audioChain(in, address);
  return desc;
}

std::string clockText(std::int64_t unixMs) {
  const std::time_t secs = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, unixMs % 1000);
}

}  // namespace amphi::egress::detail
