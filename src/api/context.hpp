// Internal to src/api: what every handler needs, and the small helpers they share.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api.hpp"
#include "api/hub.hpp"
#include "api/presence.hpp"
#include "api/room_store.hpp"
#include "api/session.hpp"
#include "api/stage.hpp"
#include "auth/rate_limit.hpp"
#include "core/error.hpp"
#include "core/permissions.hpp"
#include "http/router.hpp"

namespace amphi::api {

// One hub per active room; idle hubs are dropped after a while.
class HubRegistry {
 public:
  HubRegistry(bus::Bus& bus, http::Metrics& metrics, std::size_t replayLimit)
      : bus_(bus), metrics_(metrics), replayLimit_(replayLimit),
        fanout_(Fanout::defaultHelpers()) {}
  std::shared_ptr<RoomHub> get(const std::string& roomId);
  void clear();

 private:
  void sweep();  // mu_ held
  bus::Bus& bus_;
  http::Metrics& metrics_;
  std::size_t replayLimit_;
  Fanout fanout_;  // before hubs_: outlives them
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<RoomHub>> hubs_;
  std::chrono::steady_clock::time_point lastSweep_ = std::chrono::steady_clock::now();
};

struct Context {
  ApiOptions options;
  bus::Bus& bus;
  http::Metrics& metrics;
  RoomStore store;
  SessionKeys keys;
  HubRegistry hubs;
  Presence presence;
  StageService stage;
  auth::RateLimiter joinLimiter;
  auth::RateLimiter handLimiter;
  std::mutex sseMu;
  std::map<std::string, std::size_t> ssePerUser;  // guarded by sseMu

  Context(ApiOptions opts, bus::Bus& b, http::Metrics& m);
};

class RateLimited : public core::Error {
 public:
  RateLimited(std::string message, std::chrono::seconds after)
      : core::Error(core::Errc::RateLimited, std::move(message)), retryAfter(after) {}
  std::chrono::seconds retryAfter;
};

int64_t nowMs();
int64_t nowSeconds();
// An empty body means {}; anything but a JSON object is a 400.
nlohmann::json parseBody(const http::Request& req);
http::Response jsonResponse(int status, const nlohmann::json& body);
// The room id from the path, validated (404 for ids that cannot exist).
const std::string& roomParam(const http::Request& req);
// Authenticates, checks the role rule and (for POSTs) the CSRF rule.
Session requireMember(Context& ctx, const http::Request& req, const std::string& roomId);
Session require(Context& ctx, const http::Request& req, const std::string& roomId,
                core::Action action);
// The client's address (X-Forwarded-For from a trusted proxy, else the TCP peer).
std::string clientAddress(const Context& ctx, const http::Request& req);
void rateLimit(auth::RateLimiter& limiter, const std::string& key, const char* what);
core::Event makeEvent(core::EventType type, const std::string& roomId, const std::string& userId,
                      const std::string& displayName);
nlohmann::json stageListJson(const core::RoomState& room);
std::string inviteLink(const Context& ctx, const std::string& roomId, const std::string& code);
nlohmann::json roomCreatedJson(const Context& ctx, const core::RoomState& room);

// Takes a user off the stage: Janus access revoked first, then the state change and
// DEMOTE + STAGE_CHANGED. Used by the demote endpoint and the stage watcher.
http::Response demoteUser(Context& ctx, const std::string& roomId, const std::string& target,
                          const std::string& by);

void addRoomRoutes(http::Router& router, Context& ctx);
void addHandRoutes(http::Router& router, Context& ctx);
void addStageRoutes(http::Router& router, Context& ctx);
void addEventRoutes(http::Router& router, Context& ctx);
void addSystemRoutes(http::Router& router, Context& ctx);

}  // namespace amphi::api
