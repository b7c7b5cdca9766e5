// Malformed input (DESIGN.md, "Security model"): broken HTTP, broken JSON, oversized
// bodies, bad tokens and event ids get a 4xx with the documented error body, never crash
// the server and never change room state. Rate limits: joins per address, hand changes
// per user and event streams per user get 429 with Retry-After.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---- Raw bytes on a socket ----

// Sends bytes, optionally half-closes (the server then sees the end of the request
// stream), and returns what arrives until the server closes or timeout passes.
std::string exchange(uint16_t port, const std::string& bytes, bool halfClose,
                     std::chrono::milliseconds timeout = 3s) {
  if (!halfClose) return rawExchange("127.0.0.1", port, bytes, timeout);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int statusOf(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

std::string bodyOf(const std::string& raw) {
  auto at = raw.find("\r\n\r\n");
  return at == std::string::npos ? "" : raw.substr(at + 4);
}

void expectErrorShape(const std::string& body, const std::string& code = "") {
  json j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_object()) << body;
  EXPECT_TRUE(j["error"].contains("code") && j["error"]["code"].is_string()) << body;
  EXPECT_TRUE(j["error"].contains("message") && j["error"]["message"].is_string()) << body;
  if (!code.empty()) {
    EXPECT_EQ(j["error"].value("code", ""), code) << body;
  }
}

// ---- A room with something in every field a bad request could disturb ----

struct Scene {
  Room room;
  User mod, viewer, hand, stage;
  std::string path(const std::string& tail) const { return "/api/rooms/" + room.id + tail; }
};

Scene makeScene(const std::string& base, const std::string& id) {
  Scene s;
  s.room = createRoom(base, id);
  s.mod = join(base, id, s.room.moderatorInvite, "Teacher");
  s.viewer = join(base, id, s.room.viewerInvite, "Viv");
  s.hand = join(base, id, s.room.viewerInvite, "Hank");
  s.stage = join(base, id, s.room.viewerInvite, "Stella");
  if (post(base, s.path("/raise-hand"), s.hand).status != 200 ||
      post(base, s.path("/promote/" + s.stage.userId), s.mod).status != 200) {
    throw std::runtime_error("scene setup failed");
  }
  return s;
}

json snapshot(const std::string& base, const Scene& s) {
  auto j = get(base, s.path("/state"), s.mod).json();
  return {{"live", j["live"]}, {"hands", j["hands"]}, {"stage", j["stage"]}};
}

// A failure in SetUpTestSuite would make gtest skip every test, and ctest counts a
// skip as a pass: remember it and fail each test instead.
struct Servers {
  std::unique_ptr<NatsFixture> nats;
  std::unique_ptr<ServeProcess> serve;
  std::string error;
  void start(std::vector<std::string> args) {
    try {
      nats = std::make_unique<NatsFixture>();
      args.insert(args.end(), {"--janus", "false"});  // nothing here needs the media server
      serve = std::make_unique<ServeProcess>(nats->url(), args);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  void stop() {
    serve.reset();
    nats.reset();
  }
};

class Robustness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_.start({"--join-per-minute", "0", "--hand-per-minute", "0"});
  }
  static void TearDownTestSuite() { servers_.stop(); }
  void SetUp() override { ASSERT_TRUE(servers_.error.empty()) << servers_.error; }
  static std::string base() { return servers_.serve->baseUrl(); }
  static uint16_t port() { return servers_.serve->port(); }
  // The server is alive and the scene is as it was.
  static void expectUnharmed(const Scene& s, const json& before) {
    auto health = httpRequest(base(), "GET", "/healthz");
    EXPECT_EQ(health.status, 200) << "server did not survive";
    EXPECT_EQ(snapshot(base(), s), before) << "room state changed";
  }
  static inline Servers servers_;
};

struct RawCase {
  const char* what;
  std::string bytes;
  std::vector<int> statuses;  // acceptable statuses
  bool halfClose = false;
};

TEST_F(Robustness, MalformedHttpIsRefusedAndHarmless) {
  const Scene s = makeScene(base(), "raw-http");
  const json before = snapshot(base(), s);
  const std::string host = "Host: 127.0.0.1\r\n";
  const std::string auth = "Authorization: Bearer " + s.viewer.token + "\r\n";
  const std::string raise = "POST " + s.path("/raise-hand") + " HTTP/1.1\r\n" + host + auth;
  // clang-format off
  const std::vector<RawCase> cases = {
      {"garbage bytes", std::string("\x16\x03\x01\x02\x00\x01\x00\xff garbage\r\n\r\n", 22), {400}},
      {"request line without target", "GET\r\n\r\n", {400}},
      {"request line with four parts", "GET /healthz HTTP/1.1 extra\r\n" + host + "\r\n", {400}},
      {"unknown version", "GET /healthz HTTP/7.3\r\n" + host + "\r\n", {400, 505}},
      {"HTTP/0.9", "GET /healthz\r\n", {400}, true},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}},
      {"header over 16 KiB", "GET /healthz HTTP/1.1\r\n" + host + "X-Big: " +
                                 std::string(20000, 'a') + "\r\n\r\n", {400, 431}},
      {"header without colon", "GET /healthz HTTP/1.1\r\n" + host + "NoColonHere\r\n\r\n", {400}},
      {"NUL in a header value",
       "GET /healthz HTTP/1.1\r\n" + host + std::string("X-A: a\0b\r\n\r\n", 11), {400}},
      {"invalid chunk size",
       raise + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", {400}},
      {"chunk longer than announced",
       raise + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}xyz\r\n0\r\n\r\n", {400}},
      {"negative Content-Length", raise + "Content-Length: -5\r\n\r\n{}", {400}},
      {"non-numeric Content-Length", raise + "Content-Length: two\r\n\r\n{}", {400}},
      {"two different Content-Lengths",
       raise + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", {400}},
      {"Content-Length and chunked",
       raise + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
       {400}},
      {"body shorter than Content-Length", raise + "Content-Length: 50\r\n\r\n{}", {400}, true},
      {"truncated head", "GET /healthz HTTP/1.1\r\nHo", {400}, true},
      {"Content-Length of a terabyte", raise + "Content-Length: 1000000000000\r\n\r\n{}", {413}},
  };
  // clang-format on
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string raw = exchange(port(), c.bytes, c.halfClose);
    const int status = statusOf(raw);
    EXPECT_TRUE(std::find(c.statuses.begin(), c.statuses.end(), status) != c.statuses.end())
        << "got: " << raw.substr(0, 300);
    if (status >= 400) expectErrorShape(bodyOf(raw));
    expectUnharmed(s, before);
  }
}

