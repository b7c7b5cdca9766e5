// libFuzzer: JSON that crosses a trust boundary — request bodies, events read back
// from the bus, room records from the KV bucket.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/room.hpp"
#include "core/room_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_object()) {
    auto name = body.find("displayName");
    if (name != body.end() && name->is_string()) {
      (void)amphi::core::normalizeDisplayName(name->get<std::string>());
    }
  }
  if (auto event = amphi::core::decodeEvent(text)) {
    (void)amphi::core::sseFrame(1, *event);
    (void)amphi::core::subjectFor(*event);
  }
  try {
    auto room = amphi::core::decodeRoom(text);
    (void)amphi::core::encodeRoom(room);
    (void)amphi::core::inviteRole(room, "x", 0);
  } catch (const amphi::core::Error&) {
  }
  return 0;
}
