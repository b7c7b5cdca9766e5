#include "api/api.hpp"

#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "auth/random.hpp"
#include "bus/bus.hpp"
#include "core/error.hpp"

namespace amphi::api {

using core::Errc;
using core::Error;

namespace {

// The one table from domain errors to HTTP statuses.
int statusFor(Errc code) {
  switch (code) {
    case Errc::BadRequest: return 400;
    case Errc::Unauthorized: return 401;
    case Errc::Forbidden: return 403;
    case Errc::NotFound: return 404;
    case Errc::Conflict: return 409;
    case Errc::PayloadTooLarge: return 413;
    case Errc::RateLimited: return 429;
    case Errc::Unavailable: return 503;
    case Errc::Internal: return 500;
  }
  return 500;
}

http::Response errorToResponse(const Error& e, const http::Request& req) {
  const int status = statusFor(e.code());
  const std::string code = e.detail().empty() ? std::string(core::codeName(e.code())) : e.detail();
  auto res = http::errorResponse(status, code, e.what());
  if (const auto* limited = dynamic_cast<const RateLimited*>(&e)) {
    res.header("Retry-After", std::to_string(limited->retryAfter.count()));
  }
  if (e.code() == Errc::Unauthorized) res.header("WWW-Authenticate", "Bearer");
  if (status >= 500) {
    spdlog::warn("api: {} {} → {}: {}", req.method, req.path, status, e.what());
  } else {
    spdlog::debug("api: {} {} → {}: {}", req.method, req.path, status, e.what());
  }
  return res;
}

}  // namespace

struct Api::State {
  Context ctx;
  http::Router router;
  State(ApiOptions options, bus::Bus& bus, http::Metrics& metrics)
      : ctx(std::move(options), bus, metrics) {
    addRoomRoutes(router, ctx);
    addHandRoutes(router, ctx);
    addStageRoutes(router, ctx);
    addEventRoutes(router, ctx);
    addSystemRoutes(router, ctx);
  }
};

Api::Api(ApiOptions options, bus::Bus& bus, http::Metrics& metrics)
    : state_(std::make_unique<State>(std::move(options), bus, metrics)) {}

Api::~Api() { shutdown(); }

http::Response Api::handle(http::Request& req) {
  const auto started = std::chrono::steady_clock::now();
  http::Response res;
  try {
    auto match = state_->router.match(req);
    if (match.handler) {
      res = (*match.handler)(req);
    } else if (match.pathKnown) {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      res = http::errorResponse(405, "method_not_allowed",
                                req.method + " is not allowed here; use " + allow);
      res.header("Allow", allow);
    } else {
      res = http::errorResponse(404, "not_found", "no such endpoint: " + req.path);
    }
  } catch (const Error& e) {
    res = errorToResponse(e, req);
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} failed: {}", req.method, req.path, e.what());
    res = http::errorResponse(500, "internal", "internal error; see the server log");
  }
  if (req.path.rfind("/api/", 0) == 0) {
    res.header("Cache-Control", "no-store");
    state_->ctx.metrics.requestMs.observe(std::chrono::duration<double, std::milli>(
                                              std::chrono::steady_clock::now() - started)
                                              .count());
  }
  return res;
}

std::string Api::createRoom(const std::string& id, const std::string& title, int maxStage) {
  auto& ctx = state_->ctx;
  core::RoomState room;
  room.id = id;
  room.title = title;
  room.maxStage = maxStage;
  room.createdAtMs = nowMs();
  const int64_t expires =
      ctx.options.inviteTtl.count() > 0 ? room.createdAtMs + ctx.options.inviteTtl.count() * 1000 : 0;
  room.moderatorInvite = {auth::randomToken(18), expires};
  room.viewerInvite = {auth::randomToken(18), expires};
  ctx.store.create(room);
  spdlog::info("room {}: created \"{}\" (stage for {})", id, title, maxStage);
  return roomCreatedJson(ctx, room).dump();
}

void Api::setLive(const std::string& roomId, bool live, const std::string& by) {
  auto& ctx = state_->ctx;
  auto result = ctx.store.change(roomId, [&](core::RoomState& room) {
    std::vector<core::Event> events;
    if (core::setLive(room, live, nowMs())) {
      events.push_back(makeEvent(live ? core::EventType::RoomLive : core::EventType::RoomEnded,
                                 roomId, by, by));
    }
    return events;
  });
  if (result.changed) spdlog::info("room {}: {} by {}", roomId, live ? "live" : "ended", by);
}

