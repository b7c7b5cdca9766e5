// Internal to src/api: one RoomHub per active room per serve. It holds the room's
// single ordered subscription to ROOM_SIGNALS, a ring of recent events, and the
// SSE connections of this process, and fans each event out to those who may see it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "api/fanout.hpp"
#include "core/event.hpp"
#include "core/role.hpp"
#include "http/metrics.hpp"
#include "http/sse.hpp"

namespace amphi::bus {
class Bus;
class Subscription;
struct StreamMessage;
}  // namespace amphi::bus

namespace amphi::api {

struct Viewer {
  std::string userId;
  std::string displayName;
  core::Role role = core::Role::Viewer;
};

class RoomHub : public std::enable_shared_from_this<RoomHub> {
 public:
  RoomHub(std::string roomId, bus::Bus& bus, http::Metrics& metrics, Fanout& fanout,
          std::size_t replayLimit);
  ~RoomHub();

  // Subscribes from the current end of the stream. Blocking (bus round trips).
  void start();
  // Replays what the viewer may see after `after` (an event id), then streams live:
  // no loss, no duplicate. A client's own Last-Event-ID is `clientId` and gets RESET
  // when the stream can no longer serve it; a fresh client passes the stream's last
  // sequence at the time of its request. Blocking (bus reads).
  void attach(const std::shared_ptr<http::SseStream>& stream, const Viewer& viewer,
              uint64_t after, bool clientId);
  void detach(http::SseStream* stream);
  std::size_t connections() const;
  std::chrono::steady_clock::time_point idleSince() const;
  const std::string& roomId() const { return roomId_; }

 private:
  struct Entry {
    uint64_t seq;
    core::Event event;
    std::shared_ptr<const std::string> frame;
  };
  struct Conn {
    std::shared_ptr<http::SseStream> stream;
    Viewer viewer;
    // The client has everything up to here (its resume id or start position): a hub
    // that lags behind the stream (its consumer was on a NATS node that died) must not
    // deliver those again when they reach it.
    uint64_t after = 0;
    std::size_t slot = 0;  // index in all_
  };

  void onMessage(bus::StreamMessage message);
  void deliverToFew(const Entry& entry);  // mu_ held
  std::vector<Entry> fetch(uint64_t from, uint64_t to);
  void sendReset(const std::shared_ptr<http::SseStream>& stream, uint64_t seq);
  bool tooOld(uint64_t lastEventId);

  const std::string roomId_;
  bus::Bus& bus_;
  http::Metrics& metrics_;
  Fanout& fanout_;
  const std::size_t replayLimit_;
  std::unique_ptr<bus::Subscription> subscription_;
  mutable std::mutex mu_;
  std::deque<Entry> ring_;    // events with seq > ringFloor_, in order
  uint64_t ringFloor_ = 0;    // every room event after this seq is in ring_
  std::unordered_map<http::SseStream*, Conn> conns_;
  std::vector<std::shared_ptr<http::SseStream>> all_;  // conns_' streams, for room-wide events
  uint64_t maxAfter_ = 0;  // the highest Conn::after seen: later events go to all_ as is
  std::mutex sendMu_;  // one event at a time, in order, outside mu_
  std::vector<std::shared_ptr<http::SseStream>> sending_;  // guarded by sendMu_
  std::unordered_set<http::SseStream*> moderators_;
  std::unordered_multimap<std::string, http::SseStream*> byUser_;
  std::chrono::steady_clock::time_point idleSince_;
};

}  // namespace amphi::api
