#include "egress/egress.hpp"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <spdlog/spdlog.h>

#include "bus/bus.hpp"
#include "core/hls_window.hpp"
#include "core/room_codec.hpp"
#include "egress/cmaf.hpp"
#include "egress/graph.hpp"
#include "egress/janus_source.hpp"
#include "egress/publisher.hpp"

namespace amphi::egress {
namespace {

namespace hls = core::hls;

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct InitItem {
  hls::InitMeta meta;
  std::string bytes;
};
struct PartItem {
  hls::PartMeta meta;
  std::string bytes;
};
using Item = std::variant<InitItem, PartItem>;

// Receives encoded samples on GStreamer threads, packages them (one lock) and queues the
// output for the publishing thread, so NATS round trips never stall the encoders.
class Sink : public GraphListener {
 public:
  Sink(const EgressOptions& o, StartPoint start) : options_(o), start_(start) {}

  void setGraph(Graph* graph) { graph_ = graph; }
  void setKeyframeHandler(std::function<void(const std::string&)> f) { keyframe_ = std::move(f); }

  void onVideoConfig(std::string avcC, int width, int height) override {
    std::lock_guard lock(mu_);
    if (video_) return;  // the encoder's settings never change during a run
    video_ = VideoConfig{std::move(avcC), static_cast<uint32_t>(width), static_cast<uint32_t>(height)};
    createPackager();
  }
  void onAudioConfig(std::string asc, int, int) override {
    std::lock_guard lock(mu_);
    if (audio_) return;
    audio_ = AudioConfig{std::move(asc)};
    createPackager();
  }
  void onVideo(EncodedSample s) override { push(std::move(s), true); }
  void onAudio(EncodedSample s) override { push(std::move(s), false); }
  void onKeyframeNeeded(const std::string& id) override {
    if (keyframe_) keyframe_(id);
  }
  void onError(std::string what) override {
    spdlog::error("egress: room {}: media error: {}", options_.room, what);
    std::lock_guard lock(mu_);
    failed_ = true;
    cv_.notify_all();
  }

  void flush() {
    std::lock_guard lock(mu_);
    if (packager_) {
      if (auto part = packager_->flush()) enqueue(*part);
    }
    closed_ = true;
    cv_.notify_all();
  }

  // Blocks until an item is ready; nullopt once closed and drained.
  std::optional<Item> next() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    return item;
  }

  bool failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }

 private:
  void createPackager() {
    if (!video_ || !audio_ || packager_) return;
    CmafOptions co{options_.partSeconds, options_.segmentSeconds, start_.firstMsn, 0};
    packager_ = std::make_unique<CmafPackager>(video_, audio_, co);
    hls::InitMeta meta;
    meta.epoch = start_.epoch;
    meta.codecs = packager_->codecs();
    meta.width = static_cast<int>(video_->width);
    meta.height = static_cast<int>(video_->height);
    meta.bandwidth = static_cast<uint32_t>((options_.videoKbps + options_.audioKbps) * 1100);
    meta.partTarget = options_.partSeconds;
    meta.segmentTarget = options_.segmentSeconds;
    meta.run = start_.run;
    meta.firstMsn = start_.firstMsn;
    queue_.push_back(InitItem{meta, packager_->initSegment()});
    cv_.notify_all();
    spdlog::info("egress: room {}: packaging {} {}x{} (epoch {}, run {}, first segment {})",
                 options_.room, meta.codecs, meta.width, meta.height, meta.epoch, start_.run,
                 start_.firstMsn);
  }

  void push(EncodedSample s, bool video) {
    std::lock_guard lock(mu_);
    if (!packager_ || closed_) return;  // before both configs are known: nothing to cut yet
    MediaSample m{std::move(s.bytes), s.ptsNs, s.dtsNs, s.durationNs, s.keyframe};
    auto part = video ? packager_->pushVideo(std::move(m)) : packager_->pushAudio(std::move(m));
    if (part) enqueue(*part);
  }

  void enqueue(Part& part) {
    hls::PartMeta meta;
    meta.epoch = start_.epoch;
    meta.msn = part.msn;
    meta.part = part.index;
    meta.duration = part.duration;
    meta.independent = part.independent;
    meta.captureMs = (graph_ ? graph_->wallClockMsAtZero() : 0) + part.firstPtsNs / 1'000'000;
    queue_.push_back(PartItem{meta, std::move(part.bytes)});
    cv_.notify_all();
  }

  const EgressOptions& options_;
  StartPoint start_;
  Graph* graph_ = nullptr;
  std::function<void(const std::string&)> keyframe_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<VideoConfig> video_;
  std::optional<AudioConfig> audio_;
  std::unique_ptr<CmafPackager> packager_;
  std::deque<Item> queue_;
  bool closed_ = false;
  bool failed_ = false;
};

