// Test helper: an LL-HLS client that reads Amphi's media playlists and follows a live
// stream the way hls.js does (a blocking reload for the next part, then every part the
// playlist lists after the last one fetched). It records what it fetched; the tests judge
// it. Header-only (the integration CMake builds each *_test.cpp on its own).
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_client.hpp"

namespace amphi::testing::hls {

using Clock = std::chrono::steady_clock;

// A part named "<epoch>/<msn>.<part>.m4s".
struct PartRef {
  uint64_t epoch = 0;
  uint64_t msn = 0;
  uint32_t part = 0;
  bool operator==(const PartRef&) const = default;
  std::string uri() const { return fmt::format("{}/{}.{}.m4s", epoch, msn, part); }
};

template <class T>
std::optional<T> number(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

inline std::optional<PartRef> parsePartUri(std::string_view uri) {
  const auto slash = uri.find('/');
  if (slash == std::string_view::npos || !uri.ends_with(".m4s")) return std::nullopt;
  const std::string_view name = uri.substr(slash + 1, uri.size() - slash - 1 - 4);
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto epoch = number<uint64_t>(uri.substr(0, slash));
  auto msn = number<uint64_t>(name.substr(0, dot));
  auto part = number<uint32_t>(name.substr(dot + 1));
  if (!epoch || !msn || !part) return std::nullopt;
  return PartRef{*epoch, *msn, *part};
}

// "2026-11-25T13:39:22.756Z" → unix ms.
inline std::optional<int64_t> parseProgramDateTime(std::string_view s) {
  if (s.size() != 24 || s[4] != '-' || s[10] != 'T' || s[19] != '.' || s[23] != 'Z') {
    return std::nullopt;
  }
  auto y = number<int>(s.substr(0, 4));
  auto mo = number<unsigned>(s.substr(5, 2)), d = number<unsigned>(s.substr(8, 2));
  auto h = number<int>(s.substr(11, 2)), mi = number<int>(s.substr(14, 2));
  auto sec = number<int>(s.substr(17, 2)), ms = number<int>(s.substr(20, 3));
  if (!y || !mo || !d || !h || !mi || !sec || !ms) return std::nullopt;
  using namespace std::chrono;
  const sys_days day{year{*y} / month{*mo} / *d};
  const auto t = day + hours{*h} + minutes{*mi} + seconds{*sec} + milliseconds{*ms};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// The value of `key=` in an attribute list (quotes removed); empty when absent.
inline std::string attribute(std::string_view line, std::string_view key) {
  const std::string needle = std::string(key) + "=";
  for (size_t pos = line.find(needle); pos != std::string_view::npos;
       pos = line.find(needle, pos + 1)) {
    if (pos != 0 && line[pos - 1] != ':' && line[pos - 1] != ',') continue;
    std::string_view value = line.substr(pos + needle.size());
    if (!value.empty() && value.front() == '"') return std::string(value.substr(1, value.find('"', 1) - 1));
    return std::string(value.substr(0, value.find(',')));
  }
  return {};
}

struct ListedPart {
  PartRef ref;
  bool independent = false;
  std::string duration;  // as written
};

struct MediaPlaylist {
  std::string text;
  bool canBlockReload = false;  // EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES
  std::string partTarget;       // EXT-X-PART-INF:PART-TARGET
  std::optional<uint64_t> mediaSequence;
  int discontinuities = 0;          // EXT-X-DISCONTINUITY tags
  std::vector<uint64_t> mapEpochs;  // from EXT-X-MAP URIs, in order
  std::vector<ListedPart> parts;    // EXT-X-PART, in order
  std::vector<int64_t> programDateTimesMs;
  std::optional<PartRef> preloadHint;
  bool ended = false;
  std::optional<size_t> indexOf(const PartRef& ref) const {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].ref == ref) return i;
    }
    return std::nullopt;
  }
};

inline void parseTag(MediaPlaylist& p, std::string_view line) {
  if (line.starts_with("#EXT-X-SERVER-CONTROL:")) {
    p.canBlockReload = attribute(line, "CAN-BLOCK-RELOAD") == "YES";
  } else if (line.starts_with("#EXT-X-PART-INF:")) {
    p.partTarget = attribute(line, "PART-TARGET");
  } else if (line.starts_with("#EXT-X-MEDIA-SEQUENCE:")) {
    p.mediaSequence = number<uint64_t>(line.substr(22));
  } else if (line == "#EXT-X-DISCONTINUITY") {
    ++p.discontinuities;
  } else if (line.starts_with("#EXT-X-MAP:")) {
    const std::string uri = attribute(line, "URI");
    p.mapEpochs.push_back(number<uint64_t>(uri.substr(0, uri.find('/'))).value_or(0));
  } else if (line.starts_with("#EXT-X-PROGRAM-DATE-TIME:")) {
    p.programDateTimesMs.push_back(parseProgramDateTime(line.substr(25)).value_or(0));
  } else if (line.starts_with("#EXT-X-PART:")) {
    if (auto ref = parsePartUri(attribute(line, "URI"))) {
      p.parts.push_back({*ref, attribute(line, "INDEPENDENT") == "YES", attribute(line, "DURATION")});
    }
  } else if (line.starts_with("#EXT-X-PRELOAD-HINT:")) {
    p.preloadHint = parsePartUri(attribute(line, "URI"));
  } else if (line == "#EXT-X-ENDLIST") {
    p.ended = true;
  }
}

inline MediaPlaylist parseMediaPlaylist(std::string text) {
  MediaPlaylist p;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) parseTag(p, line);
  }
  p.text = std::move(text);
  return p;
}

