#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "core/error.hpp"

namespace amphi::auth {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxTokenBytes = 4096;
constexpr int64_t kClockSkewSeconds = 30;
constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kMacBytes = 32;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  return out;
}

int decodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict: no padding, no foreign characters, unused trailing bits must be zero
// (so that every byte string has exactly one encoding).
std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int value = decodeChar(c);
    if (value < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Raw 32-byte MAC, or empty on an OpenSSL failure.
std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), input, data.size(), mac,
           &length) == nullptr ||
      length != kMacBytes) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(mac), length);
}

struct Parts {
  std::string_view header, payload, signature, signingInput;
};

std::optional<Parts> splitToken(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return Parts{token.substr(0, first), token.substr(first + 1, second - first - 1),
               token.substr(second + 1), token.substr(0, second)};
}

std::optional<json> decodeObject(std::string_view part) {
  const auto text = base64UrlDecode(part);
  if (!text) return std::nullopt;
  json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return std::nullopt;
  return value;
}

const std::string* stringClaim(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

std::optional<int64_t> intClaim(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(value);
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  return std::nullopt;
}

// aud is a string or an array of strings (RFC 7519 §4.1.3).
bool audienceMatches(const json& aud, const std::string& audience) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  for (const auto& entry : aud) {
    if (entry.is_string() && entry.get_ref<const std::string&>() == audience) return true;
  }
  return false;
}

std::optional<TokenError> checkHeader(std::string_view part) {
  const auto header = decodeObject(part);
  if (!header) return TokenError::Malformed;
  const auto* alg = stringClaim(*header, "alg");
  if (alg == nullptr || *alg != "HS256") return TokenError::BadAlgorithm;
  return std::nullopt;
}

std::optional<TokenError> checkSignature(const Parts& parts, std::string_view secret) {
  const auto signature = base64UrlDecode(parts.signature);
  if (!signature) return TokenError::Malformed;
  const auto expected = hmacSha256(secret, parts.signingInput);
  if (expected.size() != kMacBytes || signature->size() != kMacBytes ||
      CRYPTO_memcmp(expected.data(), signature->data(), kMacBytes) != 0) {
    return TokenError::BadSignature;
  }
  return std::nullopt;
}

// exp <= now - skew, written so that no input can overflow.
bool isExpired(int64_t exp, int64_t now) {
  if (now < std::numeric_limits<int64_t>::min() + kClockSkewSeconds) return false;
  return exp <= now - kClockSkewSeconds;
}

std::variant<Claims, TokenError> readClaims(const json& payload, const std::string& issuer,
                                            const std::string& audience, int64_t now) {
  const auto* iss = stringClaim(payload, "iss");
  const auto aud = payload.find("aud");
  if (iss == nullptr || aud == payload.end() || !(aud->is_string() || aud->is_array())) {
    return TokenError::Malformed;
  }
  if (*iss != issuer) return TokenError::WrongIssuer;
  if (!audienceMatches(*aud, audience)) return TokenError::WrongAudience;

  const auto* sub = stringClaim(payload, "sub");
  const auto* room = stringClaim(payload, "room");
  const auto* name = stringClaim(payload, "name");
  const auto* roleText = stringClaim(payload, "role");
  const auto iat = intClaim(payload, "iat");
  const auto exp = intClaim(payload, "exp");
  if (sub == nullptr || sub->empty() || room == nullptr || room->empty() || name == nullptr ||
      roleText == nullptr || !iat || !exp) {
    return TokenError::Malformed;
  }
  const auto role = core::roleFromString(*roleText);
  if (!role) return TokenError::Malformed;
  if (isExpired(*exp, now)) return TokenError::Expired;
  return Claims{*room, *sub, *name, *role, *iat, *exp};
}

}  // namespace

std::string_view describe(TokenError error) {
  switch (error) {
    case TokenError::Malformed:
      return "session token is malformed; join the room again";
    case TokenError::BadAlgorithm:
      return "session token uses an unsupported signing algorithm";
    case TokenError::BadSignature:
      return "session token signature is invalid; join the room again";
    case TokenError::Expired:
      return "session token has expired; join the room again";
    case TokenError::WrongIssuer:
      return "session token was issued by another server";
    case TokenError::WrongAudience:
      return "session token is not meant for this service";
  }
  return "session token is invalid";
}

TokenSigner::TokenSigner(std::string secret, std::string issuer, std::string audience)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), audience_(std::move(audience)) {
  if (secret_.size() < kMinSecretBytes) {
    throw core::Error(core::Errc::Internal,
                      "creating token signer: the session secret must be at least 32 bytes",
                      "weak_token_secret");
  }
}

std::string TokenSigner::sign(const Claims& claims) const {
  const json payload = {{"iss", issuer_},
                        {"aud", audience_},
                        {"sub", claims.userId},
                        {"room", claims.roomId},
                        {"name", claims.displayName},
                        {"role", std::string(core::toString(claims.role))},
                        {"iat", claims.issuedAt},
                        {"exp", claims.expiresAt}};
  // Invalid UTF-8 in a display name becomes U+FFFD instead of throwing.
  const auto text = payload.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string token = base64UrlEncode(kHeader) + '.' + base64UrlEncode(text);
  const auto mac = hmacSha256(secret_, token);
  if (mac.empty()) {
    throw core::Error(core::Errc::Internal, "signing session token: HMAC-SHA256 failed");
  }
  return token + '.' + base64UrlEncode(mac);
}

std::variant<Claims, TokenError> TokenSigner::verify(std::string_view token,
                                                     int64_t nowSeconds) const {
  try {
    if (token.size() > kMaxTokenBytes) return TokenError::Malformed;
    const auto parts = splitToken(token);
    if (!parts) return TokenError::Malformed;
    if (auto error = checkHeader(parts->header)) return *error;
    if (auto error = checkSignature(*parts, secret_)) return *error;
    const auto payload = decodeObject(parts->payload);
    if (!payload) return TokenError::Malformed;
    return readClaims(*payload, issuer_, audience_, nowSeconds);
  } catch (const std::exception&) {
    return TokenError::Malformed;  // e.g. allocation failure; verify never throws
  }
}

}  // namespace amphi::auth
