#include "origin/origin.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bus/bus.hpp"
#include "core/hls_window.hpp"
#include "core/hls_wire.hpp"
#include "core/playlist.hpp"
#include "core/room.hpp"

namespace amphi::origin {
namespace {

namespace hls = core::hls;
using Clock = std::chrono::steady_clock;

constexpr const char* kPlaylistType = "application/vnd.apple.mpegurl";
constexpr auto kSweep = std::chrono::milliseconds(50);

http::Response withCors(http::Response res) {
  res.header("Access-Control-Allow-Origin", "*");
  res.header("Access-Control-Expose-Headers", "Age, Date, Content-Length");
  return res;
}

http::Response failure(int status, std::string_view code, std::string_view message) {
  auto res = http::errorResponse(status, code, message);
  res.header("Cache-Control", "no-store");
  return withCors(std::move(res));
}

http::Response playlistResponse(std::shared_ptr<const std::string> text) {
  http::Response res;
  res.contentType = kPlaylistType;
  res.sharedBody = std::move(text);
  res.header("Cache-Control", "public, max-age=1");
  return withCors(std::move(res));
}

http::Response mediaResponse(hls::Bytes bytes) {
  http::Response res;
  res.contentType = "video/mp4";
  res.sharedBody = std::move(bytes);
  res.header("Cache-Control", "public, max-age=31536000, immutable");
  return withCors(std::move(res));
}

enum class Want { Playlist, Media, Multivariant };

struct Waiter {
  Want want = Want::Playlist;
  hls::BlockingRequest blocking;
  hls::MediaName media;
  http::Response::Complete complete;
  Clock::time_point deadline;
  // A serve that just started following a room is still reading its recent history: a
  // name it does not hold yet may exist, so it waits until then rather than answer 404.
  Clock::time_point patientUntil{};
};

}  // namespace

// One followed room. Everything but `sub` is guarded by mu.
struct Feed {
  std::string room;
  std::mutex mu;
  hls::LiveWindow window;
  hls::PartAssembler assembler;
  std::vector<Waiter> waiters;
  Clock::time_point lastAccess = Clock::now();
  Clock::time_point createdAt = Clock::now();
  uint64_t renderedRevision = ~uint64_t{0};
  std::shared_ptr<const std::string> rendered;  // media playlist at renderedRevision
  std::unique_ptr<bus::Subscription> sub;

  Feed(std::string r, hls::WindowOptions o) : room(std::move(r)), window(o) {}

  std::shared_ptr<const std::string> mediaPlaylist() {
    if (window.revision() != renderedRevision || !rendered) {
      auto text = hls::renderMediaPlaylist(window);
      rendered = text ? std::make_shared<const std::string>(std::move(*text)) : nullptr;
      renderedRevision = window.revision();
    }
    return rendered;
  }

  std::chrono::milliseconds holdLimit() const {
    return std::chrono::milliseconds(3000 * window.targetDurationSeconds());
  }
};

struct Origin::Impl : std::enable_shared_from_this<Origin::Impl> {
  bus::Bus& bus;
  OriginOptions options;
  mutable std::mutex mu;  // guards feeds and stopping
  std::map<std::string, std::shared_ptr<Feed>> feeds;
  bool stopping = false;
  std::condition_variable cv;
  std::thread sweeper;

  Impl(bus::Bus& b, OriginOptions o) : bus(b), options(o) {}

