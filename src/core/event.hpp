// Room events: their types, who may see them, their NATS subjects and SSE frames.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/role.hpp"

namespace amphi::core {

enum class EventType {
  RaiseHand,
  LowerHand,
  Promote,
  Demote,
  StageChanged,
  ParticipantJoined,
  ParticipantLeft,
  RoomLive,
  RoomEnded,
  Reset,
};

// "RAISE_HAND", ...
std::string_view typeName(EventType type);
std::optional<EventType> typeFromName(std::string_view name);

enum class Audience {
  Everyone,            // every member of the room
  ModeratorsAndUser,   // moderators and the user the event is about
};
Audience audienceOf(EventType type);

struct Event {
  EventType type = EventType::Reset;
  std::string roomId;
  std::string userId;       // the user the event is about; empty for room-wide events
  std::string displayName;
  int64_t timestampMs = 0;
  nlohmann::json data = nlohmann::json::object();  // extra fields (position, stage, counts)
};

bool visibleTo(const Event& event, Role role, std::string_view viewerUserId);

// room.<id>.user.<uid>.event for PROMOTE/DEMOTE, room.<id>.signal.<type> otherwise.
std::string subjectFor(const Event& event);
// The filter that covers every subject of one room.
std::string roomSubjectFilter(std::string_view roomId);

// One JSON object: type, roomId, userId, displayName, timestamp and the extra fields.
std::string encodeEvent(const Event& event);
// nullopt for anything that is not a well-formed event.
std::optional<Event> decodeEvent(std::string_view json);

// "id: <seq>\nevent: <TYPE>\ndata: <json>\n\n"
std::string sseFrame(uint64_t id, const Event& event);
std::string sseFrame(uint64_t id, EventType type, std::string_view json);

}  // namespace amphi::core
