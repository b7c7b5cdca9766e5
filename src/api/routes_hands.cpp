// Hands (raise / lower), the room's live flag and the /state snapshot.
#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "bus/bus.hpp"

namespace amphi::api {
namespace {

using core::Action;
using core::Errc;
using core::Error;
using core::EventType;
using nlohmann::json;

http::Response raiseHand(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = require(ctx, req, roomId, Action::RaiseHand);
  parseBody(req);
  const auto& me = session.claims;
  rateLimit(ctx.handLimiter, roomId + "/" + me.userId, "hand changes");
  std::size_t position = 0;
  auto result = ctx.store.change(roomId, [&](core::RoomState& room) {
    auto raised = core::raiseHand(room, me.userId, me.displayName, nowMs());
    position = raised.position;
    std::vector<core::Event> events;
    if (raised.changed) {
      auto e = makeEvent(EventType::RaiseHand, roomId, me.userId, me.displayName);
      e.data["position"] = raised.position;
      events.push_back(std::move(e));
    }
    return events;
  });
  if (result.changed) spdlog::info("room {}: user {} raised a hand (#{})", roomId, me.userId, position);
  return jsonResponse(200, {{"raised", true}, {"position", position}, {"changed", result.changed}});
}

http::Response lowerHand(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = require(ctx, req, roomId, Action::LowerOwnHand);
  const json body = parseBody(req);
  const auto& me = session.claims;
  std::string target = me.userId;
  if (auto it = body.find("userId"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) throw Error(Errc::BadRequest, "'userId' must be a string");
    target = it->get<std::string>();
  }
  if (target != me.userId && !core::allowed(me.role, Action::LowerAnyHand)) {
    throw Error(Errc::Forbidden, "only a moderator may lower someone else's hand");
  }
  rateLimit(ctx.handLimiter, roomId + "/" + me.userId, "hand changes");
  std::string targetName = target == me.userId ? me.displayName : "";
  auto result = ctx.store.change(roomId, [&](core::RoomState& room) {
    if (auto pos = core::handPosition(room, target)) targetName = room.hands[*pos - 1].displayName;
    std::vector<core::Event> events;
    if (core::lowerHand(room, target)) {
      auto e = makeEvent(EventType::LowerHand, roomId, target, targetName);
      e.data["by"] = me.userId;
      events.push_back(std::move(e));
    }
    return events;
  });
  if (result.changed) spdlog::info("room {}: hand of {} lowered by {}", roomId, target, me.userId);
  if (ctx.stage.enabled()) ctx.stage.revoke(roomId, target, /*subscribeOnly=*/true);
  return jsonResponse(200, {{"raised", false}, {"userId", target}, {"changed", result.changed}});
}

http::Response setLive(Context& ctx, http::Request& req, bool live) {
  const std::string& roomId = roomParam(req);
  const auto session = require(ctx, req, roomId, Action::SetLive);
  parseBody(req);
  auto result = ctx.store.change(roomId, [&](core::RoomState& room) {
    std::vector<core::Event> events;
    if (core::setLive(room, live, nowMs())) {
      events.push_back(makeEvent(live ? EventType::RoomLive : EventType::RoomEnded, roomId,
                                 session.claims.userId, session.claims.displayName));
    }
    return events;
  });
  if (result.changed) {
    spdlog::info("room {}: {} by {}", roomId, live ? "live" : "ended", session.claims.userId);
  }
  return jsonResponse(200, {{"live", result.room.live}, {"changed", result.changed}});
}

http::Response state(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = require(ctx, req, roomId, Action::ReadState);
  // The event id first: every event after it is either reflected below or will be
  // delivered to a stream that resumes from it.
  const uint64_t lastEventId = ctx.bus.signalBounds().last;
  const auto room = ctx.store.load(roomId);
  const auto counts = ctx.presence.counts(roomId);
  const auto& me = session.claims;
  const bool moderator = me.role == core::Role::Moderator;
  json hands = json::array();
  for (std::size_t i = 0; moderator && i < room.hands.size(); ++i) {
    const auto& h = room.hands[i];
    hands.push_back({{"userId", h.userId},
                     {"displayName", h.displayName},
                     {"raisedAt", h.raisedAtMs},
                     {"position", i + 1}});
  }
  auto position = core::handPosition(room, me.userId);
  return jsonResponse(200, {{"roomId", room.id},
                    {"title", room.title},
                    {"live", room.live},
                    {"maxStage", room.maxStage},
                    {"hands", std::move(hands)},
                    {"stage", stageListJson(room)},
                    {"counts",
                     {{"viewers", counts.viewers},
                      {"moderators", counts.moderators},
                      {"stage", room.stage.size()},
                      {"hands", room.hands.size()}}},
                    {"lastEventId", lastEventId},
                    {"you",
                     {{"userId", me.userId},
                      {"displayName", me.displayName},
                      {"role", core::toString(me.role)},
                      {"handPosition", position ? json(*position) : json(nullptr)},
                      {"onStage", core::onStage(room, me.userId)}}}});
}

}  // namespace

void addHandRoutes(http::Router& router, Context& ctx) {
  router.add("POST", "/api/rooms/:roomId/raise-hand",
             [&ctx](http::Request& r) { return raiseHand(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/lower-hand",
             [&ctx](http::Request& r) { return lowerHand(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/live",
             [&ctx](http::Request& r) { return setLive(ctx, r, true); });
  router.add("POST", "/api/rooms/:roomId/end",
             [&ctx](http::Request& r) { return setLive(ctx, r, false); });
  router.add("GET", "/api/rooms/:roomId/state", [&ctx](http::Request& r) { return state(ctx, r); });
}

}  // namespace amphi::api