  std::shared_ptr<Feed> follow(const std::string& room);
  void onMessage(Feed& feed, bus::StreamMessage msg);
  void ingest(Feed& feed, const bus::StreamMessage& msg);
  // Answers (under feed.mu) what can be answered now; nullopt: keep waiting.
  std::optional<http::Response> tryAnswer(Feed& feed, const Waiter& w);
  void wake(Feed& feed);
  void sweep();
  http::Response serve(const std::shared_ptr<Feed>& feed, Waiter w);
};

std::shared_ptr<Feed> Origin::Impl::follow(const std::string& room) {
  {
    std::lock_guard lock(mu);
    auto it = feeds.find(room);
    if (it != feeds.end()) return it->second;
  }
  // The newest init may be older than the backfill: read it first, then follow the stream
  // from a little history on (the window keeps the same suffix whatever point it joined).
  // A room that never broadcast is not followed (no subscription per made-up room id).
  auto init = bus.lastHls(hls::initSubject(room));
  if (!init) return nullptr;
  auto feed = std::make_shared<Feed>(room, hls::WindowOptions{options.retentionSeconds, 3});
  ingest(*feed, *init);
  std::weak_ptr<Feed> weak = feed;
  auto self = weak_from_this();
  feed->sub = bus.subscribeHls(
      hls::roomFilter(room),
      bus::StartAt{0, std::chrono::system_clock::now() - options.backfill},
      [weak, self](bus::StreamMessage msg) {
        auto f = weak.lock();
        auto impl = self.lock();
        if (f && impl) impl->onMessage(*f, std::move(msg));
      });
  std::lock_guard lock(mu);
  auto [it, inserted] = feeds.emplace(room, feed);
  if (inserted) spdlog::info("origin: room {}: following its broadcast", room);
  return it->second;  // a racing request may have won: use its feed
}

void Origin::Impl::ingest(Feed& feed, const bus::StreamMessage& msg) {
  const std::string_view subject = msg.subject;
  if (subject.ends_with(".init")) {
    auto meta = hls::decodeInit(msg.headers);
    if (!meta) return spdlog::warn("origin: room {}: init without valid metadata", feed.room);
    if (feed.window.ended()) feed.window = hls::LiveWindow({options.retentionSeconds, 3});
    feed.window.addInit(*meta, std::make_shared<const std::string>(msg.data));
  } else if (subject.ends_with(".part")) {
    auto chunk = hls::decodePart(msg.headers);
    if (!chunk) return spdlog::warn("origin: room {}: part without valid metadata", feed.room);
    auto whole = feed.assembler.add(*chunk, msg.data);
    if (!whole) return;
    auto result = feed.window.addPart(whole->first,
                                      std::make_shared<const std::string>(std::move(whole->second)));
    if (!hls::accepted(result) && result != hls::AddResult::Duplicate) {
      spdlog::debug("origin: room {}: part {}.{} {}", feed.room, whole->first.msn,
                    whole->first.part, hls::toString(result));
    }
  } else if (subject.ends_with(".end")) {
    feed.window.endStream();
  }
}

void Origin::Impl::onMessage(Feed& feed, bus::StreamMessage msg) {
  {
    std::lock_guard lock(feed.mu);
    ingest(feed, msg);
  }
  wake(feed);
}

std::optional<http::Response> Origin::Impl::tryAnswer(Feed& feed, const Waiter& w) {
  if (w.want == Want::Multivariant) {
    const auto* init = feed.window.latestInit();
    if (!init) return std::nullopt;
    return playlistResponse(std::make_shared<const std::string>(hls::renderMultivariantPlaylist(*init)));
  }
  if (w.want == Want::Playlist) {
    if (feed.window.empty()) return std::nullopt;
    if (auto why = hls::validate(w.blocking, feed.window)) {
      return failure(400, "bad_blocking_request", *why);
    }
    if (!hls::satisfied(w.blocking, feed.window)) return std::nullopt;
    return playlistResponse(feed.mediaPlaylist());
  }
  switch (feed.window.availability(w.media)) {
    case hls::Availability::Available:
      if (auto bytes = feed.window.bytes(w.media)) return mediaResponse(std::move(bytes));
      return failure(404, "not_found", "no such part or segment (released)");
    case hls::Availability::Pending:
      return std::nullopt;
    case hls::Availability::Absent:
      if (Clock::now() < w.patientUntil) return std::nullopt;
      break;
  }
  return failure(404, "not_found", "no such init, part or segment in the live window");
}

void Origin::Impl::wake(Feed& feed) {
  std::vector<std::pair<http::Response::Complete, http::Response>> ready;
  {
    std::lock_guard lock(feed.mu);
    // One pass that keeps the waiters still waiting (erasing one by one is quadratic).
    std::vector<Waiter> waiting;
    for (auto& w : feed.waiters) {
      if (auto res = tryAnswer(feed, w)) {
        ready.emplace_back(std::move(w.complete), std::move(*res));
      } else {
        waiting.push_back(std::move(w));
      }
    }
    feed.waiters.swap(waiting);
  }
  for (auto& [complete, res] : ready) complete(std::move(res));
}

http::Response Origin::Impl::serve(const std::shared_ptr<Feed>& feed, Waiter w) {
  std::lock_guard lock(feed->mu);
  feed->lastAccess = Clock::now();
  const bool fresh = Clock::now() - feed->createdAt < options.firstDataWait;
  if (fresh) w.patientUntil = feed->createdAt + options.firstDataWait;
  if (auto res = tryAnswer(*feed, w)) return std::move(*res);
  if (feed->window.empty() && !fresh) {
    return failure(404, "not_live", "this room is not broadcasting (no live stream yet)");
  }
  w.deadline = Clock::now() + (feed->window.empty() ? options.firstDataWait : feed->holdLimit());
  if (fresh) w.deadline = std::max(w.deadline, w.patientUntil);
  http::Response res;
  std::weak_ptr<Feed> weak = feed;
  auto self = shared_from_this();
  res.deferred = [self, weak, w = std::move(w)](http::Response::Complete complete) mutable {
    auto f = weak.lock();
    if (!f) return complete(failure(503, "unavailable", "the origin stopped following this room"));
    std::optional<http::Response> now;
    {
      std::lock_guard lock(f->mu);
      now = self->tryAnswer(*f, w);  // the part may have arrived in between
      if (!now) {
        w.complete = std::move(complete);
        f->waiters.push_back(std::move(w));
        return;
      }
    }
    complete(std::move(*now));
  };
  return res;
}

void Origin::Impl::sweep() {
  std::unique_lock lock(mu);
  while (!stopping) {
    cv.wait_for(lock, kSweep, [this] { return stopping; });
    std::vector<std::shared_ptr<Feed>> all;
    for (auto& [room, feed] : feeds) all.push_back(feed);
    lock.unlock();
    const auto now = Clock::now();
    std::vector<std::string> idle;
    for (auto& feed : all) {
      std::vector<std::pair<http::Response::Complete, http::Response>> expired;
      {
        std::lock_guard fl(feed->mu);
        auto& ws = feed->waiters;
        std::vector<Waiter> waiting;  // one pass, as in wake(): no quadratic erase
        for (auto& w : ws) {
          if (w.deadline > now) {
            waiting.push_back(std::move(w));
            continue;
          }
          if (auto final = tryAnswer(*feed, w)) {  // e.g. the 404 a patient request earned
            expired.emplace_back(std::move(w.complete), std::move(*final));
            continue;
          }
          auto res = feed->window.empty()
                         ? failure(404, "not_live", "this room is not broadcasting")
                         : failure(503, "timeout", "the requested part did not arrive in time");
          res.header("Retry-After", "1");
          expired.emplace_back(std::move(w.complete), std::move(res));
        }
        ws.swap(waiting);
        if (ws.empty() && now - feed->lastAccess > options.idleTimeout) idle.push_back(feed->room);
      }
      for (auto& [complete, res] : expired) complete(std::move(res));
    }
    lock.lock();
    for (const auto& room : idle) {
      spdlog::info("origin: room {}: nobody watching; stopped following", room);
      feeds.erase(room);
    }
  }
}

Origin::Origin(bus::Bus& bus, OriginOptions options)
    : impl_(std::make_shared<Impl>(bus, options)) {
  impl_->sweeper = std::thread([impl = impl_.get()] { impl->sweep(); });
}

Origin::~Origin() { stop(); }

void Origin::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
  std::map<std::string, std::shared_ptr<Feed>> feeds;
  {
    std::lock_guard lock(impl_->mu);
    feeds.swap(impl_->feeds);
  }
  for (auto& [room, feed] : feeds) {
    feed->sub.reset();
    std::vector<Waiter> ws;
    {
      std::lock_guard lock(feed->mu);
      ws.swap(feed->waiters);
    }
    for (auto& w : ws) w.complete(failure(503, "unavailable", "the server is stopping"));
  }
}

