// Private to the CMAF packager: ISO BMFF box serialisation (init segment and moof + mdat).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amphi::egress::boxes {

struct VideoTrack {
  uint32_t trackId = 1;
  uint32_t timescale = 90000;
  std::string_view avcC;
  uint16_t width = 0;
  uint16_t height = 0;
};

struct AudioTrack {
  uint32_t trackId = 2;
  std::string_view audioSpecificConfig;
  uint32_t sampleRate = 0;  // also the timescale
  uint16_t channels = 0;
};

std::string initSegment(const std::optional<VideoTrack>& video,
                        const std::optional<AudioTrack>& audio);

struct FragmentSample {
  std::string_view bytes;
  uint32_t duration = 0;  // track timescale
  int32_t compositionOffset = 0;
  bool sync = false;
};

struct FragmentTrack {
  uint32_t trackId = 0;
  uint64_t baseDecodeTime = 0;
  std::vector<FragmentSample> samples;
};

// One moof (mfhd + a traf per track, default-base-is-moof) followed by one mdat.
std::string fragment(uint32_t sequence, const std::vector<FragmentTrack>& tracks);

}  // namespace amphi::egress::boxes
