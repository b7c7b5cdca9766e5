// Test helper: rooms and users against a running serve, over its real HTTP API.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace amphi::testing {

struct User {
  std::string userId;
  std::string token;
  std::string role;
  std::string displayName;
  std::vector<std::pair<std::string, std::string>> auth() const {
    return {{"Authorization", "Bearer " + token}};
  }
};

struct Room {
  std::string id;
  std::string moderatorInvite;
  std::string viewerInvite;
};

// Creates a room with the admin key; fails the calling test (throws) on a non-201.
Room createRoom(const std::string& baseUrl, const std::string& id, int maxStage = 4);
// Joins with an invite; throws on a non-200.
User join(const std::string& baseUrl, const std::string& roomId, const std::string& invite,
          const std::string& displayName);
// POST with a user's bearer token and an optional JSON body.
HttpResult post(const std::string& baseUrl, const std::string& target, const User& user,
                const std::string& body = "");
HttpResult get(const std::string& baseUrl, const std::string& target, const User& user);

}  // namespace amphi::testing
