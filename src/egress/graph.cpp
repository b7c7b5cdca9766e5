// The egress graph on GStreamer 1.22. Pipeline descriptions live in graph_desc.cpp; this file
// wires the sinks, probes, bus and the publishers plugged in while playing.
#include "egress/graph.hpp"

#include <fmt/format.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/layout.hpp"
#include "egress/graph_desc.hpp"
#include "egress/graph_gst.hpp"

namespace amphi::egress {
namespace {

namespace d = detail;
using namespace gst;
using namespace std::chrono_literals;

constexpr auto kDrainTimeout = 3s;
constexpr std::int64_t kKeyframeRequestGapMs = 500;
constexpr std::int64_t kAacFrameNs = 1024LL * 1'000'000'000 / d::kAudioRate;

struct GstUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) gst_object_unref(p);
  }
};
template <class T>
using GstPtr = std::unique_ptr<T, GstUnref>;

std::int64_t steadyMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void fail(const std::string& what, GError* err = nullptr) {
  std::string text = "egress graph: " + what;
  if (err != nullptr) {
    text += std::string(": ") + err->message;
    g_error_free(err);
  }
  throw std::runtime_error(text);
}

GstPtr<GstElement> child(GstElement* bin, const char* name) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(bin), name);
  if (e == nullptr) fail(std::string("element ") + name + " missing");
  return GstPtr<GstElement>(e);
}

GstPtr<GstPad> staticPad(GstElement* e, const char* name) {
  return GstPtr<GstPad>(gst_element_get_static_pad(e, name));
}

// One publisher's bin and its pads on the mixers. Also the user data of its keyframe probe,
// so it outlives the bin's streaming threads (the bin is set to NULL before it is freed).
struct Publisher {
  std::string id;
  GraphListener* listener = nullptr;
  std::atomic<std::int64_t> lastKeyframeRequestMs{std::numeric_limits<std::int64_t>::min() / 2};
  GstPtr<GstElement> bin;
  GstPtr<GstPad> videoPad, audioPad;  // request pads on the mixers
  const GstElement* level = nullptr;  // inside bin; only compared with message sources
};

GstPadProbeReturn onUpstreamEvent(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* pub = static_cast<Publisher*>(data);
  GstEvent* ev = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(ev) != GST_EVENT_CUSTOM_UPSTREAM || !gst_event_has_name(ev, "GstForceKeyUnit"))
    return GST_PAD_PROBE_OK;
  const std::int64_t now = steadyMs();
  std::int64_t last = pub->lastKeyframeRequestMs.load();
  if (now - last >= kKeyframeRequestGapMs &&
      pub->lastKeyframeRequestMs.compare_exchange_strong(last, now)) {
    try {
      pub->listener->onKeyframeNeeded(pub->id);
    } catch (const std::exception& e) {
      spdlog::error("egress: onKeyframeNeeded for {} threw: {}", pub->id, e.what());
    }
  }
  return GST_PAD_PROBE_OK;
}

void ghostPad(GstElement* bin, const char* inner, const char* name) {
  auto element = child(bin, inner);
  auto pad = staticPad(element.get(), "src");
  if (!pad || !gst_element_add_pad(bin, gst_ghost_pad_new(name, pad.get())))
    fail(std::string("cannot expose ") + inner);
}

class GstGraph final : public Graph {
 public:
  GstGraph(GraphOptions options, GraphListener& listener)
      : options_(std::move(options)), listener_(listener) {
    build();
  }
  ~GstGraph() override {
    teardown();
    GstPtr<GstBus> bus(gst_element_get_bus(pipeline_.get()));
    gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
  }

  void start() override;
  void stop() override;
  void addPublisher(const PublisherInput& input) override;
  void removePublisher(const std::string& id) override;
  std::int64_t wallClockMsAtZero() const override { return wallAtZeroMs_.load(); }
  std::string speaker() const override {
    std::lock_guard lock(mu_);
    return selector_.speaker();
  }