bool Api::stageEnabled() const { return state_->ctx.stage.enabled(); }

std::string Api::egressJanusTarget(const std::string& roomId) {
  auto& ctx = state_->ctx;
  if (!ctx.stage.enabled()) return "";
  try {
    return ctx.stage.egressTarget(ctx.store.load(roomId)).dump();
  } catch (const std::exception& e) {
    spdlog::warn("room {}: no Janus for its egress: {}", roomId, e.what());
    return "";
  }
}

std::string Api::inviteLink(const std::string& roomId, const std::string& role) {
  auto& ctx = state_->ctx;
  auto room = ctx.store.load(roomId);
  const auto& invite = role == "moderator" ? room.moderatorInvite : room.viewerInvite;
  return api::inviteLink(ctx, roomId, invite.code);
}

void Api::enableStage(const JanusServer& j) {
  auto& ctx = state_->ctx;
  ctx.stage.setHomeJanus(j);
  ctx.stage.startWatcher([&ctx](const std::string& roomId, const std::string& userId) {
    demoteUser(ctx, roomId, userId, "");
  });
}

std::string Api::janusUpstream(const std::string& path) {
  auto& stage = state_->ctx.stage;
  if (!stage.enabled() || path.rfind("/janus", 0) != 0) return {};
  if (path == "/janus") return stage.wsUrlOf(stage.homeId());
  if (path.size() > 7 && path[6] == '/' && path.find('/', 7) == std::string::npos) {
    try {
      return stage.wsUrlOf(path.substr(7));
    } catch (const std::exception& e) {
      spdlog::warn("stage: cannot resolve {}: {}", path, e.what());
    }
  }
  return {};
}

void Api::rewriteStageMessage(std::string& message) {
  try {
    state_->ctx.stage.enforceDisplay(message);
  } catch (const std::exception& e) {
    spdlog::warn("stage: could not check a message to Janus: {}", e.what());
  }
}

void Api::resyncStage(const std::string& janusId) { state_->ctx.stage.resync(janusId); }

void Api::shutdown() {
  if (!state_) return;
  state_->ctx.stage.stop();
  state_->ctx.presence.stop();
  state_->ctx.hubs.clear();
}

// ---- Context and helpers ----

namespace {
StageOptions stageOptions(const ApiOptions& o) {
  StageOptions s;
  std::string base = o.publicUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.rfind("https://", 0) == 0) {
    s.publicWsUrl = "wss://" + base.substr(8) + "/janus";
  } else if (base.rfind("http://", 0) == 0) {
    s.publicWsUrl = "ws://" + base.substr(7) + "/janus";
  }
  s.grace = o.stageGrace;
  s.turnUrls = o.turnUrls;
  s.turnSecret = o.turnSecret;
  s.turnTtl = o.turnTtl;
  return s;
}
}  // namespace

Context::Context(ApiOptions opts, bus::Bus& b, http::Metrics& m)
    : options(std::move(opts)),
      bus(b),
      metrics(m),
      store(b, m),
      keys(b, options.sessionSecret),
      hubs(b, m, options.replayLimit),
      presence(b, store, options.serveId, std::chrono::seconds(30), options.participantLeftGrace),
      stage(b, store, stageOptions(options)),
      joinLimiter(options.joinPerMinute, options.joinBurst),
      handLimiter(options.handPerMinute, options.handBurst) {}

std::shared_ptr<RoomHub> HubRegistry::get(const std::string& roomId) {
  std::lock_guard lock(mu_);
  sweep();
  auto& hub = hubs_[roomId];
  if (!hub) {
    auto fresh = std::make_shared<RoomHub>(roomId, bus_, metrics_, fanout_, replayLimit_);
    try {
      fresh->start();
    } catch (...) {
      hubs_.erase(roomId);
      throw;
    }
    hub = std::move(fresh);
  }
  return hub;
}

void HubRegistry::sweep() {
  const auto now = std::chrono::steady_clock::now();
  if (now - lastSweep_ < std::chrono::seconds(30)) return;
  lastSweep_ = now;
  for (auto it = hubs_.begin(); it != hubs_.end();) {
    const bool idle = it->second->connections() == 0 &&
                      now - it->second->idleSince() > std::chrono::minutes(5);
    if (idle) spdlog::info("room {}: no listeners for 5 min, unsubscribing", it->first);
    it = idle ? hubs_.erase(it) : std::next(it);
  }
}

void HubRegistry::clear() {
  std::lock_guard lock(mu_);
  hubs_.clear();
}

}  // namespace amphi::api
