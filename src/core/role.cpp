#include "core/role.hpp"

namespace amphi::core {

std::string_view toString(Role role) {
  return role == Role::Moderator ? "moderator" : "viewer";
}

std::optional<Role> roleFromString(std::string_view text) {
  if (text == "moderator") return Role::Moderator;
  if (text == "viewer") return Role::Viewer;
  return std::nullopt;
}

}  // namespace amphi::core
