// Runs exactly one `amphi egress` per live room across all serves. Each serve competes
// for a lease per live room in the AMPHI_ROOMS bucket (key egress.<room>, compare-and-set
// on the revision); the holder runs the egress as a supervised child, restarts it when
// it exits, renews the lease every second and lets go when the room ends. When a serve
// dies its leases expire and another serve takes the room over within a few seconds.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace amphi::bus {
class Bus;
}

namespace amphi::app {

struct EgressSupervisorOptions {
  std::string binary;                    // the amphi executable (/proc/self/exe)
  std::string natsUrl;                   // passed to every egress
  std::string holderId;                  // unique per serve process
  std::string logDir;                    // egress-<room>.log files
  std::chrono::milliseconds leaseTtl{5000};
  std::chrono::milliseconds tick{1000};  // scan, renew, restart period
  // Extra arguments and environment for one room's egress (source, Janus target, ...).
  std::function<std::vector<std::string>(const std::string& room)> argsFor;
  std::function<std::vector<std::string>(const std::string& room)> envFor;
  // Whether this serve can broadcast the room at all (e.g. a stage room needs a Janus);
  // rooms it cannot are left to other serves, with one warning.
  std::function<bool(const std::string& room)> canRun;
};

class EgressSupervisor {
 public:
  EgressSupervisor(bus::Bus& bus, EgressSupervisorOptions options);
  ~EgressSupervisor();  // stops every egress it runs and releases its leases
  EgressSupervisor(const EgressSupervisor&) = delete;
  EgressSupervisor& operator=(const EgressSupervisor&) = delete;

  void start();
  void stop();
  // Rooms whose egress this serve runs right now (for /metrics and tests).
  std::vector<std::string> heldRooms() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amphi::app
