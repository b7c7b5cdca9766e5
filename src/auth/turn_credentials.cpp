#include "auth/turn_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/error.hpp"

namespace amphi::auth {

TurnCredential turnCredential(std::string_view secret, std::string_view userId, int64_t expiresAt) {
  if (secret.empty()) throw core::Error(core::Errc::BadRequest, "TURN credential: empty secret");
  if (userId.find(':') != std::string_view::npos)
    throw core::Error(core::Errc::BadRequest, "TURN credential: user id contains ':'");
  TurnCredential c;
  c.username = std::to_string(expiresAt) + ":" + std::string(userId);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLength = 0;
  if (HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(c.username.data()), c.username.size(), mac,
           &macLength) == nullptr)
    throw core::Error(core::Errc::Internal, "TURN credential: HMAC-SHA1 failed");
  std::string encoded(4 * ((macLength + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac,
                                      static_cast<int>(macLength));
  encoded.resize(static_cast<size_t>(written));
  c.password = std::move(encoded);
  return c;
}

}  // namespace amphi::auth
