// How egress and origin talk over the HLS stream: subjects, the metadata carried in
// message headers, and parts split into chunks below the server's max_payload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/hls_window.hpp"

namespace amphi::core::hls {

using WireHeaders = std::vector<std::pair<std::string, std::string>>;

std::string initSubject(std::string_view room);   // hls.<room>.init
std::string partSubject(std::string_view room);   // hls.<room>.part
std::string roomFilter(std::string_view room);    // hls.<room>.*

WireHeaders encodeInit(const InitMeta& meta);
std::optional<InitMeta> decodeInit(const WireHeaders& headers);

// One message of a part: chunk `index` of `count` (count ≥ 1).
struct PartChunk {
  PartMeta meta;
  uint32_t index = 0;
  uint32_t count = 1;
};
WireHeaders encodePart(const PartMeta& meta, uint32_t index, uint32_t count);
std::optional<PartChunk> decodePart(const WireHeaders& headers);
// A Nats-Msg-Id a retry repeats: "<room>:<epoch>:<msn>.<part>:<chunk>".
std::string partMessageId(std::string_view room, const PartMeta& meta, uint32_t index);
// The run's init, published again now and then: "<room>:<epoch>:init[.<repeat>]".
std::string initMessageId(std::string_view room, uint64_t epoch, uint64_t repeat = 0);

// Splits bytes into chunks of at most `limit` bytes (at least one chunk).
std::vector<std::string_view> splitChunks(std::string_view bytes, std::size_t limit);

// Joins the chunks of a part as they arrive in order. A part whose first chunk was
// missed (a subscription that started in its middle) or that is interrupted by
// another part is dropped.
class PartAssembler {
 public:
  // Returns the whole part once its last chunk arrived.
  std::optional<std::pair<PartMeta, std::string>> add(const PartChunk& chunk, std::string data);

 private:
  std::optional<PartChunk> current_;
  std::string bytes_;
};

}  // namespace amphi::core::hls
