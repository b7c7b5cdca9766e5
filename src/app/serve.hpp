// `amphi serve` and `amphi token`: wiring of config, NATS, the API and the server.
#pragma once

#include "app/config.hpp"

namespace amphi::app {

// Runs until SIGINT/SIGTERM; returns the process exit code.
int runServe(Config config);
// Prints the invite link of a room for a role; returns the exit code.
int runToken(Config config, const std::string& roomId, const std::string& role);

}  // namespace amphi::app
