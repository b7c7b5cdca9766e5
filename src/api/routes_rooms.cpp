// Rooms: create (admin), rotate invites (admin), read invites (moderator), public info, join,
// current session.
#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "auth/random.hpp"
#include "bus/bus.hpp"

namespace amphi::api {
namespace {

using core::Errc;
using core::Error;
using nlohmann::json;

std::string stringField(const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) throw Error(Errc::BadRequest, std::string("'") + name + "' is required");
    return {};
  }
  if (!it->is_string()) throw Error(Errc::BadRequest, std::string("'") + name + "' must be a string");
  return it->get<std::string>();
}

core::Invite freshInvite(const Context& ctx) {
  const auto ttl = ctx.options.inviteTtl.count();
  return {auth::randomToken(18), ttl > 0 ? nowMs() + ttl * 1000 : 0};
}

http::Response createRoom(Context& ctx, http::Request& req) {
  requireAdmin(req, ctx.options.adminKey, ctx.keys.signer().get());
  const json body = parseBody(req);
  core::RoomState room;
  room.id = stringField(body, "id", false);
  if (room.id.empty()) room.id = auth::randomId(10);
  if (!core::validRoomId(room.id)) {
    throw Error(Errc::BadRequest, "'id' must be 1-64 characters of a-z, 0-9 and '-'");
  }
  auto title = core::normalizeText(stringField(body, "title", true), core::kMaxTitleLength);
  if (!title) throw Error(Errc::BadRequest, "'title' must be 1-200 printable characters");
  room.title = *title;
  if (auto it = body.find("maxStage"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || *it < 1 || *it > core::kMaxStageLimit) {
      throw Error(Errc::BadRequest, "'maxStage' must be an integer from 1 to 16");
    }
    room.maxStage = it->get<int>();
  }
  room.createdAtMs = nowMs();
  room.moderatorInvite = freshInvite(ctx);
  room.viewerInvite = freshInvite(ctx);
  ctx.store.create(room);
  spdlog::info("room {}: created \"{}\" by admin from {}", room.id, room.title,
               clientAddress(ctx, req));
  return jsonResponse(201, roomCreatedJson(ctx, room)).header("Location", "/api/rooms/" + room.id);
}

http::Response rotateInvites(Context& ctx, http::Request& req) {
  requireAdmin(req, ctx.options.adminKey, ctx.keys.signer().get());
  const std::string& roomId = roomParam(req);
  parseBody(req);
  auto room = ctx.store.load(roomId);
  room.moderatorInvite = freshInvite(ctx);
  room.viewerInvite = freshInvite(ctx);
  room = ctx.store.replace(room);
  spdlog::info("room {}: invites rotated", roomId);
  return jsonResponse(200, roomCreatedJson(ctx, room));
}

// The room's current invite links, for a moderator to share (rotating stays admin-only).
http::Response readInvites(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  require(ctx, req, roomId, core::Action::ReadInvites);
  auto room = ctx.store.load(roomId);
  return jsonResponse(200, roomCreatedJson(ctx, room));
}

http::Response roomInfo(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  auto room = ctx.store.load(roomId);
  std::string base = ctx.options.publicUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return jsonResponse(200, {{"id", room.id},
                    {"title", room.title},
                    {"live", room.live},
                    {"hlsUrl", base + "/hls/" + room.id + "/index.m3u8"},
                    {"viewers", ctx.presence.counts(roomId).viewers}});
}

http::Response join(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  rateLimit(ctx.joinLimiter, clientAddress(ctx, req), "join attempts from this address");
  const json body = parseBody(req);
  const std::string code = stringField(body, "invite", true);
  auto name = core::normalizeDisplayName(stringField(body, "displayName", true));
  if (!name) throw Error(Errc::BadRequest, "'displayName' must be 1-64 printable characters");
  auto room = ctx.store.load(roomId);
  auto role = core::inviteRole(room, code, nowMs());
  if (!role) {
    throw Error(Errc::Forbidden, "this invite is not valid for room '" + roomId +
                                     "' (expired or rotated); ask the host for a new link",
                "invalid_invite");
  }
  Member member{auth::randomId(12), *name, *role};
  ctx.store.addMember(roomId, member);
  auth::Claims claims{roomId, member.userId, *name, *role, nowSeconds(),
                      nowSeconds() + ctx.options.sessionTtl.count()};
  const std::string token = ctx.keys.signer()->sign(claims);
  spdlog::info("room {}: user {} ({}) joined as {}", roomId, member.userId, *name,
               core::toString(*role));
  return jsonResponse(200, {{"token", token},
                    {"userId", member.userId},
                    {"role", core::toString(*role)},
                    {"displayName", *name},
                    {"roomId", roomId},
                    {"expiresAt", claims.expiresAt}})
      .header("Set-Cookie",
              sessionCookie(roomId, token, ctx.options.sessionTtl, ctx.options.secureCookies));
}

http::Response whoami(Context& ctx, http::Request& req) {
  const std::string& roomId = roomParam(req);
  const auto session = requireMember(ctx, req, roomId);
  const auto& c = session.claims;
  return jsonResponse(200, {{"userId", c.userId},
                    {"role", core::toString(c.role)},
                    {"displayName", c.displayName},
                    {"roomId", c.roomId},
                    {"expiresAt", c.expiresAt}});
}

}  // namespace

void addRoomRoutes(http::Router& router, Context& ctx) {
  router.add("POST", "/api/rooms", [&ctx](http::Request& r) { return createRoom(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/invites",
             [&ctx](http::Request& r) { return rotateInvites(ctx, r); });
  router.add("GET", "/api/rooms/:roomId/invites",
             [&ctx](http::Request& r) { return readInvites(ctx, r); });
  router.add("GET", "/api/rooms/:roomId", [&ctx](http::Request& r) { return roomInfo(ctx, r); });
  router.add("POST", "/api/rooms/:roomId/join", [&ctx](http::Request& r) { return join(ctx, r); });
  router.add("GET", "/api/rooms/:roomId/session",
             [&ctx](http::Request& r) { return whoami(ctx, r); });
}

}  // namespace amphi::api
