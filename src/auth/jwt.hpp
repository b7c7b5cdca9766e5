// Session tokens: HS256 JWTs carrying room, user, display name and role.
// The algorithm is pinned; verify() never throws, whatever the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/role.hpp"

namespace amphi::auth {

struct Claims {
  std::string roomId;
  std::string userId;
  std::string displayName;
  core::Role role = core::Role::Viewer;
  int64_t issuedAt = 0;   // seconds since epoch
  int64_t expiresAt = 0;  // seconds since epoch

  bool operator==(const Claims&) const = default;
};

enum class TokenError {
  Malformed,
  BadAlgorithm,
  BadSignature,
  Expired,
  WrongIssuer,
  WrongAudience
};

// A message for the user, e.g. "session token has expired; join the room again".
std::string_view describe(TokenError error);

class TokenSigner {
 public:
  // Throws core::Error(Internal) when the secret is shorter than 32 bytes (RFC 7518 §3.2).
  explicit TokenSigner(std::string secret, std::string issuer = "amphi",
                       std::string audience = "amphi-room");

  // Payload: iss, aud, sub=userId, room, name, role ("moderator"|"viewer"), iat, exp.
  std::string sign(const Claims& claims) const;

  // Accepts tokens whose exp is less than 30 s in the past (clock skew between servers).
  std::variant<Claims, TokenError> verify(std::string_view token, int64_t nowSeconds) const;

 private:
  std::string secret_;
  std::string issuer_;
  std::string audience_;
};

}  // namespace amphi::auth
