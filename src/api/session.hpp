// Internal to src/api: who is calling. Sessions come from a Bearer token or the
// room-scoped cookie; cookie-authenticated POSTs must come from our own origin.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "auth/jwt.hpp"
#include "http/message.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::api {

struct Session {
  auth::Claims claims;
  bool viaCookie = false;
};

std::string cookieName(const std::string& roomId);
std::string sessionCookie(const std::string& roomId, const std::string& token,
                          std::chrono::seconds maxAge, bool secure);

// The signing key shared by every serve on the same NATS: given, or created once
// in the KV bucket (first writer wins) and read by the others.
class SessionKeys {
 public:
  SessionKeys(bus::Bus& bus, std::string fixedSecret) : bus_(bus), fixed_(std::move(fixedSecret)) {}
  std::shared_ptr<const auth::TokenSigner> signer();  // throws Unavailable without NATS

 private:
  bus::Bus& bus_;
  std::string fixed_;
  std::mutex mu_;
  std::shared_ptr<const auth::TokenSigner> signer_;
};

// Throws Unauthorized (missing, forged, expired) or Forbidden (another room's token).
Session authenticate(const http::Request& req, const std::string& roomId,
                     const auth::TokenSigner& signer, int64_t nowSeconds);
// POSTs authenticated by cookie must carry an Origin of this site. Throws Forbidden.
void checkCsrf(const http::Request& req, const Session& session, const std::string& publicUrl);
// Admin requests: Authorization: Bearer <admin key>, compared in constant time.
// A valid room session (checked with sessionSigner) gets 403, anything else 401.
void requireAdmin(const http::Request& req, const std::string& adminKey,
                  const auth::TokenSigner* sessionSigner);

}  // namespace amphi::api
