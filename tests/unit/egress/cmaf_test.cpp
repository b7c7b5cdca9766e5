// CMAF packager against real streams: ffmpeg makes H.264 and AAC, the test feeds the packager
// the access units and frames the way GStreamer's appsinks would, and ffprobe/ffmpeg read the
// result back. Missing ffmpeg/ffprobe is a failure, not a skip.
#include "egress/cmaf.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "cmaf_test_media.hpp"

namespace {

using namespace cmaf_test;
using amphi::egress::AudioConfig;
using amphi::egress::CmafOptions;
using amphi::egress::CmafPackager;
using amphi::egress::Part;
using amphi::egress::VideoConfig;

struct Streams {
  Video video;
  Audio audio;
};

// 6 s of 320x240@30 H.264 High (GOP 60, no B-frames) and 48 kHz mono AAC, made once.
const Streams& mainStreams() {
  static const Streams streams = [] {
    requireTools();
    TempDir dir;
    ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=30:duration=6 "
        "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=6 "
        "-map 0:v -c:v libx264 -profile:v high -bf 0 -g 60 -keyint_min 60 -sc_threshold 0 "
        "-bsf:v h264_metadata=aud=insert -f h264 v.h264 "
        "-map 1:a -c:a aac -b:a 64k -f adts a.aac",
        dir.path);
    Streams s{parseAnnexB(readFile(dir.path / "v.h264")), parseAdts(readFile(dir.path / "a.aac"))};
    stampVideo(s.video, 30);
    return s;
  }();
  return streams;
}

VideoConfig videoConfig(const Video& v) {
  return VideoConfig::fromParameterSets(v.sps, v.pps, 320, 240);
}

// ---- packaging and probing -----------------------------------------------------------------

struct Output {
  std::string file;  // init + parts
  std::vector<Part> parts;
  std::vector<size_t> partOffsets;  // into file
};

// Feeds samples in arrival order: dts, audio delayed by audioLagNs, audio first on a tie.
Output package(CmafPackager& p, const std::vector<MediaSample>& video,
               const std::vector<MediaSample>& audio, int64_t audioLagNs = 0) {
  std::vector<std::tuple<int64_t, bool, const MediaSample*>> order;
  for (const auto& s : audio) order.emplace_back(s.dtsNs.value_or(s.ptsNs) + audioLagNs, false, &s);
  for (const auto& s : video) order.emplace_back(s.dtsNs.value_or(s.ptsNs), true, &s);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  Output o{p.initSegment(), {}, {}};
  auto keep = [&](std::optional<Part> part) {
    if (!part) return;
    o.partOffsets.push_back(o.file.size());
    o.file += part->bytes;
    o.parts.push_back(std::move(*part));
  };
  for (const auto& [at, isVideo, s] : order) keep(isVideo ? p.pushVideo(*s) : p.pushAudio(*s));
  keep(p.flush());
  return o;
}

struct Packet {
  int stream = 0;
  int64_t pts = 0, dts = 0, duration = 0, pos = 0;
  bool key = false;
};

std::vector<Packet> packets(const fs::path& file) {
  std::vector<Packet> out;
  for (auto& f : probe(file, "packet=stream_index,pts,dts,duration,pos,flags")) {
    const std::string& d = f.at("duration");
    out.push_back({std::stoi(f.at("stream_index")), std::stoll(f.at("pts")),
                   std::stoll(f.at("dts")), d == "N/A" ? -1 : std::stoll(d),
                   std::stoll(f.at("pos")), f.at("flags").find('K') != std::string::npos});
  }
  return out;
}

std::vector<Packet> ofStream(const std::vector<Packet>& all, int stream) {
  std::vector<Packet> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out),
               [&](const Packet& p) { return p.stream == stream; });
  return out;
}

fs::path writeOut(const TempDir& dir, const Output& o) {
  const fs::path file = dir.path / "out.mp4";
  std::ofstream(file, std::ios::binary) << o.file;
  return file;
}

