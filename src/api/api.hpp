// The REST API and event streams: HTTP requests in, core rules applied to room state
// in the KV bucket, events out through the bus. Errors are mapped to HTTP in one place.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/message.hpp"
#include "http/metrics.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::api {

struct ApiOptions {
  std::string publicUrl = "http://127.0.0.1:8080";  // base of invite links and hlsUrl
  std::string adminKey;                              // ≥ 16 characters
  std::string serveId;                               // names this process in presence records
  std::string sessionSecret;                         // empty: shared secret from the KV bucket
  std::chrono::seconds sessionTtl{std::chrono::hours(12)};
  std::chrono::seconds inviteTtl{std::chrono::hours(24 * 30)};  // 0: never expire
  double joinPerMinute = 60;   // per client address
  double joinBurst = 60;
  std::vector<std::string> trustedProxies;  // peers whose X-Forwarded-For is believed
  double handPerMinute = 20;   // raise + lower, per user
  double handBurst = 20;
  std::size_t maxSsePerUser = 8;
  std::size_t replayLimit = 1000;  // more missed events than this: RESET instead
  std::chrono::seconds participantLeftGrace{5};
  bool secureCookies = false;  // set when serving HTTPS
  std::chrono::seconds stageGrace{10};  // a promoted user not publishing this long is demoted
  // TURN for the stage: URLs handed to browsers in iceServers with credentials derived
  // from the shared secret (username "<expiry>:<userId>"); none when turnUrls is empty.
  std::vector<std::string> turnUrls;
  std::string turnSecret;
  std::chrono::seconds turnTtl{std::chrono::hours(12)};
  std::function<bool()> turnAlive;  // a private coturn's state for /readyz; empty: none
};

// A Janus server the stage can use (embedded, or given with --janus-url).
struct JanusServer {
  std::string id;
  std::string wsUrl;
  std::string httpUrl;
  std::string adminUrl;
  std::string adminSecret;
  std::string roomAdminKey;
};

class Api {
 public:
  Api(ApiOptions options, bus::Bus& bus, http::Metrics& metrics);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  http::Response handle(http::Request& request);
  // Creates a room as the admin would; used for the demo room at first start.
  // Returns the JSON the create endpoint returns.
  std::string createRoom(const std::string& id, const std::string& title, int maxStage);
  // Starts or ends a room's broadcast on the server's own behalf (the demo source).
  void setLive(const std::string& roomId, bool live, const std::string& by);
  // Whether this serve has a Janus for the stage (cheap; no request to Janus).
  bool stageEnabled() const;
  // JSON the room's egress needs to forward the stage from Janus; "" without a stage.
  std::string egressJanusTarget(const std::string& roomId);
  // Invite link of an existing room for a role ("moderator" | "viewer").
  std::string inviteLink(const std::string& roomId, const std::string& role);
  // Enables the stage on this Janus and starts the stage watcher.
  void enableStage(const JanusServer& janus);
  // Upstream of serve's WebSocket relay for a path: "/janus" (this serve's Janus) or
  // "/janus/<id>" (the Janus registered under that id); "" for any other path.
  std::string janusUpstream(const std::string& path);
  // Pins the display of publishers joining through serve's /janus relay.
  void rewriteStageMessage(std::string& message);
  // Re-creates VideoRooms and grants after that Janus restarted.
  void resyncStage(const std::string& janusId);
  // Stops hubs, the stage watcher and presence (flushing a last presence record).
  void shutdown();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace amphi::api
