// The stage's Janus as serve runs it: started and supervised (a killed Janus is
// replaced and its rooms re-created), grants made before PROMOTE and revoked on
// demotion, stage full refused before Janus is touched.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

// The pid of the janus process serving the given data dir, or -1.
pid_t janusPid(const std::string& dataDir) {
  const std::string needle = dataDir + "/janus";
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  while (auto* entry = readdir(proc)) {
    std::ifstream cmdline(std::string("/proc/") + entry->d_name + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.rfind("janus", 0) == 0 && args.find(needle) != std::string::npos) {
      found = static_cast<pid_t>(std::atoi(entry->d_name));
    }
  }
  closedir(proc);
  return found;
}

bool waitReadyz(const std::string& base, int status, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (httpRequest(base, "GET", "/readyz", "", {}, 2s).status == status) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(StageJanus, KilledJanusIsReplacedAndRoomsRecreated) {
  NatsFixture nats;
  ServeProcess serve(nats.url());
  const auto base = serve.baseUrl();
  ASSERT_TRUE(waitReadyz(base, 200, 20s)) << serve.logTail();
  EXPECT_EQ(httpRequest(base, "GET", "/readyz").json()["janus"], true);
  auto room = createRoom(base, "lifecycle");
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  auto before = post(base, "/api/rooms/lifecycle/stage/credentials", mod);
  ASSERT_EQ(before.status, 200) << before.body;

  const pid_t first = janusPid(serve.dataDir());
  ASSERT_GT(first, 0) << "serve did not start a janus process";
  ::kill(first, SIGKILL);
  EXPECT_TRUE(waitReadyz(base, 503, 10s)) << "readyz stayed 200 with Janus dead";
  ASSERT_TRUE(waitReadyz(base, 200, 30s)) << "Janus never came back:\n" << serve.logTail();
  const pid_t second = janusPid(serve.dataDir());
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  // The room was re-created on the new Janus with the same number, and the
  // moderator's grant still works (same token).
  std::this_thread::sleep_for(500ms);
  auto after = post(base, "/api/rooms/lifecycle/stage/credentials", mod);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.json()["janusRoom"], before.json()["janusRoom"]);
  EXPECT_EQ(after.json()["token"], before.json()["token"]);
  std::ifstream log(serve.logFile());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("re-created on media server"), std::string::npos);
}

TEST(StageJanus, CredentialsFollowStageMembership) {
  NatsFixture nats;
  ServeProcess serve(nats.url());
  const auto base = serve.baseUrl();
  ASSERT_TRUE(waitReadyz(base, 200, 20s));
  auto room = createRoom(base, "creds", 1);
  auto mod = join(base, room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base, room.id, room.viewerInvite, "Ann");
  auto bob = join(base, room.id, room.viewerInvite, "Bob");
  const std::string creds = "/api/rooms/creds/stage/credentials";
  EXPECT_EQ(post(base, creds, ann).status, 403);
  EXPECT_EQ(post(base, creds + "?mode=subscribe", ann).status, 403) << "no hand raised yet";
  ASSERT_EQ(post(base, "/api/rooms/creds/raise-hand", ann).status, 200);
  auto warm = post(base, creds + "?mode=subscribe", ann);
  ASSERT_EQ(warm.status, 200);
  EXPECT_EQ(warm.json()["mode"], "subscribe");
  const std::string janusUrl = warm.json()["janusUrl"];
  EXPECT_EQ(janusUrl.rfind("ws://127.0.0.1:" + std::to_string(serve.port()) + "/janus/", 0), 0u)
      << janusUrl << ": the relay on serve's own origin, naming the room's Janus";
  EXPECT_EQ(post(base, creds, ann).status, 403) << "a raised hand may not publish";

  SseClient annEvents(base, "/api/rooms/creds/user-events", ann.auth());
  ASSERT_EQ(post(base, "/api/rooms/creds/promote/" + ann.userId, mod).status, 200);
  std::optional<SseEvent> e;
  do {
    e = annEvents.next(5s);
  } while (e && e->event != "PROMOTE");
  ASSERT_TRUE(e);
  // By the time PROMOTE arrives the credentials work.
  auto onStage = post(base, creds, ann);
  ASSERT_EQ(onStage.status, 200) << onStage.body;
  EXPECT_EQ(onStage.json()["mode"], "publish");
  EXPECT_EQ(onStage.json()["display"], ann.userId);

  auto full = post(base, "/api/rooms/creds/promote/" + bob.userId, mod);
  EXPECT_EQ(full.status, 409);
  EXPECT_EQ(full.json()["error"]["code"], "stage_full");

  ASSERT_EQ(post(base, "/api/rooms/creds/demote/" + ann.userId, mod).status, 200);
  EXPECT_EQ(post(base, creds, ann).status, 403);
}

}  // namespace
}  // namespace amphi::testing
