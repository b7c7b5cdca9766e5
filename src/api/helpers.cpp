// Helpers shared by the handlers (declared in context.hpp).
#include <chrono>

#include "api/context.hpp"
#include "core/error.hpp"

namespace amphi::api {

using core::Errc;
using core::Error;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t nowSeconds() { return nowMs() / 1000; }

nlohmann::json parseBody(const http::Request& req) {
  if (req.body.empty()) return nlohmann::json::object();
  auto body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw Error(Errc::BadRequest, "request body is not valid JSON");
  if (!body.is_object()) throw Error(Errc::BadRequest, "request body must be a JSON object");
  return body;
}

http::Response jsonResponse(int status, const nlohmann::json& body) {
  http::Response res;
  res.status = status;
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

const std::string& roomParam(const http::Request& req) {
  const std::string& id = req.param("roomId");
  if (!core::validRoomId(id)) throw Error(Errc::NotFound, "no room '" + id + "'");
  return id;
}

Session requireMember(Context& ctx, const http::Request& req, const std::string& roomId) {
  auto signer = ctx.keys.signer();
  Session session = authenticate(req, roomId, *signer, nowSeconds());
  checkCsrf(req, session, ctx.options.publicUrl);
  return session;
}

Session require(Context& ctx, const http::Request& req, const std::string& roomId,
                core::Action action) {
  Session session = requireMember(ctx, req, roomId);
  if (!core::allowed(session.claims.role, action)) {
    throw Error(Errc::Forbidden, "your role (" + std::string(core::toString(session.claims.role)) +
                                     ") may not do this");
  }
  return session;
}

std::string clientAddress(const Context& ctx, const http::Request& req) {
  const std::string* forwarded = req.header("x-forwarded-for");
  return auth::clientAddress(req.remoteAddress, forwarded ? *forwarded : std::string_view{},
                             ctx.options.trustedProxies);
}

void rateLimit(auth::RateLimiter& limiter, const std::string& key, const char* what) {
  auto decision = limiter.check(key);
  if (!decision.allowed) {
    throw RateLimited(std::string("too many ") + what + "; try again in " +
                          std::to_string(decision.retryAfter.count()) + " s",
                      decision.retryAfter);
  }
}

core::Event makeEvent(core::EventType type, const std::string& roomId, const std::string& userId,
                      const std::string& displayName) {
  return core::Event{type, roomId, userId, displayName, nowMs(), nlohmann::json::object()};
}

nlohmann::json stageListJson(const core::RoomState& room) {
  auto stage = nlohmann::json::array();
  for (const auto& s : room.stage) {
    stage.push_back({{"userId", s.userId}, {"displayName", s.displayName}, {"since", s.sinceMs}});
  }
  return stage;
}

std::string inviteLink(const Context& ctx, const std::string& roomId, const std::string& code) {
  std::string base = ctx.options.publicUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/r/" + roomId + "#invite=" + code;
}

nlohmann::json roomCreatedJson(const Context& ctx, const core::RoomState& room) {
  auto invite = [&](const core::Invite& inv) {
    nlohmann::json j = {{"code", inv.code}, {"link", inviteLink(ctx, room.id, inv.code)}};
    if (inv.expiresAtMs) j["expiresAt"] = inv.expiresAtMs;
    return j;
  };
  return {{"id", room.id},
          {"title", room.title},
          {"maxStage", room.maxStage},
          {"invites",
           {{"moderator", invite(room.moderatorInvite)}, {"viewer", invite(room.viewerInvite)}}}};
}

}  // namespace amphi::api