void expectDecodes(const fs::path& file) {
  const Run r =
      run("ffmpeg -hide_banner -v error -i " + file.string() + " -f null -", file.parent_path());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "") << "decoding " << file << " printed errors";
}

// Each packet lies in a contiguous run: dts steps by the previous duration, no gap.
// ffprobe gives the first packet of an audio-only fragmented file no duration (ffmpeg's own
// fragmented output too): that one must then span as long as the second.
void expectContinuous(const std::vector<Packet>& ps, const char* what) {
  ASSERT_GE(ps.size(), 2u) << what;
  EXPECT_EQ(ps.front().dts, 0) << what << " starts at tick 0";
  const int64_t first = ps[0].duration >= 0 ? ps[0].duration : ps[1].duration;
  ASSERT_EQ(ps[1].dts, first) << what;
  for (size_t i = 2; i < ps.size(); ++i) {
    ASSERT_EQ(ps[i].dts, ps[i - 1].dts + ps[i - 1].duration) << what << " packet " << i;
  }
}

// Index of the part whose bytes hold file position pos.
size_t partAt(const Output& o, int64_t pos) {
  auto it = std::upper_bound(o.partOffsets.begin(), o.partOffsets.end(), static_cast<size_t>(pos));
  if (it == o.partOffsets.begin()) throw std::runtime_error("packet inside the init segment");
  return static_cast<size_t>(it - o.partOffsets.begin()) - 1;
}