 private:
  enum class State { Built, Playing, Stopped };

  void build();
  void hookUp();
  void addSentinels();
  void startBusLoop();
  void stopBusLoop();
  void teardown();
  void deliver(GstSample* sample, bool video);
  void onBusMessage(GstMessage* msg);
  void onLevel(GstMessage* msg);
  void relayoutLocked();
  std::unique_ptr<Publisher> buildPublisher(const PublisherInput& input);
  GstPtr<GstPad> plugInto(GstElement* bin, const char* ghost, GstElement* mixer);
  void unplug(Publisher& pub);
  bool drop(const std::string& id);

  static GstFlowReturn sampleCb(GstAppSink* sink, gpointer self);
  static void eosCb(GstAppSink*, gpointer self);
  static GstBusSyncReply syncCb(GstBus* bus, GstMessage* msg, gpointer self);
  static GstPadProbeReturn forceKeyframesCb(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn drawClockCb(GstPad* pad, GstPadProbeInfo* info, gpointer self);

  GraphOptions options_;
  GraphListener& listener_;
  std::int64_t frameNs_ = 0, segmentNs_ = 0;
  GstPtr<GstElement> pipeline_, vmix_, amix_, venc_, aenc_, vsink_, asink_, clockText_;
  GstPtr<GstPad> videoSentinel_, audioSentinel_;

  std::thread busThread_;
  std::atomic<bool> busStop_{false};

  std::atomic<std::int64_t> wallAtZeroMs_{0};
  StreamConfig videoConfig_, audioConfig_;  // each touched by its sink's thread only
  std::int64_t lastSegment_ = -1;           // encoder's streaming thread only

  std::mutex eosMu_;
  std::condition_variable eosCv_;
  int eosCount_ = 0;

  std::mutex opMu_;  // serialises start, stop, add, remove; guards state_
  State state_ = State::Built;
  int serial_ = 0;
  mutable std::mutex mu_;  // guards publishers_ and selector_ (bus thread vs. callers)
  std::vector<std::unique_ptr<Publisher>> publishers_;
  core::SpeakerSelector selector_;
};

void GstGraph::build() {
  if (auto bad = d::validate(options_); !bad.empty()) fail(bad);
  frameNs_ = 1'000'000'000LL / options_.fps;
  segmentNs_ =
      static_cast<std::int64_t>(d::keyframeInterval(options_)) * 1'000'000'000LL / options_.fps;
  GError* err = nullptr;
  if (!gst_init_check(nullptr, nullptr, &err)) fail("GStreamer does not initialise", err);
  GstElement* pipeline = gst_parse_launch(d::mainPipeline(options_).c_str(), &err);
  if (pipeline != nullptr) pipeline_.reset(GST_ELEMENT(gst_object_ref_sink(pipeline)));
  if (err != nullptr || !pipeline_) fail("cannot build the pipeline", err);
  vmix_ = child(pipeline_.get(), d::kVideoMixer);
  amix_ = child(pipeline_.get(), d::kAudioMixer);
  venc_ = child(pipeline_.get(), d::kVideoEncoder);
  aenc_ = child(pipeline_.get(), d::kAudioEncoder);
  vsink_ = child(pipeline_.get(), d::kVideoSink);
  asink_ = child(pipeline_.get(), d::kAudioSink);
  if (options_.testSource) {
    clockText_ = child(pipeline_.get(), d::kClockText);
  } else {
    g_object_set(child(pipeline_.get(), d::kSlateText).get(), "text", options_.title.c_str(),
                 nullptr);
  }
  hookUp();
  addSentinels();
}

// A live mixer aggregates at once when every pad has data, else at its deadline (pts +
// latency). With the background alone it would run at zero latency and stall for the whole
// latency when the first publisher is plugged in; a request pad that never gets data keeps
// both mixers on their deadline from the start, so the output cadence never changes.
void GstGraph::addSentinels() {
  videoSentinel_.reset(gst_element_request_pad_simple(vmix_.get(), "sink_%u"));
  audioSentinel_.reset(gst_element_request_pad_simple(amix_.get(), "sink_%u"));
  if (!videoSentinel_ || !audioSentinel_) fail("no request pad on the mixers");
}

// Sample callbacks on both sinks, the keyframe probe before the encoder, the clock probe of
// the test source and the bus sync handler.
void GstGraph::hookUp() {
  GstAppSinkCallbacks callbacks{};
  callbacks.eos = &GstGraph::eosCb;
  callbacks.new_sample = &GstGraph::sampleCb;
  for (GstElement* sink : {vsink_.get(), asink_.get()})
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);
  auto encIn = staticPad(venc_.get(), "sink");
  gst_pad_add_probe(encIn.get(), GST_PAD_PROBE_TYPE_BUFFER, &GstGraph::forceKeyframesCb, this,
                    nullptr);
  if (auto textIn = clockText_ ? staticPad(clockText_.get(), "video_sink") : nullptr)
    gst_pad_add_probe(textIn.get(), GST_PAD_PROBE_TYPE_BUFFER, &GstGraph::drawClockCb, this,
                      nullptr);
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline_.get()));
  gst_bus_set_sync_handler(bus.get(), &GstGraph::syncCb, this, nullptr);
}

