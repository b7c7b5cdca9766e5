// Event streams: /events (moderators: the whole room) and /user-events (any member:
// public events and their own). Resume by Last-Event-ID or ?lastEventId=.
#include <charconv>

#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "bus/bus.hpp"
#include "http/sse.hpp"

namespace amphi::api {
namespace {

using core::Action;
using core::Errc;
using core::Error;

std::optional<uint64_t> lastEventId(const http::Request& req) {
  std::optional<std::string> text;
  if (const std::string* h = req.header("last-event-id")) {
    text = *h;
  } else {
    text = req.queryParam("lastEventId");
  }
  if (!text || text->empty()) return std::nullopt;
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), id);
  if (ec != std::errc() || end != text->data() + text->size()) {
    throw Error(Errc::BadRequest, "Last-Event-ID must be an event id (a number)");
  }
  return id;
}

void reserveSlot(Context& ctx, const std::string& userId) {
  std::lock_guard lock(ctx.sseMu);
  auto& n = ctx.ssePerUser[userId];
  if (n >= ctx.options.maxSsePerUser) {
    throw RateLimited("too many open event streams for this user (" +
                          std::to_string(ctx.options.maxSsePerUser) + "); close a tab",
                      std::chrono::seconds(5));
  }
  ++n;
}

void releaseSlot(Context& ctx, const std::string& userId) {
  std::lock_guard lock(ctx.sseMu);
  auto it = ctx.ssePerUser.find(userId);
  if (it != ctx.ssePerUser.end() && --it->second == 0) ctx.ssePerUser.erase(it);
}

void startStream(Context& ctx, const std::string& roomId, const Viewer& viewer,
                 uint64_t after, bool clientId, const std::shared_ptr<http::SseStream>& stream) {
  std::shared_ptr<RoomHub> hub;
  try {
    hub = ctx.hubs.get(roomId);
  } catch (...) {
    releaseSlot(ctx, viewer.userId);
    throw;
  }
  // Presence first: onClose runs at once for a stream that already ended, and must
  // find the connection to take away.
  ctx.presence.connected(roomId, viewer);
  stream->onClose([&ctx, hub, roomId, viewer, raw = stream.get()] {
    hub->detach(raw);
    ctx.presence.disconnected(roomId, viewer.userId);
    releaseSlot(ctx, viewer.userId);
  });
  hub->attach(stream, viewer, after, clientId);
  if (stream->closed()) hub->detach(stream.get());  // closed while attaching
}

http::Response events(Context& ctx, http::Request& req, bool roomWide) {
  const std::string& roomId = roomParam(req);
  const auto session =
      require(ctx, req, roomId, roomWide ? Action::ReadRoomEvents : Action::ReadOwnEvents);
  const auto resumeFrom = lastEventId(req);
  ctx.store.load(roomId);  // 404 for a room that was never created
  // A fresh stream starts at the stream's end as of this request, so an event
  // published after the client got its response head is never missed.
  const uint64_t after = resumeFrom ? *resumeFrom : ctx.bus.signalBounds().last;
  const auto& c = session.claims;
  Viewer viewer{c.userId, c.displayName, c.role};
  reserveSlot(ctx, c.userId);
  http::Response res;
  res.contentType = "text/event-stream";
  const bool clientId = resumeFrom.has_value();
  res.onStream = [&ctx, roomId, viewer, after, clientId](std::shared_ptr<http::SseStream> stream) {
    try {
      startStream(ctx, roomId, viewer, after, clientId, stream);
    } catch (const std::exception& e) {
      spdlog::warn("room {}: event stream for user {} failed: {}", roomId, viewer.userId,
                   e.what());
      stream->close();
    }
  };
  return res;
}

}  // namespace

void addEventRoutes(http::Router& router, Context& ctx) {
  router.add("GET", "/api/rooms/:roomId/events",
             [&ctx](http::Request& r) { return events(ctx, r, true); });
  router.add("GET", "/api/rooms/:roomId/user-events",
             [&ctx](http::Request& r) { return events(ctx, r, false); });
}

}  // namespace amphi::api