void expectInvalid(const std::function<void()>& make, const std::string& says) {
  try {
    make();
    ADD_FAILURE() << "no exception; expected one saying '" << says << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

// ---- LL-HLS cutting checks shared by the muxed tests ---------------------------------------

// Numbering, independence, part and segment durations, against the packets ffprobe read.
void expectCuts(const Output& o, const std::vector<Packet>& video, const CmafOptions& opt,
                double frame) {
  ASSERT_FALSE(o.parts.empty());
  EXPECT_EQ(o.parts.front().msn, opt.firstMsn);
  EXPECT_EQ(o.parts.front().index, opt.firstPart);
  EXPECT_TRUE(o.parts.back().endsSegment);
  std::map<uint64_t, double> segments;
  std::vector<int64_t> partTicks(o.parts.size(), 0);
  std::vector<const Packet*> firstVideo(o.parts.size(), nullptr);
  for (const Packet& p : video) {
    const size_t k = partAt(o, p.pos);
    partTicks[k] += p.duration;
    if (!firstVideo[k]) firstVideo[k] = &p;
  }
  for (size_t k = 0; k < o.parts.size(); ++k) {
    const Part& part = o.parts[k];
    SCOPED_TRACE("part " + std::to_string(k));
    if (k > 0) {
      const Part& prev = o.parts[k - 1];
      EXPECT_EQ(part.msn, prev.msn + (prev.endsSegment ? 1 : 0));
      EXPECT_EQ(part.index, prev.endsSegment ? 0 : prev.index + 1);
    }
    ASSERT_NE(firstVideo[k], nullptr) << "part without video";
    EXPECT_EQ(part.independent, firstVideo[k]->key);
    if (k == 0 || o.parts[k - 1].endsSegment) {
      EXPECT_TRUE(firstVideo[k]->key) << "segment start";
    }
    EXPECT_NEAR(part.duration, partTicks[k] / 90000.0, 1e-9);
    EXPECT_LE(part.duration, 1.0 + 1e-9);
    if (k + 1 < o.parts.size()) {
      EXPECT_GE(part.duration, opt.partTarget - frame - 1e-9);
    }
    segments[part.msn] += part.duration;
  }
  for (auto it = segments.begin(); std::next(it) != segments.end(); ++it) {
    EXPECT_NEAR(it->second, opt.segmentTarget, frame + 1e-9) << "segment " << it->first;
  }
}

// Every audio packet sits in the part whose video time range covers its dts (last part:
// everything left). Ranges compared exactly: audio ticks · 90000 vs video ticks · 48000.
void expectAudioPlacement(const Output& o, const std::vector<Packet>& video,
                          const std::vector<Packet>& audio) {
  std::vector<int64_t> start(o.parts.size(), -1), end(o.parts.size(), 0);
  for (const Packet& p : video) {
    const size_t k = partAt(o, p.pos);
    if (start[k] < 0) start[k] = p.dts;
    end[k] = p.dts + p.duration;
  }
  for (const Packet& a : audio) {
    const size_t k = partAt(o, a.pos);
    EXPECT_GE(a.dts * 90000, start[k] * 48000) << "audio dts " << a.dts << " in part " << k;
    if (k + 1 < o.parts.size()) {
      EXPECT_LT(a.dts * 90000, end[k] * 48000) << "audio dts " << a.dts << " in part " << k;
    }
  }
}

}  // namespace

// ---- tests ---------------------------------------------------------------------------------

TEST(CmafPackager, MuxedStreamReadsBackInFfprobe) {
  const Streams& s = mainStreams();
  ASSERT_EQ(s.video.samples.size(), 180u) << "6 s at 30 fps from ffmpeg";
  CmafOptions opt;
  opt.firstMsn = 7;
  CmafPackager p(videoConfig(s.video), AudioConfig{s.audio.asc}, opt);
  const Output o = package(p, s.video.samples, s.audio.samples);
  EXPECT_EQ(p.droppedSamples(), 0u);
  TempDir dir;
  const fs::path file = writeOut(dir, o);

  const auto streams =
      probe(file, "stream=index,codec_name,width,height,sample_rate,channels,time_base");
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].at("codec_name"), "h264");
  EXPECT_EQ(streams[0].at("width") + "x" + streams[0].at("height"), "320x240");
  EXPECT_EQ(streams[0].at("time_base"), "1/90000");
  EXPECT_EQ(streams[1].at("codec_name"), "aac");
  EXPECT_EQ(streams[1].at("sample_rate"), "48000");
  EXPECT_EQ(streams[1].at("channels"), "1");

  const auto all = packets(file);
  const auto video = ofStream(all, 0), audio = ofStream(all, 1);
  ASSERT_EQ(video.size(), s.video.samples.size());
  ASSERT_EQ(audio.size(), s.audio.samples.size());
  expectContinuous(video, "video");
  expectContinuous(audio, "audio");
  for (size_t i = 0; i < video.size(); ++i) {
    EXPECT_EQ(video[i].pts, static_cast<int64_t>(3000 * i)) << "frame " << i;
    EXPECT_EQ(video[i].key, s.video.samples[i].keyframe) << "frame " << i;
  }
  EXPECT_EQ(video.back().dts + video.back().duration, 180 * 3000);
  EXPECT_EQ(audio.back().dts + audio.back().duration,
            static_cast<int64_t>(1024 * s.audio.samples.size()));
  expectCuts(o, video, opt, 1.0 / 30);
  expectAudioPlacement(o, video, audio);
  EXPECT_EQ(o.parts.size(), 12u) << "0.5 s parts over 6 s";
  EXPECT_EQ(o.parts.back().msn, opt.firstMsn + 2) << "three 2 s segments";
  for (size_t k = 0; k < o.parts.size(); ++k) {
    const auto& first = s.video.samples[15 * k];  // 15 frames per part at 30 fps
    EXPECT_EQ(o.parts[k].firstPtsNs, first.ptsNs);
  }
  expectDecodes(file);
}

// Audio arriving early waits for the part that covers it; audio arriving late goes into the
// next open part. Either way nothing is lost and the timeline has no gap.
TEST(CmafPackager, AudioAheadOrBehindVideoKeepsItsTimeline) {
  const Streams& s = mainStreams();
  for (const int64_t lagNs : {-150'000'000, 150'000'000}) {
    SCOPED_TRACE("audio arrives " + std::to_string(lagNs / 1'000'000) + " ms after its video");
    CmafPackager p(videoConfig(s.video), AudioConfig{s.audio.asc});
    const Output o = package(p, s.video.samples, s.audio.samples, lagNs);
    TempDir dir;
    const auto all = packets(writeOut(dir, o));
    const auto audio = ofStream(all, 1), video = ofStream(all, 0);
    ASSERT_EQ(audio.size(), s.audio.samples.size());
    expectContinuous(audio, "audio");
    expectContinuous(video, "video");
    if (lagNs < 0) expectAudioPlacement(o, video, audio);
    expectDecodes(dir.path / "out.mp4");
  }
}