// Keyframes land on segment boundaries of the pts timeline, whatever frames were dropped:
// the first frame of each segment gets a GstForceKeyUnit ahead of it.
GstPadProbeReturn GstGraph::forceKeyframesCb(GstPad* pad, GstPadProbeInfo* info, gpointer p) {
  auto* self = static_cast<GstGraph*>(p);
  const GstClockTime pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  if (!GST_CLOCK_TIME_IS_VALID(pts)) return GST_PAD_PROBE_OK;
  const std::int64_t segment =
      (static_cast<std::int64_t>(pts) + self->frameNs_ / 2) / self->segmentNs_;
  if (segment != self->lastSegment_) {
    self->lastSegment_ = segment;
    gst_pad_send_event(pad, forceKeyUnitEvent());
  }
  return GST_PAD_PROBE_OK;
}

// The test source burns in the capture wall clock of each frame (wallClockMsAtZero + pts).
GstPadProbeReturn GstGraph::drawClockCb(GstPad*, GstPadProbeInfo* info, gpointer p) {
  auto* self = static_cast<GstGraph*>(p);
  const GstClockTime pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  if (!GST_CLOCK_TIME_IS_VALID(pts)) return GST_PAD_PROBE_OK;
  const std::int64_t ms = self->wallAtZeroMs_.load() + static_cast<std::int64_t>(pts / 1'000'000);
  g_object_set(self->clockText_.get(), "text", d::clockText(ms).c_str(), nullptr);
  return GST_PAD_PROBE_OK;
}

