#include "core/room.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace amphi::core {
namespace {

bool idChars(std::string_view id, bool allowDash) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [allowDash](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (allowDash && c == '-');
  });
}

bool inviteMatches(const Invite& invite, std::string_view code, int64_t nowMs) {
  if (invite.code.empty() || invite.code != code) return false;
  return invite.expiresAtMs == 0 || nowMs < invite.expiresAtMs;
}

}  // namespace

bool validRoomId(std::string_view id) {
  return idChars(id, true) && id.front() != '-';
}

bool validUserId(std::string_view id) { return idChars(id, false); }

namespace {

// Code points of valid UTF-8 without control characters; nullopt otherwise.
std::optional<std::size_t> printableChars(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return std::nullopt;
    }
    if (len == 1 && (c < 0x20 || c == 0x7f)) return std::nullopt;
    if (len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      return std::nullopt;  // C1 controls
    }
    i += len;
  }
  return count;
}

}  // namespace

std::optional<std::string> normalizeText(std::string_view text, std::size_t maxChars) {
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  auto chars = printableChars(text);
  if (!chars || *chars == 0 || *chars > maxChars) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> normalizeDisplayName(std::string_view name) {
  return normalizeText(name, kMaxDisplayNameLength);
}

std::optional<std::size_t> handPosition(const RoomState& room, std::string_view userId) {
  for (std::size_t i = 0; i < room.hands.size(); ++i) {
    if (room.hands[i].userId == userId) return i + 1;
  }
  return std::nullopt;
}

bool onStage(const RoomState& room, std::string_view userId) {
  return std::any_of(room.stage.begin(), room.stage.end(),
                     [&](const StageEntry& e) { return e.userId == userId; });
}

bool stageFull(const RoomState& room) {
  return static_cast<int>(room.stage.size()) >= room.maxStage;
}

RaiseResult raiseHand(RoomState& room, std::string_view userId, std::string_view displayName,
                      int64_t nowMs) {
  if (onStage(room, userId)) {
    throw Error(Errc::Conflict, "you are already on stage", "already_on_stage");
  }
  if (auto pos = handPosition(room, userId)) return {false, *pos};
  room.hands.push_back({std::string(userId), std::string(displayName), nowMs});
  return {true, room.hands.size()};
}

bool lowerHand(RoomState& room, std::string_view userId) {
  auto it = std::find_if(room.hands.begin(), room.hands.end(),
                         [&](const HandEntry& e) { return e.userId == userId; });
  if (it == room.hands.end()) return false;
  room.hands.erase(it);
  return true;
}

bool promote(RoomState& room, std::string_view userId, std::string_view displayName,
             int64_t nowMs) {
  if (onStage(room, userId)) return false;
  if (stageFull(room)) {
    throw Error(Errc::Conflict,
                "the stage is full (" + std::to_string(room.maxStage) +
                    " people); demote someone first",
                "stage_full");
  }
  lowerHand(room, userId);
  room.stage.push_back({std::string(userId), std::string(displayName), nowMs});
  return true;
}

bool demote(RoomState& room, std::string_view userId) {
  auto it = std::find_if(room.stage.begin(), room.stage.end(),
                         [&](const StageEntry& e) { return e.userId == userId; });
  if (it == room.stage.end()) return false;
  room.stage.erase(it);
  return true;
}

bool setLive(RoomState& room, bool live, int64_t nowMs) {
  if (room.live == live) return false;
  room.live = live;
  room.liveSinceMs = live ? nowMs : 0;
  return true;
}

std::optional<Role> inviteRole(const RoomState& room, std::string_view code, int64_t nowMs) {
  if (inviteMatches(room.moderatorInvite, code, nowMs)) return Role::Moderator;
  if (inviteMatches(room.viewerInvite, code, nowMs)) return Role::Viewer;
  return std::nullopt;
}

}  // namespace amphi::core
