// Internal to src/api: the stage on Janus. Grants (a per-user Janus token, in the
// room's `allowed` list for publishers) are made before PROMOTE is published and
// revoked (kick, disallow, remove token) before DEMOTE is. Placement of each room's
// VideoRoom and every grant live in the KV bucket, so any serve drives the right Janus
// and a restarted Janus is re-synced from there.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api.hpp"
#include "api/room_store.hpp"
#include "core/room.hpp"

namespace amphi::sfu {
class JanusClient;
}

namespace amphi::api {

// One Janus server, as registered in the KV bucket (key janus.server.<id>).
using JanusEndpoint = JanusServer;

struct StageOptions {
  std::string publicWsUrl;                   // janusUrl handed to browsers (serve's /janus)
  std::chrono::seconds tokenTtl{600};        // stage tokens; renewed while on stage
  std::chrono::seconds moderatorTtl{std::chrono::hours(12)};
  std::chrono::seconds grace{10};            // a publisher gone this long is demoted
  std::chrono::seconds joinAllowance{30};    // time to start publishing after promotion
  nlohmann::json iceServers = nlohmann::json::array();
  std::vector<std::string> turnUrls;         // added to iceServers with a fresh credential
  std::string turnSecret;
  std::chrono::seconds turnTtl{std::chrono::hours(12)};
};

class StageService {
 public:
  using Demote = std::function<void(const std::string& roomId, const std::string& userId)>;

  StageService(bus::Bus& bus, RoomStore& store, StageOptions options);
  ~StageService();

  // The Janus this serve places new rooms on (embedded, or --janus-url).
  void setHomeJanus(const JanusEndpoint& endpoint);
  bool enabled() const;
  std::string homeId();
  bool janusReady();

  // Publisher grant (promote, moderator) or subscribe-only grant (raised hand).
  // Idempotent; upgrades a subscribe-only grant to a publisher grant.
  void grant(const core::RoomState& room, const std::string& userId, core::Role role,
             bool publish);
  // Kicks the user's publisher, disallows and removes the token. With subscribeOnly,
  // touches nothing when the user holds a publisher grant.
  void revoke(const std::string& roomId, const std::string& userId, bool subscribeOnly = false);
  // {janusUrl, janusRoom, token, iceServers, display}; grants when needed (callers
  // check who may ask). iceServers carries the TURN server, if any, with a credential
  // for this user valid for turnTtl. Throws Unavailable when no Janus is reachable.
  nlohmann::json credentials(const core::RoomState& room, const std::string& userId,
                             core::Role role, bool publish);

  // What an egress needs to rtp_forward the room's publishers: Janus HTTP/Admin URLs and
  // secrets, the VideoRoom number and secret (passed in the environment, never argv).
  nlohmann::json egressTarget(const core::RoomState& room);
  // The WebSocket URL of a registered Janus (for serve's /janus/<id> relay); "" if unknown.
  std::string wsUrlOf(const std::string& janusId);
  // For messages browsers send to Janus through serve's /janus relay: a publisher's
  // join gets the display of the user its stage token belongs to, and configure may
  // not change it, so serve can always tell whose feed to kick or watch.
  void enforceDisplay(std::string& message);

  // Re-creates rooms and grants on a Janus that restarted.
  void resync(const std::string& janusId);
  // Starts the watcher: demotes publishers gone for longer than the grace, renews and
  // expires tokens.
  void startWatcher(Demote demote);
  void stop();

 private:
  struct Placement {
    std::string janusId;
    uint64_t janusRoom = 0;
    std::string secret;
  };
  struct Grant {
    std::string token;
    bool publish = false;
    bool moderator = false;
    int64_t grantedAtMs = 0;
    int64_t expiresAtMs = 0;
  };

  Placement placement(const core::RoomState& room);
  std::optional<Placement> existingPlacement(const std::string& roomId);
  sfu::JanusClient& client(const std::string& janusId);
  void ensureRoom(const core::RoomState& room, const Placement& p);
  std::optional<Grant> loadGrant(const std::string& roomId, const std::string& userId);
  void saveGrant(const std::string& roomId, const std::string& userId, const Grant& g);
  void kickUser(const Placement& p, const std::string& userId);
  std::optional<std::string> userForToken(const std::string& token);
  void watch(const Demote& demote);
  void watchRoom(const std::string& roomId, const std::map<std::string, Grant>& grants,
                 const Demote& demote);

  bus::Bus& bus_;
  RoomStore& store_;
  StageOptions options_;
  std::mutex mu_;
  std::optional<JanusEndpoint> home_;
  std::map<std::string, std::unique_ptr<sfu::JanusClient>> clients_;  // by Janus id
  std::map<std::string, std::chrono::steady_clock::time_point> lastSeen_;  // room/user
  std::map<std::string, std::string> tokenUsers_;  // stage token → user id (cache)
  std::map<std::string, std::string> wsUrls_;      // Janus id → WebSocket URL (cache)
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace amphi::api
