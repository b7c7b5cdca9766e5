// The broadcast path end to end: a real nats-server, real `amphi serve` processes and the
// `amphi egress` they run (test source: pattern + tone), watched over HTTP the way hls.js
// watches it. Low resolution and bitrate so that two cores cope.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "app/process.hpp"
#include "bus/bus.hpp"
#include "classroom.hpp"
#include "fixtures.hpp"
#include "hls_client.hpp"

namespace amphi::testing {
namespace {

using hls::PartRef;
using Clock = std::chrono::steady_clock;

std::vector<std::string> withMedia(std::vector<std::string> args) {
  args.insert(args.end(), {"--janus", "false", "--video-size", "640x360", "--video-kbps", "300",
                           "--video-fps", "15", "--audio-kbps", "64"});
  return args;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

// A NUL-separated /proc file (cmdline, environ) of a process.
std::vector<std::string> procList(const std::string& pid, const std::string& file) {
  std::string raw = readFile("/proc/" + pid + "/" + file);
  std::vector<std::string> args;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t end = raw.find('\0', pos);
    args.push_back(raw.substr(pos, end - pos));
    pos = end == std::string::npos ? raw.size() : end + 1;
  }
  return args;
}

bool hasOption(const std::vector<std::string>& args, const std::string& name,
               const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name && args[i + 1] == value) return true;
  }
  return false;
}

