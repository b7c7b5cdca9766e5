#include "hls_text.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace bench::hls {
namespace {

bool startsWithNoCase(std::string_view s, std::string_view lowerPrefix) {
  if (s.size() < lowerPrefix.size()) return false;
  for (std::size_t i = 0; i < lowerPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lowerPrefix[i]) return false;
  }
  return true;
}

bool containsNoCase(std::string_view s, std::string_view lowerWord) {
  for (std::size_t i = 0; i + lowerWord.size() <= s.size(); ++i) {
    if (startsWithNoCase(s.substr(i), lowerWord)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
bool number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The value of URI="..." in an attribute list.
std::string_view uriOf(std::string_view line) {
  const auto at = line.find("URI=\"");
  if (at == std::string_view::npos) return {};
  const auto start = at + 5;
  const auto end = line.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : line.substr(start, end - start);
}

}  // namespace

ResponseHead parseHead(std::string_view head) {
  ResponseHead h;
  if (head.size() >= 12 && head.substr(0, 5) == "HTTP/") {
    number(head.substr(9, 3), h.status);
  }
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line =
        head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    if (startsWithNoCase(line, "content-length:")) {
      number(trim(line.substr(15)), h.contentLength);
    } else if (startsWithNoCase(line, "connection:")) {
      h.close = containsNoCase(line.substr(11), "close");
    } else if (startsWithNoCase(line, "transfer-encoding:")) {
      h.chunked = containsNoCase(line.substr(18), "chunked");
    }
    pos = next;
  }
  return h;
}

bool parsePartUri(std::string_view uri, uint64_t& epoch, PartKey& key) {
  const auto slash = uri.find('/');
  if (slash == std::string_view::npos || !uri.ends_with(".m4s")) return false;
  const auto name = uri.substr(slash + 1, uri.size() - slash - 1 - 4);
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return false;
  uint64_t msn = 0;
  uint32_t part = 0;
  if (!number(uri.substr(0, slash), epoch) || !number(name.substr(0, dot), msn) ||
      !number(name.substr(dot + 1), part) || part >= 1024) {
    return false;
  }
  key = partKey(msn, part);
  return true;
}

void parsePlaylist(std::string_view text, PlaylistView& out) {
  out.parts.clear();
  out.hint.reset();
  out.ended = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() < 8 || line[0] != '#') continue;
    uint64_t epoch = 0;
    PartKey key = 0;
    if (line.starts_with("#EXT-X-PART:")) {
      if (parsePartUri(uriOf(line), epoch, key)) {
        out.epoch = epoch;
        out.parts.push_back(key);
      }
    } else if (line.starts_with("#EXT-X-PRELOAD-HINT:") && line.find("TYPE=PART") != line.npos) {
      if (parsePartUri(uriOf(line), epoch, key)) out.hint = key;
    } else if (line.starts_with("#EXT-X-ENDLIST")) {
      out.ended = true;
    }
  }
}

std::string pathRequest(std::string_view path, uint16_t port) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", path, port);
}

std::string playlistRequest(std::string_view room, uint16_t port) {
  return pathRequest(fmt::format("/hls/{}/media.m3u8", room), port);
}

std::string blockingRequest(std::string_view room, uint16_t port, PartKey want) {
  return pathRequest(
      fmt::format("/hls/{}/media.m3u8?_HLS_msn={}&_HLS_part={}", room, keyMsn(want), keyPart(want)),
      port);
}

std::string partPath(std::string_view room, uint64_t epoch, PartKey key) {
  return fmt::format("/hls/{}/{}/{}.{}.m4s", room, epoch, keyMsn(key), keyPart(key));
}

std::string partRequest(std::string_view room, uint16_t port, uint64_t epoch, PartKey key) {
  return pathRequest(partPath(room, epoch, key), port);
}

}  // namespace bench::hls
