#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace amphi::auth {
namespace {

using nlohmann::json;

const std::string kSecret = "amphi-known-answer-secret-0123456789";
constexpr int64_t kNow = 1700000000;

// Computed outside Amphi with:
//   b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
//   h=$(printf %s '{"alg":"HS256","typ":"JWT"}' | b64u)
//   p=$(printf %s '{"aud":"amphi-room","exp":1700003600,"iat":1700000000,"iss":"amphi",
//       "name":"Ada Lovelace","role":"moderator","room":"r-42","sub":"u7k2"}' | b64u)
//   s=$(printf %s "$h.$p" | openssl dgst -sha256 -hmac "$secret" -binary | b64u)
const std::string kKnownToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJhdWQiOiJhbXBoaS1yb29tIiwiZXhwIjoxNzAwMDAzNjAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6ImFtcGhpIiwi"
    "bmFtZSI6IkFkYSBMb3ZlbGFjZSIsInJvbGUiOiJtb2RlcmF0b3IiLCJyb29tIjoici00MiIsInN1YiI6InU3azIifQ."
    "jOWKQJHL8tv6V4679uHSqzdIudit_WcgTbN7mHNS_2Y";

Claims knownClaims() {
  return Claims{"r-42", "u7k2", "Ada Lovelace", core::Role::Moderator, kNow, kNow + 3600};
}

// Independent of jwt.cpp: OpenSSL's base64 with the URL alphabet swapped in.
std::string b64u(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string mac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

// A token with arbitrary header and payload text, signed like an attacker who knows the key.
std::string forge(std::string_view header, std::string_view payload,
                  const EVP_MD* md = EVP_sha256(), std::string_view key = kSecret) {
  const std::string input = b64u(header) + "." + b64u(payload);
  return input + "." + b64u(mac(md, key, input));
}

json validPayload() {
  return json{{"iss", "amphi"}, {"aud", "amphi-room"}, {"sub", "u1"}, {"room", "r1"},
              {"name", "Bob"},  {"role", "viewer"},    {"iat", kNow}, {"exp", kNow + 600}};
}

std::string forgePayload(const json& payload) {
  return forge(R"({"alg":"HS256","typ":"JWT"})", payload.dump());
}

TokenError errorOf(const std::variant<Claims, TokenError>& result) {
  EXPECT_TRUE(std::holds_alternative<TokenError>(result)) << "token unexpectedly accepted";
  return std::holds_alternative<TokenError>(result) ? std::get<TokenError>(result)
                                                    : TokenError::Malformed;
}

class JwtTest : public ::testing::Test {
 protected:
  TokenSigner signer_{kSecret};
};

TEST_F(JwtTest, SignsTheKnownAnswerToken) {
  EXPECT_EQ(signer_.sign(knownClaims()), kKnownToken);
}

TEST_F(JwtTest, VerifiesTheKnownAnswerToken) {
  const auto result = signer_.verify(kKnownToken, kNow + 10);
  ASSERT_TRUE(std::holds_alternative<Claims>(result));
  EXPECT_EQ(std::get<Claims>(result), knownClaims());
}

TEST_F(JwtTest, RoundTripsClaimsIncludingUnicode) {
  const Claims claims{"room-1", "user-1", "Zoë 学生 🎓", core::Role::Viewer, kNow, kNow + 60};
  const auto result = signer_.verify(signer_.sign(claims), kNow);
  ASSERT_TRUE(std::holds_alternative<Claims>(result));
  EXPECT_EQ(std::get<Claims>(result), claims);
}

TEST_F(JwtTest, InvalidUtf8DisplayNameIsReplacedNotThrown) {
  Claims claims = knownClaims();
  claims.displayName = "bad\xff\xfe";
  std::string token;
  ASSERT_NO_THROW(token = signer_.sign(claims));
  const auto result = signer_.verify(token, kNow);
  ASSERT_TRUE(std::holds_alternative<Claims>(result));
  EXPECT_EQ(std::get<Claims>(result).displayName, "bad\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(JwtTest, RejectsShortSecret) {
  EXPECT_THROW(TokenSigner("too-short"), core::Error);
  EXPECT_THROW(TokenSigner(""), core::Error);
}

TEST_F(JwtTest, TamperedPayloadHasBadSignature) {
  json payload = validPayload();
  payload["role"] = "moderator";
  const std::string header = kKnownToken.substr(0, kKnownToken.find('.'));
  const std::string signature = kKnownToken.substr(kKnownToken.rfind('.') + 1);
  const std::string tampered = header + "." + b64u(payload.dump()) + "." + signature;
  EXPECT_EQ(errorOf(signer_.verify(tampered, kNow)), TokenError::BadSignature);
}

TEST_F(JwtTest, TamperedSignatureIsRejected) {
  std::string token = kKnownToken;
  const auto sigStart = token.rfind('.') + 1;
  token[sigStart] = token[sigStart] == 'A' ? 'B' : 'A';
  EXPECT_EQ(errorOf(signer_.verify(token, kNow)), TokenError::BadSignature);

  const std::string noSignature = kKnownToken.substr(0, sigStart);
  EXPECT_EQ(errorOf(signer_.verify(noSignature, kNow)), TokenError::BadSignature);
  const std::string otherKey = forge(R"({"alg":"HS256","typ":"JWT"})", validPayload().dump(),
                                     EVP_sha256(), "another-secret-of-at-least-32-bytes!");
  EXPECT_EQ(errorOf(signer_.verify(otherKey, kNow)), TokenError::BadSignature);
}

TEST_F(JwtTest, NonCanonicalSignatureEncodingIsRejected) {
  std::string token = kKnownToken;
  ASSERT_EQ(token.back(), 'Y');  // 011000: the two unused low bits are zero
  token.back() = 'Z';            // 011001: same bytes, different text
  EXPECT_EQ(errorOf(signer_.verify(token, kNow)), TokenError::Malformed);
}

TEST_F(JwtTest, EverySingleCharacterChangeIsRejected) {
  for (std::size_t i = 0; i < kKnownToken.size(); ++i) {
    for (char c : std::string("A_-.z0=")) {
      if (kKnownToken[i] == c) continue;
      std::string token = kKnownToken;
      token[i] = c;
      EXPECT_TRUE(std::holds_alternative<TokenError>(signer_.verify(token, kNow)))
          << "position " << i << " char " << c;
    }
  }
}

TEST_F(JwtTest, PinsTheAlgorithm) {
  const std::string payload = validPayload().dump();
  const std::vector<std::string> tokens = {
      b64u(R"({"alg":"none","typ":"JWT"})") + "." + b64u(payload) + ".",
      forge(R"({"alg":"none","typ":"JWT"})", payload),
      forge(R"({"alg":"HS512","typ":"JWT"})", payload, EVP_sha512()),
      forge(R"({"alg":"HS512","typ":"JWT"})", payload),
      forge(R"({"alg":"RS256","typ":"JWT"})", payload),
      forge(R"({"alg":"hs256","typ":"JWT"})", payload),
      forge(R"({"alg":256,"typ":"JWT"})", payload),
      forge(R"({"typ":"JWT"})", payload),
  };
  for (const auto& token : tokens) {
    EXPECT_EQ(errorOf(signer_.verify(token, kNow)), TokenError::BadAlgorithm) << token;
  }
}

TEST_F(JwtTest, ExpiryAllowsThirtySecondsOfSkew) {
  Claims claims = knownClaims();
  const std::string token = signer_.sign(claims);
  EXPECT_TRUE(std::holds_alternative<Claims>(signer_.verify(token, claims.expiresAt)));
  EXPECT_TRUE(std::holds_alternative<Claims>(signer_.verify(token, claims.expiresAt + 29)));
  EXPECT_EQ(errorOf(signer_.verify(token, claims.expiresAt + 30)), TokenError::Expired);
  EXPECT_EQ(errorOf(signer_.verify(token, claims.expiresAt + 100000)), TokenError::Expired);
  EXPECT_NO_THROW(signer_.verify(token, std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(errorOf(signer_.verify(token, std::numeric_limits<int64_t>::max())),
            TokenError::Expired);
}

TEST_F(JwtTest, RejectsOtherIssuerAndAudience) {
  const TokenSigner otherIssuer(kSecret, "other-amphi");
  const TokenSigner otherAudience(kSecret, "amphi", "janus");
  EXPECT_EQ(errorOf(signer_.verify(otherIssuer.sign(knownClaims()), kNow)),
            TokenError::WrongIssuer);
  EXPECT_EQ(errorOf(signer_.verify(otherAudience.sign(knownClaims()), kNow)),
            TokenError::WrongAudience);
  EXPECT_EQ(errorOf(otherAudience.verify(kKnownToken, kNow)), TokenError::WrongAudience);
}

TEST_F(JwtTest, AcceptsAudienceArrayContainingOurs) {
  json payload = validPayload();
  payload["aud"] = json::array({"janus", "amphi-room"});
  EXPECT_TRUE(std::holds_alternative<Claims>(signer_.verify(forgePayload(payload), kNow)));
  payload["aud"] = json::array({"janus"});
  EXPECT_EQ(errorOf(signer_.verify(forgePayload(payload), kNow)), TokenError::WrongAudience);
}

TEST_F(JwtTest, MissingOrIllTypedClaimsAreMalformed) {
  std::vector<json> payloads;
  for (const char* key : {"iss", "aud", "sub", "room", "name", "role", "iat", "exp"}) {
    json missing = validPayload();
    missing.erase(key);
    payloads.push_back(missing);
    json wrongType = validPayload();
    wrongType[key] = json::object();
    payloads.push_back(wrongType);
  }
  for (const auto& [key, value] :
       std::vector<std::pair<const char*, json>>{{"exp", "1700000600"},
                                                 {"exp", 1700000600.5},
                                                 {"exp", 18446744073709551615ull},
                                                 {"iat", nullptr},
                                                 {"role", "admin"},
                                                 {"role", "Moderator"},
                                                 {"sub", ""},
                                                 {"room", ""}}) {
    json payload = validPayload();
    payload[key] = value;
    payloads.push_back(payload);
  }
  for (const auto& payload : payloads) {
    EXPECT_EQ(errorOf(signer_.verify(forgePayload(payload), kNow)), TokenError::Malformed)
        << payload.dump();
  }
}

TEST_F(JwtTest, NonObjectJsonIsMalformedEvenWhenSigned) {
  const std::vector<std::string> payloads = {
      "[1,2,3]", "\"text\"", "42",       "null",
      "{",       "",         "not json", std::string(1000, '[') + std::string(1000, ']')};
  for (const auto& payload : payloads) {
    EXPECT_EQ(errorOf(signer_.verify(forge(R"({"alg":"HS256"})", payload), kNow)),
              TokenError::Malformed)
        << payload;
  }
  EXPECT_EQ(errorOf(signer_.verify(forge("[\"HS256\"]", validPayload().dump()), kNow)),
            TokenError::Malformed);
}

TEST_F(JwtTest, GarbageNeverThrowsAndIsRejected) {
  const std::vector<std::string> garbage = {
      "",
      ".",
      "..",
      "...",
      "a.b",
      "a.b.c.d",
      "!!!.@@@.###",
      "====.====.====",
      "eyJhbGciOiJIUzI1NiJ9",
      kKnownToken + "=",
      kKnownToken + ".",
      "." + kKnownToken,
      std::string(5000, 'A'),
      std::string(1 << 20, '.'),
      std::string("a\0b.c.d", 7),
      "eyJhbGciOiJIUzI1NiJ9.e30.A"};  // 1-char segment cannot be base64
  for (const auto& token : garbage) {
    std::variant<Claims, TokenError> result;
    EXPECT_NO_THROW(result = signer_.verify(token, kNow));
    EXPECT_EQ(errorOf(result), TokenError::Malformed) << token.substr(0, 40);
  }
}

TEST_F(JwtTest, TokensOverFourKilobytesAreMalformed) {
  Claims claims = knownClaims();
  claims.displayName = std::string(2000, 'n');
  const std::string fits = signer_.sign(claims);
  ASSERT_LE(fits.size(), 4096u);
  EXPECT_TRUE(std::holds_alternative<Claims>(signer_.verify(fits, kNow)));
  claims.displayName = std::string(3000, 'n');
  const std::string tooBig = signer_.sign(claims);
  ASSERT_GT(tooBig.size(), 4096u);
  EXPECT_EQ(errorOf(signer_.verify(tooBig, kNow)), TokenError::Malformed);
}

TEST_F(JwtTest, RandomBytesNeverThrow) {
  std::string token;
  unsigned seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    token.resize(static_cast<std::size_t>(round % 300));
    for (char& c : token) {
      seed = seed * 1103515245u + 12345u;
      c = static_cast<char>(round % 2 ? (seed >> 16) : "ab.-_=Zz9"[(seed >> 16) % 9]);
    }
    EXPECT_NO_THROW(signer_.verify(token, kNow));
  }
}

TEST_F(JwtTest, DescribesEveryError) {
  EXPECT_EQ(describe(TokenError::Expired), "session token has expired; join the room again");
  for (auto error : {TokenError::Malformed, TokenError::BadAlgorithm, TokenError::BadSignature,
                     TokenError::WrongIssuer, TokenError::WrongAudience}) {
    EXPECT_NE(describe(error).find("session token"), std::string_view::npos);
  }
}

}  // namespace
}  // namespace amphi::auth
