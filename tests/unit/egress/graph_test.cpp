// Real GStreamer, no mocks: the test source end to end, and publishers sent as RTP by a
// gst-launch-1.0 child (what Janus' rtp_forward does), decoded back with ffmpeg.
#include "egress/graph.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace amphi::egress {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr std::int64_t kSecond = 1'000'000'000;

struct Received {
  EncodedSample sample;
  Clock::time_point at;
};

class Recorder : public GraphListener {
 public:
  void onVideoConfig(std::string avcC, int width, int height) override {
    std::lock_guard lock(mu);
    videoConfigs.push_back(avcC);
    videoWidth = width;
    videoHeight = height;
  }
  void onAudioConfig(std::string asc, int sampleRate, int channels) override {
    std::lock_guard lock(mu);
    audioConfigs.push_back(asc);
    audioRate = sampleRate;
    audioChannels = channels;
  }
  void onVideo(EncodedSample s) override {
    std::lock_guard lock(mu);
    video.push_back({std::move(s), Clock::now()});
  }
  void onAudio(EncodedSample s) override {
    std::lock_guard lock(mu);
    audio.push_back({std::move(s), Clock::now()});
  }
  void onKeyframeNeeded(const std::string& id) override {
    std::lock_guard lock(mu);
    keyframeRequests.push_back({id, Clock::now()});
  }
  void onError(std::string what) override {
    std::lock_guard lock(mu);
    errors.push_back(std::move(what));
  }
  std::size_t videoCount() {
    std::lock_guard lock(mu);
    return video.size();
  }
  std::size_t keyframeRequestCount(const std::string& id) {
    std::lock_guard lock(mu);
    return std::count_if(keyframeRequests.begin(), keyframeRequests.end(),
                         [&](const auto& r) { return r.first == id; });
  }

  std::mutex mu;
  std::vector<std::string> videoConfigs, audioConfigs, errors;
  int videoWidth = 0, videoHeight = 0, audioRate = 0, audioChannels = 0;
  std::vector<Received> video, audio;
  std::vector<std::pair<std::string, Clock::time_point>> keyframeRequests;
};

