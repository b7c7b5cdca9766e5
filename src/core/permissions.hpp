// Who may do what: deny by default, one table.
#pragma once

#include "core/role.hpp"

namespace amphi::core {

enum class Action {
  ReadState,       // GET /state
  ReadOwnEvents,   // GET /user-events
  ReadRoomEvents,  // GET /events
  RaiseHand,
  LowerOwnHand,
  LowerAnyHand,
  Promote,
  DemoteAny,
  DemoteSelf,      // only while on stage; checked by the caller
  SetLive,
  ReadInvites,     // GET /invites (the links to share)
};

bool allowed(Role role, Action action);

}  // namespace amphi::core
