// Test-only media tooling for cmaf_test: runs ffmpeg/ffprobe, splits their H.264 (Annex B)
// and AAC (ADTS) output into the samples GStreamer's appsinks would hand over, and walks
// ISO BMFF boxes. Included by cmaf_test.cpp only.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "egress/cmaf.hpp"

namespace cmaf_test {

namespace fs = std::filesystem;
using amphi::egress::MediaSample;

constexpr int64_t kNs = 1'000'000'000;

// ---- processes and files -------------------------------------------------------------------

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "amphi-cmaf-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs a shell command: stdout captured, stderr through a file in dir.
inline Run run(const std::string& cmd, const fs::path& dir) {
  const fs::path errFile = dir / "stderr.txt";
  FILE* pipe = popen((cmd + " 2>" + errFile.string()).c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  Run r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) r.out.append(buf, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.err = readFile(errFile);
  return r;
}

inline void requireTools() {
  if (std::system("command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1")) {
    throw std::runtime_error("ffmpeg/ffprobe not found on PATH: run scripts/setup.sh");
  }
}

inline void ffmpeg(const std::string& args, const fs::path& dir) {
  const Run r =
      run("cd " + dir.string() + " && ffmpeg -hide_banner -loglevel error -y " + args, dir);
  if (r.status != 0) throw std::runtime_error("ffmpeg " + args + " failed: " + r.err);
}

// ---- elementary streams --------------------------------------------------------------------

struct Video {
  std::string sps, pps;
  std::vector<MediaSample> samples;  // AVC form, keyframe set, timestamps zero
};

inline std::string be32(size_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

inline std::vector<std::string_view> nalUnits(std::string_view b) {
  std::vector<std::string_view> nals;
  size_t start = std::string_view::npos;
  for (size_t i = 0; i + 3 <= b.size(); ++i) {
    if (b[i] != 0 || b[i + 1] != 0 || b[i + 2] != 1) continue;
    if (start != std::string_view::npos) nals.push_back(b.substr(start, i - start));
    start = i + 3, i += 2;
  }
  if (start != std::string_view::npos) nals.push_back(b.substr(start));
  for (auto& n : nals) {
    while (!n.empty() && n.back() == 0) n.remove_suffix(1);  // zero byte of a 4-byte start code
  }
  return nals;
}

// Annex B with AUDs (h264_metadata=aud=insert) → one length-prefixed sample per AUD.
inline Video parseAnnexB(const std::string& data) {
  Video v;
  for (std::string_view nal : nalUnits(data)) {
    const int type = nal[0] & 0x1F;
    if (type == 9) {
      v.samples.emplace_back();
      continue;
    }
    if (v.samples.empty()) throw std::runtime_error("Annex B stream does not start with an AUD");
    if (type == 7 && v.sps.empty()) v.sps = nal;
    if (type == 8 && v.pps.empty()) v.pps = nal;
    v.samples.back().bytes += be32(nal.size()) + std::string(nal);
    v.samples.back().keyframe = v.samples.back().keyframe || type == 5;
  }
  return v;
}

inline void stampVideo(Video& v, int fps) {
  for (size_t n = 0; n < v.samples.size(); ++n) {
    v.samples[n].ptsNs = static_cast<int64_t>(n) * kNs / fps;
    v.samples[n].durationNs = static_cast<int64_t>(n + 1) * kNs / fps - v.samples[n].ptsNs;
  }
}

struct Audio {
  std::string asc;
  uint32_t rate = 0;
  std::vector<MediaSample> samples;  // raw AAC frames, timestamps from the frame index
};

inline Audio parseAdts(const std::string& d) {
  static constexpr uint32_t kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000,  7350};
  Audio a;
  auto at = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(d[i])); };
  for (size_t pos = 0; pos + 7 <= d.size();) {
    if (at(pos) != 0xFF || (at(pos + 1) & 0xF0) != 0xF0) throw std::runtime_error("ADTS sync lost");
    const uint32_t header = (at(pos + 1) & 1) ? 7 : 9, profile = at(pos + 2) >> 6;
    const uint32_t rateIndex = (at(pos + 2) >> 2) & 0xF;
    const uint32_t channels = (at(pos + 2) & 1) << 2 | at(pos + 3) >> 6;
    const size_t len = (at(pos + 3) & 3) << 11 | at(pos + 4) << 3 | at(pos + 5) >> 5;
    if (a.asc.empty()) {
      a.rate = kRates[rateIndex];
      a.asc = {static_cast<char>((profile + 1) << 3 | rateIndex >> 1),
               static_cast<char>((rateIndex & 1) << 7 | channels << 3)};
    }
    const int64_t k = static_cast<int64_t>(a.samples.size());
    MediaSample s{d.substr(pos + header, len - header), k * 1024 * kNs / a.rate, {}, 0, true};
    s.durationNs = (k + 1) * 1024 * kNs / a.rate - s.ptsNs;
    a.samples.push_back(std::move(s));
    pos += len;
  }
  return a;
}

