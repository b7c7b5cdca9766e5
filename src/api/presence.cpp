#include "api/presence.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bus/bus.hpp"

namespace amphi::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRemoteCacheFor = std::chrono::seconds(1);
// Presence publishes at most one round per interval: the first join in a quiet room
// goes out at once, a storm waits a little and goes out together.
constexpr auto kRoundInterval = std::chrono::milliseconds(200);
// A room's record (all its users here) is rewritten at most this often: with 15,000
// users it is ~0.5 MB of JSON.
constexpr auto kRecordInterval = std::chrono::seconds(1);
// More joins (or leaves) of one room than this in one round become a single event.
constexpr std::size_t kCoalesceAbove = 8;
// A coalesced event names at most this many of the users it counts.
constexpr std::size_t kCoalescedNames = 20;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// mu_ held. When more than kCoalesceAbove events of one type and room wait, they become
// one event of that type with an empty userId and {"count", "participants" (the first
// kCoalescedNames)}: a join storm costs the room one fan-out per round, not one per user
// (15,000 streams opening one by one were 113 million frames). An event already
// coalesced (empty userId) is kept as it is, with its message id, for a retry.
void Presence::coalesce(std::vector<Pending>& pending) {
  std::map<std::pair<std::string, core::EventType>, std::size_t> counts;
  for (const auto& p : pending) {
    if (!p.event.userId.empty()) counts[{p.event.roomId, p.event.type}]++;
  }
  std::map<std::pair<std::string, core::EventType>, Pending> batches;
  std::vector<Pending> out;
  for (auto& p : pending) {
    const auto key = std::make_pair(p.event.roomId, p.event.type);
    if (p.event.userId.empty() || counts[key] <= kCoalesceAbove) {
      out.push_back(std::move(p));
      continue;
    }
    auto [it, fresh] = batches.try_emplace(key);
    auto& batch = it->second.event;
    if (fresh) {
      batch = core::Event{p.event.type, p.event.roomId, "", "", p.event.timestampMs,
                          {{"count", 0}, {"participants", nlohmann::json::array()}}};
      it->second.msgId = p.event.roomId + ":presence:" + serveId_ + ":" +
                         std::to_string(++eventCounter_) + ":batch";
    }
    batch.timestampMs = p.event.timestampMs;
    batch.data["count"] = batch.data["count"].get<std::size_t>() + 1;
    if (batch.data["participants"].size() < kCoalescedNames) {
      batch.data["participants"].push_back(
          {{"userId", p.event.userId}, {"displayName", p.event.displayName}});
    }
  }
  for (auto& [key, batch] : batches) out.push_back(std::move(batch));
  pending = std::move(out);
}

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
  auto lastRound = Clock::time_point{};
  auto lastRecords = Clock::time_point{};
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(250));
    if (!pending_.empty() && Clock::now() < lastRound + kRoundInterval) {
      cv_.wait_until(lock, lastRound + kRoundInterval, [this] { return stop_; });
      if (stop_) break;
    }
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
    if (!pending_.empty()) lastRound = now;
    std::set<std::string> dirty;
    if (!dirty_.empty() && now - lastRecords >= kRecordInterval) {
      lastRecords = now;
      dirty.swap(dirty_);
    }
    coalesce(pending_);
    auto pending = std::move(pending_);
    pending_.clear();
    lock.unlock();
    publishRound(dirty, pending);
    lock.lock();
    for (auto it = rooms_.begin(); it != rooms_.end();) {
      it = it->second.empty() && !dirty_.count(it->first) ? rooms_.erase(it) : std::next(it);
    }
  }
}

// mu_ not held. Writes the dirty rooms' records, then publishes the events with the
// counts as of now; on failure, everything is put back for the next round.
void Presence::publishRound(std::set<std::string>& dirty, std::vector<Pending>& pending) {
  try {
    for (const auto& roomId : dirty) flush(roomId);
    std::map<std::string, Counts> counted;  // once per room and round, not per event
    for (auto& p : pending) {
      auto c = counted.find(p.event.roomId);
      if (c == counted.end()) c = counted.emplace(p.event.roomId, counts(p.event.roomId)).first;
      p.event.data["viewers"] = c->second.viewers;
      p.event.data["moderators"] = c->second.moderators;
      store_.publish(p.event, p.msgId);
    }
  } catch (const std::exception& e) {
    spdlog::warn("presence: update failed ({}); will retry", e.what());
    {
      std::lock_guard lock(mu_);
      dirty_.insert(dirty.begin(), dirty.end());
      for (auto& p : pending) pending_.push_back(std::move(p));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
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
