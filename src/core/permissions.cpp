#include "core/permissions.hpp"

#include <array>
#include <utility>

namespace amphi::core {
namespace {

struct Rule {
  Action action;
  bool moderator;
  bool viewer;
};

constexpr std::array kRules{
    Rule{Action::ReadState, true, true},       Rule{Action::ReadOwnEvents, true, true},
    Rule{Action::ReadRoomEvents, true, false}, Rule{Action::RaiseHand, false, true},
    Rule{Action::LowerOwnHand, true, true},    Rule{Action::LowerAnyHand, true, false},
    Rule{Action::Promote, true, false},        Rule{Action::DemoteAny, true, false},
    Rule{Action::DemoteSelf, true, true},      Rule{Action::SetLive, true, false},
    Rule{Action::ReadInvites, true, false},
};

}  // namespace

bool allowed(Role role, Action action) {
  for (const auto& rule : kRules) {
    if (rule.action == action) return role == Role::Moderator ? rule.moderator : rule.viewer;
  }
  return false;
}

}  // namespace amphi::core