// Live `amphi egress --room <room>` processes with AMPHI_NATS_URL=<natsUrl> in their
// environment (zombies have no command line, so they do not count).
std::vector<pid_t> egressPids(const std::string& room, const std::string& natsUrl) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  while (auto* entry = readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto args = procList(name, "cmdline");
    if (args.size() > 1 && args[1] == "egress" && hasOption(args, "--room", room)) {
      const auto env = procList(name, "environ");
      if (std::find(env.begin(), env.end(), "AMPHI_NATS_URL=" + natsUrl) == env.end()) continue;
      pids.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  closedir(proc);
  return pids;
}

std::optional<pid_t> oneEgress(const std::string& room, const std::string& natsUrl) {
  auto pids = egressPids(room, natsUrl);
  if (pids.size() != 1) return std::nullopt;
  return pids.front();
}

HttpResult hlsGet(const std::string& base, const std::string& room, const std::string& name,
                  std::chrono::milliseconds timeout = 10s) {
  return httpRequest(base, "GET", "/hls/" + room + "/" + name, "", {}, timeout);
}

std::optional<hls::MediaPlaylist> playlistNow(const std::string& base, const std::string& room) {
  try {
    auto res = hlsGet(base, room, "media.m3u8");
    if (res.status == 200) return hls::parseMediaPlaylist(res.body);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// Waits until the room's media playlist lists a part.
std::optional<hls::MediaPlaylist> waitForStream(const std::string& base, const std::string& room,
                                                std::chrono::milliseconds timeout = 30s) {
  std::optional<hls::MediaPlaylist> p;
  waitFor([&] { return (p = playlistNow(base, room)) && !p->parts.empty(); }, timeout);
  if (p && p->parts.empty()) p.reset();
  return p;
}

User goLive(const std::string& base, const std::string& roomId) {
  auto room = createRoom(base, roomId);
  auto mod = join(base, roomId, room.moderatorInvite, "Teacher");
  auto res = post(base, "/api/rooms/" + roomId + "/live", mod);
  if (res.status != 200) throw std::runtime_error("live: " + res.body);
  return mod;
}

// stream=codec_name of a file, one per line ("stream,h264").
std::string ffprobeCodecs(const std::string& path) {
  const std::string command =
      "ffprobe -v error -show_entries stream=codec_name -of csv '" + path + "' 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    ::pclose(pipe);
  }
  return out;
}

size_t partsOf(const std::vector<hls::FetchedPart>& parts, uint64_t epoch) {
  return static_cast<size_t>(std::count_if(
      parts.begin(), parts.end(), [&](const auto& p) { return p.ref.epoch == epoch; }));
}

bool logHas(const ServeProcess& serve, const std::string& text) {
  return readFile(serve.logFile()).find(text) != std::string::npos;
}

// Checks the fetched media: inits are ftyp-first, parts moof-first and immutable, and each
// segment the follower went past (all its parts fetched, from part 0) is their concatenation.
void expectMediaIsSound(const std::string& base, const std::string& room,
                        const hls::Follower& f) {
  std::cerr << "[broadcast] " << room << ": " << f.parts().size() << " parts from "
            << f.parts().front().ref.uri() << " to " << f.parts().back().ref.uri() << ", "
            << f.reloads() << " blocking reloads (longest " << f.longestReload().count()
            << " ms), " << f.retries() << " answered 503\n";
  for (const auto& [epoch, init] : f.inits()) EXPECT_EQ(hls::firstBox(init), "ftyp") << epoch;
  std::vector<std::pair<PartRef, std::string>> segments;  // (epoch, msn) and its parts' bytes
  for (const auto& p : f.parts()) {
    EXPECT_EQ(hls::firstBox(p.bytes), "moof") << p.ref.uri() << " (" << p.bytes.size() << " B)";
    EXPECT_NE(p.cacheControl.find("immutable"), std::string::npos) << p.ref.uri();
    if (p.ref.part == 0) segments.push_back({p.ref, ""});
    if (!segments.empty()) segments.back().second += p.bytes;
  }
  if (!segments.empty()) segments.pop_back();  // the follower may not have reached its end
  EXPECT_FALSE(segments.empty()) << "no complete segment to compare with its parts";
  for (const auto& [ref, bytes] : segments) {
    auto res = hlsGet(base, room, fmt::format("{}/{}.m4s", ref.epoch, ref.msn));
    EXPECT_EQ(res.status, 200) << "segment " << ref.msn;
    EXPECT_TRUE(res.body == bytes) << "segment " << ref.msn << " (" << res.body.size()
                                   << " B) is not its parts (" << bytes.size() << " B)";
  }
}

TEST(Broadcast, TestSourceReachesViewers) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), withMedia({"--demo-source", "test"}));
  const auto base = serve.baseUrl();
  ASSERT_TRUE(waitForStream(base, "demo")) << "no playlist; " << serve.logTail();

  auto index = hlsGet(base, "demo", "index.m3u8");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("CODECS=\"avc1."), std::string::npos) << index.body;
  EXPECT_NE(index.body.find("mp4a.40.2"), std::string::npos) << index.body;
  EXPECT_NE(index.body.find("RESOLUTION=640x360"), std::string::npos) << index.body;
  EXPECT_NE(index.body.find("\nmedia.m3u8\n"), std::string::npos) << index.body;

  hls::Follower f(base, "demo");
  ASSERT_TRUE(f.start()) << f.error();
  ASSERT_TRUE(f.followFor(8s)) << f.error();

  const auto& p = f.playlist();
  EXPECT_TRUE(p.canBlockReload) << p.text;
  EXPECT_FALSE(p.partTarget.empty()) << p.text;
  EXPECT_NE(p.text.find("PART-HOLD-BACK="), std::string::npos) << p.text;
  EXPECT_TRUE(p.preloadHint) << p.text;
  ASSERT_FALSE(p.programDateTimesMs.empty()) << p.text;
  const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_LT(std::abs(nowMs - p.programDateTimesMs.back()), 60'000) << p.text;

  EXPECT_GE(f.parts().size(), 10u) << "8 s of ~0.5 s parts";
  EXPECT_GE(f.reloads(), 8);
  EXPECT_EQ(hls::sequenceProblem(f.parts()), "");
  EXPECT_LT(f.longestReload(), 5s);
  ASSERT_EQ(f.inits().size(), 1u);
  for (const auto& part : f.parts()) EXPECT_FALSE(part.bytes.empty()) << part.ref.uri();
  expectMediaIsSound(base, "demo", f);

  const std::string file = serve.dataDir() + "/viewer.mp4";
  {
    std::ofstream out(file, std::ios::binary);
    out << f.inits().begin()->second;
    for (const auto& part : f.parts()) out << part.bytes;
  }
  const std::string codecs = ffprobeCodecs(file);
  EXPECT_NE(codecs.find("h264"), std::string::npos) << codecs;
  EXPECT_NE(codecs.find("aac"), std::string::npos) << codecs;
}

