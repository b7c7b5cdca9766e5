// Roles of a room member and the rules of who may do what.
#pragma once

#include <optional>
#include <string_view>

namespace amphi::core {

enum class Role { Moderator, Viewer };

std::string_view toString(Role role);
std::optional<Role> roleFromString(std::string_view text);

}  // namespace amphi::core
