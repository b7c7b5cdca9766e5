// Tests for src/app/process (unit), src/app/embedded_nats (integration: real nats-server)
// and the HTTP/SSE test clients of tests/support (unit, against an in-test socket server).
#include "app/process.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/embedded_nats.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "sse_client.hpp"

namespace amphi {
namespace {

using namespace std::chrono_literals;
using app::ChildProcess;
using app::SpawnOptions;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool processGone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// A temp dir removed at scope end.
struct TempDir {
  std::string path = testing::uniqueTempDir("amphi-proc-test");
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A listening socket on 127.0.0.1:<free port>.
struct Listener {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  uint16_t port = 0;
  Listener() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(fd, 8), 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd); }
};

TEST(ChildProcess, TerminateEndsAndReapsSleep) {
  auto child = ChildProcess::spawn({"sleep", "30"});
  pid_t pid = child.pid();
  EXPECT_TRUE(child.running());
  EXPECT_TRUE(child.terminate());
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.exitStatus(), 128 + SIGTERM);
  EXPECT_TRUE(processGone(pid));  // reaped, not a zombie
}

TEST(ChildProcess, DestructorTerminates) {
  pid_t pid;
  {
    auto child = ChildProcess::spawn({"sleep", "30"});
    pid = child.pid();
    ChildProcess moved = std::move(child);
    EXPECT_EQ(child.pid(), -1);
    EXPECT_TRUE(moved.running());
  }
  EXPECT_TRUE(processGone(pid));
}

TEST(ChildProcess, MissingBinaryThrowsWithItsName) {
  try {
    ChildProcess::spawn({"amphi-no-such-binary", "x"});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("amphi-no-such-binary"), std::string::npos) << e.what();
  }
  try {  // a path skips the PATH lookup: the exec failure comes back through the pipe
    ChildProcess::spawn({"/nonexistent/amphi-missing"});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("/nonexistent/amphi-missing"), std::string::npos) << what;
    EXPECT_NE(what.find("execve"), std::string::npos) << what;
  }
}

TEST(ChildProcess, LogFileEnvAndWorkDir) {
  TempDir dir;
  SpawnOptions options;
  options.logFile = dir.path + "/out.log";
  options.env = {"AMPHI_PROC_TEST=42"};
  options.workDir = dir.path;
  auto child = ChildProcess::spawn(
      {"sh", "-c", "echo hi; echo \"$AMPHI_PROC_TEST $(pwd)\" >&2; exit 3"}, options);
  EXPECT_EQ(child.waitFor(5s), 3);
  EXPECT_EQ(readFile(options.logFile), "hi\n42 " + dir.path + "\n");
}

