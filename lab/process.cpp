#include "lab/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>

#include <fmt/format.h>

extern char** environ;

namespace palisade::lab {
namespace {

// Closes the descriptors it holds when it goes out of scope.
class FdSet {
 public:
  ~FdSet() {
    for (int fd : fds_) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }
  // A deque, so that the references handed out stay valid as more are added.
  int& add(int fd) { return fds_.emplace_back(fd); }
  void closeFd(int& fd) {
    if (fd >= 0) {
      close(fd);
      fd = -1;
    }
  }

 private:
  std::deque<int> fds_;
};

std::string errnoText(int error) { return std::strerror(error); }

std::vector<char*> cArgv(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    pointers.push_back(const_cast<char*>(arg.c_str()));
  }
  pointers.push_back(nullptr);
  return pointers;
}

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;

  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    // The child starts with default signal handling and nothing blocked, whatever
    // the CLI installed for its own clean-up.
    sigset_t all;
    sigfillset(&all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

policy::Result<pid_t> spawn(const std::vector<std::string>& argv, SpawnSetup& setup,
                            short flags) {
  if (argv.empty()) {
    return policy::fail("no program to run");
  }
  posix_spawnattr_setflags(&setup.attributes,
                           static_cast<short>(flags | POSIX_SPAWN_SETSIGDEF |
                                              POSIX_SPAWN_SETSIGMASK));
  std::vector<char*> c_argv = cArgv(argv);
  pid_t pid = -1;
  const int error =
      posix_spawnp(&pid, argv[0].c_str(), &setup.actions, &setup.attributes, c_argv.data(),
                   environ);
  if (error != 0) {
    return policy::fail(fmt::format("cannot run {}: {}{}", argv[0], errnoText(error),
                                    error == ENOENT ? " (is it installed and on PATH?)" : ""));
  }
  return pid;
}

int waitFor(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

}  // namespace

std::string commandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) {
      line += ' ';
    }
    const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$") == std::string::npos;
    if (plain) {
      line += arg;
    } else {
      line += '\'';
      for (char c : arg) {
        line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      line += '\'';
    }
  }
  return line;
}

std::string describeExit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(wait_status),
                       sigabbrev_np(WTERMSIG(wait_status)) != nullptr
                           ? sigabbrev_np(WTERMSIG(wait_status))
                           : "?");
  }
  return fmt::format("ended with wait status {}", wait_status);
}

policy::Result<FinishedProcess> runToCompletion(const std::vector<std::string>& argv,
                                                std::string_view input) {
  FdSet fds;
  // Standard input is a socket rather than a pipe so that writing to a child
  // that has already exited fails with EPIPE instead of raising SIGPIPE in the
  // whole process (send() takes MSG_NOSIGNAL, write() on a pipe has no such flag).
  std::array<int, 2> in{-1, -1};
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in.data()) != 0 ||
      pipe2(out.data(), O_CLOEXEC) != 0 || pipe2(err.data(), O_CLOEXEC) != 0) {
    return policy::fail(fmt::format("cannot run {}: pipe: {}", argv.empty() ? "" : argv[0],
                                    errnoText(errno)));
  }
  int& in_parent = fds.add(in[0]);
  int& in_child = fds.add(in[1]);
  int& out_read = fds.add(out[0]);
  int& out_write = fds.add(out[1]);
  int& err_read = fds.add(err[0]);
  int& err_write = fds.add(err[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in_child, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, out_write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, err_write, STDERR_FILENO);
  policy::Result<pid_t> pid = spawn(argv, setup, 0);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  fds.closeFd(in_child);
  fds.closeFd(out_write);
  fds.closeFd(err_write);
  if (input.empty()) {
    shutdown(in_parent, SHUT_WR);
    fds.closeFd(in_parent);
  } else {
    fcntl(in_parent, F_SETFL, O_NONBLOCK);
  }

  ProcessOutput output;
  size_t written = 0;
  std::array<char, 4096> buffer;
  while (out_read >= 0 || err_read >= 0) {
    std::array<pollfd, 3> polled{};
    nfds_t count = 0;
    const auto watch = [&](int fd, short events) {
      if (fd >= 0) {
        polled[count++] = pollfd{.fd = fd, .events = events, .revents = 0};
      }
    };
    watch(out_read, POLLIN);
    watch(err_read, POLLIN);
    watch(in_parent, POLLOUT);
    if (poll(polled.data(), count, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const pollfd& entry = polled[i];
      if (entry.revents == 0) {
        continue;
      }
      if (entry.fd == in_parent) {
        const ssize_t sent = send(in_parent, input.data() + written, input.size() - written,
                                  MSG_NOSIGNAL);
        if (sent > 0) {
          written += static_cast<size_t>(sent);
        }
        if ((sent < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          fds.closeFd(in_parent);
        }
        continue;
      }
      const ssize_t got = read(entry.fd, buffer.data(), buffer.size());
      if (got > 0) {
        (entry.fd == out_read ? output.out : output.err).append(buffer.data(),
                                                                static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds.closeFd(entry.fd == out_read ? out_read : err_read);
      }
    }
  }
  fds.closeFd(in_parent);
  return FinishedProcess{.wait_status = waitFor(*pid), .output = std::move(output)};
}

policy::Result<ProcessOutput> runProcess(const std::vector<std::string>& argv,
                                         std::string_view input) {
  policy::Result<FinishedProcess> finished = runToCompletion(argv, input);
  if (!finished) {
    return std::unexpected(finished.error());
  }
  const int status = finished->wait_status;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const ProcessOutput& output = finished->output;
    std::string message = fmt::format("{}: {}", commandLine(argv), describeExit(status));
    const std::string reason = trimmed(output.err.empty() ? output.out : output.err);
    if (!reason.empty()) {
      message += ": " + reason;
    }
    return policy::fail(std::move(message));
  }
  return std::move(finished->output);
}

ChildProcess::~ChildProcess() { stop(SIGTERM, std::chrono::seconds(5)); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop(SIGTERM, std::chrono::seconds(5));
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

policy::Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                 int output_fd) {
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, output_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, output_fd, STDERR_FILENO);
  // A process group of its own: a Ctrl-C at the terminal reaches palisadectl
  // only, which then stops the child in order, after the probes, rather than
  // both racing.
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  policy::Result<pid_t> pid = lab::spawn(argv, setup, POSIX_SPAWN_SETPGROUP);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  return ChildProcess(*pid);
}

std::optional<int> ChildProcess::poll() {
  if (pid_ <= 0) {
    return status_;
  }
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    status_ = status;
    pid_ = -1;
  }
  return status_;
}

std::optional<int> ChildProcess::stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  if (poll()) {
    return status_;
  }
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll()) {
      return status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  status_ = waitFor(pid_);
  pid_ = -1;
  return status_;
}

}  // namespace palisade::lab
