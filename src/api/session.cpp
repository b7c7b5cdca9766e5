#include "api/session.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <variant>

#include "auth/random.hpp"
#include "bus/bus.hpp"
#include "core/error.hpp"

namespace amphi::api {
namespace {

using core::Errc;
using core::Error;

constexpr const char* kSecretKey = "config.session-secret";

std::optional<std::string> bearer(const http::Request& req) {
  const std::string* auth = req.header("authorization");
  if (!auth) return std::nullopt;
  constexpr std::string_view kPrefix = "Bearer ";
  if (auth->size() <= kPrefix.size() || auth->compare(0, kPrefix.size(), kPrefix) != 0) {
    throw Error(Errc::Unauthorized, "Authorization header must be 'Bearer <token>'");
  }
  return auth->substr(kPrefix.size());
}

// "scheme://host[:port]" of a URL, lower-cased scheme and host.
std::string originOf(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  auto end = url.find('/', scheme + 3);
  std::string origin(url.substr(0, end));
  for (auto& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return origin;
}

}  // namespace

std::string cookieName(const std::string& roomId) { return "amphi_" + roomId; }

std::string sessionCookie(const std::string& roomId, const std::string& token,
                          std::chrono::seconds maxAge, bool secure) {
  return cookieName(roomId) + "=" + token + "; Path=/api/rooms/" + roomId +
         "; Max-Age=" + std::to_string(maxAge.count()) + "; HttpOnly; SameSite=Strict" +
         (secure ? "; Secure" : "");
}

std::shared_ptr<const auth::TokenSigner> SessionKeys::signer() {
  std::lock_guard lock(mu_);
  if (signer_) return signer_;
  std::string secret = fixed_;
  if (secret.empty()) {
    auto existing = bus_.get(bus::Bucket::Rooms, kSecretKey);
    if (existing) {
      secret = existing->value;
    } else {
      std::string fresh = auth::randomToken(48);
      try {
        bus_.create(bus::Bucket::Rooms, kSecretKey, fresh);
        secret = fresh;
      } catch (const bus::CasConflict&) {  // another serve was first
        secret = bus_.get(bus::Bucket::Rooms, kSecretKey).value().value;
      }
    }
  }
  signer_ = std::make_shared<const auth::TokenSigner>(std::move(secret));
  return signer_;
}

Session authenticate(const http::Request& req, const std::string& roomId,
                     const auth::TokenSigner& signer, int64_t nowSeconds) {
  Session session;
  std::optional<std::string> token = bearer(req);
  if (!token) {
    token = req.cookie(cookieName(roomId));
    session.viaCookie = token.has_value();
  }
  if (!token || token->empty()) {
    throw Error(Errc::Unauthorized, "no session: join the room with an invite first");
  }
  auto result = signer.verify(*token, nowSeconds);
  if (auto* err = std::get_if<auth::TokenError>(&result)) {
    throw Error(Errc::Unauthorized, std::string(auth::describe(*err)));
  }
  session.claims = std::get<auth::Claims>(std::move(result));
  if (session.claims.roomId != roomId) {
    throw Error(Errc::Forbidden, "this session belongs to another room");
  }
  return session;
}

void checkCsrf(const http::Request& req, const Session& session, const std::string& publicUrl) {
  if (!session.viaCookie || req.method != "POST") return;
  const std::string* origin = req.header("origin");
  if (!origin) {
    throw Error(Errc::Forbidden, "cookie-authenticated requests must carry an Origin header",
                "csrf");
  }
  const std::string got = originOf(*origin);
  if (got == originOf(publicUrl)) return;
  if (const std::string* host = req.header("host")) {
    if (got == "http://" + *host || got == "https://" + *host) return;
  }
  throw Error(Errc::Forbidden, "request from a foreign origin refused", "csrf");
}

void requireAdmin(const http::Request& req, const std::string& adminKey,
                  const auth::TokenSigner* sessionSigner) {
  auto token = bearer(req);
  if (!token) throw Error(Errc::Unauthorized, "admin key required: Authorization: Bearer <key>");
  if (token->size() != adminKey.size() ||
      CRYPTO_memcmp(token->data(), adminKey.data(), adminKey.size()) != 0) {
    // A room session is a valid credential of the wrong kind; anything else is forged.
    if (sessionSigner && std::holds_alternative<auth::Claims>(sessionSigner->verify(
                             *token, std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count()))) {
      throw Error(Errc::Forbidden, "only the admin key may do this; a room session may not");
    }
    throw Error(Errc::Unauthorized, "wrong admin key");
  }
}

}  // namespace amphi::api
