#include "sfu/janus_client.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "auth/random.hpp"
#include "sfu/http_exchange.hpp"

namespace amphi::sfu {
namespace {

using json = nlohmann::json;

constexpr auto kTimeout = std::chrono::milliseconds(5000);
constexpr auto kGoodbyeTimeout = std::chrono::milliseconds(1000);
constexpr const char* kVideoRoom = "janus.plugin.videoroom";
constexpr int kTokenNotFound = 490;  // remove_token of an absent token ("Error removing token")

std::string errorText(int code, const std::string& reason) {
  return code == janus_error::kTransport ? reason : fmt::format("error {} ({})", code, reason);
}

// The error a Janus API or Admin API reply carries, if any.
bool replyError(const json& reply, int& code, std::string& reason) {
  if (reply.value("janus", "") != "error") return false;
  const json& error = reply.contains("error") ? reply["error"] : json::object();
  code = error.value("code", -1);
  reason = error.value("reason", "unknown error");
  return true;
}

}  // namespace

JanusError::JanusError(const std::string& request, int code, const std::string& reason)
    : std::runtime_error(fmt::format("janus {}: {}", request, errorText(code, reason))),
      code_(code) {}

struct JanusClient::Impl {
  detail::HttpUrl http;
  detail::HttpUrl admin;
  std::string adminSecret;
  std::string roomAdminKey;
  std::string serviceToken = "amphi-service-" + auth::randomToken(24);

  std::mutex mutex;  // guards everything below and serializes requests
  uint64_t session = 0;
  uint64_t handle = 0;