TEST(Broadcast, EgressCrashGivesDiscontinuity) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), withMedia({"--demo-source", "test"}));
  const auto base = serve.baseUrl();
  ASSERT_TRUE(waitForStream(base, "demo")) << serve.logTail();
  // The restart takes a supervision tick, a back-off and the new egress's start: the
  // reload waiting through it may outlast the hold (503, Retry-After), which hls.js retries.
  hls::Follower f(base, "demo", {.reloadLimit = 10s, .retryOn503 = true});
  ASSERT_TRUE(f.start()) << f.error();
  ASSERT_TRUE(f.followFor(2s)) << f.error();

  const auto crashed = oneEgress("demo", nats.url());
  ASSERT_TRUE(crashed) << "expected exactly one egress for room demo";
  const PartRef before = f.parts().back().ref;
  ASSERT_EQ(::kill(*crashed, SIGKILL), 0);

  const bool resumed =
      f.followUntil([&] { return f.inits().size() == 2 && partsOf(f.parts(), before.epoch) +
                                                                 4 <= f.parts().size(); },
                    30s);
  ASSERT_TRUE(resumed) << f.error() << "\n" << serve.logTail();
  EXPECT_TRUE(logHas(serve, "room demo: egress exited")) << serve.logTail();
  const auto restarted = oneEgress("demo", nats.url());
  ASSERT_TRUE(restarted) << "expected exactly one egress after the restart";
  EXPECT_NE(*restarted, *crashed);

  EXPECT_EQ(hls::sequenceProblem(f.parts()), "") << "no gap or repeat across the restart";
  const uint64_t newEpoch = f.inits().rbegin()->first;
  EXPECT_GT(newEpoch, before.epoch);
  uint64_t lastOld = 0, firstNew = 0;
  for (const auto& part : f.parts()) {
    if (part.ref.epoch == before.epoch) lastOld = part.ref.msn;
    if (part.ref.epoch == newEpoch && firstNew == 0) firstNew = part.ref.msn;
  }
  EXPECT_GT(firstNew, lastOld) << "names are never reused";
  EXPECT_LE(f.retries(), 1) << "the restart took more than two holds";

  const auto& p = f.playlist();
  EXPECT_GE(p.discontinuities, 1) << p.text;
  ASSERT_GE(p.mapEpochs.size(), 2u) << p.text;
  EXPECT_EQ(p.mapEpochs.back(), newEpoch) << p.text;
  EXPECT_EQ(p.mapEpochs[p.mapEpochs.size() - 2], before.epoch) << p.text;
  expectMediaIsSound(base, "demo", f);
}

// The serve whose log says it started the room's egress.
int leaseHolder(const std::vector<ServeProcess*>& serves, const std::string& room) {
  int holder = -1;
  for (size_t i = 0; i < serves.size(); ++i) {
    if (logHas(*serves[i], "room " + room + ": started egress")) {
      if (holder != -1) return -2;  // both
      holder = static_cast<int>(i);
    }
  }
  return holder;
}

bool processGone(pid_t pid) {
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && stat.compare(close + 2, 1, "Z") == 0);
}

