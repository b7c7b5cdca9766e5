// JSON form of RoomState as stored in the KV bucket.
#pragma once

#include <string>
#include <string_view>

#include "core/room.hpp"

namespace amphi::core {

std::string encodeRoom(const RoomState& room);
// Throws Error(Internal) naming the room when the stored record is corrupt.
RoomState decodeRoom(std::string_view json);

}  // namespace amphi::core
