// Resuming an event stream by Last-Event-ID: exactly the missed events, in order,
// with no duplicates, then live; RESET for ids the stream cannot serve.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "classroom.hpp"
#include "fixtures.hpp"
#include "sse_client.hpp"

namespace amphi::testing {
namespace {

class Resume : public SharedServe<Resume> {
 public:
  static constexpr int kServes = 1;
  static std::vector<std::string> serveArgs() {
    return {"--hand-per-minute", "0", "--sse-queue-limit", "100"};
  }
};

std::vector<std::string> ids(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id + ":" + e.event);
  return out;
}

// Reads events until one with the given id (inclusive), or times out.
std::vector<SseEvent> until(SseClient& sse, const std::string& id) {
  std::vector<SseEvent> out;
  while (auto e = sse.next(5s)) {
    out.push_back(*e);
    if (e->id == id) break;
  }
  return out;
}

TEST_F(Resume, MissedEventsExactlyOnceInOrder) {
  auto room = createRoom(base(), "resume");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  std::vector<User> viewers;
  for (int i = 0; i < 4; ++i) {
    viewers.push_back(join(base(), room.id, room.viewerInvite, "V" + std::to_string(i)));
  }
  SseClient control(base(), "/api/rooms/resume/events", mod.auth());
  std::string lastSeen;
  {
    SseClient client(base(), "/api/rooms/resume/events", mod.auth());
    ASSERT_EQ(post(base(), "/api/rooms/resume/raise-hand", viewers[0]).status, 200);
    auto first = client.next(5s);
    while (first && first->event != "RAISE_HAND") first = client.next(5s);
    ASSERT_TRUE(first);
    lastSeen = first->id;
  }  // disconnected
  // Events the client misses: hands of every viewer, up and down, and a live flag.
  for (int round = 0; round < 2; ++round) {
    for (auto& v : viewers) {
      ASSERT_EQ(post(base(), "/api/rooms/resume/raise-hand", v).status, 200);
      ASSERT_EQ(post(base(), "/api/rooms/resume/lower-hand", v).status, 200);
    }
  }
  auto live = post(base(), "/api/rooms/resume/live", mod);
  ASSERT_EQ(live.status, 200);
  auto controlEvents = until(control, "");  // drain what is there (times out at the end)
  std::vector<SseEvent> expected;
  bool after = false;
  for (auto& e : controlEvents) {
    if (after) expected.push_back(e);
    if (e.id == lastSeen) after = true;
  }
  ASSERT_TRUE(after) << "control stream never saw id " << lastSeen;
  // 15 hand changes (Ann's first raise in round 0 repeats one already seen) + ROOM_LIVE,
  // plus whatever presence events the control stream saw meanwhile.
  ASSERT_GE(expected.size(), 16u);

  SseClient resumed(base(), "/api/rooms/resume/events",
                    {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", lastSeen}});
  ASSERT_EQ(resumed.status(), 200);
  auto replay = until(resumed, expected.back().id);
  EXPECT_EQ(ids(replay), ids(expected));
  for (std::size_t i = 0; i < std::min(replay.size(), expected.size()); ++i) {
    EXPECT_EQ(replay[i].data, expected[i].data);
  }
  // Then live, with nothing repeated.
  ASSERT_EQ(post(base(), "/api/rooms/resume/end", mod).status, 200);
  auto next = resumed.next(5s);
  while (next && next->event.rfind("PARTICIPANT_", 0) == 0) next = resumed.next(5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->event, "ROOM_ENDED");
  EXPECT_GT(std::stoull(next->id), std::stoull(expected.back().id));
}

TEST_F(Resume, ViewerReplayOnlyHoldsWhatTheViewerMaySee) {
  auto room = createRoom(base(), "resume-viewer");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  auto bob = join(base(), room.id, room.viewerInvite, "Bob");
  auto state = get(base(), "/api/rooms/resume-viewer/state", ann).json();
  const std::string from = std::to_string(state["lastEventId"].get<uint64_t>());
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/raise-hand", bob).status, 200);
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/raise-hand", ann).status, 200);
  ASSERT_EQ(post(base(), "/api/rooms/resume-viewer/promote/" + bob.userId, mod).status, 200);
  // The query parameter works too (a fresh page resuming).
  SseClient annEvents(base(), "/api/rooms/resume-viewer/user-events?lastEventId=" + from,
                      ann.auth());
  std::vector<std::string> types;
  while (auto e = annEvents.next(2s)) {
    auto data = nlohmann::json::parse(e->data);
    if (e->event == "RAISE_HAND" || e->event == "PROMOTE") {
      EXPECT_EQ(data["userId"], ann.userId) << "Ann saw someone else's " << e->event;
    }
    types.push_back(e->event);
  }
  EXPECT_NE(std::find(types.begin(), types.end(), "RAISE_HAND"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "STAGE_CHANGED"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "PROMOTE"), types.end());
}

TEST_F(Resume, UnknownIdGetsReset) {
  auto room = createRoom(base(), "resume-reset");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  SseClient client(base(), "/api/rooms/resume-reset/events",
                   {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", "99999999"}});
  ASSERT_EQ(client.status(), 200);
  auto first = client.next(5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->event, "RESET");
  // The header wins over the query parameter.
  SseClient both(base(), "/api/rooms/resume-reset/events?lastEventId=1",
                 {{"Authorization", "Bearer " + mod.token}, {"Last-Event-ID", "99999999"}});
  auto e = both.next(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "RESET");
}

// A raw stream whose reader stops after the response head, with a small receive buffer.
class StalledReader {
 public:
  StalledReader(uint16_t port, const std::string& target, const std::string& token) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                            token + "\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      throw std::runtime_error("send failed");
    }
  }
  ~StalledReader() { ::close(fd_); }
  // Reads what is there within timeout; false once the server has closed.
  bool read(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  std::string data;

 private:
  int fd_ = -1;
};

double droppedSlow(const std::string& base) {
  const std::string text = httpRequest(base, "GET", "/metrics").body;
  const std::string name = "\namphi_sse_dropped_slow_total ";
  const auto at = text.find(name);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

// A client that stops reading is dropped once its queue (100 here) is full, rather than
// buffered for without bound; it then resumes by id with nothing lost and nothing twice.
TEST_F(Resume, StalledReaderIsDroppedAndResumesById) {
  auto room = createRoom(base(), "stalled");
  auto mod = join(base(), room.id, room.moderatorInvite, "Teacher");
  auto ann = join(base(), room.id, room.viewerInvite, "Ann");
  const std::string target = "/api/rooms/stalled/user-events";
  StalledReader stalled(serves_.at(0)->port(), target, ann.token);
  while (stalled.data.find("\r\n\r\n") == std::string::npos) {
    ASSERT_TRUE(stalled.read(5s)) << "no response head";
  }
  std::this_thread::sleep_for(300ms);  // attached to the room
  const double before = droppedSlow(base());
  int posts = 0;
  for (; posts < 5000; ++posts) {
    const char* action = posts % 2 == 0 ? "/api/rooms/stalled/live" : "/api/rooms/stalled/end";
    ASSERT_EQ(post(base(), action, mod).status, 200);
    if (posts % 25 == 24 && droppedSlow(base()) > before) break;
  }
  ASSERT_GT(droppedSlow(base()), before) << "never dropped after " << posts << " events";
  ++posts;
  while (stalled.read(5s)) {
  }  // what the server had written, then its close

  // The complete frames the stalled client got, then the rest by Last-Event-ID.
  std::vector<std::pair<uint64_t, std::string>> got;
  const std::size_t body = stalled.data.find("\r\n\r\n") + 4;
  for (std::size_t at = body, end; (end = stalled.data.find("\n\n", at)) != std::string::npos;
       at = end + 2) {
    const std::string frame = stalled.data.substr(at, end - at);
    const auto id = frame.find("id: "), ev = frame.find("event: ");
    if (id == std::string::npos || ev == std::string::npos) continue;
    got.emplace_back(std::stoull(frame.substr(id + 4)),
                     frame.substr(ev + 7, frame.find('\n', ev) - ev - 7));
  }
  ASSERT_FALSE(got.empty());
  auto headers = ann.auth();
  headers.emplace_back("Last-Event-ID", std::to_string(got.back().first));
  SseClient resumed(base(), target, headers);
  ASSERT_EQ(resumed.status(), 200);
  int rooms = 0;
  for (const auto& [id, type] : got) rooms += type.rfind("ROOM_", 0) == 0 ? 1 : 0;
  while (rooms < posts) {
    auto e = resumed.next(5s);
    ASSERT_TRUE(e) << rooms << " of " << posts << " room events after resuming";
    ASSERT_NE(e->event, "RESET");
    ASSERT_GT(std::stoull(e->id), got.back().first) << "an event twice or out of order";
    got.emplace_back(std::stoull(e->id), e->event);
    rooms += e->event.rfind("ROOM_", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(rooms, posts);
}

}  // namespace
}  // namespace amphi::testing
