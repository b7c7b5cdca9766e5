#include "core/room_codec.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace amphi::core {
namespace {

using nlohmann::json;

json inviteJson(const Invite& invite) {
  return {{"code", invite.code}, {"expiresAtMs", invite.expiresAtMs}};
}

Invite inviteFrom(const json& j) {
  return {j.at("code").get<std::string>(), j.at("expiresAtMs").get<int64_t>()};
}

}  // namespace

std::string encodeRoom(const RoomState& room) {
  json hands = json::array();
  for (const auto& h : room.hands) {
    hands.push_back({{"userId", h.userId}, {"displayName", h.displayName}, {"raisedAtMs", h.raisedAtMs}});
  }
  json stage = json::array();
  for (const auto& s : room.stage) {
    stage.push_back({{"userId", s.userId}, {"displayName", s.displayName}, {"sinceMs", s.sinceMs}});
  }
  json j = {{"v", 1},
            {"id", room.id},
            {"title", room.title},
            {"maxStage", room.maxStage},
            {"live", room.live},
            {"createdAtMs", room.createdAtMs},
            {"liveSinceMs", room.liveSinceMs},
            {"invites", {{"moderator", inviteJson(room.moderatorInvite)},
                         {"viewer", inviteJson(room.viewerInvite)}}},
            {"hands", std::move(hands)},
            {"stage", std::move(stage)}};
  return j.dump();
}

RoomState decodeRoom(std::string_view text) {
  try {
    const json j = json::parse(text);
    RoomState room;
    room.id = j.at("id").get<std::string>();
    room.title = j.at("title").get<std::string>();
    room.maxStage = j.at("maxStage").get<int>();
    room.live = j.at("live").get<bool>();
    room.createdAtMs = j.value("createdAtMs", int64_t{0});
    room.liveSinceMs = j.value("liveSinceMs", int64_t{0});
    room.moderatorInvite = inviteFrom(j.at("invites").at("moderator"));
    room.viewerInvite = inviteFrom(j.at("invites").at("viewer"));
    for (const auto& h : j.at("hands")) {
      room.hands.push_back({h.at("userId").get<std::string>(), h.at("displayName").get<std::string>(),
                            h.at("raisedAtMs").get<int64_t>()});
    }
    for (const auto& s : j.at("stage")) {
      room.stage.push_back({s.at("userId").get<std::string>(), s.at("displayName").get<std::string>(),
                            s.at("sinceMs").get<int64_t>()});
    }
    return room;
  } catch (const json::exception& e) {
    throw Error(Errc::Internal, std::string("stored room record is corrupt: ") + e.what());
  }
}

}  // namespace amphi::core
