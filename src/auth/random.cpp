#include "auth/random.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace amphi::auth {
namespace {

constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
// Largest multiple of 36 that fits in a byte: bytes at or above it are rejected so
// that every character is equally likely.
constexpr std::size_t kAcceptBelow = 256 - 256 % kIdAlphabet.size();
constexpr std::size_t kMaxChunk = 1 << 20;

std::vector<unsigned char> randomBytes(std::size_t count) {
  std::vector<unsigned char> bytes(count);
  for (std::size_t done = 0; done < count;) {
    const std::size_t chunk = std::min(count - done, kMaxChunk);
    if (RAND_bytes(bytes.data() + done, static_cast<int>(chunk)) != 1) {
      throw core::Error(core::Errc::Internal, "generating random bytes: RAND_bytes failed");
    }
    done += chunk;
  }
  return bytes;
}

std::string base64UrlNoPadding(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock adds NUL
  std::size_t length = 0;
  for (std::size_t done = 0; done < bytes.size();) {
    const std::size_t chunk = std::min(bytes.size() - done, kMaxChunk / 4 * 3);
    auto* dest = reinterpret_cast<unsigned char*>(out.data()) + length;
    length += static_cast<std::size_t>(
        EVP_EncodeBlock(dest, bytes.data() + done, static_cast<int>(chunk)));
    done += chunk;
  }
  out.resize(length);
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

}  // namespace

std::string randomToken(std::size_t bytes) {
  return base64UrlNoPadding(randomBytes(bytes));
}

std::string randomId(std::size_t chars) {
  std::string id;
  id.reserve(chars);
  while (id.size() < chars) {
    // Ask for a little more than needed: about 1.6% of bytes are rejected.
    const std::size_t missing = chars - id.size();
    for (unsigned char byte : randomBytes(missing + missing / 16 + 1)) {
      if (byte >= kAcceptBelow) continue;
      id.push_back(kIdAlphabet[byte % kIdAlphabet.size()]);
      if (id.size() == chars) break;
    }
  }
  return id;
}

}  // namespace amphi::auth