GstFlowReturn GstGraph::sampleCb(GstAppSink* sink, gpointer p) {
  auto* self = static_cast<GstGraph*>(p);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (sample == nullptr) return GST_FLOW_EOS;
  try {
    self->deliver(sample, GST_ELEMENT(sink) == self->vsink_.get());
  } catch (const std::exception& e) {
    spdlog::error("egress[{}]: the listener threw: {}", self->options_.room, e.what());
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

// Config first (again only if it changes), then the sample.
void GstGraph::deliver(GstSample* sample, bool video) {
  const StreamConfig config = configOf(gst_sample_get_caps(sample), video ? "width" : "rate",
                                       video ? "height" : "channels");
  StreamConfig& last = video ? videoConfig_ : audioConfig_;
  if (!config.codecData.empty() && config != last) {
    last = config;
    if (video)
      listener_.onVideoConfig(config.codecData, config.first, config.second);
    else
      listener_.onAudioConfig(config.codecData, config.first, config.second);
  }
  if (gst_sample_get_buffer(sample) == nullptr) return;
  EncodedSample s = toEncoded(sample, video ? frameNs_ : kAacFrameNs);
  if (video) return listener_.onVideo(std::move(s));
  s.keyframe = true;
  listener_.onAudio(std::move(s));
}

void GstGraph::eosCb(GstAppSink*, gpointer p) {
  auto* self = static_cast<GstGraph*>(p);
  std::lock_guard lock(self->eosMu_);
  ++self->eosCount_;
  self->eosCv_.notify_all();
}

// Bus messages are handled on a thread of the graph's own (never on a streaming thread):
// errors, levels (speaker and layout) and latency changes.
void GstGraph::startBusLoop() {
  busStop_ = false;
  busThread_ = std::thread([this, bus = GstPtr<GstBus>(gst_element_get_bus(pipeline_.get()))] {
    while (!busStop_.load()) {
      GstMessage* msg = gst_bus_timed_pop(bus.get(), 100 * GST_MSECOND);
      if (msg == nullptr) continue;
      onBusMessage(msg);
      gst_message_unref(msg);
    }
  });
}

void GstGraph::stopBusLoop() {
  if (!busThread_.joinable()) return;
  busStop_ = true;  // seen within one pop timeout; the message only wakes it sooner
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline_.get()));
  gst_bus_post(bus.get(), gst_message_new_application(nullptr, gst_structure_new_empty("wake")));
  busThread_.join();
}

void GstGraph::onBusMessage(GstMessage* msg) {
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      std::string what = describe(msg);
      spdlog::error("egress[{}]: {}", options_.room, what);
      listener_.onError(std::move(what));
      break;
    }
    case GST_MESSAGE_WARNING:
      spdlog::warn("egress[{}]: {}", options_.room, describe(msg));
      break;
    case GST_MESSAGE_ELEMENT:
      onLevel(msg);
      break;
    case GST_MESSAGE_LATENCY:
      gst_bin_recalculate_latency(GST_BIN(pipeline_.get()));
      break;
    default:
      break;
  }
}

// A failing publisher chain (port taken, undecodable stream) only freezes its own tile: it is
// logged and dropped here, at post time while the chain is still parented, so one bad
// forward never ends the broadcast. Publisher chains are the only bins in the pipeline (the
// main chain is flat). Runs on the posting thread.
GstBusSyncReply GstGraph::syncCb(GstBus*, GstMessage* msg, gpointer p) {
  auto* self = static_cast<GstGraph*>(p);
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_ERROR) return GST_BUS_PASS;
  GstObject* pipeline = GST_OBJECT(self->pipeline_.get());
  GstPtr<GstObject> top(GST_OBJECT(gst_object_ref(GST_MESSAGE_SRC(msg))));
  for (GstObject* parent; (parent = gst_object_get_parent(top.get())) != nullptr;) {
    if (parent == pipeline) {
      gst_object_unref(parent);
      break;
    }
    top.reset(parent);
  }
  if (top.get() == pipeline || !GST_IS_BIN(top.get())) return GST_BUS_PASS;
  spdlog::error("egress[{}]: publisher chain {}: {}", self->options_.room,
                GST_OBJECT_NAME(top.get()), describe(msg));
  return GST_BUS_DROP;
}

void GstGraph::onLevel(GstMessage* msg) {
  const GstStructure* s = gst_message_get_structure(msg);
  if (s == nullptr || !gst_structure_has_name(s, "level")) return;
  const std::optional<double> db = loudestRms(s);
  if (!db) return;
  std::lock_guard lock(mu_);
  for (const auto& pub : publishers_) {
    if (GST_MESSAGE_SRC(msg) != GST_OBJECT_CAST(pub->level)) continue;
    if (selector_.update(pub->id, *db, std::chrono::milliseconds(steadyMs()))) {
      spdlog::info("egress[{}]: speaker is now {}", options_.room, selector_.speaker());
      relayoutLocked();
    }
    return;
  }
}