// A child process (gst-launch-1.0 or ffmpeg); interrupted and reaped on destruction.
class Child {
 public:
  explicit Child(const std::string& commandLine) {
    std::istringstream in(commandLine);
    for (std::string word; in >> word;) words_.push_back(word);
    std::vector<char*> argv;
    for (auto& w : words_) argv.push_back(w.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    for (int i = 0; i < 40 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(50ms);
    if (kill(pid_, 0) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  bool running() const { return pid_ > 0; }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  std::vector<std::string> words_;
  pid_t pid_ = -1;
};

// A UDP socket bound to a free loopback port; the port stays taken while it lives.
class UdpPort {
 public:
  UdpPort() : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~UdpPort() { close(fd_); }
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

int freeUdpPort() {
  return UdpPort().port();
}

// One publisher as Janus would forward it: VP8 or H.264 (pattern, keyframe every `keyDist`
// frames) and Opus (sine at `volume`).
std::string sender(int videoPort, int audioPort, const char* pattern, int keyDist, double volume,
                   bool h264 = false) {
  std::ostringstream s;
  s << "gst-launch-1.0 -q videotestsrc is-live=true pattern=" << pattern
    << " ! video/x-raw,width=320,height=240,framerate=15/1 ! ";
  if (h264) {
    s << "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=" << keyDist
      << " ! rtph264pay pt=96 config-interval=-1";
  } else {
    s << "vp8enc deadline=1 keyframe-max-dist=" << keyDist << " ! rtpvp8pay pt=96";
  }
  s << " ! udpsink host=127.0.0.1 port=" << videoPort
    << " audiotestsrc is-live=true wave=sine freq=660 volume=" << volume
    << " ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! "
    << "udpsink host=127.0.0.1 port=" << audioPort;
  return s.str();
}

PublisherInput publisher(const std::string& id, int videoPort, int audioPort) {
  PublisherInput in;
  in.id = id;
  in.display = "Test " + id;
  in.videoPort = videoPort;
  in.audioPort = audioPort;
  return in;
}

constexpr int kGrayW = 32, kGrayH = 18;  // decoded frames are scaled down to this
using Gray = std::vector<unsigned char>;

// Mean luma (0..255) of columns [x0, x1) and rows [y0, y1) of a scaled-down frame.
double meanOf(const Gray& frame, int x0, int y0, int x1, int y1) {
  double sum = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) sum += frame[std::size_t(y * kGrayW + x)];
  return sum / double((x1 - x0) * (y1 - y0));
}

// Decodes the AVC samples (from the first, a keyframe) with ffmpeg into kGrayW x kGrayH luma
// frames, in order.
std::vector<Gray> decodeGray(const std::string& avcC, const std::vector<Received>& video) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("graph_test_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream out(dir / "in.h264", std::ios::binary);
  const char startCode[] = {0, 0, 0, 1};
  std::size_t at = 6;  // avcC: SPS count at 5, then (len16, SPS)*, PPS count, (len16, PPS)*
  for (int table = 0; table < 2; ++table) {
    const int count = static_cast<unsigned char>(avcC[at - 1]) & (table == 0 ? 0x1f : 0xff);
    for (int i = 0; i < count; ++i) {
      const std::size_t len =
          (static_cast<unsigned char>(avcC[at]) << 8) | static_cast<unsigned char>(avcC[at + 1]);
      out.write(startCode, 4).write(avcC.data() + at + 2, static_cast<std::streamsize>(len));
      at += 2 + len;
    }
    at += 1;
  }
  for (const auto& r : video) {
    const std::string& b = r.sample.bytes;
    for (std::size_t p = 0; p + 4 <= b.size();) {
      const std::size_t len = (std::size_t(std::uint8_t(b[p])) << 24) |
                              (std::size_t(std::uint8_t(b[p + 1])) << 16) |
                              (std::size_t(std::uint8_t(b[p + 2])) << 8) | std::uint8_t(b[p + 3]);
      out.write(startCode, 4).write(b.data() + p + 4, static_cast<std::streamsize>(len));
      p += 4 + len;
    }
  }
  out.close();
  Child ffmpeg("ffmpeg -v error -y -f h264 -i " + (dir / "in.h264").string() +
               " -fps_mode passthrough -vf scale=" + std::to_string(kGrayW) + ":" +
               std::to_string(kGrayH) + " -pix_fmt gray -f rawvideo " +
               (dir / "out.gray").string());
  EXPECT_EQ(ffmpeg.wait(), 0);
  std::ifstream in(dir / "out.gray", std::ios::binary);
  std::vector<Gray> frames;
  Gray frame(std::size_t(kGrayW * kGrayH));
  while (in.read(reinterpret_cast<char*>(frame.data()), std::streamsize(frame.size())))
    frames.push_back(frame);
  fs::remove_all(dir);
  return frames;
}

// Largest gap between consecutive arrivals, in ms, and when it ended.
std::pair<std::int64_t, Clock::time_point> largestGap(const std::vector<Received>& rs) {
  std::pair<std::int64_t, Clock::time_point> gap{0, {}};
  for (std::size_t i = 1; i < rs.size(); ++i) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(rs[i].at - rs[i - 1].at).count();
    if (ms > gap.first) gap = {ms, rs[i].at};
  }
  return gap;
}

std::int64_t msBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// Index of the last sample that arrived before `t`.
std::size_t indexBefore(const std::vector<Received>& rs, Clock::time_point t) {
  std::size_t i = 0;
  while (i + 1 < rs.size() && rs[i + 1].at < t) ++i;
  return i;
}

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

GraphOptions testOptions(int width, int height) {
  GraphOptions o;
  o.room = "graph-test";
  o.width = width;
  o.height = height;
  o.fps = 30;
  o.segmentSeconds = 1.0;
  o.title = "Graph test";
  return o;
}

TEST(Graph, RejectsBadOptions) {
  Recorder rec;
  GraphOptions odd = testOptions(641, 360);
  EXPECT_THROW(Graph::create(odd, rec), std::runtime_error);
  GraphOptions badAddress = testOptions(640, 360);
  badAddress.rtpAddress = "127.0.0.1 ! fakesink";
  EXPECT_THROW(Graph::create(badAddress, rec), std::runtime_error);
}

TEST(Graph, TestSourceMakesH264AndAacWithKeyframesOnSegmentBoundaries) {
  Recorder rec;
  GraphOptions o = testOptions(640, 360);
  o.testSource = true;
  o.videoKbps = 300;
  auto graph = Graph::create(o, rec);
  const auto before = std::chrono::system_clock::now();
  graph->start();
  const auto after = std::chrono::system_clock::now();
  std::this_thread::sleep_for(4s);
  const auto stopAt = Clock::now();
  graph->stop();
  EXPECT_LT(Clock::now() - stopAt, 4s);

  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  EXPECT_GE(graph->wallClockMsAtZero(),
            duration_cast<milliseconds>(before.time_since_epoch()).count());
  EXPECT_LE(graph->wallClockMsAtZero(),
            duration_cast<milliseconds>(after.time_since_epoch()).count());

  std::lock_guard lock(rec.mu);
  EXPECT_TRUE(rec.errors.empty()) << rec.errors.front();
  ASSERT_EQ(rec.videoConfigs.size(), 1u);
  ASSERT_GE(rec.videoConfigs[0].size(), 7u);
  EXPECT_EQ(rec.videoConfigs[0][0], '\x01');  // avcC configurationVersion
  EXPECT_EQ(rec.videoWidth, 640);
  EXPECT_EQ(rec.videoHeight, 360);
  ASSERT_EQ(rec.audioConfigs.size(), 1u);
  ASSERT_GE(rec.audioConfigs[0].size(), 2u);
  EXPECT_EQ(std::uint8_t(rec.audioConfigs[0][0]) >> 3, 2);  // audioObjectType: AAC LC
  EXPECT_EQ(rec.audioRate, 48000);
  EXPECT_EQ(rec.audioChannels, 2);

  // ~30 frames/s, dts strictly increasing, one frame apart.
  ASSERT_GT(rec.video.size(), 100u);
  EXPECT_LT(rec.video.size(), 135u);
  ASSERT_TRUE(rec.video.front().sample.keyframe);
  std::vector<std::int64_t> keyPts;
  for (std::size_t i = 0; i < rec.video.size(); ++i) {
    const EncodedSample& s = rec.video[i].sample;
    if (s.keyframe) keyPts.push_back(s.ptsNs);
    if (i == 0) continue;
    const EncodedSample& prev = rec.video[i - 1].sample;
    EXPECT_GT(s.dtsNs, prev.dtsNs);
    EXPECT_NEAR(double(s.ptsNs - prev.ptsNs), kSecond / 30.0, 1e6) << "frame " << i;
  }
  // A keyframe at every whole second (± one frame) and nowhere else.
  const std::int64_t lastPts = rec.video.back().sample.ptsNs;
  EXPECT_GE(lastPts, 3 * kSecond);
  EXPECT_EQ(keyPts.size(), std::size_t(lastPts / kSecond + 1));
  for (std::int64_t pts : keyPts) {
    const std::int64_t offset = (pts + kSecond / 2) % kSecond - kSecond / 2;
    EXPECT_LE(std::abs(offset), kSecond / 30) << "keyframe at " << pts;
  }

  // AAC: 1024 samples per frame at 48 kHz, contiguous.
  const double seconds = double(lastPts) / kSecond;
  EXPECT_NEAR(double(rec.audio.size()), seconds * 48000 / 1024, seconds * 48000 / 1024 * 0.15);
  for (std::size_t i = 1; i < rec.audio.size(); ++i) {
    EXPECT_NEAR(double(rec.audio[i].sample.ptsNs - rec.audio[i - 1].sample.ptsNs),
                1024.0 * kSecond / 48000, 1e6);
  }
}

// Also the CPU figure of the test source at 720p (printed) and the rate control at 300 kbit/s.
TEST(Graph, TestSourceAt720pHoldsTheBitrate) {
  Recorder rec;
  GraphOptions o = testOptions(1280, 720);
  o.testSource = true;
  o.videoKbps = 300;
  o.segmentSeconds = 2.0;
  auto graph = Graph::create(o, rec);
  const double cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  graph->start();
  std::this_thread::sleep_for(6s);
  graph->stop();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = (cpuSeconds() - cpu0) / wall * 100.0;
  std::lock_guard lock(rec.mu);
  ASSERT_GT(rec.video.size(), 150u);
  std::size_t bytes = 0;
  for (const auto& r : rec.video) bytes += r.sample.bytes.size();
  const double seconds = double(rec.video.back().sample.ptsNs - rec.video.front().sample.ptsNs +
                                rec.video.back().sample.durationNs) /
                         kSecond;
  const double kbps = double(bytes) * 8 / seconds / 1000;
  std::printf("test source 1280x720@30, 300 kbit/s: %.0f%% of one core, video %.0f kbit/s\n", cpu,
              kbps);
  EXPECT_GT(kbps, 300 * 0.7);
  EXPECT_LT(kbps, 300 * 1.3);
}

// Two publishers, one VP8 and silent, one H.264 and loud: the loud one takes the large box.
TEST(Graph, PublishersJoinAndLeaveWithoutStallingAndTheLoudOneBecomesSpeaker) {
  Recorder rec;
  auto graph = Graph::create(testOptions(640, 360), rec);
  graph->start();
  std::this_thread::sleep_for(1s);
  const int quietV = freeUdpPort(), quietA = freeUdpPort();
  const int loudV = freeUdpPort(), loudA = freeUdpPort();
  const auto addAt = Clock::now();
  graph->addPublisher(publisher("quiet", quietV, quietA));
  PublisherInput loudInput = publisher("loud", loudV, loudA);
  loudInput.videoCodec = "h264";
  graph->addPublisher(loudInput);
  EXPECT_EQ(graph->speaker(), "quiet");  // the first one added
  Child quiet(sender(quietV, quietA, "smpte", 15, 0.0));
  Child loud(sender(loudV, loudA, "white", 15, 0.5, true));
  ASSERT_TRUE(quiet.running() && loud.running());
  std::string speaker;
  for (int i = 0; i < 40 && speaker != "loud"; ++i) {
    std::this_thread::sleep_for(100ms);
    speaker = graph->speaker();
  }
  EXPECT_EQ(speaker, "loud");
  std::this_thread::sleep_for(1s);
  const auto removeAt = Clock::now();
  graph->removePublisher("loud");
  graph->removePublisher("quiet");
  graph->removePublisher("nobody");
  EXPECT_EQ(graph->speaker(), "");
  std::this_thread::sleep_for(1500ms);
  graph->stop();

  std::lock_guard lock(rec.mu);
  EXPECT_TRUE(rec.errors.empty()) << rec.errors.front();
  for (const auto* rs : {&rec.video, &rec.audio}) {
    const auto [gapMs, endedAt] = largestGap(*rs);
    // Arrival gaps are wall-clock: only a gross stall fails (the pts checks below are the
    // real continuity test); a loaded CI machine easily delays delivery by a few 100 ms.
    EXPECT_LE(gapMs, 1500) << (rs == &rec.video ? "video" : "audio") << " gap ended "
                          << msBetween(addAt, endedAt) << " ms after the add, "
                          << msBetween(removeAt, endedAt) << " ms after the removal";
  }
  for (std::size_t i = 1; i < rec.video.size(); ++i) {
    EXPECT_NEAR(double(rec.video[i].sample.ptsNs - rec.video[i - 1].sample.ptsNs), kSecond / 30.0,
                1e6)
        << "frame " << i;
  }
  ASSERT_EQ(rec.videoConfigs.size(), 1u);
  const std::vector<Gray> frames = decodeGray(rec.videoConfigs[0], rec.video);
  ASSERT_EQ(frames.size(), rec.video.size());
  const Gray& slate = frames[indexBefore(rec.video, addAt)];
  const Gray& staged = frames[indexBefore(rec.video, removeAt)];
  const auto whole = [](const Gray& f) { return meanOf(f, 0, 0, kGrayW, kGrayH); };
  EXPECT_LT(whole(slate), 60);  // the dark slate
  // speakerLayout(640, 360, 2, speaker 1): loud (white) at the top centre (80..560 x 0..270),
  // quiet (colour bars, 4:3 in its 160x90 box) in the bottom strip at 240..400 x 270..360.
  EXPECT_GT(meanOf(staged, 6, 1, 26, 12), 200);
  const double thumb = meanOf(staged, 13, 14, 19, 18);
  EXPECT_GT(thumb, whole(slate) + 30);
  EXPECT_LT(thumb, 190);
  EXPECT_NEAR(whole(frames.back()), whole(slate), 10);  // the slate again
}

TEST(Graph, PublisherStartingWithoutAKeyframeAsksForOne) {
  Recorder rec;
  auto graph = Graph::create(testOptions(640, 360), rec);
  graph->start();
  const int v = freeUdpPort(), a = freeUdpPort();
  // Only the very first VP8 frame is a keyframe, long gone when the publisher is added.
  Child send(sender(v, a, "smpte", 100000, 0.3));
  std::this_thread::sleep_for(1s);
  graph->addPublisher(publisher("late", v, a));
  EXPECT_THROW(graph->addPublisher(publisher("late", v + 1, 0)), std::runtime_error);
  {
    // A port already taken: refused (the graph does not share ports), the output goes on.
    UdpPort taken;
    EXPECT_THROW(graph->addPublisher(publisher("clash", taken.port(), 0)), std::runtime_error);
  }
  std::this_thread::sleep_for(2500ms);
  const std::size_t requests = rec.keyframeRequestCount("late");
  EXPECT_GE(requests, 1u);
  EXPECT_LE(requests, 6u);  // at most one per 500 ms
  const std::size_t frames = rec.videoCount();
  graph->removePublisher("late");
  std::this_thread::sleep_for(300ms);
  EXPECT_GT(rec.videoCount(), frames);  // still flowing
  graph->stop();
  std::lock_guard lock(rec.mu);
  EXPECT_TRUE(rec.errors.empty()) << rec.errors.front();
}

}  // namespace
}  // namespace amphi::egress