// Both serves block on the same next part; when they answer at the same live edge, the
// playlists are the same bytes. True if that happened at least once.
void expectSamePlaylists(const std::string& a, const std::string& b, const std::string& room) {
  int compared = 0;
  for (int round = 0; round < 5 && compared < 2; ++round) {
    auto now = playlistNow(a, room);
    ASSERT_TRUE(now && now->preloadHint);
    const PartRef next = *now->preloadHint;
    const auto target = fmt::format("media.m3u8?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
    auto onA = std::async(std::launch::async, [&] { return hlsGet(a, room, target); });
    auto onB = std::async(std::launch::async, [&] { return hlsGet(b, room, target); });
    const auto resA = onA.get(), resB = onB.get();
    ASSERT_EQ(resA.status, 200) << resA.body;
    ASSERT_EQ(resB.status, 200) << resB.body;
    const auto pa = hls::parseMediaPlaylist(resA.body), pb = hls::parseMediaPlaylist(resB.body);
    if (pa.preloadHint != pb.preloadHint) continue;  // one of them answered a part later
    EXPECT_EQ(resA.body, resB.body) << "same messages, different playlists";
    ++compared;
  }
  EXPECT_GE(compared, 1) << "the two serves never answered at the same live edge";
}

TEST(Broadcast, LeaseMovesToTheOtherServe) {
  NatsFixture nats;
  ServeProcess a(nats.url(), withMedia({"--egress-source", "test"}));
  ServeProcess b(nats.url(), withMedia({"--egress-source", "test"}));
  const std::string room = "lease";
  goLive(a.baseUrl(), room);
  ASSERT_TRUE(waitForStream(a.baseUrl(), room)) << a.logTail();
  ASSERT_TRUE(waitForStream(b.baseUrl(), room)) << b.logTail();
  for (int i = 0; i < 3; ++i) {  // both serves have scanned the live rooms a few times by now
    EXPECT_EQ(egressPids(room, nats.url()).size(), 1u) << "exactly one egress per live room";
    std::this_thread::sleep_for(700ms);
  }
  const auto first = oneEgress(room, nats.url());
  ASSERT_TRUE(first);
  std::vector<ServeProcess*> serves{&a, &b};
  const int holder = leaseHolder(serves, room);
  ASSERT_GE(holder, 0) << "exactly one serve should have started the egress";
  ServeProcess& dead = *serves[holder];
  ServeProcess& survivor = *serves[1 - holder];

  expectSamePlaylists(a.baseUrl(), b.baseUrl(), room);

  // The survivor's viewer keeps following; while nobody holds the lease its blocking
  // reloads may time out (503, Retry-After), which hls.js retries.
  hls::Follower f(survivor.baseUrl(), room, {.reloadLimit = 10s, .retryOn503 = true});
  ASSERT_TRUE(f.start()) << f.error();
  const uint64_t oldEpoch = f.parts().back().ref.epoch;
  dead.kill(SIGKILL);
  EXPECT_TRUE(waitFor([&] { return processGone(*first); }, 10s))
      << "the dead serve's egress outlived it";
  const bool movedOver = f.followUntil(
      [&] { return f.inits().size() == 2 && partsOf(f.parts(), oldEpoch) + 3 <= f.parts().size(); },
      30s);
  ASSERT_TRUE(movedOver) << f.error() << "\n" << survivor.logTail();
  EXPECT_TRUE(logHas(survivor, "room " + room + ": started egress")) << survivor.logTail();
  const auto second = oneEgress(room, nats.url());
  ASSERT_TRUE(second) << "exactly one egress after the takeover";
  EXPECT_NE(*second, *first);

  EXPECT_EQ(hls::sequenceProblem(f.parts()), "");
  const auto& p = f.playlist();
  EXPECT_GE(p.discontinuities, 1) << p.text;
  ASSERT_GE(p.mapEpochs.size(), 2u) << p.text;
  EXPECT_GT(p.mapEpochs.back(), oldEpoch) << p.text;
  expectMediaIsSound(survivor.baseUrl(), room, f);
}

// Behind a load balancer any serve must answer any room. A serve not yet following the room
// starts following on this request and its window fills in asynchronously: it must wait for
// that backfill rather than answer 404 for a part that exists (it raced before the fix).
TEST(Broadcast, ColdServeAnswersAnExistingPart) {
  NatsFixture nats;
  ServeProcess a(nats.url(), withMedia({"--egress-source", "test"}));
  ServeProcess b(nats.url(), withMedia({"--egress-source", "test"}));
  goLive(a.baseUrl(), "cold");
  std::optional<hls::MediaPlaylist> p;
  ASSERT_TRUE(waitFor([&] { return (p = playlistNow(a.baseUrl(), "cold")) && p->preloadHint &&
                                   p->preloadHint->msn >= 2; },
                      30s))
      << a.logTail();
  const PartRef part = p->parts.back().ref;
  auto res = hlsGet(b.baseUrl(), "cold", part.uri());  // B's first request for this room
  EXPECT_EQ(res.status, 200) << part.uri() << ": " << res.body;
}

// The HLS stream keeps a few minutes: egress repeats the run's init so that an origin that
// starts following a long-running broadcast still finds it (and each repeat is its own
// message, not a duplicate the stream would drop).
TEST(Broadcast, EgressRepeatsTheInitForLateOrigins) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), withMedia({"--egress", "false"}));
  goLive(serve.baseUrl(), "repeat");
  const std::string dir = uniqueTempDir("amphi-egress");
  app::SpawnOptions spawn;
  spawn.logFile = dir + "/egress.log";
  auto egress = app::ChildProcess::spawn(
      {ServeProcess::binary(), "egress", "--room", "repeat", "--nats-url", nats.url(), "--source",
       "test", "--size", "320x180", "--fps", "10", "--video-kbps", "200", "--audio-kbps", "64",
       "--init-every", "1"},
      spawn);
  auto bus = bus::Bus::connect(bus::BusOptions{nats.url(), "broadcast-test"}, nullptr);
  ASSERT_TRUE(bus->waitReady(10s));
  std::string lastId;
  const bool repeated = waitFor(
      [&] {
        auto init = bus->lastHls("hls.repeat.init");
        const std::string* id = init ? init->header("Nats-Msg-Id") : nullptr;
        if (id) lastId = *id;
        return id && std::regex_search(*id, std::regex(":init\\.[2-9]$"));
      },
      30s);
  EXPECT_TRUE(repeated) << "last init message id: '" << lastId << "'\n" << readFile(spawn.logFile);
  // The repeats are the same run: the origin lists one init, and the stream plays on.
  auto p = waitForStream(serve.baseUrl(), "repeat");
  ASSERT_TRUE(p.has_value()) << serve.logTail();
  EXPECT_EQ(std::set<uint64_t>(p->mapEpochs.begin(), p->mapEpochs.end()).size(), 1u) << p->text;
  egress.terminate();
  std::filesystem::remove_all(dir);
}

