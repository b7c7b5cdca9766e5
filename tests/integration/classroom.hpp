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

#include <memory>

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace amphi::testing {

// A test suite sharing one nats-server and `serveCount` serve processes. A server that
// does not start fails every test of the suite (gtest would otherwise skip them).
// Use as: class MySuite : public SharedServe<MySuite> { static args(): ... };
template <typename Suite>
class SharedServe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      nats_ = std::make_unique<NatsFixture>();
      for (int i = 0; i < Suite::kServes; ++i) {
        serves_.push_back(std::make_unique<ServeProcess>(nats_->url(), Suite::serveArgs()));
      }
    } catch (const std::exception& e) {
      setupError_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    serves_.clear();
    nats_.reset();
  }
  void SetUp() override {
    if (!setupError_.empty()) FAIL() << setupError_;
  }
  static std::string base(std::size_t i = 0) { return serves_.at(i)->baseUrl(); }

  static inline std::string setupError_;
  static inline std::unique_ptr<NatsFixture> nats_;
  static inline std::vector<std::unique_ptr<ServeProcess>> serves_;
};

}  // namespace amphi::testing