void GstGraph::relayoutLocked() {
  std::vector<GstPad*> pads;
  std::size_t speaker = 0;
  for (const auto& pub : publishers_) {
    if (!pub->videoPad) continue;
    if (pub->id == selector_.speaker()) speaker = pads.size();
    pads.push_back(pub->videoPad.get());
  }
  const auto rects = core::speakerLayout(options_.width, options_.height, pads.size(), speaker);
  for (std::size_t i = 0; i < pads.size(); ++i) {
    const core::Rect& r = rects[i];
    g_object_set(pads[i], "xpos", r.x, "ypos", r.y, "width", r.w, "height", r.h, nullptr);
  }
}

void GstGraph::start() {
  std::lock_guard op(opMu_);
  if (state_ != State::Built) fail("start: already started");
  startBusLoop();
  // Pin the base time so pts 0 maps to a wall clock instant known before the first frame.
  GstPtr<GstClock> clock(gst_system_clock_obtain());
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_.get()), clock.get());
  gst_element_set_start_time(pipeline_.get(), GST_CLOCK_TIME_NONE);
  const GstClockTime base = gst_clock_get_time(clock.get());
  wallAtZeroMs_ = g_get_real_time() / 1000;
  gst_element_set_base_time(pipeline_.get(), base);
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    stopBusLoop();
    state_ = State::Stopped;
    fail("start: the pipeline does not play (see the error reported before)");
  }
  state_ = State::Playing;
  spdlog::info("egress[{}]: graph playing {}x{}@{} {} kbit/s{}", options_.room, options_.width,
               options_.height, options_.fps, options_.videoKbps,
               options_.testSource ? " (test source)" : "");
}

void GstGraph::stop() {
  std::lock_guard op(opMu_);
  if (state_ != State::Playing) return;
  // EOS straight into the encoders: they drain and the sinks see EOS, whatever the live
  // sources upstream (imagefreeze never ends by itself).
  for (GstElement* enc : {venc_.get(), aenc_.get()}) {
    auto pad = staticPad(enc, "sink");
    gst_pad_send_event(pad.get(), gst_event_new_eos());
  }
  std::unique_lock lock(eosMu_);
  if (!eosCv_.wait_for(lock, kDrainTimeout, [&] { return eosCount_ >= 2; }))
    spdlog::warn("egress[{}]: encoders did not drain in time", options_.room);
  lock.unlock();
  teardown();
  spdlog::info("egress[{}]: graph stopped", options_.room);
}

void GstGraph::teardown() {
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  stopBusLoop();
  state_ = State::Stopped;
}

std::unique_ptr<Publisher> GstGraph::buildPublisher(const PublisherInput& in) {
  GError* err = nullptr;
  GstElement* bin =
      gst_parse_bin_from_description(d::publisherBin(in, options_.rtpAddress).c_str(), FALSE, &err);
  auto pub = std::make_unique<Publisher>();
  if (bin != nullptr) pub->bin.reset(GST_ELEMENT(gst_object_ref_sink(bin)));
  if (err != nullptr || !pub->bin) fail("publisher " + in.id + ": cannot build", err);
  gst_object_set_name(GST_OBJECT(bin), fmt::format("pub{}-{}", ++serial_, in.id).c_str());
  pub->id = in.id;
  pub->listener = &listener_;
  if (in.videoPort != 0) {
    ghostPad(bin, d::kPubVideoOut, "video");
    auto depay = child(bin, d::kPubVideoDepay);
    auto depayIn = staticPad(depay.get(), "sink");
    gst_pad_add_probe(depayIn.get(), GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, &onUpstreamEvent, pub.get(),
                      nullptr);
  }
  if (in.audioPort != 0) {
    ghostPad(bin, d::kPubAudioOut, "audio");
    pub->level = child(bin, d::kPubLevel).get();  // the bin keeps it alive
  }
  return pub;
}

