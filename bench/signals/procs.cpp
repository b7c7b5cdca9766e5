#include "procs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace bench {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) {
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Child::~Child() {
  stop(3s);
}

Child::Child(Child&& other) noexcept : pid_(other.pid_) {
  other.pid_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    stop(3s);
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

Child Child::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   const std::string& logFile) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    vars[kv.substr(0, kv.find('='))] = kv;
  }
  for (const auto& kv : env) vars[kv.substr(0, kv.find('='))] = kv;
  std::vector<char*> envp;
  for (auto& [k, kv] : vars) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // Ctrl-C reaches only us
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argp[0], &actions, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  Child child;
  child.pid_ = pid;
  return child;
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::optional<std::chrono::milliseconds> Child::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return std::chrono::milliseconds(0);
  const auto start = std::chrono::steady_clock::now();
  kill(pid_, SIGTERM);
  while (std::chrono::steady_clock::now() - start < grace) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(5ms);
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return std::nullopt;
}

long rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

namespace {
// The fields of /proc/PID/stat after the command name: state is [0], ppid [1],
// utime [11], stime [12].
std::vector<std::string> statFields(const fs::path& procDir) {
  std::ifstream in(procDir / "stat");
  std::string stat;
  std::getline(in, stat);
  const auto close = stat.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

pid_t parentOf(const fs::path& procDir) {
  const auto f = statFields(procDir);
  return f.size() > 1 ? static_cast<pid_t>(std::stol(f[1])) : -1;
}

// pid → parent for every process.
std::map<pid_t, pid_t> processTree() {
  std::map<pid_t, pid_t> parents;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    parents[static_cast<pid_t>(std::stol(name))] = parentOf(entry.path());
  }
  return parents;
}

template <typename F>
void forTree(pid_t root, F each) {
  auto parents = processTree();
  for (const auto& [pid, parent] : parents) {
    for (pid_t p = pid; p > 1; p = parents.count(p) ? parents[p] : -1) {
      if (p == root) {
        each(pid);
        break;
      }
    }
  }
}
}  // namespace

double cpuTreeSeconds(pid_t root) {
  double ticks = 0;
  forTree(root, [&](pid_t pid) {
    const auto f = statFields("/proc/" + std::to_string(pid));
    if (f.size() > 12) ticks += std::stod(f[11]) + std::stod(f[12]);
  });
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double selfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long rssTreeKiB(pid_t root) {
  long total = 0;
  forTree(root, [&](pid_t pid) { total += rssKiB(pid); });
  return total;
}

std::optional<std::string> waitForLine(const std::string& file, const std::string& prefix,
                                       std::chrono::milliseconds timeout, Child& child) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    if (!child.running() || std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::string tailFile(const std::string& file, std::size_t lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

long raiseFdLimit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<long>(lim.rlim_cur);
}

}  // namespace bench
