#include "egress/cmaf.hpp"

#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <stdexcept>
#include <vector>

#include "egress/cmaf_boxes.hpp"

namespace amphi::egress {
namespace {

constexpr uint32_t kVideoTimescale = 90000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
// Audio queued ahead of video beyond this span is dropped (video stalled): bounds memory.
constexpr int64_t kMaxAudioQueueNs = 10 * kNsPerSecond;

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument(what);
}

uint32_t byteAt(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

// round(ns · timescale / 1e9), exact for any int64 ns.
int64_t toTicks(int64_t ns, uint32_t timescale) {
  const __int128 product = static_cast<__int128>(ns) * timescale;
  const __int128 half = kNsPerSecond / 2;
  return static_cast<int64_t>((product >= 0 ? product + half : product - half) / kNsPerSecond);
}

// ---- codec_data ----------------------------------------------------------------------------

struct AvcInfo {
  int nalLengthSize = 4;
  std::string codec;  // avc1.PPCCLL
};

// Validates `count` parameter sets (u16 length + NAL of type `nalType`) from `pos`.
size_t parameterSets(std::string_view c, size_t pos, uint32_t count, uint32_t nalType,
                     const char* kind) {
  if (count == 0) bad(std::string("avcC codec_data: no ") + kind);
  for (uint32_t i = 0; i < count; ++i) {
    if (pos + 2 > c.size())
      bad(std::string("avcC codec_data: truncated before ") + kind + " length");
    const size_t len = byteAt(c, pos) << 8 | byteAt(c, pos + 1);
    pos += 2;
    if (len == 0 || pos + len > c.size()) {
      bad(std::string("avcC codec_data: ") + kind + " of " + std::to_string(len) +
          " bytes runs past the end (" + std::to_string(c.size()) + " bytes)");
    }
    if ((byteAt(c, pos) & 0x1F) != nalType) {
      bad(std::string("avcC codec_data: ") + kind + " has NAL type " +
          std::to_string(byteAt(c, pos) & 0x1F));
    }
    pos += len;
  }
  return pos;
}

AvcInfo parseAvcC(std::string_view c) {
  if (c.size() < 7) {
    bad("avcC codec_data: " + std::to_string(c.size()) +
        " bytes, an AVCDecoderConfigurationRecord has at least 7");
  }
  if (byteAt(c, 0) != 1) {
    bad("avcC codec_data: configurationVersion " + std::to_string(byteAt(c, 0)) +
        ", expected 1 (Annex B data? use stream-format=avc)");
  }
  AvcInfo info;
  info.nalLengthSize = static_cast<int>(byteAt(c, 4) & 3) + 1;
  if (info.nalLengthSize == 3) bad("avcC codec_data: NAL length size 3 (must be 1, 2 or 4)");
  size_t pos = parameterSets(c, 6, byteAt(c, 5) & 0x1F, 7, "SPS");
  if (pos >= c.size()) bad("avcC codec_data: truncated before the PPS count");
  parameterSets(c, pos + 1, byteAt(c, pos), 8, "PPS");
  char hex[7];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x", byteAt(c, 1), byteAt(c, 2), byteAt(c, 3));
  info.codec = std::string("avc1.") + hex;
  return info;
}

class BitReader {
 public:
  explicit BitReader(std::string_view data) : data_(data) {}
  uint32_t read(int bits) {
    uint32_t v = 0;
    for (int i = 0; i < bits; ++i, ++pos_) {
      if (pos_ / 8 >= data_.size()) {
        bad("AudioSpecificConfig codec_data: truncated (" + std::to_string(data_.size()) +
            " bytes)");
      }
      v = v << 1 | ((byteAt(data_, pos_ / 8) >> (7 - pos_ % 8)) & 1);
    }
    return v;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct AacInfo {
  uint32_t sampleRate = 0;
  uint32_t channels = 0;
  std::string codec;  // mp4a.40.N
};

AacInfo parseAudioSpecificConfig(std::string_view asc) {
  static constexpr uint32_t kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000,  7350};
  BitReader r(asc);
  uint32_t objectType = r.read(5);
  if (objectType == 31) objectType = 32 + r.read(6);
  if (objectType == 0) bad("AudioSpecificConfig codec_data: audio object type 0 (null)");
  AacInfo info;
  const uint32_t rateIndex = r.read(4);
  if (rateIndex == 15) {
    info.sampleRate = r.read(24);
  } else if (rateIndex < std::size(kRates)) {
    info.sampleRate = kRates[rateIndex];
  } else {
    bad("AudioSpecificConfig codec_data: reserved sampling frequency index " +
        std::to_string(rateIndex));
  }
  if (info.sampleRate == 0) bad("AudioSpecificConfig codec_data: sample rate 0");
  const uint32_t channelConfig = r.read(4);
  if (channelConfig == 0 || channelConfig > 7) {
    bad("AudioSpecificConfig codec_data: channel configuration " + std::to_string(channelConfig) +
        " is not supported (1..7)");
  }
  info.channels = channelConfig == 7 ? 8 : channelConfig;
  info.codec = "mp4a.40." + std::to_string(objectType);
  return info;
}

void checkOptions(const CmafOptions& o) {
  if (!(o.partTarget > 0 && o.partTarget <= kMaxPartSeconds)) {
    bad("cmaf options: partTarget " + std::to_string(o.partTarget) + " s not in (0, 1]");
  }
  if (!(o.segmentTarget >= o.partTarget) || !std::isfinite(o.segmentTarget)) {
    bad("cmaf options: segmentTarget " + std::to_string(o.segmentTarget) +
        " s must be finite and >= partTarget");
  }
}

// Every NAL unit has a non-zero length that fits in the sample.
bool nalUnitsWellFormed(std::string_view b, int lengthSize) {
  size_t pos = 0;
  while (pos < b.size()) {
    if (b.size() - pos < static_cast<size_t>(lengthSize)) return false;
    uint64_t len = 0;
    for (int i = 0; i < lengthSize; ++i) len = len << 8 | byteAt(b, pos++);
    if (len == 0 || len > b.size() - pos) return false;
    pos += len;
  }
  return !b.empty();
}

struct Held {
  std::string bytes;
  int64_t pts = 0;
  int64_t dts = 0;
  int64_t duration = 0;
  bool key = false;
};

struct Track {
  uint32_t id = 0;
  uint32_t timescale = 0;
  std::deque<Held> held;  // driver: the open part; follower: samples waiting for a part
  int64_t lastDts = std::numeric_limits<int64_t>::min();
  int64_t lastInterval = 0;  // ns between the last two samples: stands in for a missing duration
};

Held toHeld(MediaSample&& s, bool key) {
  return Held{std::move(s.bytes), s.ptsNs, s.dtsNs.value_or(s.ptsNs), s.durationNs, key};
}

}  // namespace

// ---- packager ------------------------------------------------------------------------------

struct CmafPackager::State {
  CmafOptions options;
  std::string init;
  std::string codecs;
  int nalLengthSize = 4;
  uint32_t sampleRate = 0;
  uint32_t channels = 0;
  std::optional<Track> video;
  std::optional<Track> audio;

  bool started = false;
  int64_t base = 0;          // ns; tick 0 of every track
  bool newSegment = true;    // the next part opened starts a segment
  int64_t partStart = 0;     // ns, dts of the open part's first driving sample
  int64_t segmentStart = 0;  // ns
  uint64_t msn = 0;          // numbers of the open part
  uint32_t index = 0;
  uint32_t sequence = 1;  // mfhd
  uint64_t dropped = 0;

  Track& driver() { return video ? *video : *audio; }
  Track* follower() { return video && audio ? &*audio : nullptr; }
  int64_t ticks(const Track& t, int64_t ns) const { return toTicks(ns - base, t.timescale); }
  int64_t elapsed(int64_t fromNs, int64_t toNs) {
    return ticks(driver(), toNs) - ticks(driver(), fromNs);
  }
  int64_t target(double seconds) { return std::llround(seconds * driver().timescale); }

  // Checks order and size; fills in a missing duration. False: drop the sample.
  bool accept(Track& t, Held& s) {
    if (s.bytes.empty() || s.dts <= t.lastDts) return false;
    if (t.lastDts != std::numeric_limits<int64_t>::min()) t.lastInterval = s.dts - t.lastDts;
    if (s.duration <= 0) s.duration = t.lastInterval;
    t.lastDts = s.dts;
    return true;
  }

  std::optional<Part> drop() {
    ++dropped;
    return std::nullopt;
  }

  void start(int64_t baseNs) {
    started = true;
    base = baseNs;
    if (Track* a = follower()) {
      while (!a->held.empty() && a->held.front().dts < base) a->held.pop_front(), ++dropped;
    }
  }

  std::optional<Part> pushDriver(Held s) {
    Track& d = driver();
    if (!started && !s.key) return drop();
    if (!accept(d, s)) return drop();
    if (!started) start(s.dts);
    std::optional<Part> out;
    if (!d.held.empty()) {
      // Without video every sample is a sync sample: segments then end with a whole part.
      const bool cut = cutsBefore(s);
      const bool segment =
          s.key && (video || cut) && elapsed(segmentStart, s.dts) >= target(options.segmentTarget);
      if (segment || cut) out = close(s.dts, segment, false);
    }
    if (d.held.empty()) {
      if (newSegment && !s.key) {  // after flush: wait for a keyframe
        ++dropped;
        return out;
      }
      partStart = s.dts;
      if (newSegment) segmentStart = s.dts, newSegment = false;
    }
    d.held.push_back(std::move(s));
    return out;
  }

  bool cutsBefore(const Held& s) {
    return elapsed(partStart, s.dts) >= target(options.partTarget) ||
           elapsed(partStart, s.dts + s.duration) > target(kMaxPartSeconds);
  }

  void pushFollower(Held s) {
    Track& a = *follower();
    if (!accept(a, s) || (started && s.dts < base)) {
      ++dropped;
      return;
    }
    a.held.push_back(std::move(s));
    while (a.held.back().dts - a.held.front().dts > kMaxAudioQueueNs) a.held.pop_front(), ++dropped;
  }

  // Sample table of one track; the last sample ends at endNs, or at dts + duration.
  boxes::FragmentTrack fragmentTrack(const Track& t, const std::deque<Held>& samples,
                                     std::optional<int64_t> endNs) const {
    boxes::FragmentTrack f{t.id, static_cast<uint64_t>(ticks(t, samples.front().dts)), {}};
    f.samples.reserve(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      const Held& s = samples[i];
      const int64_t end =
          i + 1 < samples.size() ? samples[i + 1].dts : endNs.value_or(s.dts + s.duration);
      const int64_t dtsTicks = ticks(t, s.dts);
      f.samples.push_back({s.bytes,
                           static_cast<uint32_t>(std::max<int64_t>(0, ticks(t, end) - dtsTicks)),
                           static_cast<int32_t>(ticks(t, s.pts) - dtsTicks), s.key});
    }
    return f;
  }

  // Follower samples that belong in a part ending at endNs (all of them when flushing).
  std::deque<Held> takeFollower(int64_t endNs, bool all) {
    std::deque<Held> taken;
    Track* a = follower();
    while (a && !a->held.empty() && (all || a->held.front().dts < endNs)) {
      taken.push_back(std::move(a->held.front()));
      a->held.pop_front();
    }
    return taken;
  }

  Part close(int64_t endNs, bool endsSegment, bool all) {
    Track& d = driver();
    Part part{msn,
              index,
              static_cast<double>(elapsed(partStart, endNs)) / d.timescale,
              d.held.front().key,
              endsSegment,
              d.held.front().pts,
              {}};
    const std::deque<Held> followed = takeFollower(endNs, all);
    std::vector<boxes::FragmentTrack> tracks{fragmentTrack(d, d.held, endNs)};
    if (!followed.empty()) {
      const Track& a = *follower();
      std::optional<int64_t> next;
      if (!a.held.empty()) next = a.held.front().dts;
      tracks.push_back(fragmentTrack(a, followed, next));
    }
    part.bytes = boxes::fragment(sequence++, tracks);
    d.held.clear();
    if (endsSegment) {
      newSegment = true, ++msn, index = 0;
    } else {
      ++index;
    }
    return part;
  }
};

VideoConfig VideoConfig::fromParameterSets(std::string_view sps, std::string_view pps,
                                           uint32_t width, uint32_t height) {
  if (sps.size() < 4 || sps.size() > 0xFFFF) {
    bad("SPS of " + std::to_string(sps.size()) + " bytes (need 4..65535, no start code)");
  }
  if (pps.empty() || pps.size() > 0xFFFF) {
    bad("PPS of " + std::to_string(pps.size()) + " bytes (need 1..65535, no start code)");
  }
  std::string c{'\x01', sps[1], sps[2], sps[3], '\xFF', '\xE1'};  // 4-byte lengths, 1 SPS
  c += static_cast<char>(sps.size() >> 8), c += static_cast<char>(sps.size() & 0xFF);
  c.append(sps);
  c += '\x01';
  c += static_cast<char>(pps.size() >> 8), c += static_cast<char>(pps.size() & 0xFF);
  c.append(pps);
  parseAvcC(c);  // checks the NAL types
  return VideoConfig{std::move(c), width, height};
}

CmafPackager::CmafPackager(std::optional<VideoConfig> video, std::optional<AudioConfig> audio,
                           CmafOptions options)
    : state_(std::make_unique<State>()) {
  checkOptions(options);
  if (!video && !audio) bad("cmaf: neither a video nor an audio track configured");
  State& s = *state_;
  s.options = options;
  s.msn = options.firstMsn;
  s.index = options.firstPart;
  std::optional<boxes::VideoTrack> videoBox;
  std::optional<boxes::AudioTrack> audioBox;
  if (video) {
    const AvcInfo avc = parseAvcC(video->avcC);
    if (video->width == 0 || video->height == 0 || video->width > 0xFFFF ||
        video->height > 0xFFFF) {
      bad("cmaf video: size " + std::to_string(video->width) + "x" + std::to_string(video->height) +
          " not in 1..65535");
    }
    s.nalLengthSize = avc.nalLengthSize;
    s.codecs = avc.codec;
    s.video = Track{1, kVideoTimescale, {}};
    videoBox =
        boxes::VideoTrack{1, kVideoTimescale, video->avcC, static_cast<uint16_t>(video->width),
                          static_cast<uint16_t>(video->height)};
  }
  if (audio) {
    const AacInfo aac = parseAudioSpecificConfig(audio->audioSpecificConfig);
    const uint32_t id = video ? 2 : 1;
    s.sampleRate = aac.sampleRate;
    s.channels = aac.channels;
    s.codecs += (s.codecs.empty() ? "" : ",") + aac.codec;
    s.audio = Track{id, aac.sampleRate, {}};
    audioBox = boxes::AudioTrack{id, audio->audioSpecificConfig, aac.sampleRate,
                                 static_cast<uint16_t>(aac.channels)};
  }
  s.init = boxes::initSegment(videoBox, audioBox);
}

CmafPackager::~CmafPackager() = default;
CmafPackager::CmafPackager(CmafPackager&&) noexcept = default;
CmafPackager& CmafPackager::operator=(CmafPackager&&) noexcept = default;

const std::string& CmafPackager::initSegment() const {
  return state_->init;
}
const std::string& CmafPackager::codecs() const {
  return state_->codecs;
}
uint32_t CmafPackager::audioSampleRate() const {
  return state_->sampleRate;
}
uint32_t CmafPackager::audioChannels() const {
  return state_->channels;
}
uint64_t CmafPackager::droppedSamples() const {
  return state_->dropped;
}

std::optional<Part> CmafPackager::pushVideo(MediaSample sample) {
  State& s = *state_;
  if (!s.video) throw std::logic_error("cmaf: pushVideo without a video track");
  if (!nalUnitsWellFormed(sample.bytes, s.nalLengthSize)) return s.drop();
  const bool key = sample.keyframe;
  return s.pushDriver(toHeld(std::move(sample), key));
}

std::optional<Part> CmafPackager::pushAudio(MediaSample sample) {
  State& s = *state_;
  if (!s.audio) throw std::logic_error("cmaf: pushAudio without an audio track");
  if (!s.video) return s.pushDriver(toHeld(std::move(sample), true));
  s.pushFollower(toHeld(std::move(sample), true));
  return std::nullopt;
}

std::optional<Part> CmafPackager::flush() {
  State& s = *state_;
  Track& d = s.driver();
  if (d.held.empty()) return std::nullopt;
  const Held& last = d.held.back();
  return s.close(last.dts + std::max<int64_t>(0, last.duration), true, true);
}

}  // namespace amphi::egress