TEST(ChildProcess, TerminateEscalatesToSigkill) {
  TempDir dir;
  SpawnOptions options;
  options.logFile = dir.path + "/out.log";
  auto child =
      ChildProcess::spawn({"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"}, options);
  for (int i = 0; i < 500 && readFile(options.logFile).empty(); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(child.terminate(200ms));
  EXPECT_EQ(child.exitStatus(), 128 + SIGKILL);
}

// Forks an intermediate that spawns `sleep 30` and then is SIGKILLed; returns the
// grandchild's wait status, or -1 if it was still alive after `wait` (then kills it).
int grandchildStatusAfterParentDies(bool dieWithParent, std::chrono::milliseconds wait) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // orphans come to us, so we can reap them
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t middle = ::fork();
  if (middle == 0) {
    SpawnOptions options;
    options.dieWithParent = dieWithParent;
    auto child = ChildProcess::spawn({"sleep", "30"}, options);
    pid_t pid = child.pid();
    [[maybe_unused]] auto n = ::write(fds[1], &pid, sizeof pid);
    ::pause();
    ::_exit(0);
  }
  pid_t grandchild = -1;
  EXPECT_EQ(::read(fds[0], &grandchild, sizeof grandchild),
            static_cast<ssize_t>(sizeof grandchild));
  ::close(fds[0]);
  ::close(fds[1]);
  ::kill(middle, SIGKILL);
  ::waitpid(middle, nullptr, 0);
  int status = -1;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (::waitpid(grandchild, &status, WNOHANG) != grandchild &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  if (!WIFSIGNALED(status)) {
    ::kill(grandchild, SIGKILL);
    ::waitpid(grandchild, nullptr, 0);
    status = -1;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  return status;
}

TEST(ChildProcess, DiesWithParent) {
  int status = grandchildStatusAfterParentDies(true, 5s);
  ASSERT_NE(status, -1) << "grandchild outlived its parent";
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(grandchildStatusAfterParentDies(false, 300ms), -1)
      << "dieWithParent=false must survive";
}

TEST(Ports, FreeLoopbackPortIsBindableAndWaitForTcp) {
  uint16_t port = app::freeLoopbackPort();
  ASSERT_GT(port, 0);
  EXPECT_FALSE(app::waitForTcp("127.0.0.1", port, 100ms));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(fd, 1), 0);
  EXPECT_TRUE(app::waitForTcp("127.0.0.1", port, 1s));
  EXPECT_TRUE(app::waitForTcp("localhost", port, 1s));
  ::close(fd);
}

// True if some process's command line mentions needle.
bool processMentions(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string cmdline = readFile(entry.path().string() + "/cmdline");
    if (cmdline.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(EmbeddedNats, StartRestartStop) {
  TempDir dir;
  app::EmbeddedNatsOptions options;
  options.dataDir = dir.path;
  app::EmbeddedNats nats(options);
  nats.start();
  uint16_t port = nats.port();
  EXPECT_EQ(nats.url(), "nats://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(nats.version(), "2.9.10");
  EXPECT_TRUE(app::waitForTcp("127.0.0.1", port, 1s));
  EXPECT_NE(testing::rawExchange("127.0.0.1", port, "", 300ms).find("\"jetstream\":true"),
            std::string::npos);
  std::string conf = readFile(dir.path + "/nats/nats-server.conf");
  EXPECT_EQ(conf.find("sync_interval"), std::string::npos) << conf;  // 2.9 rejects it

  nats.restart();
  EXPECT_TRUE(nats.running());
  EXPECT_EQ(nats.port(), port);
  EXPECT_TRUE(app::waitForTcp("127.0.0.1", port, 1s));
  EXPECT_TRUE(std::filesystem::exists(dir.path + "/nats/jetstream"));

  nats.stop();
  EXPECT_FALSE(nats.running());
  EXPECT_FALSE(processMentions(dir.path + "/nats/nats-server.conf"));
  EXPECT_FALSE(app::waitForTcp("127.0.0.1", port, 100ms));
}

TEST(EmbeddedNats, TakenFixedPortFailsNamingTheLog) {
  TempDir dir;
  Listener taken;
  app::EmbeddedNatsOptions options;
  options.dataDir = dir.path;
  options.port = taken.port;
  app::EmbeddedNats nats(options);
  try {
    nats.start();
    FAIL() << "started on a taken port";
  } catch (const std::runtime_error& e) {
    std::cerr << "expected error: " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("nats-server.log"), std::string::npos) << e.what();
  }
}

TEST(EmbeddedNats, NatsFixtureRemovesItsDirectory) {
  std::string dir;
  {
    testing::NatsFixture fixture;
    dir = fixture.dataDir();
    EXPECT_TRUE(app::waitForTcp("127.0.0.1", fixture.port(), 1s));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// Serves one connection: reads the request head (and a Content-Length body), hands
// the request text to reply, which writes the response.
class TinyServer {
 public:
  explicit TinyServer(std::function<void(int fd, const std::string& request)> reply)
      : thread_([this, reply] {
          int conn = ::accept(listener_.fd, nullptr, nullptr);
          std::string request = readRequest(conn);
          reply(conn, request);
          ::close(conn);
        }) {}
  ~TinyServer() { thread_.join(); }
  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(listener_.port); }
  uint16_t port() const { return listener_.port; }

  static void send(int fd, const std::string& bytes) {
    [[maybe_unused]] auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(5ms);  // let the client see separate reads
  }

 private:
  static std::string readRequest(int fd) {
    std::string data;
    char buf[4096];
    while (true) {
      size_t head = data.find("\r\n\r\n");
      size_t cl = data.find("Content-Length: ");
      size_t need = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
      if (head != std::string::npos && data.size() >= head + 4 + need) return data;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return data;
      data.append(buf, static_cast<size_t>(n));
    }
  }

  Listener listener_;
  std::thread thread_;
};

TEST(TestSupport, HttpRequestDecodesChunkedJson) {
  std::string seen;
  TinyServer server([&](int fd, const std::string& request) {
    seen = request;
    TinyServer::send(fd,
                     "HTTP/1.1 201 Created\r\nX-Thing: A\r\nTransfer-Encoding: chunked\r\n\r\n");
    TinyServer::send(fd, "4\r\n{\"ok\r\n");
    TinyServer::send(fd, "6\r\n\":true\r\n1;ext=1\r\n}\r\n0\r\n\r\n");
  });
  auto r = testing::httpRequest(server.baseUrl(), "POST", "/api/rooms", R"({"a":1})",
                                {{"Authorization", "Bearer t"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.headers["x-thing"], "A");
  EXPECT_EQ(r.json()["ok"], true);
  EXPECT_EQ(seen.rfind("POST /api/rooms HTTP/1.1\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("Authorization: Bearer t\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Content-Length: 7\r\n"), std::string::npos);
  EXPECT_EQ(seen.substr(seen.size() - 7), R"({"a":1})");
}

TEST(TestSupport, RawExchangeReturnsUntilClose) {
  TinyServer server([](int fd, const std::string&) {
    TinyServer::send(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  auto out = testing::rawExchange("127.0.0.1", server.port(), "GARBAGE / HTTP/1.1\r\n\r\n", 2s);
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST(TestSupport, SseClientParsesChunkedStream) {
  std::string seen;
  TinyServer server([&](int fd, const std::string& request) {
    seen = request;
    auto chunk = [fd](const std::string& s) {
      std::ostringstream hex;
      hex << std::hex << s.size();
      TinyServer::send(fd, hex.str() + "\r\n" + s + "\r\n");
    };
    TinyServer::send(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    chunk(": hello\n\nid: 1\nevent: chat\ndata: line one\r\n");
    chunk("data: line two\r");
    chunk("\n\ndata:x\n\n");
    chunk("id: 7\ndata: {\"n\":1}\n\n");
    TinyServer::send(fd, "0\r\n\r\n");
  });
  testing::SseClient sse(server.baseUrl(), "/rooms/r1/events", {{"Last-Event-ID", "0"}});
  EXPECT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.headers().at("content-type"), "text/event-stream");
  auto events = sse.collect(3, 5s);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[0].event, "chat");
  EXPECT_EQ(events[0].data, "line one\nline two");
  EXPECT_EQ(events[1].id, "1");  // the last event id carries over
  EXPECT_EQ(events[1].event, "message");
  EXPECT_EQ(events[1].data, "x");
  EXPECT_EQ(events[2].id, "7");
  EXPECT_EQ(events[2].data, "{\"n\":1}");
  EXPECT_FALSE(sse.next(200ms));
  EXPECT_TRUE(sse.closedByServer());
  EXPECT_NE(seen.find("Accept: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Last-Event-ID: 0\r\n"), std::string::npos);
}

TEST(TestSupport, SseClientCloseDelimitedAndTimeout) {
  TinyServer server([](int fd, const std::string&) {
    TinyServer::send(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Connection: close\r\n\r\ndata: a\n\n");
    std::this_thread::sleep_for(300ms);
    TinyServer::send(fd, "data: b\n\ndata: incomplete");
  });
  testing::SseClient sse(server.baseUrl(), "/events");
  EXPECT_EQ(sse.next(2s)->data, "a");
  EXPECT_FALSE(sse.next(50ms));  // nothing within the timeout
  EXPECT_FALSE(sse.closedByServer());
  EXPECT_EQ(sse.next(2s)->data, "b");
  EXPECT_FALSE(sse.next(2s));  // an event without its blank line is dropped at the end
  EXPECT_TRUE(sse.closedByServer());
}

}  // namespace
}  // namespace amphi
