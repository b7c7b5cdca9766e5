#include "core/error.hpp"

namespace amphi::core {

std::string_view codeName(Errc code) {
  switch (code) {
    case Errc::BadRequest: return "bad_request";
    case Errc::Unauthorized: return "unauthorized";
    case Errc::Forbidden: return "forbidden";
    case Errc::NotFound: return "not_found";
    case Errc::Conflict: return "conflict";
    case Errc::PayloadTooLarge: return "payload_too_large";
    case Errc::RateLimited: return "rate_limited";
    case Errc::Unavailable: return "unavailable";
    case Errc::Internal: return "internal";
  }
  return "internal";
}

}  // namespace amphi::core
