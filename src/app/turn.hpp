// TURN for `amphi serve`: a private coturn (--turn) or an existing server (--turn-url),
// resolved into what browsers and Janus are given.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "sfu/embedded_turn.hpp"
#include "sfu/janus_config.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::app {

struct TurnPlan {
  std::vector<std::string> urls;                // iceServers URLs for browsers
  std::string secret;                           // shared secret the credentials derive from
  sfu::JanusTurn janus;                         // what Janus uses for its own side
  std::unique_ptr<sfu::EmbeddedTurn> embedded;  // the private coturn, if any
};

// Off (nullopt) unless turn_url or turn is set. For turn, starts coturn: its secret is
// turn_secret, or one created once in the KV bucket and shared by every serve on the
// same NATS. Throws std::runtime_error saying what failed (the caller decides whether
// serve runs on without TURN).
std::optional<TurnPlan> startTurn(const Config& config, const std::filesystem::path& dataDir,
                                  bus::Bus& bus);

// Restarts a private coturn that died (checked twice a second) until destroyed.
class TurnWatch {
 public:
  explicit TurnWatch(sfu::EmbeddedTurn& turn);
  ~TurnWatch();
  TurnWatch(const TurnWatch&) = delete;
  TurnWatch& operator=(const TurnWatch&) = delete;
  // Whether coturn was running at the last check (any thread).
  bool alive() const { return alive_; }

 private:
  void run();
  sfu::EmbeddedTurn& turn_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> alive_{true};
  std::thread thread_;
};

}  // namespace amphi::app
