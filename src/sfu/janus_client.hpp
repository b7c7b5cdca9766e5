// Drives a Janus (ours or an external one) over its HTTP API: stored tokens through the
// Admin API, VideoRoom rooms and their `allowed` lists through a session of our own.
//
// How Janus 1.1.2 enforces access (checked against the real server by
// tests/unit/sfu/janus_client_test.cpp; token = a token added with addToken):
//  * Core (token_auth): every request of the Janus API must carry a registered token, or
//    Janus answers 403 — session create included. addToken limits the token to the
//    VideoRoom plugin (attaching another plugin gets 405).
//  * (b) A registered token that is not in the room's `allowed` list creates a session,
//    attaches the VideoRoom plugin, and a `join` as publisher is refused by the plugin:
//    error 433 "Unauthorized (not in the allowed list)". A room created with an empty
//    `allowed` list has the check on from the start.
//  * (a) The `allowed` list does NOT apply to subscribers: `join` with ptype "subscriber"
//    succeeds ("attached") with a registered token whether the body's token is in the
//    list, is not, or is absent. So "subscribe-only" credentials are simply a token added
//    with addToken and never put in `allowed`: it can subscribe, never join as publisher.
//  * The `allowed` check reads the "token" field of the join *body*, not the token the
//    session was created with: a client holding any registered token and someone else's
//    allowed token can publish. Keep stage tokens secret and per user.
//  * (c) After disallow + kick, the kicked handle is dead (425 "Not in a room (create a
//    new handle)"); a new session with the same (still registered) token can subscribe,
//    but a publisher join gets 433. A kick alone is not enough: while still in `allowed`,
//    the kicked user re-joins at once on a new handle. Demotion = disallow + kick (+
//    removeToken).
//  * (d) removeToken does not end existing sessions or participants. Every later request
//    on such a session (keepalives included) gets 403, so the session is not refreshed and
//    Janus destroys it after session_timeout (60 s), and then the participant leaves. Media
//    of a connected publisher would flow until then: demotion must kick.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace amphi::sfu {

struct JanusParticipant {
  uint64_t id = 0;
  std::string display;
  bool publisher = false;  // true once it sent an offer (is publishing media)
};

// Janus error codes worth telling apart (janus/apierror.h, plugins/janus_videoroom.c).
namespace janus_error {
inline constexpr int kTransport = 0;             // Janus not reached, or an unreadable reply
inline constexpr int kUnauthorized = 403;        // missing or unknown token / secret
inline constexpr int kUnauthorizedPlugin = 405;  // token not valid for that plugin
inline constexpr int kSessionNotFound = 458;
inline constexpr int kHandleNotFound = 459;
inline constexpr int kNoSuchRoom = 426;         // VideoRoom
inline constexpr int kRoomExists = 427;         // VideoRoom
inline constexpr int kNoSuchParticipant = 428;  // VideoRoom (kick, subscribe): "No such feed/user"
inline constexpr int kNotAllowed = 433;         // VideoRoom: wrong secret or not in `allowed`
}  // namespace janus_error

// Every failure: what() names the request (never a secret) and Janus's code and reason.
class JanusError : public std::runtime_error {
 public:
  JanusError(const std::string& request, int code, const std::string& reason);
  int code() const { return code_; }  // janus_error::kTransport when Janus was not reached

 private:
  int code_;
};

// Synchronous and thread-safe (calls are serialized); each HTTP exchange times out after
// 5 s. The client needs a Janus session for the VideoRoom requests: on first use it adds a
// service token of its own (random, limited to the VideoRoom) with the Admin API and opens
// a session and a handle with it. When Janus answers 403, 458 or 459 (restarted, or the
// session expired after 60 s idle) it re-adds the token, re-creates session and handle and
// retries the request once. The destructor closes the session and removes the token.
class JanusClient {
 public:
  // httpUrl "http://127.0.0.1:8088/janus", adminUrl "http://127.0.0.1:7088/admin".
  JanusClient(std::string httpUrl, std::string adminUrl, std::string adminSecret,
              std::string roomAdminKey);
  ~JanusClient();
  JanusClient(const JanusClient&) = delete;
  JanusClient& operator=(const JanusClient&) = delete;

  bool ping();  // GET <httpUrl>/info answered server_info; never throws

  // Admin API stored tokens. addToken limits the token to janus.plugin.videoroom and is
  // idempotent; removeToken is idempotent too (no error when absent). listTokens leaves
  // out the client's own service token.
  void addToken(const std::string& token);
  void removeToken(const std::string& token);
  std::vector<std::string> listTokens();

  bool roomExists(uint64_t room);
  // A private (unlisted), non-permanent room: videocodec "vp8,h264", audiocodec "opus",
  // notify_joining, and an empty `allowed` list (access control on: nobody may join as a
  // publisher until allow()). Throws JanusError 427 when the room exists.
  void createRoom(uint64_t room, const std::string& secret, int publishers,
                  const std::string& description);
  // Adds / removes tokens to / from the room's `allowed` list (nothing sent when empty).
  void allow(uint64_t room, const std::string& secret, const std::vector<std::string>& tokens);
  void disallow(uint64_t room, const std::string& secret, const std::vector<std::string>& tokens);
  // Throws JanusError 428 when no such participant is in the room.
  void kick(uint64_t room, const std::string& secret, uint64_t participantId);
  std::vector<JanusParticipant> participants(uint64_t room);
  // Forwards a publisher's first audio and video stream as plain RTP to host (the legacy
  // audio_port / video_port form, which needs no mids); video RTCP goes to videoRtcpPort
  // so the receiver can answer with PLIs. Returns the forwarders' stream ids.
  std::vector<uint64_t> rtpForward(uint64_t room, const std::string& secret, uint64_t publisherId,
                                   const std::string& host, int audioPort, int videoPort,
                                   int videoRtcpPort);
  void stopRtpForward(uint64_t room, const std::string& secret, uint64_t publisherId,
                      uint64_t streamId);
  // Throws JanusError 426 when there is no such room.
  void destroyRoom(uint64_t room, const std::string& secret);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amphi::sfu