TEST(CmafPackager, FragmentsNumberAndChainDecodeTimes) {
  const Streams& s = mainStreams();
  CmafPackager p(videoConfig(s.video), AudioConfig{s.audio.asc});
  const Output o = package(p, s.video.samples, s.audio.samples);
  std::map<uint32_t, uint64_t> next;  // track id → expected tfdt
  size_t videoIndex = 0;
  for (size_t i = 0; i < o.parts.size(); ++i) {
    SCOPED_TRACE("part " + std::to_string(i));
    const auto top = walk(o.parts[i].bytes);
    ASSERT_EQ(top.size(), 2u);
    ASSERT_EQ(top[0].type + top[1].type, "moofmdat");
    EXPECT_EQ(be(one(find(top, {"moof", "mfhd"}), "mfhd").body, 4), i + 1);
    const size_t moofSize = top[0].body.size() + 8;
    const auto trafs = find(top, {"moof", "traf"});
    ASSERT_EQ(trafs.size(), 2u) << "video and audio in every part";
    for (size_t t = 0; t < trafs.size(); ++t) {
      const Box tfhd = one(find({trafs[t]}, {"traf", "tfhd"}), "tfhd");
      EXPECT_EQ(be(tfhd.body, 0) & 0x020000, 0x020000u) << "default-base-is-moof";
      const uint32_t id = be(tfhd.body, 4);
      const Box tfdt = one(find({trafs[t]}, {"traf", "tfdt"}), "tfdt");
      ASSERT_EQ(be(tfdt.body, 0) >> 24, 1u);
      uint64_t base = uint64_t{be(tfdt.body, 4)} << 32 | be(tfdt.body, 8);
      EXPECT_EQ(base, next.count(id) ? next[id] : 0) << "track " << id;
      const Trun trun = parseTrun(one(find({trafs[t]}, {"traf", "trun"}), "trun").body);
      if (t == 0) {
        EXPECT_EQ(trun.dataOffset, static_cast<int32_t>(moofSize + 8));
      }
      EXPECT_LT(static_cast<size_t>(trun.dataOffset), o.parts[i].bytes.size());
      for (uint32_t d : trun.durations) base += d;
      next[id] = base;
      for (uint32_t f : trun.sampleFlags) {  // is_non_sync_sample, only on video delta frames
        const bool key = id == 2 || s.video.samples.at(videoIndex++).keyframe;
        EXPECT_EQ((f & 0x10000) == 0, key) << "track " << id;
      }
    }
  }
  EXPECT_EQ(videoIndex, s.video.samples.size());
  EXPECT_EQ(next[1], 180u * 3000);
  EXPECT_EQ(next[2], 1024u * s.audio.samples.size());
}

