// Time-limited TURN credentials for a TURN server run with a shared secret (coturn's
// `use-auth-secret`, the "TURN REST API" scheme): the username is "<expiry>:<userId>"
// (expiry in Unix seconds) and the password is base64(HMAC-SHA1(secret, username)).
// The server recomputes the password from the username and refuses it after expiry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace amphi::auth {

struct TurnCredential {
  std::string username;  // "<expiresAt>:<userId>"
  std::string password;  // standard base64 (with padding) of the 20-byte HMAC-SHA1
};

// The credential for userId valid until expiresAt (Unix seconds). userId must not
// contain ':' (the server splits the username there); throws core::Error(BadRequest)
// if it does, or on an empty secret, and core::Error(Internal) if HMAC fails.
TurnCredential turnCredential(std::string_view secret, std::string_view userId, int64_t expiresAt);

}  // namespace amphi::auth
