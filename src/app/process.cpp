#include "app/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace amphi::app {
namespace {

using Clock = std::chrono::steady_clock;

// Closes a file descriptor at scope end.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// What the child reports through the close-on-exec pipe when a step fails.
struct ChildFailure {
  int step;   // index into kSteps
  int error;  // errno
};
constexpr const char* kSteps[] = {"prctl(PR_SET_PDEATHSIG)", "dup2(log)", "chdir", "execve"};

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ChildPlan {
  std::string path;
  std::vector<std::string> argvStore, envStore;
  std::vector<char*> argv, envp;
  int logFd = -1;
  int reportFd = -1;
  const char* workDir = nullptr;
  bool dieWithParent = true;
  pid_t parent = 0;
  unsigned maxFd = 0;
};

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string_view keyOf(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// Our environment with the extra "K=V" entries replacing or adding to it.
std::vector<std::string> mergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    bool overridden = std::any_of(extra.begin(), extra.end(),
                                  [&](const std::string& x) { return keyOf(x) == keyOf(entry); });
    if (!overridden) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

bool isExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// execvp's lookup, done before fork (execvp itself is not async-signal-safe).
std::string resolveBinary(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) throw std::runtime_error("spawn: empty program name");
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : env)
    if (keyOf(e) == "PATH") path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find(':', start), path.size());
    std::string dir = end > start ? path.substr(start, end - start) : ".";
    std::string candidate = dir.append("/").append(name);
    if (isExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  throw std::runtime_error(fmt::format("spawn {}: not found in PATH ({})", name, path));
}

[[noreturn]] void childFail(const ChildPlan& plan, int step) {
  ChildFailure failure{step, errno};
  [[maybe_unused]] ssize_t n = ::write(plan.reportFd, &failure, sizeof failure);
  ::_exit(127);
}

void closeInheritedFds(const ChildPlan& plan) {
  unsigned keep = static_cast<unsigned>(plan.reportFd);
  if (keep > 3 && ::close_range(3, keep - 1, 0) != 0)
    for (unsigned fd = 3; fd < keep; ++fd) ::close(static_cast<int>(fd));
  if (::close_range(keep + 1, ~0U, 0) != 0)
    for (unsigned fd = keep + 1; fd < plan.maxFd; ++fd) ::close(static_cast<int>(fd));
}

// Runs in the forked child. Async-signal-safe calls only.
[[noreturn]] void runChild(const ChildPlan& plan) {
  ::setpgid(0, 0);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
  if (plan.dieWithParent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) childFail(plan, 0);
    if (::getppid() != plan.parent) ::_exit(127);  // parent died before prctl took effect
  }
  if (plan.logFd >= 0 && (::dup2(plan.logFd, 1) < 0 || ::dup2(plan.logFd, 2) < 0))
    childFail(plan, 1);
  closeInheritedFds(plan);
  if (plan.workDir && ::chdir(plan.workDir) != 0) childFail(plan, 2);
  ::execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  childFail(plan, 3);
}

unsigned maxOpenFds() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 65536;
  return static_cast<unsigned>(std::min<rlim_t>(lim.rlim_cur, 1u << 20));
}

int openLog(const std::string& file) {
  if (file.empty()) return -1;
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(fmt::format("spawn: open log {}: {}", file, std::strerror(errno)));
  return fd;
}

int decodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Blocks until the pipe says exec succeeded (EOF) or reports the failed step.
std::optional<ChildFailure> readChildReport(int fd) {
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(fd, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) return failure;
  return std::nullopt;
}

}  // namespace

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv,
                                 const SpawnOptions& options) {
  if (argv.empty()) throw std::runtime_error("spawn: empty argv");
  ChildPlan plan;
  plan.envStore = mergedEnv(options.env);
  plan.path = resolveBinary(argv[0], plan.envStore);
  plan.argvStore = argv;
  plan.argv = cStrings(plan.argvStore);
  plan.envp = cStrings(plan.envStore);
  plan.workDir = options.workDir.empty() ? nullptr : options.workDir.c_str();
  plan.dieWithParent = options.dieWithParent;
  plan.parent = ::getpid();
  plan.maxFd = maxOpenFds();
  Fd log(openLog(options.logFile));
  plan.logFd = log.get();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(fmt::format("spawn {}: pipe: {}", argv[0], std::strerror(errno)));
  Fd reportRead(fds[0]), reportWrite(fds[1]);
  plan.reportFd = reportWrite.get();

  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(fmt::format("spawn {}: fork: {}", argv[0], std::strerror(errno)));
  if (pid == 0) runChild(plan);

  ::setpgid(pid, pid);  // also set here so the group exists before we ever signal it
  reportWrite.reset();
  log.reset();
  ChildProcess child(pid);
  if (auto failure = readChildReport(reportRead.get())) {
    child.reap(0);
    throw std::runtime_error(fmt::format("spawn {}: {} failed: {}", argv[0], kSteps[failure->step],
                                         std::strerror(failure->error)));
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) terminate();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) terminate();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

// Returns true once the child has been reaped (now or before). A child reaped elsewhere
// (ECHILD, e.g. SIGCHLD ignored) counts as ended with status -1.
bool ChildProcess::reap(int flags) {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, flags);
  } while (r < 0 && errno == EINTR);
  if (r == pid_)
    status_ = decodeWaitStatus(status);
  else if (r < 0 && errno == ECHILD)
    status_ = -1;
  return status_.has_value();
}

bool ChildProcess::running() {
  return pid_ > 0 && !reap(WNOHANG);
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::waitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  while (!reap(WNOHANG)) {
    auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
  return status_;
}

bool ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || reap(WNOHANG)) return true;
  ::kill(pid_, SIGTERM);
  if (waitFor(grace)) return true;
  ::kill(-pid_, SIGKILL);  // the child's own group: takes its helpers with it
  ::kill(pid_, SIGKILL);   // in case it left the group
  reap(0);
  return false;
}

uint16_t freeLoopbackPort() {
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0)
    throw std::runtime_error(fmt::format("freeLoopbackPort: socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(
        fmt::format("freeLoopbackPort: bind 127.0.0.1:0: {}", std::strerror(errno)));
  return ntohs(addr.sin_port);
}

namespace {

bool tryConnect(const addrinfo& ai, std::chrono::milliseconds timeout) {
  Fd sock(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (sock.get() < 0) return false;
  if (::connect(sock.get(), ai.ai_addr, ai.ai_addrlen) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{sock.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

bool connectOnce(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list) != 0) return false;
  bool ok = false;
  for (addrinfo* ai = list; ai && !ok; ai = ai->ai_next) ok = tryConnect(*ai, timeout);
  ::freeaddrinfo(list);
  return ok;
}

}  // namespace

bool waitForTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  using std::chrono::milliseconds;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (connectOnce(host, port, std::clamp(left, milliseconds(1), milliseconds(250)))) return true;
    if (Clock::now() + milliseconds(25) >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(25));
  }
}

std::string readFrom(const std::string& path, std::uintmax_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::uintmax_t sizeOf(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::string lastLines(const std::string& text, size_t count) {
  size_t pos = text.size();
  while (pos > 0 && (text[pos - 1] == '\n' || text[pos - 1] == '\r')) --pos;
  size_t end = pos;
  for (size_t seen = 0; pos > 0; --pos)
    if (text[pos - 1] == '\n' && ++seen == count) break;
  return text.substr(pos, end - pos);
}

}  // namespace amphi::app
