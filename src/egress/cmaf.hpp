// CMAF (fragmented MP4) packager for LL-HLS: H.264 (AVC form) and AAC (raw) samples from
// GStreamer appsinks in, an init segment and LL-HLS parts (one moof + one mdat each) out.
// Pure C++: no GStreamer, no libav. Not thread-safe: the owner calls it from one strand.
//
// Cutting: the video track drives. A part ends at a frame boundary once its duration reaches
// partTarget (never past kMaxPartSeconds); a segment starts only at a keyframe once the current
// segment reached segmentTarget (a late keyframe grows the segment, an early one cuts nothing).
// Samples are held until the next video frame arrives, so every duration is exact. Audio goes
// into the part whose video time range covers its dts; audio ahead of video waits for the next
// part. With no video track, audio drives parts by duration.
//
// Timeline: base = dts of the first video keyframe (first audio sample when there is no video).
// Earlier samples are dropped. tfdt and durations are round(t·timescale/1e9) of (t − base),
// per track, from absolute times (no accumulated rounding), so tfdt starts at 0 in each track
// at the same instant and A/V sync is kept. Video timescale 90000, audio = the sample rate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace amphi::egress {

inline constexpr double kMaxPartSeconds = 1.0;

// H.264 in AVC form: GStreamer's codec_data (AVCDecoderConfigurationRecord) and the caps size.
struct VideoConfig {
  std::string avcC;
  uint32_t width = 0;
  uint32_t height = 0;

  // Builds avcC (4-byte NAL lengths) from one SPS and one PPS NAL unit without start codes.
  static VideoConfig fromParameterSets(std::string_view sps, std::string_view pps, uint32_t width,
                                       uint32_t height);
};

// AAC, stream-format=raw: GStreamer's codec_data (AudioSpecificConfig).
struct AudioConfig {
  std::string audioSpecificConfig;
};

struct CmafOptions {
  double partTarget = 0.5;     // seconds, in (0, kMaxPartSeconds]
  double segmentTarget = 2.0;  // seconds, >= partTarget
  uint64_t firstMsn = 0;       // media sequence number of the first segment
  uint32_t firstPart = 0;      // part index of the first part (later segments start at 0)
};

// One access unit (video: length-prefixed NAL units as in avcC; audio: one raw AAC frame).
struct MediaSample {
  std::string bytes;
  int64_t ptsNs = 0;
  std::optional<int64_t> dtsNs;  // absent: same as pts
  int64_t durationNs = 0;        // <= 0: unknown (the previous sample's is used)
  bool keyframe = false;         // video only; every AAC frame is a sync sample
};

struct Part {
  uint64_t msn = 0;          // segment number
  uint32_t index = 0;        // part number within the segment
  double duration = 0;       // seconds of the driving track (video, else audio)
  bool independent = false;  // starts with a keyframe (always true for a segment's first part)
  bool endsSegment = false;  // the next part starts segment msn + 1 (or the stream ended)
  int64_t firstPtsNs = 0;    // pts of the first driving sample, caller's clock
  std::string bytes;         // moof + mdat
};

class CmafPackager {
 public:
  // Throws std::invalid_argument naming what is wrong with the codec_data or the options,
  // or when neither track is given.
  CmafPackager(std::optional<VideoConfig> video, std::optional<AudioConfig> audio,
               CmafOptions options = {});
  ~CmafPackager();
  CmafPackager(CmafPackager&&) noexcept;
  CmafPackager& operator=(CmafPackager&&) noexcept;

  // ftyp + moov (mvhd, one trak per configured track, mvex/trex). Video is track 1.
  const std::string& initSegment() const;
  // RFC 6381 codecs for the playlist, e.g. "avc1.64001f,mp4a.40.2".
  const std::string& codecs() const;
  uint32_t audioSampleRate() const;  // 0 without audio
  uint32_t audioChannels() const;    // 0 without audio

  // Each returns the part that this sample closed, if any. Samples before the first keyframe,
  // with a dts not after the previous one, empty, or with broken NAL lengths are dropped and
  // counted. Throws std::logic_error when the track was not configured.
  std::optional<Part> pushVideo(MediaSample sample);
  std::optional<Part> pushAudio(MediaSample sample);
  // End of stream: emits the open part (with all queued audio) and ends its segment. Later
  // samples start a new segment at the next keyframe on the same timeline.
  std::optional<Part> flush();

  uint64_t droppedSamples() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace amphi::egress
