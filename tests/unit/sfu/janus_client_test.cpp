// JanusClient and EmbeddedJanus against a real Janus (Debian package), and the access
// rules Janus itself enforces, proven by raw Janus API requests as a browser would send.
#include "sfu/janus_client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "app/process.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "sfu/embedded_janus.hpp"

namespace amphi::sfu {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kRoom = 4242;
constexpr const char* kRoomSecret = "test-room-secret";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "http://127.0.0.1:1234/janus" -> "http://127.0.0.1:1234"
std::string origin(const std::string& url) {
  return url.substr(0, url.find('/', std::string("http://").size()));
}

// The Janus API as a browser uses it, over HTTP: sessions, handles, plugin messages.
class RawJanus {
 public:
  explicit RawJanus(std::string httpUrl) : base_(origin(httpUrl)) {}

  json post(const std::string& target, json request) {
    request["transaction"] = std::to_string(++transaction_);
    return testing::httpRequest(base_, "POST", target, request.dump()).json();
  }
  // {"janus":"create"} with token (none when empty); the whole reply.
  json createSession(const std::string& token) {
    json request = {{"janus", "create"}};
    if (!token.empty()) request["token"] = token;
    return post("/janus", request);
  }
  // A session and a VideoRoom handle opened with token; fails the test on error.
  std::pair<uint64_t, uint64_t> open(const std::string& token) {
    json created = createSession(token);
    EXPECT_EQ(created.value("janus", ""), "success") << created.dump();
    uint64_t session = created.at("data").at("id").get<uint64_t>();
    json attached =
        post(fmt::format("/janus/{}", session),
             {{"janus", "attach"}, {"plugin", "janus.plugin.videoroom"}, {"token", token}});
    EXPECT_EQ(attached.value("janus", ""), "success") << attached.dump();
    return {session, attached.at("data").at("id").get<uint64_t>()};
  }
  // A plugin message; for an asynchronous one ("ack"), long-polls the session for the
  // event answering it. Returns plugindata.data (or the whole reply on a core error).
  json message(std::pair<uint64_t, uint64_t> sh, const std::string& token, const json& body) {
    json request = {{"janus", "message"}, {"token", token}, {"body", body}};
    request["transaction"] = std::to_string(++transaction_);
    std::string tx = request["transaction"];
    auto target = fmt::format("/janus/{}/{}", sh.first, sh.second);
    json reply = testing::httpRequest(base_, "POST", target, request.dump()).json();
    if (reply.value("janus", "") == "ack") reply = awaitEvent(sh.first, token, tx);
    return reply.contains("plugindata") ? reply["plugindata"]["data"] : reply;
  }
  json keepalive(uint64_t session, const std::string& token) {
    return post(fmt::format("/janus/{}", session), {{"janus", "keepalive"}, {"token", token}});
  }

 private:
  json awaitEvent(uint64_t session, const std::string& token, const std::string& tx) {
    for (int polls = 0; polls < 10; ++polls) {
      auto target = fmt::format("/janus/{}?maxev=1&token={}&rid={}", session, token, polls);
      json event = testing::httpRequest(base_, "GET", target, "", {}, 40s).json();
      if (event.is_array()) event = event.empty() ? json() : event[0];
      if (event.is_object() && event.value("transaction", "") == tx) return event;
    }
    ADD_FAILURE() << "no event answered transaction " << tx;
    return json::object();
  }

