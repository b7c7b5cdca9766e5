// Unpredictable tokens and ids from OpenSSL's CSPRNG. Both throw
// core::Error(Internal) if the generator fails.
#pragma once

#include <cstddef>
#include <string>

namespace amphi::auth {

// `bytes` random bytes, base64url-encoded without padding (e.g. secrets, invite codes).
std::string randomToken(std::size_t bytes);

// `chars` characters drawn uniformly from [a-z0-9] (e.g. user ids).
std::string randomId(std::size_t chars);

}  // namespace amphi::auth
