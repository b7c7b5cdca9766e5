#include "app/egress_supervisor.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/process.hpp"
#include "bus/bus.hpp"
#include "core/room_codec.hpp"

namespace amphi::app {
namespace {

using Clock = std::chrono::steady_clock;

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string leaseKey(const std::string& room) { return "egress." + room; }

struct Lease {
  std::string holder;
  int64_t expiresAtMs = 0;
};

Lease decodeLease(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return {};
  return {j.value("holder", ""), j.value("expiresAtMs", int64_t{0})};
}

std::string encodeLease(const Lease& l) {
  return nlohmann::json{{"holder", l.holder}, {"expiresAtMs", l.expiresAtMs}}.dump();
}

// One room's egress run by this serve.
struct Running {
  ChildProcess child;
  int restarts = 0;
  Clock::time_point nextStart{};  // back-off after a crash
};

}  // namespace

struct EgressSupervisor::Impl {
  bus::Bus& bus;
  EgressSupervisorOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;                 // guarded by mu
  std::map<std::string, Running> held;   // owned by the worker thread
  std::set<std::string> heldNames;       // guarded by mu (copy for heldRooms)
  std::set<std::string> warned;          // rooms this serve cannot broadcast (worker only)
  std::thread worker;

  Impl(bus::Bus& b, EgressSupervisorOptions o) : bus(b), options(std::move(o)) {}

  void run();
  void tickOnce();
  std::set<std::string> liveRooms();
  bool holdLease(const std::string& room);
  void releaseLease(const std::string& room);
  void superviseChild(const std::string& room, Running& r);
  void stopRoom(const std::string& room, const char* why);
  void publishHeld();
};

void EgressSupervisor::Impl::run() {
  std::unique_lock lock(mu);
  while (!stopping) {
    lock.unlock();
    try {
      if (bus.ready()) tickOnce();
    } catch (const std::exception& e) {
      spdlog::warn("egress: supervision pass failed: {}; retrying", e.what());
    }
    lock.lock();
    cv.wait_for(lock, options.tick, [this] { return stopping; });
  }
  lock.unlock();
  for (auto it = held.begin(); it != held.end();) {
    const std::string room = it->first;
    ++it;
    stopRoom(room, "serve is stopping");
  }
}

std::set<std::string> EgressSupervisor::Impl::liveRooms() {
  std::set<std::string> live;
  for (const auto& [key, value] : bus.scan(bus::Bucket::Rooms, "room.*")) {
    try {
      auto room = core::decodeRoom(value);
      if (room.live) live.insert(room.id);
    } catch (const std::exception& e) {
      spdlog::warn("egress: unreadable room record {}: {}", key, e.what());
    }
  }
  return live;
}

void EgressSupervisor::Impl::tickOnce() {
  const auto live = liveRooms();
  for (auto it = held.begin(); it != held.end();) {
    const std::string room = it->first;
    ++it;
    if (!live.count(room)) stopRoom(room, "the room ended");
  }
  for (const auto& room : live) {
    if (options.canRun && !options.canRun(room)) {
      if (warned.insert(room).second) {
        spdlog::warn("egress: room {}: live, but this serve cannot broadcast it (no Janus for "
                     "its stage); leaving it to another serve", room);
      }
      continue;
    }
    warned.erase(room);
    if (!holdLease(room)) {
      if (held.count(room)) stopRoom(room, "another serve holds its lease");
      continue;
    }
    auto& r = held[room];
    superviseChild(room, r);
  }
  publishHeld();
}

// Takes or renews the lease; false when another live holder has it.
bool EgressSupervisor::Impl::holdLease(const std::string& room) {
  const Lease mine{options.holderId, wallMs() + options.leaseTtl.count()};
  auto entry = bus.get(bus::Bucket::Rooms, leaseKey(room));
  try {
    if (!entry) {
      bus.create(bus::Bucket::Rooms, leaseKey(room), encodeLease(mine));
      return true;
    }
    const Lease current = decodeLease(entry->value);
    if (current.holder != options.holderId && current.expiresAtMs > wallMs()) return false;
    bus.update(bus::Bucket::Rooms, leaseKey(room), encodeLease(mine), entry->revision);
    return true;
  } catch (const bus::CasConflict&) {
    return false;  // someone else wrote first: they hold it now
  }
}

void EgressSupervisor::Impl::releaseLease(const std::string& room) {
  try {
    auto entry = bus.get(bus::Bucket::Rooms, leaseKey(room));
    if (!entry || decodeLease(entry->value).holder != options.holderId) return;
    bus.update(bus::Bucket::Rooms, leaseKey(room), encodeLease({"", 0}), entry->revision);
  } catch (const std::exception& e) {
    spdlog::debug("egress: releasing the lease of room {}: {}", room, e.what());
  }
}

void EgressSupervisor::Impl::superviseChild(const std::string& room, Running& r) {
  if (r.child.running()) return;
  if (r.child.pid() != -1 || r.restarts > 0) {
    if (r.child.pid() != -1) {
      spdlog::warn("egress: room {}: egress exited (status {}); restarting", room,
                   r.child.exitStatus().value_or(-1));
      r.child = ChildProcess();
      r.nextStart = Clock::now() + std::chrono::milliseconds(std::min(500 * ++r.restarts, 5000));
    }
    if (Clock::now() < r.nextStart) return;
  }
  // The NATS URL goes in the environment: it may carry a token, and argv is public.
  std::vector<std::string> argv{options.binary, "egress", "--room", room};
  if (options.argsFor) {
    for (auto& a : options.argsFor(room)) argv.push_back(std::move(a));
  }
  SpawnOptions so;
  so.logFile = options.logDir + "/egress-" + room + ".log";
  if (options.envFor) so.env = options.envFor(room);
  so.env.push_back("AMPHI_NATS_URL=" + options.natsUrl);
  try {
    r.child = ChildProcess::spawn(argv, so);
    if (r.restarts == 0) r.restarts = 1;  // later exits count as crashes
    spdlog::info("egress: room {}: started egress (pid {}, log {})", room, r.child.pid(),
                 so.logFile);
  } catch (const std::exception& e) {
    spdlog::error("egress: room {}: cannot start egress: {}", room, e.what());
    r.nextStart = Clock::now() + std::chrono::seconds(5);
  }
}

void EgressSupervisor::Impl::stopRoom(const std::string& room, const char* why) {
  auto it = held.find(room);
  if (it == held.end()) return;
  if (it->second.child.running()) {
    spdlog::info("egress: room {}: stopping egress ({})", room, why);
    it->second.child.terminate(std::chrono::seconds(5));
  }
  held.erase(it);
  releaseLease(room);
}

void EgressSupervisor::Impl::publishHeld() {
  std::set<std::string> names;
  for (const auto& [room, r] : held) names.insert(room);
  std::lock_guard lock(mu);
  heldNames = std::move(names);
}

EgressSupervisor::EgressSupervisor(bus::Bus& bus, EgressSupervisorOptions options)
    : impl_(std::make_unique<Impl>(bus, std::move(options))) {}

EgressSupervisor::~EgressSupervisor() { stop(); }

void EgressSupervisor::start() {
  if (impl_->worker.joinable()) return;
  // The worker spawns the children: with dieWithParent they end when it ends.
  impl_->worker = std::thread([impl = impl_.get()] { impl->run(); });
}

void EgressSupervisor::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

std::vector<std::string> EgressSupervisor::heldRooms() const {
  std::lock_guard lock(impl_->mu);
  return {impl_->heldNames.begin(), impl_->heldNames.end()};
}

}  // namespace amphi::app