  // POST a JSON request, parse the JSON reply. Transport failures become JanusError(0).
  json post(const detail::HttpUrl& url, const std::string& target, json request,
            const std::string& what, std::chrono::milliseconds timeout = kTimeout) {
    request["transaction"] = auth::randomId(12);
    detail::HttpReply reply;
    try {
      reply = detail::httpExchange(url, "POST", target, request.dump(), timeout);
    } catch (const std::exception& e) {
      throw JanusError(what, janus_error::kTransport, e.what());
    }
    json parsed = json::parse(reply.body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
      throw JanusError(what, janus_error::kTransport,
                       fmt::format("HTTP {} with a body that is not a JSON object", reply.status));
    return parsed;
  }

  json adminCall(const std::string& what, json request) {
    request["admin_secret"] = adminSecret;
    json reply = post(admin, admin.path, std::move(request), what);
    int code = 0;
    std::string reason;
    if (replyError(reply, code, reason)) throw JanusError(what, code, reason);
    return reply;
  }

  void addToken(const std::string& token, const std::string& what) {
    adminCall(what, {{"janus", "add_token"}, {"token", token}, {"plugins", {kVideoRoom}}});
  }

  // A Janus API request carrying our service token; returns the "success" reply.
  json janusCall(const std::string& target, json request, const std::string& what) {
    request["token"] = serviceToken;
    json reply = post(http, target, std::move(request), what);
    int code = 0;
    std::string reason;
    if (replyError(reply, code, reason)) throw JanusError(what, code, reason);
    if (reply.value("janus", "") != "success")
      throw JanusError(what, janus_error::kTransport,
                       fmt::format("unexpected reply \"{}\"", reply.value("janus", "")));
    return reply;
  }

  void openSession() {
    session = handle = 0;
    addToken(serviceToken, "add service token");
    json created = janusCall(http.path, {{"janus", "create"}}, "create session");
    uint64_t id = created.at("data").at("id").get<uint64_t>();
    json attached = janusCall(fmt::format("{}/{}", http.path, id),
                              {{"janus", "attach"}, {"plugin", kVideoRoom}}, "attach videoroom");
    session = id;
    handle = attached.at("data").at("id").get<uint64_t>();
    spdlog::debug("janus: client session {} handle {} opened on {}:{}", session, handle, http.host,
                  http.port);
  }

  // A synchronous VideoRoom request; returns plugindata.data. Re-opens the session and
  // retries once when Janus no longer knows our token, session or handle.
  json videoroom(const std::string& what, const json& body) {
    std::lock_guard lock(mutex);
    for (int attempt = 0;; ++attempt) {
      if (session == 0) openSession();
      try {
        json reply = janusCall(fmt::format("{}/{}/{}", http.path, session, handle),
                               {{"janus", "message"}, {"body", body}}, what);
        const json& data = reply.at("plugindata").at("data");
        if (data.contains("error_code"))
          throw JanusError(what, data["error_code"].get<int>(), data.value("error", ""));
        return data;
      } catch (const JanusError& e) {
        bool stale = e.code() == janus_error::kUnauthorized ||
                     e.code() == janus_error::kSessionNotFound ||
                     e.code() == janus_error::kHandleNotFound;
        if (!stale || attempt > 0) throw;
        spdlog::info("janus: client session {} no longer valid ({}), opening a new one", session,
                     e.code());
        session = handle = 0;
      } catch (const json::exception& e) {
        throw JanusError(what, janus_error::kTransport, e.what());
      }
    }
  }

  void goodbye() {
    std::lock_guard lock(mutex);
    try {
      if (session != 0)
        post(http, fmt::format("{}/{}", http.path, session),
             {{"janus", "destroy"}, {"token", serviceToken}}, "destroy session", kGoodbyeTimeout);
      json request = {
          {"janus", "remove_token"}, {"token", serviceToken}, {"admin_secret", adminSecret}};
      post(admin, admin.path, request, "remove service token", kGoodbyeTimeout);
    } catch (const std::exception&) {  // Janus gone: nothing to clean up
    }
  }
};

JanusClient::JanusClient(std::string httpUrl, std::string adminUrl, std::string adminSecret,
                         std::string roomAdminKey)
    : impl_(std::make_unique<Impl>()) {
  impl_->http = detail::parseHttpUrl(httpUrl);
  impl_->admin = detail::parseHttpUrl(adminUrl);
  impl_->adminSecret = std::move(adminSecret);
  impl_->roomAdminKey = std::move(roomAdminKey);
}

JanusClient::~JanusClient() {
  impl_->goodbye();
}

bool JanusClient::ping() {
  try {
    auto reply = detail::httpExchange(impl_->http, "GET", impl_->http.path + "/info", "", kTimeout);
    return reply.status == 200 &&
           json::parse(reply.body, nullptr, false).value("janus", "") == "server_info";
  } catch (const std::exception&) {
    return false;
  }
}

void JanusClient::addToken(const std::string& token) {
  std::lock_guard lock(impl_->mutex);
  impl_->addToken(token, "add_token");
}

void JanusClient::removeToken(const std::string& token) {
  std::lock_guard lock(impl_->mutex);
  try {
    impl_->adminCall("remove_token", {{"janus", "remove_token"}, {"token", token}});
  } catch (const JanusError& e) {
    if (e.code() != kTokenNotFound) throw;
  }
}

std::vector<std::string> JanusClient::listTokens() {
  std::lock_guard lock(impl_->mutex);
  json reply = impl_->adminCall("list_tokens", {{"janus", "list_tokens"}});
  std::vector<std::string> tokens;
  try {
    for (const auto& entry : reply.at("data").at("tokens")) {
      auto token = entry.at("token").get<std::string>();
      if (token != impl_->serviceToken) tokens.push_back(std::move(token));
    }
  } catch (const json::exception& e) {
    throw JanusError("list_tokens", janus_error::kTransport, e.what());
  }
  return tokens;
}

bool JanusClient::roomExists(uint64_t room) {
  json data = impl_->videoroom(fmt::format("videoroom exists room {}", room),
                               {{"request", "exists"}, {"room", room}});
  return data.value("exists", false);
}

void JanusClient::createRoom(uint64_t room, const std::string& secret, int publishers,
                             const std::string& description) {
  json body = {{"request", "create"},
               {"room", room},
               {"admin_key", impl_->roomAdminKey},
               {"secret", secret},
               {"publishers", publishers},
               {"description", description},
               {"is_private", true},
               {"videocodec", "vp8,h264"},
               {"audiocodec", "opus"},
               {"allowed", json::array()},
               {"permanent", false},
               {"notify_joining", true}};
  impl_->videoroom(fmt::format("videoroom create room {}", room), body);
}

void JanusClient::allow(uint64_t room, const std::string& secret,
                        const std::vector<std::string>& tokens) {
  if (tokens.empty()) return;
  impl_->videoroom(fmt::format("videoroom allowed add room {}", room), {{"request", "allowed"},
                                                                        {"room", room},
                                                                        {"secret", secret},
                                                                        {"action", "add"},
                                                                        {"allowed", tokens}});
}

void JanusClient::disallow(uint64_t room, const std::string& secret,
                           const std::vector<std::string>& tokens) {
  if (tokens.empty()) return;
  impl_->videoroom(fmt::format("videoroom allowed remove room {}", room), {{"request", "allowed"},
                                                                           {"room", room},
                                                                           {"secret", secret},
                                                                           {"action", "remove"},
                                                                           {"allowed", tokens}});
}

void JanusClient::kick(uint64_t room, const std::string& secret, uint64_t participantId) {
  impl_->videoroom(
      fmt::format("videoroom kick room {} participant {}", room, participantId),
      {{"request", "kick"}, {"room", room}, {"secret", secret}, {"id", participantId}});
}

std::vector<JanusParticipant> JanusClient::participants(uint64_t room) {
  std::string what = fmt::format("videoroom listparticipants room {}", room);
  json data = impl_->videoroom(what, {{"request", "listparticipants"}, {"room", room}});
  std::vector<JanusParticipant> out;
  try {
    for (const auto& p : data.at("participants"))
      out.push_back(
          {p.at("id").get<uint64_t>(), p.value("display", ""), p.value("publisher", false)});
  } catch (const json::exception& e) {
    throw JanusError(what, janus_error::kTransport, e.what());
  }
  return out;
}

std::vector<uint64_t> JanusClient::rtpForward(uint64_t room, const std::string& secret,
                                              uint64_t publisherId, const std::string& host,
                                              int audioPort, int videoPort, int videoRtcpPort) {
  std::string what = fmt::format("videoroom rtp_forward room {} publisher {}", room, publisherId);
  json body = {{"request", "rtp_forward"}, {"room", room},          {"secret", secret},
               {"publisher_id", publisherId}, {"host", host},       {"admin_key", impl_->roomAdminKey}};
  if (audioPort > 0) body["audio_port"] = audioPort;
  if (videoPort > 0) body["video_port"] = videoPort;
  if (videoRtcpPort > 0) body["video_rtcp_port"] = videoRtcpPort;
  json data = impl_->videoroom(what, body);
  std::vector<uint64_t> ids;
  for (const auto& f : data.value("forwarders", json::array())) {
    if (f.contains("stream_id")) ids.push_back(f["stream_id"].get<uint64_t>());
  }
  return ids;
}

void JanusClient::stopRtpForward(uint64_t room, const std::string& secret, uint64_t publisherId,
                                 uint64_t streamId) {
  impl_->videoroom(
      fmt::format("videoroom stop_rtp_forward room {} stream {}", room, streamId),
      {{"request", "stop_rtp_forward"}, {"room", room}, {"secret", secret},
       {"publisher_id", publisherId}, {"stream_id", streamId}, {"admin_key", impl_->roomAdminKey}});
}

void JanusClient::destroyRoom(uint64_t room, const std::string& secret) {
  impl_->videoroom(
      fmt::format("videoroom destroy room {}", room),
      {{"request", "destroy"}, {"room", room}, {"secret", secret}, {"permanent", false}});
}

}  // namespace amphi::sfu
