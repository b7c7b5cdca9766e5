// The egress media graph: composes a room's stage (publishers forwarded by Janus as RTP, or
// a test source) into one H.264 + AAC rendition and hands out encoded samples.
//
// Threads: every GraphListener callback comes on a GStreamer thread (video and audio
// samples on their sinks' streaming threads, keyframe requests on a publisher's streaming
// thread, errors on the graph's bus thread). A listener copies what it needs and posts it to
// its own executor; it must not call back into the Graph from a callback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace amphi::egress {

struct EncodedSample {
  std::string bytes;  // video: one access unit, AVC (length-prefixed); audio: one raw AAC frame
  std::int64_t ptsNs = 0, dtsNs = 0, durationNs = 0;  // pipeline running time
  bool keyframe = false;                              // always true for audio
};

struct GraphOptions {
  std::string room;  // named in log lines
  int width = 1280, height = 720, fps = 30;
  int videoKbps = 2500, audioKbps = 128;
  double segmentSeconds = 2.0;           // a keyframe is forced at every multiple of this (in pts)
  std::string title;                     // drawn once on the slate behind the publishers
  bool testSource = false;               // test pattern + burned-in wall clock + 440 Hz tone
  std::string rtpAddress = "127.0.0.1";  // where publisher RTP is received
};

struct PublisherInput {
  std::string id;
  std::string display;
  int videoPort = 0;               // 0: no video
  std::string videoCodec = "vp8";  // "vp8" or "h264"
  int videoPt = 96;
  int audioPort = 0;  // 0: no audio (Opus otherwise)
  int audioPt = 111;
};

class GraphListener {
 public:
  virtual ~GraphListener() = default;
  // avcC (h264parse codec_data, stream-format=avc, alignment=au); again if it ever changes.
  virtual void onVideoConfig(std::string avcC, int width, int height) = 0;
  // AudioSpecificConfig of the raw AAC stream.
  virtual void onAudioConfig(std::string asc, int sampleRate, int channels) = 0;
  virtual void onVideo(EncodedSample sample) = 0;
  virtual void onAudio(EncodedSample sample) = 0;
  // A publisher's decoder must resync (loss, or no keyframe yet): send Janus an RTCP PLI.
  // At most one call per publisher per 500 ms.
  virtual void onKeyframeNeeded(const std::string& publisherId) = 0;
  // The output chain failed (the broadcast cannot go on). A failing publisher chain (port
  // taken, undecodable stream) is only logged: its tile freezes, the output goes on.
  virtual void onError(std::string what) = 0;
};

class Graph {
 public:
  virtual ~Graph() = default;  // stops without draining when still running

  // Builds the graph; throws std::runtime_error naming the step that failed (a missing
  // GStreamer element, for instance). Initialises GStreamer on first use.
  static std::unique_ptr<Graph> create(GraphOptions options, GraphListener& listener);

  virtual void start() = 0;  // throws std::runtime_error when the pipeline will not play
  // Sends EOS into the encoders and waits (at most ~3 s) until the last samples are out.
  virtual void stop() = 0;

  // While playing; the output never pauses for it. Throws std::runtime_error on a duplicate
  // id, bad input or a chain that does not start (e.g. its RTP port is taken: ports are
  // never shared). The first publisher added is the speaker until someone else talks louder.
  virtual void addPublisher(const PublisherInput& input) = 0;
  virtual void removePublisher(const std::string& id) = 0;  // unknown ids are ignored

  // Unix time in ms that pts 0 corresponds to: capture time = this + pts.
  virtual std::int64_t wallClockMsAtZero() const = 0;
  // The publisher currently shown large; empty when none.
  virtual std::string speaker() const = 0;
};

}  // namespace amphi::egress
