// deploy/nginx as users install it (only ports and paths replaced): `nginx -t`, routing,
// the redirect, SSE through the proxy, client addresses for rate limits, the /janus
// WebSocket upgrade and the LL-HLS cache rules.
#include <gtest/gtest.h>

#include <thread>

#include "classroom.hpp"
#include "deploy_fixtures.hpp"
#include "fixtures.hpp"
#include "hls_client.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(DeployConfig, NginxAcceptsTheSiteFiles) {
  auto [status, output] = NginxProcess::checkConfig({8080, 8081});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("test is successful"), std::string::npos) << output;
}

TEST(DeployConfig, NginxRoutesTheSite) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), {"--janus", "false", "--egress", "false", "--trusted-proxies",
                                  "127.0.0.1", "--join-per-minute", "1", "--join-burst", "2"});
  NginxProcess nginx({serve.port(), serve.port()});
  const auto base = nginx.baseUrl();
  EXPECT_EQ(httpRequest(base, "GET", "/healthz").status, 200);
  EXPECT_EQ(httpRequest(base, "GET", "/metrics").status, 404) << "metrics stay private";
  auto redirect = httpRequest(nginx.redirectBaseUrl(), "GET", "/r/demo?x=1");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.headers["location"], "https://127.0.0.1/r/demo?x=1");
  // An unknown room's playlist is an error: passed through, never cached.
  for (int i = 0; i < 2; ++i) {
    auto hls = httpRequest(base, "GET", "/hls/nope/media.m3u8?_HLS_msn=3&_HLS_part=0");
    EXPECT_EQ(hls.status, 404);
    EXPECT_EQ(hls.headers["x-cache-status"], "MISS");
  }
  // SSE through nginx: the head comes at once, unbuffered, and events flow.
  auto room = createRoom(base, "routes");
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  auto viewer = join(base, room.id, room.viewerInvite, "V");
  SseClient sse(base, "/api/rooms/routes/events", mod.auth());
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("content-type").rfind("text/event-stream", 0), 0u);
  ASSERT_EQ(post(base, "/api/rooms/routes/raise-hand", viewer).status, 200);
  bool seen = false;
  const auto deadline = Clock::now() + 10s;
  while (!seen && Clock::now() < deadline) {
    auto e = sse.next(1s);
    seen = e && e->event == "RAISE_HAND";
  }
  EXPECT_TRUE(seen) << "RAISE_HAND did not come through nginx";

  // Joins are limited per client address: behind nginx (a trusted proxy) that is the
  // address nginx forwards, not nginx's own.
  auto joinFrom = [&](const std::string& address) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!address.empty()) headers.emplace_back("X-Forwarded-For", address);
    const auto body = nlohmann::json{{"invite", room.viewerInvite}, {"displayName", "W"}}.dump();
    return httpRequest(base, "POST", "/api/rooms/routes/join", body, headers).status;
  };
  EXPECT_EQ(joinFrom(""), 429) << "127.0.0.1 used its burst of 2 above";
  EXPECT_EQ(joinFrom("198.51.100.1"), 200);
  EXPECT_EQ(joinFrom("198.51.100.1"), 200);
  EXPECT_EQ(joinFrom("198.51.100.1"), 429);
  EXPECT_EQ(joinFrom("198.51.100.2"), 200);
}

// The Janus relay behind nginx: the upgrade goes through and a WebSocket frame comes back.
TEST(DeployConfig, JanusWebSocketUpgradesThroughNginx) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), {"--egress", "false"});  // with its private Janus
  NginxProcess nginx({serve.port(), serve.port()});
  const auto port = static_cast<uint16_t>(std::stoi(nginx.baseUrl().substr(17)));
  // {"janus":"ping","transaction":"t1"} as one masked text frame (mask 0).
  const std::string ping = R"({"janus":"ping","transaction":"t1"})";
  std::string frame = "\x81";
  frame += static_cast<char>(0x80 | ping.size());
  frame += std::string(4, '\0') + ping;
  const std::string request =
      "GET /janus HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n" +
      frame;
  std::string answer;
  const auto deadline = Clock::now() + 30s;  // serve's Janus may still be starting
  while (Clock::now() < deadline) {
    answer = rawExchange("127.0.0.1", port, request, 3s);
    if (answer.find("pong") != std::string::npos) break;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 101", 0), 0u) << answer.substr(0, 300);
  EXPECT_NE(answer.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << "accept key";
  EXPECT_NE(answer.find("pong"), std::string::npos)
      << "no pong through the relay: " << answer.substr(0, 600);
}

// LL-HLS through nginx's cache: parts are cached, a blocking reload is cached under its
// _HLS_msn/_HLS_part (other query parameters do not split the key), errors are not.
TEST(DeployConfig, NginxCachesLlHls) {
  NatsFixture nats;
  ServeProcess serve(nats.url(),
                     {"--janus", "false", "--egress-source", "test", "--video-size", "640x360",
                      "--video-kbps", "300", "--video-fps", "15", "--audio-kbps", "64"});
  NginxProcess nginx({serve.port(), serve.port()});
  const auto base = nginx.baseUrl();
  auto room = createRoom(base, "cached");
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  ASSERT_EQ(post(base, "/api/rooms/cached/live", mod).status, 200);
  auto get = [&](const std::string& name) {
    return httpRequest(base, "GET", "/hls/cached/" + name, "", {}, 20s);
  };
  std::optional<hls::MediaPlaylist> playlist;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    auto res = get("media.m3u8");
    if (res.status == 200) {
      playlist = hls::parseMediaPlaylist(res.body);
      if (!playlist->parts.empty() && playlist->preloadHint) break;
    }
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(playlist && !playlist->parts.empty()) << "no live playlist through nginx";

  const auto part = playlist->parts.back().ref.uri();
  auto first = get(part), second = get(part);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.headers["x-cache-status"], "MISS");
  EXPECT_EQ(second.headers["x-cache-status"], "HIT");
  EXPECT_TRUE(first.body == second.body);
  EXPECT_NE(second.headers["cache-control"].find("immutable"), std::string::npos);

  // A blocking reload for the hinted part: held until it exists, then cached for 1 s.
  const auto hint = *playlist->preloadHint;
  const auto blocking = fmt::format("media.m3u8?_HLS_msn={}&_HLS_part={}", hint.msn, hint.part);
  auto held = get(blocking);
  auto again = get(blocking + "&cachebuster=1");
  ASSERT_EQ(held.status, 200);
  EXPECT_EQ(held.headers["x-cache-status"], "MISS");
  EXPECT_TRUE(hls::parseMediaPlaylist(held.body).indexOf(hint)) << "the hinted part is listed";
  EXPECT_EQ(again.headers["x-cache-status"], "HIT") << "same _HLS_ parameters, same entry";
  EXPECT_TRUE(again.body == held.body);
  EXPECT_EQ(held.headers["cache-control"], "public, max-age=1");
  // Past last + 2: an error from serve, never cached.
  const auto tooFar = fmt::format("media.m3u8?_HLS_msn={}&_HLS_part=0", hint.msn + 10);
  EXPECT_EQ(get(tooFar).status, 400);
  EXPECT_EQ(get(tooFar).headers["x-cache-status"], "MISS");
}

}  // namespace
}  // namespace amphi::testing
