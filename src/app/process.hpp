// Child process supervision: spawn a program (never through a shell), watch it, stop it.
// Used by `amphi serve` for its private nats-server (and later Janus, workers) and by the
// integration tests to run `amphi serve` itself.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace amphi::app {

struct SpawnOptions {
  std::string logFile;           // stdout and stderr are appended here; empty = inherit ours
  std::vector<std::string> env;  // extra "K=V" entries on top of our environment (override)
  bool dieWithParent = true;     // the child gets SIGTERM when the spawning *thread* ends
  std::string workDir;           // empty = our working directory
};

// One child process. Move-only; the destructor terminates it (SIGTERM, up to 3 s, then
// SIGKILL to its process group) and reaps it, so no zombie or orphan outlives the owner.
// The child runs in its own process group, so a terminal Ctrl-C reaches only us and we
// shut children down ourselves. The child inherits only fds 0-2 (others are closed). With
// dieWithParent the kernel sends SIGTERM when the thread that called spawn() exits: spawn from a
// thread that lives as long as the child. Not thread-safe: one owner calls its methods.
class ChildProcess {
 public:
  ChildProcess() = default;  // empty: pid() is -1, running() is false
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // fork + execve of argv[0] (looked up in PATH when it has no '/'). Throws
  // std::runtime_error naming the binary when it is not found or exec fails (the child
  // reports exec errors through a close-on-exec pipe, so spawn() returns only after exec).
  static ChildProcess spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  pid_t pid() const { return pid_; }
  // Non-blocking check; reaps the child when it has ended.
  bool running();
  // Once the child has been reaped: its exit code (0-255) for a normal exit, or
  // 128 + the signal number when a signal killed it (the shell's convention).
  std::optional<int> exitStatus() const { return status_; }
  // Sends sig to the child; does nothing once it has been reaped.
  void signal(int sig);
  // SIGTERM, wait up to grace, then SIGKILL (to the whole process group) and reap.
  // Returns true if the child ended within grace (or had already ended).
  bool terminate(std::chrono::milliseconds grace = std::chrono::seconds(3));
  // Waits up to timeout for the child to end; its exitStatus() if it did.
  std::optional<int> waitFor(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  bool reap(int flags);

  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
// Another process may take it before the caller binds: callers retry on "in use".
uint16_t freeLoopbackPort();

// True once host:port accepts a TCP connection, false after timeout. host is an IPv4 or
// IPv6 literal or a name.
bool waitForTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// Log-file helpers for supervised children.
// Bytes of a file from offset on; empty if it does not exist.
std::string readFrom(const std::string& path, std::uintmax_t offset);
// Size of a file, 0 if it does not exist.
std::uintmax_t sizeOf(const std::string& path);
// The last `count` lines of text, without the final line break.
std::string lastLines(const std::string& text, size_t count);

}  // namespace amphi::app
