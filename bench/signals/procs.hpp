// Child processes for the benchmark: spawn (never through a shell), stop, measure RSS.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace bench {

// A private directory under $TMPDIR, removed with its contents unless keep() was called.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// One child with stdout and stderr appended to a log file. The destructor stops it.
class Child {
 public:
  Child() = default;
  ~Child();
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // posix_spawn of argv[0] (searched in PATH without a '/'); env: extra "K=V" entries.
  // Throws std::runtime_error naming the program when it cannot be started.
  static Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& logFile);

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, wait up to grace, then SIGKILL. Returns how long the child took to exit
  // after SIGTERM, or nothing when it had to be killed.
  std::optional<std::chrono::milliseconds> stop(std::chrono::milliseconds grace);

 private:
  pid_t pid_ = -1;
};

// VmRSS of one process in KiB (0 when unreadable).
long rssKiB(pid_t pid);
// VmRSS of a process and all its descendants, in KiB.
long rssTreeKiB(pid_t root);
// CPU time (user + system) of a process and all its descendants, in seconds.
double cpuTreeSeconds(pid_t root);
// CPU time of this process, in seconds.
double selfCpuSeconds();
// Waits until a line starting with prefix appears in file; returns the rest of that line.
// Gives up after timeout or when child stops running.
std::optional<std::string> waitForLine(const std::string& file, const std::string& prefix,
                                       std::chrono::milliseconds timeout, Child& child);
// The last lines of a log file, for error messages.
std::string tailFile(const std::string& file, std::size_t lines);
// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long raiseFdLimit();

}  // namespace bench