// The ISO BMFF type of the first box ("" when too short).
inline std::string firstBox(const std::string& bytes) {
  return bytes.size() >= 8 ? bytes.substr(4, 4) : std::string();
}

struct FetchedPart {
  PartRef ref;
  std::string bytes;
  std::string cacheControl;
};

// Empty when the parts follow each other without gap or repeat: (m, p + 1) or (m + 1, 0)
// within an epoch; a later epoch starts at part 0 of a higher msn.
inline std::string sequenceProblem(const std::vector<FetchedPart>& parts) {
  for (size_t i = 1; i < parts.size(); ++i) {
    const PartRef& a = parts[i - 1].ref;
    const PartRef& b = parts[i].ref;
    const bool next = a.epoch == b.epoch && ((b.msn == a.msn && b.part == a.part + 1) ||
                                             (b.msn == a.msn + 1 && b.part == 0));
    const bool newEpoch = b.epoch > a.epoch && b.msn > a.msn && b.part == 0;
    if (!next && !newEpoch) return fmt::format("{} follows {}", b.uri(), a.uri());
  }
  return {};
}

struct FollowOptions {
  std::chrono::milliseconds reloadLimit{5000};  // a slower blocking reload is an error
  bool retryOn503 = false;                      // hls.js retries a 503 (Retry-After)
};

// Follows /hls/<room>/media.m3u8 on one serve.
class Follower {
 public:
  Follower(std::string base, std::string room, FollowOptions options = {})
      : base_(std::move(base)), prefix_("/hls/" + room + "/"), options_(options) {}

  // Loads the playlist and fetches the init and the parts from the last independent one.
  bool start() {
    auto res = get("media.m3u8");
    if (!res) return false;
    if (res->status != 200) return fail(fmt::format("first playlist: {} {}", res->status, res->body));
    playlist_ = parseMediaPlaylist(res->body);
    size_t from = playlist_.parts.size();
    for (size_t i = 0; i < playlist_.parts.size(); ++i) {
      if (playlist_.parts[i].independent) from = i;
    }
    if (from == playlist_.parts.size()) return fail("first playlist lists no independent part");
    for (size_t i = from; i < playlist_.parts.size(); ++i) {
      if (!fetchPart(playlist_.parts[i].ref)) return false;
    }
    return true;
  }

  // One blocking reload for the part after the last one fetched, then the new parts.
  bool step() {
    const PartRef last = parts_.back().ref;
    const std::string target =
        fmt::format("media.m3u8?_HLS_msn={}&_HLS_part={}", last.msn, last.part + 1);
    const auto started = Clock::now();
    auto res = get(target);
    if (!res) return false;
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    longestReload_ = std::max(longestReload_, took);
    if (res->status == 503 && options_.retryOn503) {
      ++retries_;
      return true;
    }
    if (res->status != 200) return fail(fmt::format("{}: {} {}", target, res->status, res->body));
    if (took > options_.reloadLimit) return fail(fmt::format("{} took {} ms", target, took.count()));
    ++reloads_;
    playlist_ = parseMediaPlaylist(res->body);
    return fetchNew(last);
  }

  // Steps until done() or timeout; false on an error (or the timeout).
  bool followUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return fail("timed out following the stream");
      if (!step()) return false;
    }
    return true;
  }
  bool followFor(std::chrono::milliseconds span) {
    const auto until = Clock::now() + span;
    return followUntil([until] { return Clock::now() >= until; }, span + std::chrono::seconds(10));
  }

  const std::vector<FetchedPart>& parts() const { return parts_; }
  const std::map<uint64_t, std::string>& inits() const { return inits_; }
  const MediaPlaylist& playlist() const { return playlist_; }
  const std::string& error() const { return error_; }
  int reloads() const { return reloads_; }
  int retries() const { return retries_; }
  std::chrono::milliseconds longestReload() const { return longestReload_; }

 private:
  std::optional<HttpResult> get(const std::string& name) {
    try {
      return httpRequest(base_, "GET", prefix_ + name, "", {}, options_.reloadLimit + 10s);
    } catch (const std::exception& e) {
      fail(fmt::format("GET {}{}: {}", prefix_, name, e.what()));
      return std::nullopt;
    }
  }

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  // Fetches what the playlist lists after `last` (which must still be listed).
  bool fetchNew(const PartRef& last) {
    auto at = playlist_.indexOf(last);
    if (!at) return fail(fmt::format("{} is no longer listed: fell behind", last.uri()));
    for (size_t i = *at + 1; i < playlist_.parts.size(); ++i) {
      if (!fetchPart(playlist_.parts[i].ref)) return false;
    }
    return true;
  }

  bool fetchInit(uint64_t epoch) {
    auto res = get(fmt::format("{}/init.mp4", epoch));
    if (!res) return false;
    if (res->status != 200) return fail(fmt::format("init of {}: {}", epoch, res->status));
    inits_[epoch] = std::move(res->body);
    return true;
  }

  bool fetchPart(const PartRef& ref) {
    if (!inits_.count(ref.epoch) && !fetchInit(ref.epoch)) return false;
    auto res = get(ref.uri());
    if (!res) return false;
    if (res->status != 200) return fail(fmt::format("{}: {} {}", ref.uri(), res->status, res->body));
    parts_.push_back({ref, std::move(res->body), res->headers["cache-control"]});
    return true;
  }

  std::string base_, prefix_;
  FollowOptions options_;
  MediaPlaylist playlist_;
  std::vector<FetchedPart> parts_;
  std::map<uint64_t, std::string> inits_;
  std::string error_;
  int reloads_ = 0, retries_ = 0;
  std::chrono::milliseconds longestReload_{0};
};

}  // namespace amphi::testing::hls