TEST_F(Robustness, StrangeTargetsAre404) {
  const Scene s = makeScene(base(), "targets");
  const json before = snapshot(base(), s);
  const std::vector<std::pair<std::string, std::string>> targets = {
      {"GET", "/api/rooms/../../etc/passwd"},
      {"GET", "/api/rooms/.."},
      {"GET", "/api/rooms/%2e%2e/state"},
      {"GET", "/api/rooms/" + s.room.id + "/../" + s.room.id + "/state"},
      {"POST", "/api/rooms/" + s.room.id + "%2f..%2fraise-hand"},
      {"GET", "/api/rooms/%ff%fe%00"},
      {"GET", "/api/rooms/" + std::string(10000, 'a')},
      {"POST", "/api/rooms/" + std::string(10000, 'a') + "/raise-hand"},
      {"GET", "/api/nothing-here"},
  };
  for (const auto& [method, target] : targets) {
    SCOPED_TRACE(method + " " + target.substr(0, 80));
    auto res = httpRequest(base(), method, target, "", s.viewer.auth());
    EXPECT_EQ(res.status, 404) << res.body.substr(0, 300);
    expectErrorShape(res.body);
    expectUnharmed(s, before);
  }
  // Raw bytes that are not UTF-8 in the path.
  auto raw =
      exchange(port(), "GET /api/rooms/\xff\xfe\x80/state HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_TRUE(statusOf(raw) == 404 || statusOf(raw) == 400) << raw.substr(0, 300);
  expectErrorShape(bodyOf(raw));
  expectUnharmed(s, before);
}

TEST_F(Robustness, MalformedJsonIs400) {
  const Scene s = makeScene(base(), "bad-json");
  const json before = snapshot(base(), s);
  const Headers admin = {{"Authorization", std::string("Bearer ") + ServeProcess::kAdminKey}};
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  const std::string inv = s.room.viewerInvite;
  auto joinBody = [&](const std::string& name) {
    return R"({"invite":")" + inv + R"(","displayName":)" + name + "}";
  };
  struct Case {
    std::string path, body;
    Headers headers;
  };
  const std::vector<Case> cases = {
      {"/api/rooms", R"({"title":"trunc)", admin},
      {"/api/rooms", "[]", admin},
      {"/api/rooms", "\"a room\"", admin},
      {"/api/rooms", "null", admin},
      {"/api/rooms", R"({"title":"t"} trailing)", admin},
      {"/api/rooms", R"({"title":"t","maxStage":"4"})", admin},
      {"/api/rooms", R"({"title":"t","maxStage":4.5})", admin},
      {"/api/rooms", R"({"title":"t","maxStage":0})", admin},
      {"/api/rooms", R"({"title":"t","maxStage":17})", admin},
      {"/api/rooms", R"({"title":"t","maxStage":1e30})", admin},
      {"/api/rooms", R"({"title":42})", admin},
      {"/api/rooms", R"({"title":""})", admin},
      {"/api/rooms", R"({"title":")" + std::string(5000, 't') + "\"}", admin},
      {"/api/rooms", R"({"id":"Upper","title":"t"})", admin},
      {"/api/rooms", R"({"id":"../x","title":"t"})", admin},
      {"/api/rooms", R"({"id":")" + std::string(65, 'a') + R"(","title":"t"})", admin},
      {"/api/rooms", R"({"title":"a\u0000b"})", admin},
      {"/api/rooms", R"({"title":"line\nbreak"})", admin},
      {"/api/rooms", "{\"title\":\"bad \xff utf8\"}", admin},
      {"/api/rooms", deep, admin},
      {s.path("/join"), joinBody("\"" + std::string(5000, 'n') + "\""), {}},
      {s.path("/join"), joinBody(R"("bell\u0007")"), {}},
      {s.path("/join"), joinBody(R"("new\nline")"), {}},
      {s.path("/join"), joinBody(R"("   ")"), {}},
      {s.path("/join"), joinBody("42"), {}},
      {s.path("/join"), joinBody(deep), {}},
      {s.path("/join"), R"({"invite":42,"displayName":"x"})", {}},
      {s.path("/join"), "{\"invite\":\"" + inv + "\",\"displayName\":\"\xc3\x28\"}", {}},
      {s.path("/raise-hand"), "[]", s.viewer.auth()},
      {s.path("/raise-hand"), "{", s.viewer.auth()},
      {s.path("/raise-hand"), "nul", s.viewer.auth()},
      {s.path("/raise-hand"), deep, s.viewer.auth()},
      {s.path("/lower-hand"), R"({"userId":["x"]})", s.mod.auth()},
      {s.path("/promote/" + s.viewer.userId), "[1]", s.mod.auth()},
      {s.path("/demote/" + s.stage.userId), "{\"a\":", s.mod.auth()},
      {s.path("/live"), "true", s.mod.auth()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path + " " + c.body.substr(0, 60));
    auto res = httpRequest(base(), "POST", c.path, c.body, c.headers);
    EXPECT_EQ(res.status, 400) << res.body.substr(0, 300);
    expectErrorShape(res.body);
    expectUnharmed(s, before);
  }
}

