#include "egress/cmaf_boxes.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace amphi::egress::boxes {
namespace {

// Big-endian writer with size patching for nested boxes.
class Writer {
 public:
  void u8(uint32_t v) { out_.push_back(static_cast<char>(v & 0xFF)); }
  void u16(uint32_t v) { u8(v >> 8), u8(v); }
  void u24(uint32_t v) { u8(v >> 16), u16(v); }
  void u32(uint32_t v) { u16(v >> 16), u16(v); }
  void u64(uint64_t v) { u32(static_cast<uint32_t>(v >> 32)), u32(static_cast<uint32_t>(v)); }
  void raw(std::string_view bytes) { out_.append(bytes); }
  void zeros(size_t n) { out_.append(n, '\0'); }
  size_t size() const { return out_.size(); }
  void patch32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
  }
  std::string& str() { return out_; }

  template <class Body>
  void box(std::string_view type, Body&& body) {
    const size_t at = size();
    u32(0);
    raw(type);
    body();
    patch32(at, static_cast<uint32_t>(size() - at));
  }
  template <class Body>
  void fullBox(std::string_view type, uint8_t version, uint32_t flags, Body&& body) {
    box(type, [&] {
      u32(static_cast<uint32_t>(version) << 24 | flags);
      body();
    });
  }

 private:
  std::string out_;
};

void matrix(Writer& w) {
  for (uint32_t v : {0x10000u, 0u, 0u, 0u, 0x10000u, 0u, 0u, 0u, 0x40000000u}) w.u32(v);
}

void ftyp(Writer& w) {
  w.box("ftyp", [&] {
    w.raw("iso6");
    w.u32(0);
    for (std::string_view brand : {"iso6", "cmfc", "isom", "mp41", "dash"}) w.raw(brand);
  });
}

void mvhd(Writer& w, uint32_t nextTrackId) {
  w.fullBox("mvhd", 0, 0, [&] {
    w.u32(0), w.u32(0);  // creation, modification
    w.u32(1000), w.u32(0);
    w.u32(0x00010000), w.u16(0x0100);  // rate 1.0, volume 1.0
    w.zeros(10);
    matrix(w);
    w.zeros(24);
    w.u32(nextTrackId);
  });
}

void tkhd(Writer& w, uint32_t trackId, bool audio, uint16_t width, uint16_t height) {
  w.fullBox("tkhd", 0, 7, [&] {  // enabled, in movie, in preview
    w.u32(0), w.u32(0), w.u32(trackId), w.u32(0), w.u32(0);
    w.zeros(8);
    w.u16(0), w.u16(0), w.u16(audio ? 0x0100 : 0), w.u16(0);  // layer, group, volume
    matrix(w);
    w.u32(static_cast<uint32_t>(width) << 16), w.u32(static_cast<uint32_t>(height) << 16);
  });
}

void mdhdHdlr(Writer& w, uint32_t timescale, std::string_view handler, std::string_view name) {
  w.fullBox("mdhd", 0, 0, [&] {
    w.u32(0), w.u32(0), w.u32(timescale), w.u32(0);
    w.u16(0x55C4), w.u16(0);  // language "und"
  });
  w.fullBox("hdlr", 0, 0, [&] {
    w.u32(0);
    w.raw(handler);
    w.zeros(12);
    w.raw(name);
    w.u8(0);
  });
}

void dinf(Writer& w) {
  w.box("dinf", [&] {
    w.fullBox("dref", 0, 0, [&] {
      w.u32(1);
      w.fullBox("url ", 0, 1, [] {});  // media in the same file
    });
  });
}

// stsd with one entry, then the empty sample tables of a fragmented file.
template <class Entry>
void stbl(Writer& w, Entry&& entry) {
  w.box("stbl", [&] {
    w.fullBox("stsd", 0, 0, [&] {
      w.u32(1);
      entry();
    });
    w.fullBox("stts", 0, 0, [&] { w.u32(0); });
    w.fullBox("stsc", 0, 0, [&] { w.u32(0); });
    w.fullBox("stsz", 0, 0, [&] { w.u32(0), w.u32(0); });
    w.fullBox("stco", 0, 0, [&] { w.u32(0); });
  });
}

void avc1(Writer& w, const VideoTrack& v) {
  w.box("avc1", [&] {
    w.zeros(6), w.u16(1);  // reserved, data_reference_index
    w.zeros(16);           // pre_defined, reserved, pre_defined[3]
    w.u16(v.width), w.u16(v.height);
    w.u32(0x00480000), w.u32(0x00480000);  // 72 dpi
    w.u32(0), w.u16(1);                    // reserved, frame_count
    w.zeros(32);                           // compressorname
    w.u16(0x0018), w.u16(0xFFFF);          // depth, pre_defined = -1
    w.box("avcC", [&] { w.raw(v.avcC); });
  });
}

// MPEG-4 descriptor: tag, expandable length (7 bits per byte), payload.
void descriptor(Writer& w, uint8_t tag, std::string_view payload) {
  w.u8(tag);
  int groups = 1;
  while (groups < 4 && (payload.size() >> (7 * groups)) != 0) ++groups;
  for (int g = groups - 1; g >= 0; --g) {
    const uint32_t bits = static_cast<uint32_t>((payload.size() >> (7 * g)) & 0x7F);
    w.u8(g > 0 ? (bits | 0x80) : bits);
  }
  w.raw(payload);
}

