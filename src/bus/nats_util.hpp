// Internal to src/bus: RAII for nats.c objects and status → error translation.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>

#include "bus/bus.hpp"

namespace amphi::bus::impl {

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;

struct EntryDeleter {
  void operator()(kvEntry* e) const { kvEntry_Destroy(e); }
};
using EntryPtr = std::unique_ptr<kvEntry, EntryDeleter>;

// Every header of a message (name, first value).
Headers readHeaders(natsMsg* msg);
// The status text plus nats.c's last error detail, e.g. "wrong last sequence: 7".
std::string describe(natsStatus status);
// Throws core::Error(Unavailable) naming the step that failed.
[[noreturn]] void fail(natsStatus status, const std::string& step);
inline void check(natsStatus status, const std::string& step) {
  if (status != NATS_OK) fail(status, step);
}

}  // namespace amphi::bus::impl
