#include "core/event.hpp"

#include <array>
#include <cctype>
#include <utility>

namespace amphi::core {
namespace {

struct TypeInfo {
  EventType type;
  std::string_view name;
  Audience audience;
};

constexpr std::array kTypes{
    TypeInfo{EventType::RaiseHand, "RAISE_HAND", Audience::ModeratorsAndUser},
    TypeInfo{EventType::LowerHand, "LOWER_HAND", Audience::ModeratorsAndUser},
    TypeInfo{EventType::Promote, "PROMOTE", Audience::ModeratorsAndUser},
    TypeInfo{EventType::Demote, "DEMOTE", Audience::ModeratorsAndUser},
    TypeInfo{EventType::StageChanged, "STAGE_CHANGED", Audience::Everyone},
    TypeInfo{EventType::ParticipantJoined, "PARTICIPANT_JOINED", Audience::Everyone},
    TypeInfo{EventType::ParticipantLeft, "PARTICIPANT_LEFT", Audience::Everyone},
    TypeInfo{EventType::RoomLive, "ROOM_LIVE", Audience::Everyone},
    TypeInfo{EventType::RoomEnded, "ROOM_ENDED", Audience::Everyone},
    TypeInfo{EventType::Reset, "RESET", Audience::Everyone},
};

const TypeInfo& info(EventType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  return kTypes.back();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view typeName(EventType type) { return info(type).name; }

std::optional<EventType> typeFromName(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

Audience audienceOf(EventType type) { return info(type).audience; }

bool visibleTo(const Event& event, Role role, std::string_view viewerUserId) {
  if (audienceOf(event.type) == Audience::Everyone || role == Role::Moderator) return true;
  return !event.userId.empty() && event.userId == viewerUserId;
}

std::string subjectFor(const Event& event) {
  if (event.type == EventType::Promote || event.type == EventType::Demote) {
    return "room." + event.roomId + ".user." + event.userId + ".event";
  }
  return "room." + event.roomId + ".signal." + lower(typeName(event.type));
}

std::string roomSubjectFilter(std::string_view roomId) {
  return "room." + std::string(roomId) + ".>";
}

std::string encodeEvent(const Event& event) {
  nlohmann::json j = event.data.is_object() ? event.data : nlohmann::json::object();
  j["type"] = typeName(event.type);
  j["roomId"] = event.roomId;
  j["userId"] = event.userId;
  j["displayName"] = event.displayName;
  j["timestamp"] = event.timestampMs;
  return j.dump();
}

std::optional<Event> decodeEvent(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const auto *type = str("type"), *room = str("roomId"), *user = str("userId"),
             *name = str("displayName");
  auto ts = j.find("timestamp");
  if (!type || !room || !user || !name || ts == j.end() || !ts->is_number_integer()) {
    return std::nullopt;
  }
  auto parsed = typeFromName(*type);
  if (!parsed) return std::nullopt;
  Event event{*parsed, *room, *user, *name, ts->get<int64_t>(), nlohmann::json::object()};
  for (auto& [key, value] : j.items()) {
    if (key != "type" && key != "roomId" && key != "userId" && key != "displayName" &&
        key != "timestamp") {
      event.data[key] = value;
    }
  }
  return event;
}

std::string sseFrame(uint64_t id, EventType type, std::string_view json) {
  std::string frame;
  frame.reserve(json.size() + 48);
  frame += "id: ";
  frame += std::to_string(id);
  frame += "\nevent: ";
  frame += typeName(type);
  frame += "\ndata: ";
  frame += json;  // nlohmann's dump() never emits a newline
  frame += "\n\n";
  return frame;
}

std::string sseFrame(uint64_t id, const Event& event) {
  return sseFrame(id, event.type, encodeEvent(event));
}

}  // namespace amphi::core