TEST_F(Robustness, BodiesOver64KiBAre413) {
  const Scene s = makeScene(base(), "big-body");
  const json before = snapshot(base(), s);
  const Headers admin = {{"Authorization", std::string("Bearer ") + ServeProcess::kAdminKey}};
  auto padded = [](std::size_t size) {  // a JSON object of exactly `size` bytes
    const std::string head = R"({"pad":")", tail = "\"}";
    return head + std::string(size - head.size() - tail.size(), 'p') + tail;
  };
  for (const auto& [path, headers] : {std::pair{std::string("/api/rooms"), admin},
                                      {s.path("/raise-hand"), s.viewer.auth()},
                                      {s.path("/join"), Headers{}}}) {
    SCOPED_TRACE(path);
    auto res = httpRequest(base(), "POST", path, padded(64 * 1024 + 1), headers);
    EXPECT_EQ(res.status, 413) << res.body.substr(0, 300);
    expectErrorShape(res.body, "payload_too_large");
    expectUnharmed(s, before);
  }
  // Chunked: no length up front.
  std::string chunked = "POST " + s.path("/raise-hand") + " HTTP/1.1\r\nHost: x\r\n" +
                        "Authorization: Bearer " + s.viewer.token +
                        "\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "4000\r\n" + std::string(0x4000, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  auto raw = exchange(port(), chunked, false);
  EXPECT_EQ(statusOf(raw), 413) << raw.substr(0, 300);
  expectErrorShape(bodyOf(raw), "payload_too_large");
  expectUnharmed(s, before);
  // Exactly 64 KiB is still allowed.
  auto res = httpRequest(base(), "POST", s.path("/lower-hand"), padded(64 * 1024), s.viewer.auth());
  EXPECT_EQ(res.status, 200) << res.body.substr(0, 300);
  expectUnharmed(s, before);
}

