#include "classroom.hpp"

#include <stdexcept>

#include "fixtures.hpp"

namespace amphi::testing {

Room createRoom(const std::string& baseUrl, const std::string& id, int maxStage) {
  nlohmann::json body = {{"id", id}, {"title", "Room " + id}, {"maxStage", maxStage}};
  auto res = httpRequest(baseUrl, "POST", "/api/rooms", body.dump(),
                         {{"Authorization", std::string("Bearer ") + ServeProcess::kAdminKey}});
  if (res.status != 201) {
    throw std::runtime_error("create room " + id + ": " + std::to_string(res.status) + " " +
                             res.body);
  }
  auto j = res.json();
  return {id, j["invites"]["moderator"]["code"], j["invites"]["viewer"]["code"]};
}

User join(const std::string& baseUrl, const std::string& roomId, const std::string& invite,
          const std::string& displayName) {
  nlohmann::json body = {{"invite", invite}, {"displayName", displayName}};
  auto res = httpRequest(baseUrl, "POST", "/api/rooms/" + roomId + "/join", body.dump());
  if (res.status != 200) {
    throw std::runtime_error("join " + roomId + ": " + std::to_string(res.status) + " " +
                             res.body);
  }
  auto j = res.json();
  return {j["userId"], j["token"], j["role"], displayName};
}

HttpResult post(const std::string& baseUrl, const std::string& target, const User& user,
                const std::string& body) {
  return httpRequest(baseUrl, "POST", target, body, user.auth());
}

HttpResult get(const std::string& baseUrl, const std::string& target, const User& user) {
  return httpRequest(baseUrl, "GET", target, "", user.auth());
}

}  // namespace amphi::testing