  std::string base_;
  int transaction_ = 0;
};

// A fresh Janus (about 0.3 s to start) and client for every test.
class JanusClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::uniqueTempDir("amphi-janus");
    EmbeddedJanusOptions options;
    const char* bin = std::getenv("AMPHI_JANUS_BIN");
    options.binary = bin && *bin ? bin : "janus";
    options.dataDir = dir_;
    janus_ = std::make_unique<EmbeddedJanus>(options);
    janus_->start();
    client_ = std::make_unique<JanusClient>(janus_->httpUrl(), janus_->adminUrl(),
                                            janus_->adminSecret(), janus_->roomAdminKey());
  }
  void TearDown() override {
    client_.reset();
    janus_.reset();
    if (std::getenv("AMPHI_KEEP_TEST_DIRS")) {
      std::cerr << "[amphi test] kept " << dir_ << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void createTestRoom() { client_->createRoom(kRoom, kRoomSecret, 3, "test room"); }

  std::string dir_;
  std::unique_ptr<EmbeddedJanus> janus_;
  std::unique_ptr<JanusClient> client_;
};

TEST_F(JanusClientTest, EmbeddedJanusListensOnLoopbackAndKeepsSecretsOutOfItsLog) {
  ASSERT_TRUE(janus_->running());
  EXPECT_GT(janus_->pid(), 0);
  EXPECT_TRUE(janus_->httpUrl().starts_with("http://127.0.0.1:"));
  EXPECT_TRUE(janus_->httpUrl().ends_with("/janus"));
  EXPECT_TRUE(janus_->adminUrl().ends_with("/admin"));
  EXPECT_TRUE(janus_->wsUrl().starts_with("ws://127.0.0.1:"));
  uint16_t wsPort = static_cast<uint16_t>(std::stoi(janus_->wsUrl().substr(15)));
  EXPECT_TRUE(app::waitForTcp("127.0.0.1", wsPort, 1s));
  EXPECT_GE(janus_->adminSecret().size(), 24u);
  EXPECT_GE(janus_->roomAdminKey().size(), 24u);
  EXPECT_NE(janus_->adminSecret(), janus_->roomAdminKey());
  EXPECT_TRUE(client_->ping());

  std::string log = readFile(janus_->logFile());
  EXPECT_NE(log.find("JANUS VideoRoom plugin initialized"), std::string::npos);
  EXPECT_EQ(log.find(janus_->adminSecret()), std::string::npos);
  EXPECT_EQ(log.find(janus_->roomAdminKey()), std::string::npos);
  // Only the VideoRoom plugin is loaded.
  json info = testing::httpRequest(origin(janus_->httpUrl()), "GET", "/janus/info").json();
  ASSERT_TRUE(info.contains("plugins"));
  EXPECT_EQ(info["plugins"].size(), 1u);
  EXPECT_TRUE(info["plugins"].contains("janus.plugin.videoroom"));
  EXPECT_EQ(info["transports"].size(), 2u);
  janus_->start();  // no-op while running
  EXPECT_TRUE(client_->ping());
}

TEST_F(JanusClientTest, TokensAreAddedListedAndRemovedIdempotently) {
  client_->addToken("token-a");
  client_->addToken("token-b");
  client_->addToken("token-a");  // again: no error
  auto tokens = client_->listTokens();
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), "token-a"), 1);
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), "token-b"), 1);
  for (const auto& t : tokens) EXPECT_FALSE(t.starts_with("amphi-service-")) << t;
  client_->removeToken("token-a");
  client_->removeToken("token-a");        // absent now: no error
  client_->removeToken("never-existed");  // never there: no error
  tokens = client_->listTokens();
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), "token-a"), 0);
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), "token-b"), 1);
}

