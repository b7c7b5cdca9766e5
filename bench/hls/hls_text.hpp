// What the LL-HLS client reads: HTTP response heads and media playlists, parsed without
// allocating (the client handles tens of thousands of them per second).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench::hls {

// A part's name as a sortable key: msn << 10 | part (parts per segment stay below 1000).
using PartKey = uint64_t;
inline constexpr PartKey partKey(uint64_t msn, uint32_t part) {
  return msn << 10 | part;
}
inline constexpr uint64_t keyMsn(PartKey key) {
  return key >> 10;
}
inline constexpr uint32_t keyPart(PartKey key) {
  return static_cast<uint32_t>(key & 1023);
}

struct ResponseHead {
  int status = 0;
  std::size_t contentLength = 0;
  bool close = false;    // "Connection: close"
  bool chunked = false;  // not supported by the client: counted as an error
};
// The head up to (not including) the blank line.
ResponseHead parseHead(std::string_view head);

struct PlaylistView {
  uint64_t epoch = 0;
  std::vector<PartKey> parts;   // EXT-X-PART URIs in order (caller reuses the vector)
  std::optional<PartKey> hint;  // EXT-X-PRELOAD-HINT TYPE=PART
  bool ended = false;           // EXT-X-ENDLIST
};
// Reads the parts and the preload hint of a media playlist whose URIs look like
// "<epoch>/<msn>.<part>.m4s". Clears out.parts first.
void parsePlaylist(std::string_view text, PlaylistView& out);
// "<epoch>/<msn>.<part>.m4s" → epoch and key.
bool parsePartUri(std::string_view uri, uint64_t& epoch, PartKey& key);

// Request texts (HTTP/1.1 keep-alive).
std::string playlistRequest(std::string_view room, uint16_t port);
std::string blockingRequest(std::string_view room, uint16_t port, PartKey want);
std::string partRequest(std::string_view room, uint16_t port, uint64_t epoch, PartKey key);
std::string pathRequest(std::string_view path, uint16_t port);
std::string partPath(std::string_view room, uint64_t epoch, PartKey key);

}  // namespace bench::hls
