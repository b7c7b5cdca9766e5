// The stage watcher (auto-demotion, token renewal and expiry) and Janus re-sync.
#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "api/stage.hpp"
#include "bus/bus.hpp"
#include "core/error.hpp"
#include "sfu/janus_client.hpp"

namespace amphi::api {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

}  // namespace

void StageService::resync(const std::string& janusId) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> grantsByRoom;
  for (const auto& [key, value] : bus_.scan(bus::Bucket::Rooms, "stage.*.*")) {
    if (value.empty()) continue;
    auto dot = key.find('.', 6);
    grantsByRoom[key.substr(6, dot - 6)].emplace_back(key.substr(dot + 1), value);
  }
  for (const auto& [key, value] : bus_.scan(bus::Bucket::Rooms, "janus.room.*")) {
    const std::string roomId = key.substr(std::string("janus.room.").size());
    auto j = json::parse(value, nullptr, false);
    if (!j.is_object() || j.value("janusId", "") != janusId) continue;
    try {
      auto room = store_.load(roomId);
      Placement p{janusId, j["janusRoom"], j["secret"]};
      ensureRoom(room, p);
      auto& c = client(janusId);
      for (const auto& [userId, grantJson] : grantsByRoom[roomId]) {
        auto g = json::parse(grantJson, nullptr, false);
        if (!g.is_object()) continue;
        c.addToken(g.value("token", ""));
        if (g.value("publish", false)) c.allow(p.janusRoom, p.secret, {g.value("token", "")});
      }
      spdlog::info("room {}: VideoRoom {} re-created on media server {}", roomId, p.janusRoom,
                   janusId);
    } catch (const std::exception& e) {
      spdlog::warn("room {}: re-creating the VideoRoom failed: {}", roomId, e.what());
    }
  }
}

void StageService::startWatcher(Demote demote) {
  watcher_ = std::thread([this, demote = std::move(demote)] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      try {
        if (bus_.ready()) watch(demote);
      } catch (const std::exception& e) {
        spdlog::debug("stage watcher: {}", e.what());
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
      lock.lock();
    }
  });
}

void StageService::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

void StageService::watch(const Demote& demote) {
  std::map<std::string, std::map<std::string, Grant>> rooms;
  for (const auto& [key, value] : bus_.scan(bus::Bucket::Rooms, "stage.*.*")) {
    if (value.empty()) continue;
    auto dot = key.find('.', 6);
    auto g = json::parse(value, nullptr, false);
    if (!g.is_object()) continue;
    rooms[key.substr(6, dot - 6)][key.substr(dot + 1)] =
        Grant{g.value("token", ""), g.value("publish", false), g.value("moderator", false),
              g.value("grantedAtMs", int64_t{0}), g.value("expiresAtMs", int64_t{0})};
  }
  for (const auto& [roomId, grants] : rooms) {
    try {
      watchRoom(roomId, grants, demote);
    } catch (const std::exception& e) {
      spdlog::debug("stage watcher: room {}: {}", roomId, e.what());
    }
  }
}

// Per grant: expire, renew, or (for a promoted viewer not publishing for longer than
// the grace) demote.
void StageService::watchRoom(const std::string& roomId, const std::map<std::string, Grant>& grants,
                             const Demote& demote) {
  auto p = existingPlacement(roomId);
  if (!p) return;
  const auto room = store_.load(roomId);
  const auto participants = client(p->janusId).participants(p->janusRoom);
  const auto now = Clock::now();
  for (const auto& [userId, g] : grants) {
    const bool wanted = g.moderator || (g.publish ? core::onStage(room, userId)
                                                  : core::handPosition(room, userId).has_value());
    // A fresh grant may precede the state change that puts the user on stage.
    const bool settled = nowMs() - g.grantedAtMs > 5000;
    if ((!wanted && settled) || nowMs() > g.expiresAtMs) {
      revoke(roomId, userId);
      continue;
    }
    if (!g.moderator && g.expiresAtMs - nowMs() < 1000 * options_.tokenTtl.count() / 2) {
      Grant renewed = g;
      renewed.expiresAtMs = nowMs() + 1000 * options_.tokenTtl.count();
      saveGrant(roomId, userId, renewed);
    }
    if (!g.publish || g.moderator) continue;
    const bool publishing = std::any_of(participants.begin(), participants.end(), [&](auto& x) {
      return x.display == userId && x.publisher;
    });
    std::chrono::steady_clock::time_point seen;
    {
      std::lock_guard lock(mu_);
      auto [it, fresh] = lastSeen_.try_emplace(roomId + "/" + userId,
                                               now + options_.joinAllowance - options_.grace);
      if (publishing) it->second = now;
      seen = it->second;
    }
    if (now - seen > options_.grace) {
      spdlog::info("room {}: user {} stopped publishing {} s ago; demoting", roomId, userId,
                   options_.grace.count());
      demote(roomId, userId);
    }
  }
}

}  // namespace amphi::api
