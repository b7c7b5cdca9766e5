#include "api/hub.hpp"

#include <spdlog/spdlog.h>

#include "bus/bus.hpp"

namespace amphi::api {
namespace {
constexpr std::size_t kRingSize = 2048;
}  // namespace

RoomHub::RoomHub(std::string roomId, bus::Bus& bus, http::Metrics& metrics, Fanout& fanout,
                 std::size_t replayLimit)
    : roomId_(std::move(roomId)),
      bus_(bus),
      metrics_(metrics),
      fanout_(fanout),
      replayLimit_(replayLimit),
      idleSince_(std::chrono::steady_clock::now()) {}

RoomHub::~RoomHub() { subscription_.reset(); }

void RoomHub::start() {
  const uint64_t last = bus_.signalBounds().last;
  {
    std::lock_guard lock(mu_);
    ringFloor_ = last;
  }
  std::weak_ptr<RoomHub> weak = weak_from_this();
  subscription_ = bus_.subscribe(core::roomSubjectFilter(roomId_), last + 1,
                                 [weak](bus::StreamMessage msg) {
                                   if (auto self = weak.lock()) self->onMessage(std::move(msg));
                                 });
  spdlog::info("room {}: following events after #{}", roomId_, last);
}

// One delivery thread calls this, in stream order. A room-wide event is sent outside mu_
// (to 15,000 streams that takes a while), from a copy of the stream list: a stream that
// attaches meanwhile already has the event from the ring, one that leaves is closed.
void RoomHub::onMessage(bus::StreamMessage message) {
  auto event = core::decodeEvent(message.data);
  if (!event || event->roomId != roomId_) {
    spdlog::warn("room {}: ignoring malformed event #{} on {}", roomId_, message.seq,
                 message.subject);
    return;
  }
  metrics_.eventsReceived++;
  Entry entry{message.seq, std::move(*event), nullptr};
  entry.frame = std::make_shared<const std::string>(core::sseFrame(entry.seq, entry.event));
  const auto frame = entry.frame;
  std::lock_guard sending(sendMu_);
  {
    std::lock_guard lock(mu_);
    if (!ring_.empty() && entry.seq <= ring_.back().seq) return;
    const bool everyone = core::audienceOf(entry.event.type) == core::Audience::Everyone;
    if (everyone) {
      if (entry.seq > maxAfter_) {
        sending_.assign(all_.begin(), all_.end());
      } else {  // a stream that resumed past this event (this hub lags the stream) skips it
        for (const auto& s : all_) {
          if (entry.seq > conns_.at(s.get()).after) sending_.push_back(s);
        }
      }
    } else {
      deliverToFew(entry);
    }
    ring_.push_back(std::move(entry));
    while (ring_.size() > kRingSize) {
      ringFloor_ = ring_.front().seq;
      ring_.pop_front();
    }
    if (!everyone) return;
  }
  fanout_.send(sending_, frame);
  sending_.clear();
}

// mu_ held. Moderators and the user concerned. A full queue closes a stream; its close
// callback detaches it later.
void RoomHub::deliverToFew(const Entry& entry) {
  for (auto* ptr : moderators_) {
    auto& conn = conns_.at(ptr);
    if (entry.seq > conn.after) conn.stream->send(entry.frame);
  }
  auto [begin, end] = byUser_.equal_range(entry.event.userId);
  for (auto it = begin; it != end; ++it) {
    auto& conn = conns_.at(it->second);
    if (conn.viewer.role != core::Role::Moderator && entry.seq > conn.after)
      conn.stream->send(entry.frame);
  }
}

std::vector<RoomHub::Entry> RoomHub::fetch(uint64_t from, uint64_t to) {
  std::vector<Entry> out;
  const std::string filter = core::roomSubjectFilter(roomId_);
  while (from <= to) {
    auto msg = bus_.nextMessage(from, filter);
    if (!msg || msg->seq > to) break;
    from = msg->seq + 1;
    if (auto event = core::decodeEvent(msg->data)) {
      out.push_back({msg->seq, std::move(*event), nullptr});
      if (out.size() > replayLimit_) break;
    }
  }
  return out;
}

bool RoomHub::tooOld(uint64_t lastEventId) {
  const auto bounds = bus_.signalBounds();
  if (lastEventId > bounds.last) return true;  // from a stream that no longer exists
  return bounds.first > 0 && lastEventId + 1 < bounds.first;  // retention dropped events
}

void RoomHub::sendReset(const std::shared_ptr<http::SseStream>& stream, uint64_t seq) {
  core::Event reset{core::EventType::Reset, roomId_, "", "", 0, nlohmann::json::object()};
  reset.timestampMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  reset.data["reason"] = "missed events are no longer available; fetch /state again";
  stream->send(std::make_shared<const std::string>(core::sseFrame(seq, reset)));
}

void RoomHub::attach(const std::shared_ptr<http::SseStream>& stream, const Viewer& viewer,
                     uint64_t after, bool clientId) {
  bool reset = clientId && tooOld(after);
  std::vector<Entry> fetched;
  uint64_t cursor = after + 1;
  for (;;) {
    std::unique_lock lock(mu_);
    if (reset || cursor > ringFloor_ || fetched.size() > replayLimit_) {
      uint64_t has = after;
      if (reset || fetched.size() > replayLimit_) {
        has = ring_.empty() ? ringFloor_ : ring_.back().seq;
        sendReset(stream, has);
      } else {
        for (auto& e : fetched) {
          if (core::visibleTo(e.event, viewer.role, viewer.userId)) {
            stream->send(std::make_shared<const std::string>(core::sseFrame(e.seq, e.event)));
          }
        }
        for (const auto& e : ring_) {
          if (e.seq >= cursor && core::visibleTo(e.event, viewer.role, viewer.userId)) {
            stream->send(e.frame);
          }
        }
      }
      conns_[stream.get()] = Conn{stream, viewer, has, all_.size()};
      all_.push_back(stream);
      maxAfter_ = std::max(maxAfter_, has);
      if (viewer.role == core::Role::Moderator) moderators_.insert(stream.get());
      byUser_.emplace(viewer.userId, stream.get());
      return;
    }
    const uint64_t floor = ringFloor_;
    lock.unlock();
    auto more = fetch(cursor, floor);
    cursor = floor + 1;
    for (auto& e : more) fetched.push_back(std::move(e));
  }
}

void RoomHub::detach(http::SseStream* stream) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(stream);
  if (it == conns_.end()) return;
  auto [begin, end] = byUser_.equal_range(it->second.viewer.userId);
  for (auto u = begin; u != end; ++u) {
    if (u->second == stream) {
      byUser_.erase(u);
      break;
    }
  }
  moderators_.erase(stream);
  const std::size_t slot = it->second.slot;
  if (slot + 1 < all_.size()) {
    all_[slot] = std::move(all_.back());
    conns_.at(all_[slot].get()).slot = slot;
  }
  all_.pop_back();
  conns_.erase(it);
  if (conns_.empty()) idleSince_ = std::chrono::steady_clock::now();
}

std::size_t RoomHub::connections() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

std::chrono::steady_clock::time_point RoomHub::idleSince() const {
  std::lock_guard lock(mu_);
  return idleSince_;
}

}  // namespace amphi::api