std::string errorCode(const HttpResult& res) {
  try {
    return res.json()["error"]["code"].get<std::string>();
  } catch (const std::exception&) {
    return "(no JSON error: " + res.body + ")";
  }
}

int maxAge(const std::string& cacheControl) {
  std::smatch m;
  static const std::regex re("max-age=(\\d+)");
  return std::regex_search(cacheControl, m, re) ? std::stoi(m[1]) : -1;
}

void expectError(const std::string& base, const std::string& target, int status,
                 const std::string& code = "") {
  auto res = httpRequest(base, "GET", target, "", {}, 5s);
  EXPECT_EQ(res.status, status) << target << ": " << res.body;
  if (!code.empty()) {
    EXPECT_EQ(errorCode(res), code) << target;
  }
  EXPECT_EQ(res.headers["access-control-allow-origin"], "*") << target;
}

void expectHeadersOfLiveResources(const std::string& base, const std::string& room,
                                  const hls::MediaPlaylist& p) {
  for (const std::string name : {"media.m3u8", "index.m3u8"}) {
    auto res = hlsGet(base, room, name);
    EXPECT_EQ(res.headers["content-type"], "application/vnd.apple.mpegurl") << name;
    EXPECT_EQ(res.headers["access-control-allow-origin"], "*") << name;
    const int age = maxAge(res.headers["cache-control"]);
    EXPECT_TRUE(age >= 0 && age <= 2) << name << ": " << res.headers["cache-control"];
  }
  for (const auto& name : std::vector<std::string>{fmt::format("{}/init.mp4", p.mapEpochs.back()),
                                                   p.parts.back().ref.uri()}) {
    auto res = hlsGet(base, room, name);
    ASSERT_EQ(res.status, 200) << name;
    EXPECT_EQ(res.headers["content-type"], "video/mp4") << name;
    EXPECT_EQ(res.headers["access-control-allow-origin"], "*") << name;
    EXPECT_NE(res.headers["cache-control"].find("immutable"), std::string::npos) << name;
    EXPECT_GE(maxAge(res.headers["cache-control"]), 86400) << name;
  }
  const std::string part = "/hls/" + room + "/" + p.parts.back().ref.uri();
  auto head = httpRequest(base, "HEAD", part);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.headers["content-length"],
            std::to_string(httpRequest(base, "GET", part).body.size()));
  auto options = httpRequest(base, "OPTIONS", "/hls/" + room + "/media.m3u8");
  EXPECT_EQ(options.status, 204);
  EXPECT_NE(options.headers["access-control-allow-methods"].find("GET"), std::string::npos);
}