// Publishes the queue until it closes; logs a status line every 10 s.
void publishLoop(Sink& sink, HlsPublisher& publisher, const std::string& room) {
  auto nextStatus = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  uint64_t lastMsn = 0, lastBytes = 0;
  while (auto item = sink.next()) {
    try {
      if (auto* init = std::get_if<InitItem>(&*item)) {
        publisher.publishInit(init->meta, init->bytes);
      } else {
        auto& part = std::get<PartItem>(*item);
        publisher.publishPart(part.meta, part.bytes);
        lastMsn = part.meta.msn;
      }
    } catch (const std::exception& e) {
      spdlog::error("egress: room {}: publishing failed: {}", room, e.what());
    }
    if (std::chrono::steady_clock::now() >= nextStatus) {
      const double kbps = (publisher.bytes() - lastBytes) * 8.0 / 10.0 / 1000.0;
      spdlog::info("egress: room {}: {} parts published, segment {}, {:.0f} kbit/s", room,
                   publisher.parts(), lastMsn, kbps);
      lastBytes = publisher.bytes();
      nextStatus += std::chrono::seconds(10);
    }
  }
}

std::string roomTitle(bus::Bus& bus, const std::string& room) {
  try {
    if (auto entry = bus.get(bus::Bucket::Rooms, "room." + room)) {
      return core::decodeRoom(entry->value).title;
    }
  } catch (const std::exception& e) {
    spdlog::warn("egress: room {}: reading its title: {}", room, e.what());
  }
  return room;
}

bool roomIsLive(bus::Bus& bus, const std::string& room) {
  try {
    auto entry = bus.get(bus::Bucket::Rooms, "room." + room);
    return entry && core::decodeRoom(entry->value).live;
  } catch (const std::exception&) {
    return true;  // unknown: do not end the playlist
  }
}

// Waits for SIGINT/SIGTERM (blocked in every thread) while running `tick` every second.
void waitForStop(const std::function<void()>& tick, Sink& sink) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  timespec second{1, 0};
  while (sigtimedwait(&set, nullptr, &second) < 0) {
    if (sink.failed()) return;
    tick();
  }
}

}  // namespace

int runEgress(const EgressOptions& o) {
  spdlog::set_level(spdlog::level::from_str(o.logLevel));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts

  auto bus = bus::Bus::connect(
      {.url = o.natsUrl, .name = "amphi-egress-" + o.room, .replicas = o.natsReplicas}, nullptr);
  if (!bus->waitReady(std::chrono::seconds(15))) {
    std::cerr << "amphi egress: NATS at " << bus::redactUrls(o.natsUrl) << " is not reachable\n";
    return 3;
  }
  const StartPoint start = startPoint(*bus, o.room, wallMs());
  GraphOptions go;
  go.room = o.room;
  go.width = o.width;
  go.height = o.height;
  go.fps = o.fps;
  go.videoKbps = o.videoKbps;
  go.audioKbps = o.audioKbps;
  go.segmentSeconds = o.segmentSeconds;
  go.title = o.title.empty() ? roomTitle(*bus, o.room) : o.title;
  go.testSource = o.source == "test";

  Sink sink(o, start);
  HlsPublisher publisher(
      *bus, o.room,
      std::chrono::milliseconds(static_cast<int64_t>(std::llround(o.initEverySeconds * 1000))));
  auto graph = Graph::create(go, sink);
  sink.setGraph(graph.get());
  std::unique_ptr<JanusSource> janus;
  if (!go.testSource) {
    janus = std::make_unique<JanusSource>(o.room, o.janusTarget, *graph);
    sink.setKeyframeHandler([j = janus.get()](const std::string& id) { j->requestKeyframe(id); });
  }
  graph->start();
  spdlog::info("egress: room {}: broadcasting from the {} source ({}x{}@{}, {} kbit/s, parts {} s, "
               "segments {} s)", o.room, o.source, o.width, o.height, o.fps, o.videoKbps,
               o.partSeconds, o.segmentSeconds);
  std::promise<void> published;
  auto publishedFuture = published.get_future();
  std::thread publishing([&] {
    publishLoop(sink, publisher, o.room);
    published.set_value();
  });
  waitForStop([&] { if (janus) janus->poll(); }, sink);
  const bool failed = sink.failed();
  spdlog::info("egress: room {}: stopping", o.room);
  janus.reset();  // stops the forwards first
  graph->stop();
  sink.flush();
  // Bounded: with NATS gone, publishing would retry for a long time per part.
  if (publishedFuture.wait_for(std::chrono::seconds(4)) != std::future_status::ready) {
    spdlog::error("egress: room {}: NATS does not take the last parts; exiting without them",
                  o.room);
    std::_Exit(1);
  }
  publishing.join();
  if (!failed && !roomIsLive(*bus, o.room)) {
    try {
      publisher.publishEnd(start.epoch);
      spdlog::info("egress: room {}: broadcast ended", o.room);
    } catch (const std::exception& e) {
      spdlog::warn("egress: room {}: could not mark the end: {}", o.room, e.what());
    }
  }
  return failed ? 1 : 0;
}

}  // namespace amphi::egress
