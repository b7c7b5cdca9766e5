// Internal to src/api: who is connected. Each serve keeps its own users per room and
// writes one record per room to the AMPHI_PRESENCE bucket (TTL-limited, refreshed),
// so a serve that dies takes its viewers with it when its records expire. Counts are
// the union over all serves' records. A user with several tabs is one participant.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/hub.hpp"
#include "api/room_store.hpp"

namespace amphi::api {

struct Counts {
  std::size_t viewers = 0;
  std::size_t moderators = 0;
};

class Presence {
 public:
  Presence(bus::Bus& bus, RoomStore& store, std::string serveId, std::chrono::seconds ttl,
           std::chrono::seconds leftGrace);
  ~Presence();

  void connected(const std::string& roomId, const Viewer& viewer);
  void disconnected(const std::string& roomId, const std::string& userId);
  Counts counts(const std::string& roomId);
  // Writes empty records so other serves stop counting our users at once.
  void stop();

 private:
  struct Local {
    std::string displayName;
    core::Role role;
    int conns = 0;
    std::chrono::steady_clock::time_point leftAt{};  // when conns dropped to 0
  };
  struct Pending {
    core::Event event;
    std::string msgId;
  };

  void run();
  void coalesce(std::vector<Pending>& pending);
  void publishRound(std::set<std::string>& dirty, std::vector<Pending>& pending);
  void flush(const std::string& roomId);
  void queueEvent(core::EventType type, const std::string& roomId, const std::string& userId,
                  const std::string& displayName);
  std::map<std::string, core::Role> remoteUsers(const std::string& roomId);

  bus::Bus& bus_;
  RoomStore& store_;
  const std::string serveId_;
  const std::chrono::seconds ttl_;
  const std::chrono::seconds leftGrace_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t eventCounter_ = 0;
  std::map<std::string, std::map<std::string, Local>> rooms_;  // room → user → local state
  std::set<std::string> dirty_;
  std::vector<Pending> pending_;
  struct Cached {
    std::chrono::steady_clock::time_point at;
    std::map<std::string, core::Role> users;
  };
  std::map<std::string, Cached> remote_;  // other serves' users, cached briefly
  std::thread thread_;
};

}  // namespace amphi::api