TEST_F(Robustness, InvalidTokensAre401) {
  const Scene s = makeScene(base(), "bad-tokens");
  const json before = snapshot(base(), s);
  const std::string good = s.viewer.token;
  const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  const std::string algNone = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";  // {"alg":"none","typ":"JWT"}
  const std::string algHs512 = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9";  // {"alg":"HS512",...}
  const std::vector<std::pair<const char*, std::string>> values = {
      {"empty Bearer", "Bearer "},
      {"Bearer alone", "Bearer"},
      {"Basic", "Basic dXNlcjpwYXNzd29yZA=="},
      {"non-base64", "Bearer !!!.@@@.###"},
      {"two parts", "Bearer " + good.substr(0, good.rfind('.'))},
      {"four parts", "Bearer " + good + ".x"},
      {"alg none", "Bearer " + algNone + "." + payload + "."},
      {"alg HS512", "Bearer " + algHs512 + "." + payload + "." + good.substr(good.rfind('.') + 1)},
      {"signature cut short", "Bearer " + good.substr(0, good.size() - 4)},
      {"padding added", "Bearer " + good + "=="},
      {"10 KB token", "Bearer " + good + std::string(10000, 'A')},
  };
  for (const auto& [what, value] : values) {
    for (const char* method : {"POST", "GET"}) {
      SCOPED_TRACE(std::string(what) + " " + method);
      const std::string path = s.path(std::string(method) == "POST" ? "/raise-hand" : "/state");
      auto res = httpRequest(base(), method, path, "", {{"Authorization", value}});
      EXPECT_EQ(res.status, 401) << res.body;
      expectErrorShape(res.body);
      EXPECT_EQ(res.headers["www-authenticate"], "Bearer");
      expectUnharmed(s, before);
    }
  }
  // 100 KB of token cannot pass the header limit: refused before any handler runs.
  auto res = httpRequest(base(), "POST", s.path("/raise-hand"), "",
                         {{"Authorization", "Bearer " + std::string(100 * 1024, 'A')}});
  EXPECT_TRUE(res.status == 400 || res.status == 431) << res.status << " " << res.body;
  expectErrorShape(res.body);
  expectUnharmed(s, before);
}

TEST_F(Robustness, InvalidLastEventIdIs400) {
  const Scene s = makeScene(base(), "bad-ids");
  const std::vector<std::pair<std::string, Headers>> requests = {
      {"/user-events", {{"Last-Event-ID", "abc"}}},
      {"/user-events", {{"Last-Event-ID", "-1"}}},
      {"/user-events", {{"Last-Event-ID", "1.5"}}},
      {"/user-events", {{"Last-Event-ID", "99999999999999999999999999"}}},
      {"/user-events", {{"Last-Event-ID", "7abc"}}},
      {"/user-events?lastEventId=abc", {}},
      {"/user-events?lastEventId=-1", {}},
      {"/events", {{"Last-Event-ID", "abc"}}},
  };
  for (const auto& [tail, extra] : requests) {
    SCOPED_TRACE(tail + (extra.empty() ? "" : " " + extra[0].second));
    Headers headers = tail.rfind("/events", 0) == 0 ? s.mod.auth() : s.viewer.auth();
    headers.insert(headers.end(), extra.begin(), extra.end());
    SseClient sse(base(), s.path(tail), headers, 5s);
    EXPECT_EQ(sse.status(), 400);
    sse.next(2s);
    expectErrorShape(sse.pending());
  }
  EXPECT_EQ(httpRequest(base(), "GET", "/healthz").status, 200);
}

