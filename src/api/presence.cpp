#include "api/presence.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bus/bus.hpp"

namespace amphi::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRemoteCacheFor = std::chrono::seconds(1);

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Presence::Presence(bus::Bus& bus, RoomStore& store, std::string serveId, std::chrono::seconds ttl,
                   std::chrono::seconds leftGrace)
    : bus_(bus), store_(store), serveId_(std::move(serveId)), ttl_(ttl), leftGrace_(leftGrace) {
  thread_ = std::thread([this] { run(); });
}

Presence::~Presence() { stop(); }

void Presence::connected(const std::string& roomId, const Viewer& viewer) {
  std::lock_guard lock(mu_);
  auto& local = rooms_[roomId][viewer.userId];
  const bool fresh = local.conns == 0 && local.leftAt == Clock::time_point{};
  local.displayName = viewer.displayName;
  local.role = viewer.role;
  local.conns++;
  local.leftAt = {};
  if (fresh) {
    dirty_.insert(roomId);
    queueEvent(core::EventType::ParticipantJoined, roomId, viewer.userId, viewer.displayName);
  }
}

void Presence::disconnected(const std::string& roomId, const std::string& userId) {
  std::lock_guard lock(mu_);
  auto room = rooms_.find(roomId);
  if (room == rooms_.end()) return;
  auto user = room->second.find(userId);
  if (user == room->second.end() || user->second.conns == 0) return;
  if (--user->second.conns == 0) user->second.leftAt = Clock::now();  // left after the grace
  cv_.notify_all();
}

// mu_ held. The counts in the event include the change.
void Presence::queueEvent(core::EventType type, const std::string& roomId,
                          const std::string& userId, const std::string& displayName) {
  core::Event event{type, roomId, userId, displayName, nowMs(), nlohmann::json::object()};
  pending_.push_back({std::move(event), roomId + ":presence:" + serveId_ + ":" +
                                            std::to_string(++eventCounter_)});
  cv_.notify_all();
}

Counts Presence::counts(const std::string& roomId) {
  auto users = remoteUsers(roomId);
  std::lock_guard lock(mu_);
  if (auto room = rooms_.find(roomId); room != rooms_.end()) {
    for (const auto& [uid, local] : room->second) users[uid] = local.role;
  }
  Counts counts;
  for (const auto& [uid, role] : users) {
    (role == core::Role::Moderator ? counts.moderators : counts.viewers)++;
  }
  return counts;
}

std::map<std::string, core::Role> Presence::remoteUsers(const std::string& roomId) {
  {
    std::lock_guard lock(mu_);
    auto it = remote_.find(roomId);
    if (it != remote_.end() && Clock::now() - it->second.at < kRemoteCacheFor) {
      return it->second.users;
    }
  }
  std::map<std::string, core::Role> users;
  const auto cutoff = nowMs() - std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
  for (const auto& [key, value] : bus_.scan(bus::Bucket::Presence, roomId + ".*")) {
    if (key == roomId + "." + serveId_) continue;  // our own record: we know better
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (!j.is_object() || j.value("at", int64_t{0}) < cutoff) continue;
    auto recorded = j.find("users");
    if (recorded == j.end() || !recorded->is_object()) continue;
    for (const auto& [uid, role] : recorded->items()) {
      users[uid] = role == "moderator" ? core::Role::Moderator : core::Role::Viewer;
    }
  }
  std::lock_guard lock(mu_);
  remote_[roomId] = {Clock::now(), users};
  return users;
}

void Presence::flush(const std::string& roomId) {
  nlohmann::json users = nlohmann::json::object();
  {
    std::lock_guard lock(mu_);
    if (auto room = rooms_.find(roomId); room != rooms_.end()) {
      for (const auto& [uid, local] : room->second) users[uid] = core::toString(local.role);
    }
  }
  nlohmann::json record = {{"serve", serveId_}, {"at", nowMs()}, {"users", std::move(users)}};
  bus_.put(bus::Bucket::Presence, roomId + "." + serveId_, record.dump());
}

void Presence::run() {
  auto lastRefresh = Clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(250));
    const auto now = Clock::now();
    for (auto& [roomId, users] : rooms_) {  // users gone for longer than the grace
      for (auto it = users.begin(); it != users.end();) {
        auto& local = it->second;
        if (local.conns == 0 && local.leftAt != Clock::time_point{} &&
            now - local.leftAt >= leftGrace_) {
          dirty_.insert(roomId);
          queueEvent(core::EventType::ParticipantLeft, roomId, it->first, local.displayName);
          it = users.erase(it);
        } else {
          ++it;
        }
      }
    }
    const bool refresh = now - lastRefresh >= ttl_ / 3;
    if (refresh) {
      lastRefresh = now;
      for (const auto& [roomId, users] : rooms_) dirty_.insert(roomId);
    }
    auto dirty = std::move(dirty_);
    dirty_.clear();
    auto pending = std::move(pending_);
    pending_.clear();
    lock.unlock();
    try {
      for (const auto& roomId : dirty) flush(roomId);
      for (auto& p : pending) {
        auto c = counts(p.event.roomId);
        p.event.data["viewers"] = c.viewers;
        p.event.data["moderators"] = c.moderators;
        store_.publish(p.event, p.msgId);
      }
    } catch (const std::exception& e) {
      spdlog::warn("presence: update failed ({}); will retry", e.what());
      lock.lock();
      dirty_.insert(dirty.begin(), dirty.end());
      for (auto& p : pending) pending_.push_back(std::move(p));
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    lock.lock();
    for (auto it = rooms_.begin(); it != rooms_.end();) {
      it = it->second.empty() && !dirty_.count(it->first) ? rooms_.erase(it) : std::next(it);
    }
  }
}

void Presence::stop() {
  std::vector<std::string> rooms;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [roomId, users] : rooms_) {
      rooms.push_back(roomId);
      users.clear();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (const auto& roomId : rooms) {
    try {
      if (bus_.ready()) flush(roomId);
    } catch (const std::exception& e) {
      spdlog::warn("presence: room {}: clearing record failed: {}", roomId, e.what());
    }
  }
}

}  // namespace amphi::api