GstPtr<GstPad> GstGraph::plugInto(GstElement* bin, const char* ghost, GstElement* mixer) {
  auto out = staticPad(bin, ghost);
  if (!out) return nullptr;
  GstPtr<GstPad> in(gst_element_request_pad_simple(mixer, "sink_%u"));
  if (!in) fail(std::string("no request pad on ") + GST_OBJECT_NAME(mixer));
  if (mixer == vmix_.get())
    gst_util_set_object_arg(G_OBJECT(in.get()), "sizing-policy", "keep-aspect-ratio");
  if (gst_pad_link(out.get(), in.get()) != GST_PAD_LINK_OK) {
    gst_element_release_request_pad(mixer, in.get());
    fail(std::string("cannot link a publisher to ") + GST_OBJECT_NAME(mixer));
  }
  return in;
}

void GstGraph::addPublisher(const PublisherInput& input) {
  std::lock_guard op(opMu_);
  if (state_ != State::Playing) fail("addPublisher: graph not playing");
  if (auto bad = d::validate(input); !bad.empty()) fail("publisher " + input.id + ": " + bad);
  {
    std::lock_guard lock(mu_);
    for (const auto& p : publishers_)
      if (p->id == input.id) fail("publisher " + input.id + " already added");
  }
  std::unique_ptr<Publisher> pub = buildPublisher(input);
  gst_bin_add(GST_BIN(pipeline_.get()), pub->bin.get());
  try {
    pub->videoPad = plugInto(pub->bin.get(), "video", vmix_.get());
    pub->audioPad = plugInto(pub->bin.get(), "audio", amix_.get());
  } catch (...) {
    unplug(*pub);
    throw;
  }
  GstElement* bin = pub->bin.get();
  {
    std::lock_guard lock(mu_);
    publishers_.push_back(std::move(pub));
    selector_.add(input.id);
    relayoutLocked();
  }
  if (!gst_element_sync_state_with_parent(bin)) {
    drop(input.id);
    fail("publisher " + input.id + ": does not start (RTP port taken?)");
  }
  spdlog::info("egress[{}]: publisher {} ({}) added: video port {} {}, audio port {}",
               options_.room, input.id, input.display, input.videoPort, input.videoCodec,
               input.audioPort);
}

// Stops the bin first (its threads end, no push into a released pad), then unlinks and
// releases the mixer pads and drops the bin from the pipeline.
void GstGraph::unplug(Publisher& pub) {
  gst_element_set_state(pub.bin.get(), GST_STATE_NULL);
  const std::pair<const char*, GstPtr<GstPad>*> links[] = {{"video", &pub.videoPad},
                                                           {"audio", &pub.audioPad}};
  for (auto& [ghost, pad] : links) {
    if (!*pad) continue;
    if (auto out = staticPad(pub.bin.get(), ghost)) gst_pad_unlink(out.get(), pad->get());
    gst_element_release_request_pad(GST_PAD_PARENT(pad->get()), pad->get());
    pad->reset();
  }
  gst_bin_remove(GST_BIN(pipeline_.get()), pub.bin.get());
}

// Caller holds opMu_.
bool GstGraph::drop(const std::string& id) {
  std::unique_ptr<Publisher> pub;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(publishers_.begin(), publishers_.end(),
                           [&](const auto& p) { return p->id == id; });
    if (it == publishers_.end()) return false;
    pub = std::move(*it);
    publishers_.erase(it);
    selector_.remove(id, std::chrono::milliseconds(steadyMs()));
  }
  if (state_ == State::Playing) unplug(*pub);
  std::lock_guard lock(mu_);
  relayoutLocked();
  return true;
}

void GstGraph::removePublisher(const std::string& id) {
  std::lock_guard op(opMu_);
  if (drop(id)) spdlog::info("egress[{}]: publisher {} removed", options_.room, id);
}

}  // namespace

std::unique_ptr<Graph> Graph::create(GraphOptions options, GraphListener& listener) {
  return std::make_unique<GstGraph>(std::move(options), listener);
}

}  // namespace amphi::egress