TEST(CmafInit, BoxLayout) {
  const Streams& s = mainStreams();
  const VideoConfig vc = videoConfig(s.video);
  CmafPackager p(vc, AudioConfig{s.audio.asc});
  const auto top = walk(p.initSegment());
  ASSERT_EQ(top.size(), 2u);
  ASSERT_EQ(top[0].type + top[1].type, "ftypmoov");
  EXPECT_EQ(top[0].body.substr(0, 4), "iso6");
  for (const char* brand : {"iso6", "cmfc", "mp41", "dash"}) {
    EXPECT_NE(top[0].body.substr(8).find(brand), std::string_view::npos) << brand;
  }
  std::string moov;
  for (const Box& b : children(top[1])) moov += b.type + " ";
  EXPECT_EQ(moov, "mvhd trak trak mvex ");
  const auto traks = find(top, {"moov", "trak"});
  auto in = [&](size_t t, std::vector<std::string> path) {
    path.insert(path.begin(), "trak");
    return one(find({traks[t]}, path), path.back().c_str());
  };
  EXPECT_EQ(be(in(0, {"tkhd"}).body, 12), 1u);
  EXPECT_EQ(be(in(0, {"mdia", "mdhd"}).body, 12), 90000u);
  EXPECT_EQ(in(0, {"mdia", "hdlr"}).body.substr(8, 4), "vide");
  const Box avc1 = in(0, {"mdia", "minf", "stbl", "stsd", "avc1"});
  EXPECT_EQ(be(avc1.body, 24, 2), 320u);
  EXPECT_EQ(be(avc1.body, 26, 2), 240u);
  EXPECT_EQ(in(0, {"mdia", "minf", "stbl", "stsd", "avc1", "avcC"}).body, vc.avcC);
  EXPECT_EQ(be(in(1, {"tkhd"}).body, 12), 2u);
  EXPECT_EQ(be(in(1, {"mdia", "mdhd"}).body, 12), 48000u);
  EXPECT_EQ(in(1, {"mdia", "hdlr"}).body.substr(8, 4), "soun");
  const Box mp4a = in(1, {"mdia", "minf", "stbl", "stsd", "mp4a"});
  EXPECT_EQ(be(mp4a.body, 16, 2), 1u);
  EXPECT_EQ(be(mp4a.body, 24) >> 16, 48000u);
  const Box esds = in(1, {"mdia", "minf", "stbl", "stsd", "mp4a", "esds"});
  EXPECT_NE(esds.body.find(s.audio.asc), std::string_view::npos);
  const auto trex = find(top, {"moov", "mvex", "trex"});
  ASSERT_EQ(trex.size(), 2u);
  EXPECT_EQ(be(trex[0].body, 4), 1u);
  EXPECT_EQ(be(trex[1].body, 4), 2u);
  char hex[7];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x", be(s.video.sps, 1, 1), be(s.video.sps, 2, 1),
                be(s.video.sps, 3, 1));
  EXPECT_EQ(p.codecs(), std::string("avc1.") + hex + ",mp4a.40.2");
}

TEST(CmafPackager, BFramesKeepPresentationTimes) {
  requireTools();
  TempDir dir;
  ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=30:duration=4 -c:v libx264 -bf 2 -g 60 "
      "-keyint_min 60 -sc_threshold 0 in.mp4",
      dir.path);
  ffmpeg("-i in.mp4 -c:v copy -bsf:v h264_mp4toannexb,h264_metadata=aud=insert -f h264 v.h264",
         dir.path);
  Video v = parseAnnexB(readFile(dir.path / "v.h264"));
  const auto times = probe(dir.path / "in.mp4", "packet=pts,dts -select_streams v:0");
  const auto tb = probe(dir.path / "in.mp4", "stream=time_base -select_streams v:0");
  ASSERT_EQ(times.size(), v.samples.size());
  const std::string base = tb.at(0).at("time_base");
  const long double nsPerTick =
      1e9L * std::stoll(base) / std::stoll(base.substr(base.find('/') + 1));
  bool reordered = false;
  for (size_t i = 0; i < times.size(); ++i) {
    v.samples[i].ptsNs = std::llround(std::stoll(times[i].at("pts")) * nsPerTick);
    v.samples[i].dtsNs = std::llround(std::stoll(times[i].at("dts")) * nsPerTick);
    reordered = reordered || v.samples[i].ptsNs != v.samples[i].dtsNs;
  }
  ASSERT_TRUE(reordered) << "ffmpeg made no B-frames";
  CmafPackager p(videoConfig(v), std::nullopt);
  const Output o = package(p, v.samples, {});
  const auto out = packets(writeOut(dir, o));
  ASSERT_EQ(out.size(), v.samples.size());
  expectContinuous(out, "video");
  const int64_t origin = *v.samples[0].dtsNs;
  std::vector<int64_t> shown;
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t expected = std::llround((v.samples[i].ptsNs - origin) * 90000.0L / 1e9L);
    EXPECT_EQ(out[i].pts, expected) << "packet " << i;
    shown.push_back(out[i].pts);
  }
  std::sort(shown.begin(), shown.end());
  for (size_t i = 1; i < shown.size(); ++i) ASSERT_EQ(shown[i] - shown[i - 1], 3000);
  expectDecodes(dir.path / "out.mp4");
}

