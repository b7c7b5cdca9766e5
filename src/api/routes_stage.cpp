// Stage membership: promote (moderator) and demote (moderator, or the user themself).
#include <spdlog/spdlog.h>

#include "api/context.hpp"

namespace amphi::api {
namespace {

using core::Action;
using core::Errc;
using core::Error;
using core::EventType;
using nlohmann::json;

const std::string& userParam(const http::Request& req) {
  const std::string& id = req.param("userId");
  if (!core::validUserId(id)) throw Error(Errc::NotFound, "no user '" + id + "' in this room");
  return id;
}

core::Event stageChanged(const std::string& roomId, const core::RoomState& room,
                         const std::string& userId, const std::string& name, const char* action) {
  auto e = makeEvent(EventType::StageChanged, roomId, userId, name);
  e.data["action"] = action;
  e.data["stage"] = stageListJson(room);
  return e;
}

http::Response promote(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = require(ctx, req, roomId, Action::Promote);
  parseBody(req);
  const std::string& target = userParam(req);
  auto member = ctx.store.member(roomId, target);
  if (!member) throw Error(Errc::NotFound, "user '" + target + "' never joined this room");
  auto before = ctx.store.load(roomId);
  if (!core::onStage(before, target) && core::stageFull(before)) {
    throw Error(Errc::Conflict, "the stage is full (" + std::to_string(before.maxStage) +
                                    " people); demote someone first", "stage_full");
  }
  // Janus access first: by the time PROMOTE is out, the user's credentials work.
  const bool stage = ctx.stage.enabled();
  if (stage) ctx.stage.grant(before, target, member->role, true);
  ChangeResult result;
  try {
    result = ctx.store.change(roomId, [&](core::RoomState& room) {
      std::vector<core::Event> events;
      if (core::promote(room, target, member->displayName, nowMs())) {
        auto e = makeEvent(EventType::Promote, roomId, target, member->displayName);
        e.data["by"] = session.claims.userId;
        events.push_back(std::move(e));
        events.push_back(stageChanged(roomId, room, target, member->displayName, "promote"));
      }
      return events;
    });
  } catch (...) {
    if (stage) ctx.stage.revoke(roomId, target);  // e.g. the stage filled up meanwhile
    throw;
  }
  if (result.changed) {
    spdlog::info("room {}: user {} promoted by {}", roomId, target, session.claims.userId);
  }
  return jsonResponse(200, {{"userId", target},
                            {"onStage", true},
                            {"changed", result.changed},
                            {"stage", stageListJson(result.room)}});
}

http::Response demote(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = requireMember(ctx, req, roomId);
  parseBody(req);
  const std::string& target = userParam(req);
  const bool self = target == session.claims.userId;
  if (!self && !core::allowed(session.claims.role, Action::DemoteAny)) {
    throw Error(Errc::Forbidden, "only a moderator may take someone else off the stage");
  }
  return demoteUser(ctx, roomId, target, session.claims.userId);
}

http::Response credentials(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = requireMember(ctx, req, roomId);
  parseBody(req);
  const auto mode = req.queryParam("mode").value_or("publish");
  if (mode != "publish" && mode != "subscribe") {
    throw Error(Errc::BadRequest, "mode must be 'publish' or 'subscribe'");
  }
  if (!ctx.stage.enabled()) {
    throw Error(Errc::Unavailable, "the stage is not available: no media server is running");
  }
  const auto& me = session.claims;
  const auto room = ctx.store.load(roomId);
  const bool mayPublish = me.role == core::Role::Moderator || core::onStage(room, me.userId);
  if (mode == "publish" && !mayPublish) {
    throw Error(Errc::Forbidden, "only the moderator and people on stage may join the stage");
  }
  if (mode == "subscribe" && !mayPublish && !core::handPosition(room, me.userId)) {
    throw Error(Errc::Forbidden, "raise your hand first to warm up for the stage");
  }
  return jsonResponse(200, ctx.stage.credentials(room, me.userId, me.role, mayPublish));
}

}  // namespace

http::Response demoteUser(Context& ctx, const std::string& roomId, const std::string& target,
                          const std::string& by) {
  // Janus first: the publisher is kicked and its token dead before DEMOTE goes out.
  if (ctx.stage.enabled()) ctx.stage.revoke(roomId, target);
  std::string name;
  auto result = ctx.store.change(roomId, [&](core::RoomState& room) {
    for (const auto& s : room.stage) {
      if (s.userId == target) name = s.displayName;
    }
    std::vector<core::Event> events;
    if (core::demote(room, target)) {
      auto e = makeEvent(EventType::Demote, roomId, target, name);
      e.data["by"] = by;
      e.data["reason"] = by.empty() ? "left" : (by == target ? "self" : "moderator");
      events.push_back(std::move(e));
      events.push_back(stageChanged(roomId, room, target, name, "demote"));
    }
    return events;
  });
  if (result.changed) {
    spdlog::info("room {}: user {} left the stage ({})", roomId, target,
                 by.empty() ? "stopped publishing" : by == target ? "by themself" : "demoted by " + by);
  }
  return jsonResponse(200, {{"userId", target},
                            {"onStage", false},
                            {"changed", result.changed},
                            {"stage", stageListJson(result.room)}});
}

void addStageRoutes(http::Router& router, Context& ctx) {
  router.add("POST", "/api/rooms/:roomId/promote/:userId",
             [&ctx](http::Request& r) { return promote(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/demote/:userId",
             [&ctx](http::Request& r) { return demote(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/stage/credentials",
             [&ctx](http::Request& r) { return credentials(ctx, r); });
}

}  // namespace amphi::api
