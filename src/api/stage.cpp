#include "api/context.hpp"
#include "api/stage.hpp"

#include <spdlog/spdlog.h>

#include "auth/random.hpp"
#include "auth/turn_credentials.hpp"
#include "bus/bus.hpp"
#include "core/error.hpp"
#include "sfu/janus_client.hpp"

namespace amphi::api {
namespace {

using core::Errc;
using core::Error;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string grantKey(const std::string& roomId, const std::string& userId) {
  return "stage." + roomId + "." + userId;
}
std::string placementKey(const std::string& roomId) { return "janus.room." + roomId; }
std::string serverKey(const std::string& janusId) { return "janus.server." + janusId; }

}  // namespace

StageService::StageService(bus::Bus& bus, RoomStore& store, StageOptions options)
    : bus_(bus), store_(store), options_(std::move(options)) {}

StageService::~StageService() { stop(); }

void StageService::setHomeJanus(const JanusEndpoint& e) {
  json j = {{"id", e.id},           {"wsUrl", e.wsUrl},
            {"httpUrl", e.httpUrl}, {"adminUrl", e.adminUrl},
            {"adminSecret", e.adminSecret}, {"roomAdminKey", e.roomAdminKey}};
  bus_.put(bus::Bucket::Rooms, serverKey(e.id), j.dump());
  std::lock_guard lock(mu_);
  home_ = e;
}

bool StageService::enabled() const { return home_.has_value(); }

std::string StageService::homeId() {
  std::lock_guard lock(mu_);
  return home_ ? home_->id : std::string();
}

bool StageService::janusReady() {
  std::string id;
  {
    std::lock_guard lock(mu_);
    if (!home_) return false;
    id = home_->id;
  }
  try {
    return client(id).ping();
  } catch (const std::exception&) {
    return false;
  }
}

sfu::JanusClient& StageService::client(const std::string& janusId) {
  std::lock_guard lock(mu_);
  auto& c = clients_[janusId];
  if (!c) {
    JanusEndpoint e;
    if (home_ && home_->id == janusId) {
      e = *home_;
    } else {
      auto entry = bus_.get(bus::Bucket::Rooms, serverKey(janusId));
      if (!entry) throw Error(Errc::Unavailable, "media server " + janusId + " is not registered");
      auto j = json::parse(entry->value);
      e = {janusId, j["wsUrl"], j["httpUrl"], j["adminUrl"], j["adminSecret"], j["roomAdminKey"]};
    }
    c = std::make_unique<sfu::JanusClient>(e.httpUrl, e.adminUrl, e.adminSecret, e.roomAdminKey);
  }
  return *c;
}

std::optional<StageService::Placement> StageService::existingPlacement(const std::string& roomId) {
  auto entry = bus_.get(bus::Bucket::Rooms, placementKey(roomId));
  if (!entry) return std::nullopt;
  auto j = json::parse(entry->value);
  return Placement{j["janusId"], j["janusRoom"], j["secret"]};
}

StageService::Placement StageService::placement(const core::RoomState& room) {
  if (auto p = existingPlacement(room.id)) return *p;
  std::string home;
  {
    std::lock_guard lock(mu_);
    if (!home_) throw Error(Errc::Unavailable, "no media server is configured for the stage");
    home = home_->id;
  }
  // Janus room numbers must be safe as JavaScript numbers (< 2^53).
  uint64_t number = 0;
  for (char c : auth::randomId(12)) number = number * 36 + (std::isdigit(c) ? c - '0' : c - 'a' + 10);
  Placement p{home, number % (uint64_t{1} << 52) + 1, auth::randomToken(24)};
  json j = {{"janusId", p.janusId}, {"janusRoom", p.janusRoom}, {"secret", p.secret}};
  try {
    bus_.create(bus::Bucket::Rooms, placementKey(room.id), j.dump());
    spdlog::info("room {}: stage placed on media server {} (VideoRoom {})", room.id, home,
                 p.janusRoom);
    return p;
  } catch (const bus::CasConflict&) {  // another serve placed it first
    return *existingPlacement(room.id);
  }
}

json StageService::egressTarget(const core::RoomState& room) {
  const Placement p = placement(room);
  ensureRoom(room, p);
  JanusEndpoint e;
  {
    std::lock_guard lock(mu_);
    if (home_ && home_->id == p.janusId) e = *home_;
  }
  if (e.id.empty()) {
    auto entry = bus_.get(bus::Bucket::Rooms, serverKey(p.janusId));
    if (!entry) throw Error(Errc::Unavailable, "media server " + p.janusId + " is not registered");
    auto j = json::parse(entry->value);
    e = {p.janusId, j["wsUrl"], j["httpUrl"], j["adminUrl"], j["adminSecret"], j["roomAdminKey"]};
  }
  return {{"httpUrl", e.httpUrl}, {"adminUrl", e.adminUrl}, {"adminSecret", e.adminSecret},
          {"roomAdminKey", e.roomAdminKey}, {"room", p.janusRoom}, {"secret", p.secret}};
}

void StageService::ensureRoom(const core::RoomState& room, const Placement& p) {
  auto& c = client(p.janusId);
  if (c.roomExists(p.janusRoom)) return;
  try {
    c.createRoom(p.janusRoom, p.secret, room.maxStage + 1, "amphi " + room.id);
  } catch (const sfu::JanusError& e) {
    if (e.code() != sfu::janus_error::kRoomExists) throw;
  }
}

std::optional<StageService::Grant> StageService::loadGrant(const std::string& roomId,
                                                           const std::string& userId) {
  auto entry = bus_.get(bus::Bucket::Rooms, grantKey(roomId, userId));
  if (!entry || entry->value.empty()) return std::nullopt;
  auto j = json::parse(entry->value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return Grant{j.value("token", ""), j.value("publish", false), j.value("moderator", false),
               j.value("grantedAtMs", int64_t{0}), j.value("expiresAtMs", int64_t{0})};
}

void StageService::saveGrant(const std::string& roomId, const std::string& userId,
                             const Grant& g) {
  json j = {{"token", g.token},
            {"publish", g.publish},
            {"moderator", g.moderator},
            {"grantedAtMs", g.grantedAtMs},
            {"expiresAtMs", g.expiresAtMs}};
  bus_.put(bus::Bucket::Rooms, grantKey(roomId, userId), j.dump());
}

void StageService::grant(const core::RoomState& room, const std::string& userId,
                         core::Role role, bool publish) {
  const auto p = placement(room);
  ensureRoom(room, p);
  auto existing = loadGrant(room.id, userId);
  Grant g = existing.value_or(Grant{auth::randomToken(24), false, false, nowMs(), 0});
  const bool moderator = role == core::Role::Moderator;
  g.publish = g.publish || publish;
  g.moderator = moderator;
  g.grantedAtMs = nowMs();
  g.expiresAtMs = nowMs() + 1000 * (moderator ? options_.moderatorTtl : options_.tokenTtl).count();
  auto& c = client(p.janusId);
  c.addToken(g.token);
  if (g.publish) c.allow(p.janusRoom, p.secret, {g.token});
  saveGrant(room.id, userId, g);
  {
    std::lock_guard lock(mu_);
    tokenUsers_[g.token] = userId;
  }
  if (!existing || (publish && !existing->publish)) {
    std::lock_guard lock(mu_);
    lastSeen_.erase(room.id + "/" + userId);
    spdlog::info("room {}: user {} may {} on the stage", room.id, userId,
                 g.publish ? "publish" : "subscribe");
  }
}

void StageService::kickUser(const Placement& p, const std::string& userId) {
  auto& c = client(p.janusId);
  for (const auto& participant : c.participants(p.janusRoom)) {
    if (participant.display != userId) continue;
    try {
      c.kick(p.janusRoom, p.secret, participant.id);
    } catch (const sfu::JanusError& e) {
      if (e.code() != sfu::janus_error::kNoSuchParticipant) throw;
    }
  }
}

void StageService::revoke(const std::string& roomId, const std::string& userId,
                          bool subscribeOnly) {
  auto g = loadGrant(roomId, userId);
  if (!g || (subscribeOnly && g->publish)) return;
  if (auto p = existingPlacement(roomId)) {
    auto& c = client(p->janusId);
    if (g->publish) c.disallow(p->janusRoom, p->secret, {g->token});
    kickUser(*p, userId);
    c.removeToken(g->token);
  }
  bus_.put(bus::Bucket::Rooms, grantKey(roomId, userId), "");
  std::lock_guard lock(mu_);
  lastSeen_.erase(roomId + "/" + userId);
  spdlog::info("room {}: stage access of user {} revoked", roomId, userId);
}

std::string StageService::wsUrlOf(const std::string& janusId) {
  {
    std::lock_guard lock(mu_);
    if (home_ && home_->id == janusId) return home_->wsUrl;
    if (auto it = wsUrls_.find(janusId); it != wsUrls_.end()) return it->second;
  }
  auto entry = bus_.get(bus::Bucket::Rooms, serverKey(janusId));
  if (!entry) return {};
  auto j = json::parse(entry->value, nullptr, false);
  if (!j.is_object()) return {};
  std::lock_guard lock(mu_);
  return wsUrls_[janusId] = j.value("wsUrl", "");
}

std::optional<std::string> StageService::userForToken(const std::string& token) {
  if (token.empty()) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (auto it = tokenUsers_.find(token); it != tokenUsers_.end()) return it->second;
  }
  for (const auto& [key, value] : bus_.scan(bus::Bucket::Rooms, "stage.*.*")) {
    auto g = json::parse(value, nullptr, false);
    if (!g.is_object() || g.value("token", "") != token) continue;
    std::string userId = key.substr(key.rfind('.') + 1);
    std::lock_guard lock(mu_);
    tokenUsers_[token] = userId;
    return userId;
  }
  return std::nullopt;
}

void StageService::enforceDisplay(std::string& message) {
  if (message.find("\"body\"") == std::string::npos) return;
  auto j = json::parse(message, nullptr, false);
  if (!j.is_object() || !j.contains("body") || !j["body"].is_object()) return;
  auto& body = j["body"];
  const std::string request = body.value("request", "");
  if (request == "configure") {
    if (!body.contains("display")) return;
    body.erase("display");
  } else if ((request == "join" || request == "joinandconfigure") &&
             body.value("ptype", "") == "publisher") {
    auto user = userForToken(body.value("token", ""));
    body["display"] = user.value_or("unknown");
  } else {
    return;
  }
  message = j.dump();
}

json StageService::credentials(const core::RoomState& room, const std::string& userId,
                               core::Role role, bool publish) {
  grant(room, userId, role, publish);
  const auto p = *existingPlacement(room.id);
  const auto g = *loadGrant(room.id, userId);
  json iceServers = options_.iceServers;
  if (!options_.turnUrls.empty()) {
    const auto turn =
        auth::turnCredential(options_.turnSecret, userId, nowSeconds() + options_.turnTtl.count());
    iceServers.push_back(
        {{"urls", options_.turnUrls}, {"username", turn.username}, {"credential", turn.password}});
  }
  // The relay path names the Janus that holds this room, so any serve forwards there.
  return {{"janusUrl", options_.publicWsUrl + "/" + p.janusId},
          {"janusRoom", p.janusRoom},
          {"token", g.token},
          {"display", userId},
          {"mode", g.publish ? "publish" : "subscribe"},
          {"expiresAt", g.expiresAtMs},
          {"iceServers", std::move(iceServers)}};
}

}  // namespace amphi::api