using Fields = std::map<std::string, std::string>;

inline std::vector<Fields> probe(const fs::path& file, const std::string& entries) {
  const Run r =
      run("ffprobe -v error -show_entries " + entries + " -of compact=p=0 " + file.string(),
          file.parent_path());
  if (r.status != 0 || !r.err.empty()) throw std::runtime_error("ffprobe failed: " + r.err);
  std::vector<Fields> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    Fields f;
    std::istringstream items(line);
    for (std::string kv; std::getline(items, kv, '|');) {
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) f[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!f.empty()) rows.push_back(std::move(f));
  }
  return rows;
}

// ---- a tiny box walker ---------------------------------------------------------------------

struct Box {
  std::string type;
  std::string_view body;  // after the header
};

inline uint32_t be(std::string_view b, size_t at, int n = 4) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | static_cast<uint8_t>(b.at(at + i));
  return v;
}

inline std::vector<Box> walk(std::string_view data) {
  std::vector<Box> boxes;
  for (size_t pos = 0; pos < data.size();) {
    const uint32_t size = be(data, pos);
    if (size < 8 || pos + size > data.size()) throw std::runtime_error("bad box size");
    boxes.push_back({std::string(data.substr(pos + 4, 4)), data.substr(pos + 8, size - 8)});
    pos += size;
  }
  return boxes;
}

// Bytes before the child boxes of the containers that have fields first.
inline size_t childSkip(const std::string& type) {
  static const std::map<std::string, size_t> skip{
      {"stsd", 8}, {"dref", 8}, {"avc1", 78}, {"mp4a", 28}};
  auto it = skip.find(type);
  return it == skip.end() ? 0 : it->second;
}

inline std::vector<Box> children(const Box& b) {
  return walk(b.body.substr(childSkip(b.type)));
}

// All boxes at a path of types below `in`, e.g. {"moov", "trak"}.
inline std::vector<Box> find(const std::vector<Box>& in, std::vector<std::string> path) {
  std::vector<Box> level;
  std::copy_if(in.begin(), in.end(), std::back_inserter(level),
               [&](const Box& b) { return b.type == path.front(); });
  path.erase(path.begin());
  if (path.empty()) return level;
  std::vector<Box> out;
  for (const Box& b : level) {
    for (Box& c : find(children(b), path)) out.push_back(c);
  }
  return out;
}

// Returns a copy: callers often pass a temporary vector (the bodies view the original bytes).
inline Box one(const std::vector<Box>& boxes, const char* what) {
  if (boxes.size() != 1) throw std::runtime_error(std::string("expected one ") + what);
  return boxes.front();
}

// trun data offset, sample durations and sample flags (the packager always writes all three).
struct Trun {
  int32_t dataOffset = 0;
  std::vector<uint32_t> durations;
  std::vector<uint32_t> sampleFlags;
};

inline Trun parseTrun(std::string_view body) {
  const uint32_t flags = be(body, 0) & 0xFFFFFF, count = be(body, 4);
  if ((flags & 0x701) != 0x701) throw std::runtime_error("trun without offset/duration/flags");
  Trun t{static_cast<int32_t>(be(body, 8)), {}, {}};
  const size_t entry = 4 * (3 + ((flags & 0x800) ? 1 : 0));
  for (uint32_t i = 0; i < count; ++i) {
    t.durations.push_back(be(body, 12 + i * entry));
    t.sampleFlags.push_back(be(body, 12 + i * entry + 8));
  }
  return t;
}

}  // namespace cmaf_test