// Limits are checked against a fresh playlist with a margin: the live edge moves.
void expectBadRequests(const std::string& base, const std::string& room) {
  const std::string pl = "/hls/" + room + "/media.m3u8";
  const auto now = playlistNow(base, room);
  ASSERT_TRUE(now && now->preloadHint);
  const hls::MediaPlaylist& p = *now;
  const uint64_t last = p.preloadHint->msn;
  for (const auto& query : std::vector<std::string>{
           "_HLS_part=1", fmt::format("_HLS_msn={}", last + 6),
           fmt::format("_HLS_msn={}&_HLS_part=0", last + 50), "_HLS_msn=abc", "_HLS_msn=-1",
           "_HLS_msn=1.5", "_HLS_msn=", "_HLS_msn=1&_HLS_part=x", "_HLS_msn=99999999999999999999999",
        fmt::format("_HLS_msn={}&_HLS_part=50", last + 1)}) {
    expectError(base, pl + "?" + query, 400, "bad_blocking_request");
  }
  const std::string dir = fmt::format("/hls/{}/{}/", room, p.mapEpochs.back());
  expectError(base, "/hls/nosuchroom/media.m3u8", 404, "not_live");
  expectError(base, "/hls/nosuchroom/index.m3u8", 404, "not_live");
  for (const auto& bad : std::vector<std::string>{
           dir + "01.0.m4s", dir + "1.00.m4s", dir + "1.0.mp4", dir + "init.mp4.bak", dir + "+1.m4s",
        dir + "../index.m3u8", dir + "%2e%2e/media.m3u8", dir, "/hls/" + room + "/",
        "/hls/" + room + "/media.m3u", "/hls/..%2Fapi/media.m3u8", "/hls/" + room,
        fmt::format("/hls/{}/{}/init.mp4", room, p.mapEpochs.back() + 1),
        dir + fmt::format("{}.0.m4s", last + 10), dir + fmt::format("{}.m4s", last + 2)}) {
    expectError(base, bad, 404);
  }
  for (const std::string method : {"POST", "PUT", "DELETE"}) {
    auto res = httpRequest(base, method, pl, "{}");
    EXPECT_EQ(res.status, 405) << method;
    EXPECT_NE(res.headers["allow"].find("GET"), std::string::npos) << method;
  }
}