TEST(CmafPackager, LateKeyframeGrowsSegmentEarlyOneCutsNothing) {
  requireTools();
  TempDir dir;
  ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=30:duration=6 -c:v libx264 -bf 0 -g 300 "
      "-keyint_min 1 -sc_threshold 0 -forced-idr 1 "
      "-force_key_frames 'expr:eq(n,0)+eq(n,75)+eq(n,100)+eq(n,150)' "
      "-bsf:v h264_metadata=aud=insert -f h264 v.h264",
      dir.path);
  Video v = parseAnnexB(readFile(dir.path / "v.h264"));
  stampVideo(v, 30);
  std::vector<int64_t> keys;
  for (size_t i = 0; i < v.samples.size(); ++i) {
    if (v.samples[i].keyframe) keys.push_back(static_cast<int64_t>(i));
  }
  ASSERT_EQ(keys, (std::vector<int64_t>{0, 75, 100, 150})) << "ffmpeg placed other keyframes";
  CmafPackager p(videoConfig(v), std::nullopt);
  const Output o = package(p, v.samples, {});
  std::vector<int64_t> segmentStarts;
  std::map<uint64_t, double> segments;
  for (size_t k = 0; k < o.parts.size(); ++k) {
    const int64_t frame = (o.parts[k].firstPtsNs * 30 + kNs / 2) / kNs;
    if (k == 0 || o.parts[k - 1].endsSegment) segmentStarts.push_back(frame);
    EXPECT_EQ(o.parts[k].independent, v.samples[frame].keyframe) << "part at frame " << frame;
    EXPECT_LE(o.parts[k].duration, 1.0);
    segments[o.parts[k].msn] += o.parts[k].duration;
  }
  EXPECT_EQ(segmentStarts, (std::vector<int64_t>{0, 75, 150}));
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_NEAR(segments[0], 2.5, 1e-9);
  EXPECT_NEAR(segments[1], 2.5, 1e-9);
  EXPECT_NEAR(segments[2], 1.0, 1e-9);
  const auto out = packets(writeOut(dir, o));
  EXPECT_EQ(out.size(), v.samples.size());
  expectDecodes(dir.path / "out.mp4");
}

TEST(CmafPackager, AudioOnlyCutsByDuration) {
  const Streams& s = mainStreams();
  CmafPackager p(std::nullopt, AudioConfig{s.audio.asc});
  EXPECT_EQ(p.codecs(), "mp4a.40.2");
  EXPECT_EQ(p.audioSampleRate(), 48000u);
  EXPECT_EQ(p.audioChannels(), 1u);
  const auto init = walk(p.initSegment());
  EXPECT_EQ(find(init, {"moov", "trak"}).size(), 1u);
  EXPECT_EQ(be(one(find(init, {"moov", "mvex", "trex"}), "trex").body, 4), 1u);
  const Output o = package(p, {}, s.audio.samples);
  const double frame = 1024.0 / 48000;
  std::map<uint64_t, double> segments;
  for (size_t k = 0; k < o.parts.size(); ++k) {
    EXPECT_TRUE(o.parts[k].independent);
    if (k + 1 < o.parts.size()) {
      EXPECT_GE(o.parts[k].duration, 0.5);
      EXPECT_LT(o.parts[k].duration, 0.5 + frame);
    }
    segments[o.parts[k].msn] += o.parts[k].duration;
  }
  ASSERT_GE(segments.size(), 2u);
  for (auto it = segments.begin(); std::next(it) != segments.end(); ++it) {
    EXPECT_GE(it->second, 2.0);
    EXPECT_LT(it->second, 2.0 + o.parts.front().duration);
  }
  TempDir dir;
  const auto out = packets(writeOut(dir, o));
  ASSERT_EQ(out.size(), s.audio.samples.size());
  expectContinuous(out, "audio");
  expectDecodes(dir.path / "out.mp4");
}