TEST_F(Robustness, UnknownMethodsAre405WithAllow) {
  const Scene s = makeScene(base(), "methods");
  const json before = snapshot(base(), s);
  // clang-format off
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"PUT", s.path("/state"), "GET"},          {"DELETE", s.path(""), "GET"},
      {"DELETE", "/api/rooms", "POST"},          {"GET", "/api/rooms", "POST"},
      {"PATCH", s.path("/raise-hand"), "POST"},  {"PUT", "/healthz", "GET"},
      {"PUT", s.path("/promote/" + s.viewer.userId), "POST"},
      {"DELETE", s.path("/demote/" + s.stage.userId), "POST"},
  };
  // clang-format on
  for (const auto& [method, target, allow] : cases) {
    SCOPED_TRACE(method + " " + target);
    auto res = httpRequest(base(), method, target, "", s.mod.auth());
    EXPECT_EQ(res.status, 405) << res.body;
    EXPECT_NE(res.headers["allow"].find(allow), std::string::npos) << res.headers["allow"];
    expectErrorShape(res.body, "method_not_allowed");
    expectUnharmed(s, before);
  }
  auto raw = exchange(port(),
                      "BREW " + s.path("/raise-hand") + " HTTP/1.1\r\nHost: x\r\n" +
                          "Authorization: Bearer " + s.viewer.token + "\r\n\r\n",
                      true);
  EXPECT_EQ(statusOf(raw), 405) << raw.substr(0, 300);
  EXPECT_NE(raw.find("\r\nAllow: POST"), std::string::npos) << raw.substr(0, 300);
  expectUnharmed(s, before);
}

TEST_F(Robustness, EmptyBodyMeansEmptyObject) {
  const Scene s = makeScene(base(), "empty-body");
  auto res = post(base(), s.path("/raise-hand"), s.viewer);  // Content-Length: 0
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json()["position"], 2);
  // No Content-Length at all.
  auto raw = exchange(port(),
                      "POST " + s.path("/lower-hand") + " HTTP/1.1\r\nHost: x\r\n" +
                          "Authorization: Bearer " + s.viewer.token + "\r\n\r\n",
                      true);
  EXPECT_EQ(statusOf(raw), 200) << raw.substr(0, 300);
  for (const char* tail : {"/live", "/end"}) {
    EXPECT_EQ(post(base(), s.path(tail), s.mod).status, 200) << tail;
  }
  EXPECT_EQ(post(base(), s.path("/demote/" + s.stage.userId), s.mod).status, 200);
  EXPECT_EQ(post(base(), s.path("/promote/" + s.stage.userId), s.mod).status, 200);
}

// The limits say "characters": a name in a non-Latin script is not three times shorter.
TEST_F(Robustness, LengthLimitsCountCharactersNotBytes) {
  std::string han, accented;
  for (int i = 0; i < 30; ++i) han += "\xe5\xad\xa6";    // 学: 30 characters, 90 bytes
  for (int i = 0; i < 150; ++i) accented += "\xc3\xa9";  // é: 150 characters, 300 bytes
  json room = {{"id", "unicode-title"}, {"title", accented}};
  auto created = httpRequest(base(), "POST", "/api/rooms", room.dump(),
                             {{"Authorization", std::string("Bearer ") + ServeProcess::kAdminKey}});
  EXPECT_EQ(created.status, 201) << created.body;
  auto plain = createRoom(base(), "unicode");
  json body = {{"invite", plain.viewerInvite}, {"displayName", han}};
  auto joined = httpRequest(base(), "POST", "/api/rooms/unicode/join", body.dump());
  EXPECT_EQ(joined.status, 200) << joined.body;
}

// A client that hangs up as soon as its stream starts (a closed tab, a reconnecting
// EventSource) must not stay counted as present.
TEST_F(Robustness, StreamsClosedAtOnceLeaveNoGhosts) {
  const Scene s = makeScene(base(), "ghosts");
  const std::string request = "GET " + s.path("/user-events") + " HTTP/1.1\r\nHost: x\r\n" +
                              "Authorization: Bearer " + s.viewer.token + "\r\n\r\n";
  for (int i = 0; i < 10; ++i) {
    SseClient sse(base(), s.path("/user-events"), s.viewer.auth());  // closed at once
    EXPECT_EQ(sse.status(), 200);
    exchange(port(), request, true, 0ms);  // the request, then goodbye
  }
  std::this_thread::sleep_for(500ms);
  // Gone for longer than the participant-left grace (5 s): nobody is watching.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int viewers = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    viewers = httpRequest(base(), "GET", s.path("")).json()["viewers"].get<int>();
    if (viewers == 0) break;
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(viewers, 0) << "a stream closed right after it started is still counted";
}

// ---- Rate limits, each on a serve of its own with small limits ----