OriginStats Origin::stats() const {
  std::lock_guard lock(impl_->mu);
  OriginStats s;
  s.rooms = impl_->feeds.size();
  for (auto& [room, feed] : impl_->feeds) {
    std::lock_guard fl(feed->mu);
    s.waiting += feed->waiters.size();
  }
  return s;
}

namespace {

// What a request under /hls/ asks for: the room and its waiter, or the answer already
// (OPTIONS, wrong method, malformed path or query).
struct Parsed {
  std::string room;
  Waiter waiter;
  std::optional<http::Response> answer;
};

Parsed parseRequest(http::Request& req) {
  Parsed p;
  if (req.method == "OPTIONS") {
    http::Response res;
    res.status = 204;
    res.contentType.clear();
    res.header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    res.header("Access-Control-Max-Age", "86400");
    p.answer = withCors(std::move(res));
    return p;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    auto res = failure(405, "method_not_allowed", "use GET or HEAD");
    res.header("Allow", "GET, HEAD, OPTIONS");
    p.answer = std::move(res);
    return p;
  }
  std::string_view path = req.path;
  path.remove_prefix(std::min(path.size(), std::string_view("/hls/").size()));
  const auto slash = path.find('/');
  p.room = std::string(path.substr(0, slash));
  if (slash == std::string_view::npos || !core::validRoomId(p.room)) {
    p.answer = failure(404, "not_found", "HLS paths look like /hls/<room>/index.m3u8");
    return p;
  }
  const std::string_view rest = path.substr(slash + 1);
  Waiter& w = p.waiter;
  if (rest == "index.m3u8") {
    w.want = Want::Multivariant;
  } else if (rest == "media.m3u8") {
    auto parsed = core::hls::parseBlockingRequest(req.queryParam("_HLS_msn"),
                                                  req.queryParam("_HLS_part"));
    if (!parsed.request) {
      p.answer = failure(400, "bad_blocking_request", parsed.error);
    } else {
      w.blocking = *parsed.request;
    }
  } else if (auto name = core::hls::parseMediaName(rest)) {
    w.want = Want::Media;
    w.media = *name;
  } else {
    p.answer = failure(404, "not_found", "no such HLS resource");
  }
  return p;
}

}  // namespace

http::Response Origin::handle(http::Request& req) {
  Parsed p = parseRequest(req);
  if (p.answer) return std::move(*p.answer);
  auto feed = impl_->follow(p.room);
  if (!feed) return failure(404, "not_live", "this room has not broadcast yet");
  return impl_->serve(feed, std::move(p.waiter));
}

std::optional<http::Response> Origin::handleInline(http::Request& req) {
  std::shared_ptr<Feed> feed;
  Parsed p = parseRequest(req);
  if (p.answer) return std::move(p.answer);
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->feeds.find(p.room);
    if (it == impl_->feeds.end()) return std::nullopt;  // following starts with bus calls
    feed = it->second;
  }
  return impl_->serve(feed, std::move(p.waiter));
}

}  // namespace amphi::origin