TEST_F(JanusClientTest, RoomLifecycleAndErrorCodes) {
  EXPECT_FALSE(client_->roomExists(kRoom));
  createTestRoom();
  EXPECT_TRUE(client_->roomExists(kRoom));
  try {
    createTestRoom();
    FAIL() << "second create succeeded";
  } catch (const JanusError& e) {
    EXPECT_EQ(e.code(), janus_error::kRoomExists) << e.what();
    EXPECT_NE(std::string(e.what()).find("create room 4242"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(client_->participants(kRoom).empty());
  client_->allow(kRoom, kRoomSecret, {"t1", "t2"});
  client_->disallow(kRoom, kRoomSecret, {"t1"});
  client_->allow(kRoom, kRoomSecret, {});  // nothing to do
  try {
    client_->allow(kRoom, "wrong-secret", {"t3"});
    FAIL() << "allow with a wrong secret succeeded";
  } catch (const JanusError& e) {
    EXPECT_EQ(e.code(), janus_error::kNotAllowed) << e.what();
    EXPECT_EQ(std::string(e.what()).find("wrong-secret"), std::string::npos);
  }
  try {
    client_->kick(kRoom, kRoomSecret, 12345);
    FAIL() << "kicking nobody succeeded";
  } catch (const JanusError& e) {
    EXPECT_EQ(e.code(), janus_error::kNoSuchParticipant) << e.what();
  }
  client_->destroyRoom(kRoom, kRoomSecret);
  EXPECT_FALSE(client_->roomExists(kRoom));
  try {
    client_->destroyRoom(kRoom, kRoomSecret);
    FAIL() << "second destroy succeeded";
  } catch (const JanusError& e) {
    EXPECT_EQ(e.code(), janus_error::kNoSuchRoom) << e.what();
  }
}

TEST_F(JanusClientTest, SessionWithoutARegisteredTokenIsRefused) {
  RawJanus raw(janus_->httpUrl());
  json never = raw.createSession("never-added");
  EXPECT_EQ(never.value("janus", ""), "error");
  EXPECT_EQ(never["error"].value("code", 0), 403) << never.dump();
  json none = raw.createSession("");
  EXPECT_EQ(none["error"].value("code", 0), 403) << none.dump();
}

// (b) A registered token outside the room's `allowed` list gets a session and a handle,
// and Janus's VideoRoom refuses its publisher join with 433.
TEST_F(JanusClientTest, RegisteredButNotAllowedViewerCannotJoinAsPublisher) {
  createTestRoom();
  client_->addToken("viewer-token");
  RawJanus raw(janus_->httpUrl());
  auto handle = raw.open("viewer-token");
  json join = {{"request", "join"},
               {"ptype", "publisher"},
               {"room", kRoom},
               {"display", "viewer"},
               {"token", "viewer-token"}};
  json reply = raw.message(handle, "viewer-token", join);
  EXPECT_EQ(reply.value("error_code", 0), janus_error::kNotAllowed) << reply.dump();
  join.erase("token");
  reply = raw.message(handle, "viewer-token", join);
  EXPECT_EQ(reply.value("error_code", 0), janus_error::kNotAllowed) << reply.dump();
  EXPECT_TRUE(client_->participants(kRoom).empty());
}

// An allowed token joins as publisher; after disallow + kick (c) it is out within a
// second and cannot come back as a publisher with the same token.
TEST_F(JanusClientTest, AllowedPublisherJoinsAndIsKickedForGood) {
  createTestRoom();
  client_->addToken("stage-token");
  client_->allow(kRoom, kRoomSecret, {"stage-token"});
  RawJanus raw(janus_->httpUrl());
  auto handle = raw.open("stage-token");
  json join = {{"request", "join"},
               {"ptype", "publisher"},
               {"room", kRoom},
               {"display", "alice"},
               {"token", "stage-token"}};
  json joined = raw.message(handle, "stage-token", join);
  ASSERT_EQ(joined.value("videoroom", ""), "joined") << joined.dump();
  uint64_t id = joined.at("id").get<uint64_t>();
  auto people = client_->participants(kRoom);
  ASSERT_EQ(people.size(), 1u);
  EXPECT_EQ(people[0].id, id);
  EXPECT_EQ(people[0].display, "alice");
  EXPECT_FALSE(people[0].publisher);  // joined, but no offer sent yet

  auto kickedAt = std::chrono::steady_clock::now();
  client_->disallow(kRoom, kRoomSecret, {"stage-token"});
  client_->kick(kRoom, kRoomSecret, id);
  EXPECT_TRUE(client_->participants(kRoom).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - kickedAt, 1s);

  json again = raw.message(handle, "stage-token", join);  // the kicked handle is dead
  EXPECT_EQ(again.value("error_code", 0), 425) << again.dump();
  auto fresh = raw.open("stage-token");  // token still registered: a session is possible
  again = raw.message(fresh, "stage-token", join);
  EXPECT_EQ(again.value("error_code", 0), janus_error::kNotAllowed) << again.dump();
  EXPECT_TRUE(client_->participants(kRoom).empty());
}

// A kick alone does not keep an allowed user out: they re-join on a new handle.
TEST_F(JanusClientTest, KickWithoutDisallowLetsThePublisherBackIn) {
  createTestRoom();
  client_->addToken("stage-token");
  client_->allow(kRoom, kRoomSecret, {"stage-token"});
  RawJanus raw(janus_->httpUrl());
  json join = {
      {"request", "join"}, {"ptype", "publisher"}, {"room", kRoom}, {"token", "stage-token"}};
  json joined = raw.message(raw.open("stage-token"), "stage-token", join);
  ASSERT_EQ(joined.value("videoroom", ""), "joined") << joined.dump();
  client_->kick(kRoom, kRoomSecret, joined.at("id").get<uint64_t>());
  json back = raw.message(raw.open("stage-token"), "stage-token", join);
  EXPECT_EQ(back.value("videoroom", ""), "joined") << back.dump();
}

// (a) The `allowed` list does not apply to subscribers: a registered token that is not
// allowed subscribes, but cannot join as publisher (subscribe-only credentials).
TEST_F(JanusClientTest, SubscribeOnlyTokenSubscribesButCannotPublish) {
  // A room with a dummy publisher, so there is a feed to subscribe to without WebRTC.
  client_->addToken("test-admin-token");
  RawJanus raw(janus_->httpUrl());
  auto admin = raw.open("test-admin-token");
  json created = raw.message(admin, "test-admin-token",
                             {{"request", "create"},
                              {"room", kRoom},
                              {"secret", kRoomSecret},
                              {"admin_key", janus_->roomAdminKey()},
                              {"allowed", json::array()},
                              {"dummy_publisher", true}});
  ASSERT_EQ(created.value("videoroom", ""), "created") << created.dump();
  auto people = client_->participants(kRoom);
  ASSERT_EQ(people.size(), 1u);  // the dummy publisher
  uint64_t feed = people[0].id;

  client_->addToken("warmup-token");
  json subscribe = {{"request", "join"},
                    {"ptype", "subscriber"},
                    {"room", kRoom},
                    {"streams", {{{"feed", feed}}}},
                    {"token", "warmup-token"}};
  json attached = raw.message(raw.open("warmup-token"), "warmup-token", subscribe);
  EXPECT_EQ(attached.value("videoroom", ""), "attached") << attached.dump();
  subscribe.erase("token");
  attached = raw.message(raw.open("warmup-token"), "warmup-token", subscribe);
  EXPECT_EQ(attached.value("videoroom", ""), "attached") << attached.dump();

  json publish = {
      {"request", "join"}, {"ptype", "publisher"}, {"room", kRoom}, {"token", "warmup-token"}};
  json refused = raw.message(raw.open("warmup-token"), "warmup-token", publish);
  EXPECT_EQ(refused.value("error_code", 0), janus_error::kNotAllowed) << refused.dump();
}

// (d) removeToken leaves existing sessions and participants in place, but every later
// request on such a session gets 403 (so Janus times it out after 60 s).
TEST_F(JanusClientTest, RemovedTokenKeepsParticipantButItsSessionGets403) {
  createTestRoom();
  client_->addToken("stage-token");
  client_->allow(kRoom, kRoomSecret, {"stage-token"});
  RawJanus raw(janus_->httpUrl());
  auto handle = raw.open("stage-token");
  json joined = raw.message(
      handle, "stage-token",
      {{"request", "join"}, {"ptype", "publisher"}, {"room", kRoom}, {"token", "stage-token"}});
  ASSERT_EQ(joined.value("videoroom", ""), "joined") << joined.dump();
  EXPECT_EQ(raw.keepalive(handle.first, "stage-token").value("janus", ""), "ack");
  client_->removeToken("stage-token");
  json refused = raw.keepalive(handle.first, "stage-token");
  EXPECT_EQ(refused["error"].value("code", 0), 403) << refused.dump();
  EXPECT_EQ(client_->participants(kRoom).size(), 1u);
  EXPECT_EQ(raw.createSession("stage-token")["error"].value("code", 0), 403);
}

// Calls from several threads at once are serialized and all succeed.
TEST_F(JanusClientTest, ConcurrentCallsFromSeveralThreads) {
  createTestRoom();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        try {
          std::string token = fmt::format("thread-{}-{}", t, i);
          client_->addToken(token);
          client_->allow(kRoom, kRoomSecret, {token});
          if (!client_->roomExists(kRoom) || !client_->participants(kRoom).empty()) ++failures;
          client_->disallow(kRoom, kRoomSecret, {token});
          client_->removeToken(token);
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failures;
        }
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(client_->listTokens().empty());
}

// After kill -9, start() brings Janus back on the same ports with the same secrets; the
// client notices that Janus forgot its token and session, re-adds them and carries on.
TEST_F(JanusClientTest, RestartAfterCrashKeepsPortsAndTheClientRecovers) {
  createTestRoom();
  client_->addToken("before-crash");
  std::string http = janus_->httpUrl(), ws = janus_->wsUrl(), admin = janus_->adminUrl();
  std::string secret = janus_->adminSecret(), key = janus_->roomAdminKey();
  pid_t old = janus_->pid();

  ASSERT_EQ(::kill(old, SIGKILL), 0);
  for (int i = 0; i < 100 && janus_->running(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(janus_->running());
  EXPECT_FALSE(client_->ping());
  EXPECT_THROW(client_->roomExists(kRoom), JanusError);

  janus_->start();
  EXPECT_NE(janus_->pid(), old);
  EXPECT_EQ(janus_->httpUrl(), http);
  EXPECT_EQ(janus_->wsUrl(), ws);
  EXPECT_EQ(janus_->adminUrl(), admin);
  EXPECT_EQ(janus_->adminSecret(), secret);
  EXPECT_EQ(janus_->roomAdminKey(), key);
  EXPECT_TRUE(client_->ping());
  EXPECT_FALSE(client_->roomExists(kRoom));  // rooms and tokens live in Janus's memory only
  EXPECT_TRUE(client_->listTokens().empty());
  createTestRoom();
  EXPECT_TRUE(client_->roomExists(kRoom));
  client_->addToken("after-crash");
  client_->allow(kRoom, kRoomSecret, {"after-crash"});
  RawJanus raw(janus_->httpUrl());
  json joined = raw.message(
      raw.open("after-crash"), "after-crash",
      {{"request", "join"}, {"ptype", "publisher"}, {"room", kRoom}, {"token", "after-crash"}});
  EXPECT_EQ(joined.value("videoroom", ""), "joined") << joined.dump();
}

// The client's session expired or was destroyed: it opens a new one and retries.
TEST_F(JanusClientTest, ClientReopensALostSession) {
  createTestRoom();
  json sessions = testing::httpRequest(origin(janus_->adminUrl()), "POST", "/admin",
                                       json{{"janus", "list_sessions"},
                                            {"transaction", "t"},
                                            {"admin_secret", janus_->adminSecret()}}
                                           .dump())
                      .json();
  ASSERT_EQ(sessions["sessions"].size(), 1u) << sessions.dump();  // the client's
  json destroyed = testing::httpRequest(origin(janus_->adminUrl()), "POST", "/admin",
                                        json{{"janus", "destroy_session"},
                                             {"transaction", "t"},
                                             {"session_id", sessions["sessions"][0]},
                                             {"admin_secret", janus_->adminSecret()}}
                                            .dump())
                       .json();
  ASSERT_EQ(destroyed.value("janus", ""), "success") << destroyed.dump();
  EXPECT_TRUE(client_->roomExists(kRoom));
}

}  // namespace
}  // namespace amphi::sfu