void expectRateLimited(const HttpResult& res) {
  EXPECT_EQ(res.status, 429) << res.body;
  expectErrorShape(res.body, "rate_limited");
  ASSERT_TRUE(res.headers.count("retry-after")) << "no Retry-After";
  const std::string& after = res.headers.at("retry-after");
  EXPECT_FALSE(after.empty());
  EXPECT_TRUE(std::all_of(after.begin(), after.end(), ::isdigit)) << after;
  EXPECT_GE(std::atoi(after.c_str()), 1) << after;
}

class RobustnessRateLimits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_.start({"--join-per-minute", "5", "--join-burst", "5", "--hand-per-minute", "3",
                    "--hand-burst", "3", "--max-sse-per-user", "2"});
  }
  static void TearDownTestSuite() { servers_.stop(); }
  void SetUp() override { ASSERT_TRUE(servers_.error.empty()) << servers_.error; }
  static std::string base() { return servers_.serve->baseUrl(); }
  static inline Servers servers_;
};

// One test for everything that needs joins: the join budget is per address, and every
// client here is 127.0.0.1.
TEST_F(RobustnessRateLimits, JoinsHandsAndStreams) {
  auto room = createRoom(base(), "limits");
  const std::string r = "/api/rooms/limits";
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  auto bob = join(base(), room.id, room.viewerInvite, "Bob");
  join(base(), room.id, room.viewerInvite, "Cy");
  join(base(), room.id, room.viewerInvite, "Di");  // the fifth join: the burst is spent
  json body = {{"invite", room.viewerInvite}, {"displayName", "Eve"}};
  {
    SCOPED_TRACE("sixth join");
    expectRateLimited(httpRequest(base(), "POST", r + "/join", body.dump()));
  }

  // Hands: three changes per user, then 429 with the state untouched.
  EXPECT_EQ(post(base(), r + "/raise-hand", ann).status, 200);
  EXPECT_EQ(post(base(), r + "/lower-hand", ann).status, 200);
  EXPECT_EQ(post(base(), r + "/raise-hand", ann).status, 200);
  {
    SCOPED_TRACE("fourth hand change");
    expectRateLimited(post(base(), r + "/lower-hand", ann));
    expectRateLimited(post(base(), r + "/raise-hand", ann));
  }
  auto hands = get(base(), r + "/state", mod).json()["hands"];
  ASSERT_EQ(hands.size(), 1u);
  EXPECT_EQ(hands[0]["userId"], ann.userId);
  EXPECT_EQ(post(base(), r + "/raise-hand", bob).status, 200) << "the limit is per user";
  EXPECT_EQ(post(base(), r + "/lower-hand", mod, json{{"userId", ann.userId}}.dump()).status, 200);

  // Event streams: two per user, across /events and /user-events.
  {
    SseClient one(base(), r + "/user-events", ann.auth());
    SseClient two(base(), r + "/user-events", ann.auth());
    SseClient three(base(), r + "/user-events", ann.auth());
    EXPECT_EQ(one.status(), 200);
    EXPECT_EQ(two.status(), 200);
    EXPECT_EQ(three.status(), 429);
    EXPECT_GE(
        std::atoi(three.headers().count("retry-after") ? three.headers().at("retry-after").c_str()
                                                       : "0"),
        1);
    three.next(1s);
    expectErrorShape(three.pending(), "rate_limited");
    SseClient other(base(), r + "/user-events", bob.auth());
    EXPECT_EQ(other.status(), 200) << "the limit is per user";
    SseClient m1(base(), r + "/events", mod.auth());
    SseClient m2(base(), r + "/user-events", mod.auth());
    SseClient m3(base(), r + "/events", mod.auth());
    EXPECT_EQ(m1.status(), 200);
    EXPECT_EQ(m2.status(), 200);
    EXPECT_EQ(m3.status(), 429);
    one.close();
    // The closed stream's slot comes back.
    int status = 0;
    for (int i = 0; i < 30 && status != 200; ++i) {
      std::this_thread::sleep_for(100ms);
      SseClient again(base(), r + "/user-events", ann.auth());
      status = again.status();
    }
    EXPECT_EQ(status, 200) << "a closed stream kept its slot";
  }
  // Streams opened and closed one after another leak no slots.
  for (int i = 0; i < 6; ++i) {
    SseClient sse(base(), r + "/user-events", bob.auth());
    EXPECT_EQ(sse.status(), 200) << "stream " << i;
    sse.close();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(httpRequest(base(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace amphi::testing
