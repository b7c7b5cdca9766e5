// libFuzzer: session token verification must never crash or accept garbage.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "auth/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const amphi::auth::TokenSigner signer("fuzz-secret-0123456789abcdef0123456789");
  std::string token(reinterpret_cast<const char*>(data), size);
  auto result = signer.verify(token, 1700000000);
  if (std::holds_alternative<amphi::auth::Claims>(result)) {
    // Only a token we signed can verify: signing its claims again must reproduce it.
    const auto& claims = std::get<amphi::auth::Claims>(result);
    if (signer.sign(claims) != token) std::abort();
  }
  return 0;
}