std::string esDescriptor(const AudioTrack& a) {
  Writer config;
  config.u8(0x40);  // objectTypeIndication: MPEG-4 Audio
  config.u8(0x15);  // streamType audio (5) << 2 | reserved 1
  config.u24(0), config.u32(0), config.u32(0);
  descriptor(config, 0x05, a.audioSpecificConfig);
  Writer es;
  es.u16(a.trackId), es.u8(0);  // ES_ID, flags
  descriptor(es, 0x04, config.str());
  descriptor(es, 0x06, std::string_view("\x02", 1));  // SLConfig: predefined MP4
  return es.str();
}

void mp4a(Writer& w, const AudioTrack& a) {
  w.box("mp4a", [&] {
    w.zeros(6), w.u16(1);
    w.zeros(8);
    w.u16(a.channels), w.u16(16), w.u16(0), w.u16(0);
    w.u32(a.sampleRate <= 0xFFFF ? a.sampleRate << 16 : 0);
    w.fullBox("esds", 0, 0, [&] { descriptor(w, 0x03, esDescriptor(a)); });
  });
}

void videoTrak(Writer& w, const VideoTrack& v) {
  w.box("trak", [&] {
    tkhd(w, v.trackId, false, v.width, v.height);
    w.box("mdia", [&] {
      mdhdHdlr(w, v.timescale, "vide", "VideoHandler");
      w.box("minf", [&] {
        w.fullBox("vmhd", 0, 1, [&] { w.zeros(8); });
        dinf(w);
        stbl(w, [&] { avc1(w, v); });
      });
    });
  });
}

void audioTrak(Writer& w, const AudioTrack& a) {
  w.box("trak", [&] {
    tkhd(w, a.trackId, true, 0, 0);
    w.box("mdia", [&] {
      mdhdHdlr(w, a.sampleRate, "soun", "SoundHandler");
      w.box("minf", [&] {
        w.fullBox("smhd", 0, 0, [&] { w.u32(0); });
        dinf(w);
        stbl(w, [&] { mp4a(w, a); });
      });
    });
  });
}

void trex(Writer& w, uint32_t trackId) {
  w.fullBox("trex", 0, 0, [&] { w.u32(trackId), w.u32(1), w.u32(0), w.u32(0), w.u32(0); });
}

constexpr uint32_t kSyncFlags = 0x02000000;     // depends on no other sample
constexpr uint32_t kNonSyncFlags = 0x01010000;  // depends on others, non-sync

// Writes a trun and returns the position of its data_offset field.
size_t trun(Writer& w, const FragmentTrack& t) {
  bool offsets = false, negative = false;
  for (const auto& s : t.samples) {
    offsets = offsets || s.compositionOffset != 0;
    negative = negative || s.compositionOffset < 0;
  }
  const uint32_t flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | (offsets ? 0x000800 : 0);
  size_t offsetField = 0;
  w.fullBox("trun", negative ? 1 : 0, flags, [&] {
    w.u32(static_cast<uint32_t>(t.samples.size()));
    offsetField = w.size();
    w.u32(0);
    for (const auto& s : t.samples) {
      w.u32(s.duration), w.u32(static_cast<uint32_t>(s.bytes.size()));
      w.u32(s.sync ? kSyncFlags : kNonSyncFlags);
      if (offsets) w.u32(static_cast<uint32_t>(s.compositionOffset));
    }
  });
  return offsetField;
}

}  // namespace

std::string initSegment(const std::optional<VideoTrack>& video,
                        const std::optional<AudioTrack>& audio) {
  Writer w;
  ftyp(w);
  const uint32_t nextId = 1 + std::max(video ? video->trackId : 0, audio ? audio->trackId : 0);
  w.box("moov", [&] {
    mvhd(w, nextId);
    if (video) videoTrak(w, *video);
    if (audio) audioTrak(w, *audio);
    w.box("mvex", [&] {
      if (video) trex(w, video->trackId);
      if (audio) trex(w, audio->trackId);
    });
  });
  return std::move(w.str());
}

std::string fragment(uint32_t sequence, const std::vector<FragmentTrack>& tracks) {
  Writer w;
  std::vector<size_t> offsetFields;
  uint64_t dataSize = 0;
  w.box("moof", [&] {
    w.fullBox("mfhd", 0, 0, [&] { w.u32(sequence); });
    for (const auto& t : tracks) {
      w.box("traf", [&] {
        w.fullBox("tfhd", 0, 0x020000, [&] { w.u32(t.trackId); });  // default-base-is-moof
        w.fullBox("tfdt", 1, 0, [&] { w.u64(t.baseDecodeTime); });
        offsetFields.push_back(trun(w, t));
      });
      for (const auto& s : t.samples) dataSize += s.bytes.size();
    }
  });
  const bool large = dataSize + 8 > std::numeric_limits<uint32_t>::max();
  uint64_t offset = w.size() + (large ? 16 : 8);
  for (size_t i = 0; i < tracks.size(); ++i) {
    if (offset > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      throw std::length_error("cmaf fragment: track data beyond trun's 32-bit data_offset");
    }
    w.patch32(offsetFields[i], static_cast<uint32_t>(offset));
    for (const auto& s : tracks[i].samples) offset += s.bytes.size();
  }
  w.u32(large ? 1 : static_cast<uint32_t>(dataSize + 8));
  w.raw("mdat");
  if (large) w.u64(dataSize + 16);
  for (const auto& t : tracks) {
    for (const auto& s : t.samples) w.raw(s.bytes);
  }
  return std::move(w.str());
}

}  // namespace amphi::egress::boxes