// With the egress frozen, a blocking reload for the next part and the hinted part itself
// are held three target durations, then answered 503 with Retry-After.
void expectHeldThen503(const std::string& base, const std::string& room, pid_t egress) {
  ASSERT_EQ(::kill(egress, SIGSTOP), 0);
  std::this_thread::sleep_for(500ms);  // what was on its way has arrived
  auto now = playlistNow(base, room);
  ASSERT_TRUE(now && now->preloadHint);
  const PartRef next = *now->preloadHint;
  const auto started = Clock::now();
  auto reload = std::async(std::launch::async, [&] {
    return hlsGet(base, room, fmt::format("media.m3u8?_HLS_msn={}&_HLS_part={}", next.msn, next.part));
  });
  auto part = std::async(std::launch::async, [&] { return hlsGet(base, room, next.uri()); });
  for (auto* res : {&reload, &part}) {
    const auto r = res->get();
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(errorCode(r), "timeout");
    EXPECT_EQ(r.headers.count("retry-after"), 1u);
  }
  const auto held = Clock::now() - started;
  const int target = std::stoi(now->text.substr(now->text.find("TARGETDURATION:") + 15));
  EXPECT_GE(held, std::chrono::milliseconds(3000 * target - 300)) << "held 3 target durations";
  EXPECT_LT(held, std::chrono::milliseconds(3000 * target + 3000));
  ::kill(egress, SIGKILL);  // serve restarts it: a new epoch
}

TEST(Broadcast, BadRequestsGetClearErrors) {
  NatsFixture nats;
  ServeProcess serve(nats.url(), withMedia({"--egress-source", "test", "--segment-seconds", "1"}));
  const auto base = serve.baseUrl();
  const std::string room = "errs";
  auto mod = goLive(base, room);
  createRoom(base, "quiet");  // exists, never broadcast
  auto first = waitForStream(base, room);
  ASSERT_TRUE(first && first->preloadHint) << serve.logTail();
  const PartRef oldest = first->parts.front().ref;
  expectError(base, "/hls/quiet/media.m3u8", 404, "not_live");

  expectHeadersOfLiveResources(base, room, *first);
  expectBadRequests(base, room);
  const auto egress = oneEgress(room, nats.url());
  ASSERT_TRUE(egress);
  expectHeldThen503(base, room, *egress);

  // Parts far behind the live edge are released (404) while their segment is listed.
  std::optional<hls::MediaPlaylist> p;
  ASSERT_TRUE(waitFor([&] { return (p = playlistNow(base, room)) && p->preloadHint &&
                                   p->preloadHint->msn >= oldest.msn + 9; },
                      30s))
      << serve.logTail();
  EXPECT_GE(p->discontinuities, 1) << "the frozen egress was replaced: " << p->text;
  expectError(base, "/hls/" + room + "/" + oldest.uri(), 404, "not_found");
  if (p->mediaSequence <= oldest.msn) {
    EXPECT_EQ(hlsGet(base, room, fmt::format("{}/{}.m4s", oldest.epoch, oldest.msn)).status, 200);
  }

  // After /end the playlist ends; a blocking reload is answered at once with ENDLIST.
  ASSERT_EQ(post(base, "/api/rooms/" + room + "/end", mod).status, 200);
  ASSERT_TRUE(waitFor([&] { return (p = playlistNow(base, room)) && p->ended; }, 15s))
      << serve.logTail();
  EXPECT_FALSE(p->preloadHint) << p->text;
  const uint64_t last = p->parts.back().ref.msn;
  const auto started = Clock::now();
  auto blocked = hlsGet(base, room, fmt::format("media.m3u8?_HLS_msn={}&_HLS_part=0", last + 2));
  EXPECT_EQ(blocked.status, 200) << blocked.body;
  EXPECT_NE(blocked.body.find("#EXT-X-ENDLIST"), std::string::npos) << blocked.body;
  EXPECT_LT(Clock::now() - started, 2s) << "an ended stream does not hold requests";
  const PartRef after{p->parts.back().ref.epoch, last + 1, 0};
  expectError(base, "/hls/" + room + "/" + after.uri(), 404, "not_found");
  EXPECT_TRUE(waitFor([&] { return egressPids(room, nats.url()).empty(); }, 10s));
}

}  // namespace
}  // namespace amphi::testing
