// Domain errors: a code that the API maps to an HTTP status in one place, and a
// message that says which step failed and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace amphi::core {

enum class Errc {
  BadRequest,       // malformed input
  Unauthorized,     // missing, expired or forged credentials
  Forbidden,        // valid credentials, wrong role or room
  NotFound,         // unknown room, user or route
  Conflict,         // e.g. stage full
  PayloadTooLarge,  // body over the limit
  RateLimited,      // too many requests
  Unavailable,      // a dependency (NATS) is unreachable
  Internal,
};

// The stable machine-readable code sent in {"error":{"code":...}}.
std::string_view codeName(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string message, std::string detailCode = {})
      : std::runtime_error(std::move(message)), code_(code), detail_(std::move(detailCode)) {}
  Errc code() const { return code_; }
  // A more specific code than codeName(code()), e.g. "stage_full"; empty when none.
  const std::string& detail() const { return detail_; }

 private:
  Errc code_;
  std::string detail_;
};

}  // namespace amphi::core