TEST(CmafPackager, DropsWhatItCannotPackage) {
  const Streams& s = mainStreams();
  const auto& v = s.video.samples;
  CmafPackager p(videoConfig(s.video), std::nullopt);
  for (size_t i = 1; i <= 3; ++i) EXPECT_FALSE(p.pushVideo(v[i]));  // before any keyframe
  EXPECT_EQ(p.droppedSamples(), 3u);
  EXPECT_FALSE(p.pushVideo(v[0]));
  EXPECT_FALSE(p.pushVideo(v[0]));  // dts not after the previous one
  MediaSample broken = v[1];
  broken.bytes[0] = '\x7f';  // NAL length far past the end
  EXPECT_FALSE(p.pushVideo(broken));
  MediaSample empty = v[1];
  empty.bytes.clear();
  EXPECT_FALSE(p.pushVideo(empty));
  EXPECT_EQ(p.droppedSamples(), 6u);
  EXPECT_FALSE(p.pushVideo(v[1]));
  const std::optional<Part> part = p.flush();
  ASSERT_TRUE(part);
  const auto trun = parseTrun(one(find(walk(part->bytes), {"moof", "traf", "trun"}), "trun").body);
  EXPECT_EQ(trun.durations, (std::vector<uint32_t>{3000, 3000}));
  EXPECT_FALSE(p.flush()) << "nothing left";
  EXPECT_THROW(p.pushAudio(s.audio.samples[0]), std::logic_error);
}

TEST(CmafConfig, RejectsMalformedCodecDataWithReasons) {
  const Streams& s = mainStreams();
  const std::string avcC = videoConfig(s.video).avcC;
  const size_t spsEnd = 8 + s.video.sps.size();
  auto video = [](std::string c, uint32_t w = 320) {
    return [c, w] { CmafPackager(VideoConfig{c, w, 240}, std::nullopt); };
  };
  auto audio = [](std::string asc) {
    return [asc] { CmafPackager(std::nullopt, AudioConfig{asc}); };
  };
  expectInvalid(video(avcC.substr(0, 5)), "at least 7");
  expectInvalid(video(std::string("\0\0\0\1", 4) + s.video.sps), "configurationVersion 0");
  std::string longSps = avcC;
  longSps[6] = '\x7f';
  expectInvalid(video(longSps), "runs past the end");
  expectInvalid(video(avcC.substr(0, spsEnd)), "before the PPS count");
  expectInvalid(video(avcC.substr(0, spsEnd) + '\0'), "no PPS");
  expectInvalid(video(avcC, 0), "size 0x240");
  expectInvalid([&] { VideoConfig::fromParameterSets(s.video.pps, s.video.pps, 1, 1); },
                "SPS has NAL type 8");
  expectInvalid([&] { VideoConfig::fromParameterSets(s.video.sps, s.video.sps, 1, 1); },
                "PPS has NAL type 7");
  expectInvalid(audio(""), "AudioSpecificConfig codec_data: truncated");
  expectInvalid(audio("\x16\x88"), "reserved sampling frequency index 13");
  expectInvalid(audio(std::string("\x11\x80", 2)), "channel configuration 0");
  expectInvalid([] { CmafPackager(std::nullopt, std::nullopt); }, "neither");
  CmafOptions opt;
  opt.partTarget = 1.5;
  expectInvalid([&] { CmafPackager(std::nullopt, AudioConfig{"\x11\x88"}, opt); }, "partTarget");
  opt.partTarget = 0.5, opt.segmentTarget = 0.2;
  expectInvalid([&] { CmafPackager(std::nullopt, AudioConfig{"\x11\x88"}, opt); }, "segmentTarget");
}
