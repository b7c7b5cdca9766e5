// Internal to src/api: room records in the KV bucket, changed by compare-and-set
// with retry, and the events each change publishes (with a Nats-Msg-Id derived
// from the KV revision, so a retried publish is stored once).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "core/event.hpp"
#include "core/room.hpp"
#include "http/metrics.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::api {

struct Member {
  std::string userId;
  std::string displayName;
  core::Role role = core::Role::Viewer;
};

struct ChangeResult {
  core::RoomState room;
  bool changed = false;
  uint64_t lastEventId = 0;  // stream sequence of the last event published
};

class RoomStore {
 public:
  // Returns the events to publish; an empty list means "nothing changed, write nothing".
  using Mutation = std::function<std::vector<core::Event>(core::RoomState&)>;

  RoomStore(bus::Bus& bus, http::Metrics& metrics) : bus_(bus), metrics_(metrics) {}

  // Throws NotFound naming the room.
  core::RoomState load(const std::string& roomId);
  // Throws Conflict when the id is taken.
  void create(const core::RoomState& room);
  // Replaces the invites; returns the new state.
  core::RoomState replace(const core::RoomState& room);
  ChangeResult change(const std::string& roomId, const Mutation& mutation);
  // Publishes an event that is not tied to a room record change (presence).
  uint64_t publish(const core::Event& event, const std::string& msgId);

  void addMember(const std::string& roomId, const Member& member);
  std::optional<Member> member(const std::string& roomId, const std::string& userId);

 private:
  struct RoomLock;
  std::shared_ptr<RoomLock> roomLock(const std::string& roomId);

  bus::Bus& bus_;
  http::Metrics& metrics_;
  // Changes to one room run one at a time in this process, so compare-and-set only
  // arbitrates between serves instead of between this process's own threads.
  struct RoomLock {
    std::mutex mu;
    std::optional<bus::KvEntry> last;  // the record as this process last wrote or read it
  };
  std::mutex locksMu_;
  std::map<std::string, std::shared_ptr<RoomLock>> locks_;
};

}  // namespace amphi::api
