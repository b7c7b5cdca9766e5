#include "api/room_store.hpp"

#include <chrono>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bus/bus.hpp"
#include "core/error.hpp"
#include "core/room_codec.hpp"

namespace amphi::api {
namespace {

using core::Errc;
using core::Error;

constexpr int kMaxCasAttempts = 50;

std::string roomKey(const std::string& roomId) { return "room." + roomId; }
std::string memberKey(const std::string& roomId, const std::string& userId) {
  return "member." + roomId + "." + userId;
}

}  // namespace

core::RoomState RoomStore::load(const std::string& roomId) {
  auto entry = bus_.get(bus::Bucket::Rooms, roomKey(roomId));
  if (!entry) throw Error(Errc::NotFound, "no room '" + roomId + "'");
  return core::decodeRoom(entry->value);
}

void RoomStore::create(const core::RoomState& room) {
  try {
    bus_.create(bus::Bucket::Rooms, roomKey(room.id), core::encodeRoom(room));
  } catch (const bus::CasConflict&) {
    throw Error(Errc::Conflict, "room '" + room.id + "' already exists", "room_exists");
  }
}

core::RoomState RoomStore::replace(const core::RoomState& room) {
  auto result = change(room.id, [&](core::RoomState& state) {
    state.moderatorInvite = room.moderatorInvite;
    state.viewerInvite = room.viewerInvite;
    return std::vector<core::Event>{};
  });
  return result.room;
}

std::shared_ptr<RoomStore::RoomLock> RoomStore::roomLock(const std::string& roomId) {
  std::lock_guard lock(locksMu_);
  auto& m = locks_[roomId];
  if (!m) m = std::make_shared<RoomLock>();
  return m;
}

ChangeResult RoomStore::change(const std::string& roomId, const Mutation& mutation) {
  auto room = roomLock(roomId);
  std::lock_guard serialized(room->mu);
  const auto started = std::chrono::steady_clock::now();
  for (int attempt = 1; attempt <= kMaxCasAttempts; ++attempt) {
    // The record this process wrote last is usually still current: try the
    // compare-and-set on it and read the bucket only after a conflict.
    // A refusal or "nothing to change" is only trusted on a fresh read.
    const bool cached = attempt == 1 && room->last.has_value();
    auto entry = cached ? room->last : bus_.get(bus::Bucket::Rooms, roomKey(roomId));
    if (!entry) throw Error(Errc::NotFound, "no room '" + roomId + "'");
    core::RoomState after = core::decodeRoom(entry->value);
    std::vector<core::Event> events;
    try {
      events = mutation(after);
    } catch (const Error&) {
      if (!cached) throw;
      room->last.reset();
      continue;
    }
    const std::string encoded = core::encodeRoom(after);
    if (encoded == entry->value) {
      if (!cached) return {std::move(after), false, 0};
      room->last.reset();
      continue;
    }
    uint64_t revision = 0;
    try {
      const auto casStarted = std::chrono::steady_clock::now();
      revision = bus_.update(bus::Bucket::Rooms, roomKey(roomId), encoded, entry->revision);
      metrics_.casMs.observe(std::chrono::duration<double, std::milli>(
                                 std::chrono::steady_clock::now() - casStarted)
                                 .count());
    } catch (const bus::CasConflict&) {
      metrics_.casConflicts++;
      room->last.reset();
      continue;  // somebody else changed the room: apply the rule again on fresh state
    }
    room->last = bus::KvEntry{encoded, revision};
    ChangeResult result{std::move(after), true, 0};
    for (std::size_t i = 0; i < events.size(); ++i) {
      result.lastEventId =
          publish(events[i], roomId + ":" + std::to_string(revision) + ":" + std::to_string(i));
    }
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              started).count();
    metrics_.busMs.observe(ms);
    return result;
  }
  throw Error(Errc::Unavailable,
              "room '" + roomId + "' is changing too fast; try again in a moment");
}

uint64_t RoomStore::publish(const core::Event& event, const std::string& msgId) {
  const uint64_t seq = bus_.publish(core::subjectFor(event), core::encodeEvent(event), msgId);
  metrics_.eventsPublished++;
  return seq;
}

void RoomStore::addMember(const std::string& roomId, const Member& member) {
  nlohmann::json j = {{"displayName", member.displayName},
                      {"role", core::toString(member.role)}};
  bus_.put(bus::Bucket::Rooms, memberKey(roomId, member.userId), j.dump());
}

std::optional<Member> RoomStore::member(const std::string& roomId, const std::string& userId) {
  if (!core::validUserId(userId)) return std::nullopt;
  auto entry = bus_.get(bus::Bucket::Rooms, memberKey(roomId, userId));
  if (!entry) return std::nullopt;
  auto j = nlohmann::json::parse(entry->value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto role = core::roleFromString(j.value("role", ""));
  if (!role) return std::nullopt;
  return Member{userId, j.value("displayName", ""), *role};
}

}  // namespace amphi::api
