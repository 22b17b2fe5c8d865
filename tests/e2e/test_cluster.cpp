#include "tests/e2e/test_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

extern char** environ;

namespace palisade::e2e {
namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
};

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;

  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    // Default dispositions and no blocked signal in the child, whatever the
    // test program set for itself: the cluster script relies on SIGTERM.
    sigset_t all;
    sigfillset(&all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::string errnoText(int error) { return std::strerror(error); }

// The value of one line of DIR/env, `export NAME=VALUE`, where VALUE is quoted
// as bash's printf %q quotes: backslashes before special characters.
std::string unquote(std::string_view quoted) {
  std::string value;
  for (std::size_t i = 0; i < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 1 < quoted.size()) {
      ++i;
    }
    value.push_back(quoted[i]);
  }
  return value;
}

policy::Result<std::map<std::string, std::string>> readEnvFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) {
    return policy::fail("cannot read " + path.string());
  }
  std::map<std::string, std::string> env;
  std::string line;
  constexpr std::string_view kExport = "export ";
  while (std::getline(file, line)) {
    if (!line.starts_with(kExport)) {
      continue;
    }
    const std::string_view assignment = std::string_view(line).substr(kExport.size());
    const std::size_t equals = assignment.find('=');
    if (equals == std::string_view::npos) {
      return policy::fail(path.string() + ": no '=' in line '" + line + "'");
    }
    const std::string_view value = assignment.substr(equals + 1);
    if (value.starts_with("$'")) {
      return policy::fail(path.string() + ": control characters in line '" + line + "'");
    }
    env.emplace(std::string(assignment.substr(0, equals)), unquote(value));
  }
  return env;
}

pid_t parsePid(const std::string& text) {
  pid_t pid = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return -1;
  }
  return pid;
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv, std::string_view input) {
  CommandResult result;
  // The input goes through an in-memory file, so that no thread has to feed a
  // pipe while the output is read.
  Fd input_fd(memfd_create("palisade-e2e-input", MFD_CLOEXEC));
  if (input_fd.get() < 0) {
    result.output = "memfd_create: " + errnoText(errno);
    return result;
  }
  for (std::size_t written = 0; written < input.size();) {
    const ssize_t count = write(input_fd.get(), input.data() + written, input.size() - written);
    if (count < 0) {
      result.output = "writing the input: " + errnoText(errno);
      return result;
    }
    written += static_cast<std::size_t>(count);
  }
  lseek(input_fd.get(), 0, SEEK_SET);

  std::array<int, 2> pipe_fds{};
  // Close-on-exec: only the copies on 1 and 2 reach the child, so a daemon the
  // command leaves behind cannot keep the pipe open.
  if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    result.output = "pipe2: " + errnoText(errno);
    return result;
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, input_fd.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDERR_FILENO);

  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);

  pid_t pid = -1;
  const int spawn_error =
      posix_spawnp(&pid, c_argv[0], &setup.actions, &setup.attributes, c_argv.data(), environ);
  write_end.reset();
  if (spawn_error != 0) {
    result.output = "cannot start " + argv[0] + ": " + errnoText(spawn_error);
    return result;
  }

  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t count = read(read_end.get(), buffer.data(), buffer.size());
    if (count > 0) {
      result.output.append(buffer.data(), static_cast<std::size_t>(count));
    } else if (count == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.output += "\n[" + argv[0] + " was killed by signal " +
                     std::to_string(WTERMSIG(status)) + "]";
  }
  return result;
}

std::filesystem::path clusterScript() { return PALISADE_E2E_CLUSTER_SCRIPT; }

policy::Result<TestCluster> TestCluster::start(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return policy::fail("cannot create " + dir.string() + ": " + error.message());
  }
  const std::filesystem::path absolute = std::filesystem::absolute(dir);
  const CommandResult up = runCommand({clusterScript().string(), "up", absolute.string()});
  if (up.exit_code != 0) {
    // The script stops what it started when it fails; down again in case it
    // was itself killed half-way.
    runCommand({clusterScript().string(), "down", absolute.string()});
    return policy::fail("'cluster up " + absolute.string() + "' failed (exit " +
                        std::to_string(up.exit_code) + "):\n" + up.output);
  }
  auto env = readEnvFile(absolute / "env");
  if (!env) {
    runCommand({clusterScript().string(), "down", absolute.string()});
    return std::unexpected(env.error());
  }
  TestCluster cluster(absolute, std::move(*env));
  cluster.running_ = true;
  return cluster;
}

TestCluster::~TestCluster() {
  if (running_) {
    // A destructor cannot report; stop() is the call that does.
    (void)stop();
  }
}

TestCluster::TestCluster(TestCluster&& other) noexcept
    : dir_(std::move(other.dir_)),
      env_(std::move(other.env_)),
      running_(std::exchange(other.running_, false)) {}

TestCluster& TestCluster::operator=(TestCluster&& other) noexcept {
  if (this != &other) {
    if (running_) {
      (void)stop();
    }
    dir_ = std::move(other.dir_);
    env_ = std::move(other.env_);
    running_ = std::exchange(other.running_, false);
  }
  return *this;
}

policy::Result<void> TestCluster::stop() {
  const CommandResult down = runCommand({clusterScript().string(), "down", dir_.string()});
  if (down.exit_code != 0) {
    return policy::fail("'cluster down " + dir_.string() + "' failed (exit " +
                        std::to_string(down.exit_code) + "):\n" + down.output);
  }
  running_ = false;
  return {};
}

std::string TestCluster::variable(const std::string& name) const {
  const auto found = env_.find(name);
  return found == env_.end() ? std::string() : found->second;
}

std::filesystem::path TestCluster::kubeconfig(Identity identity) const {
  return identity == Identity::kAdmin ? variable("KUBECONFIG") : variable("PALISADE_KUBECONFIG");
}

pid_t TestCluster::apiserverPid() const { return parsePid(variable("APISERVER_PID")); }

pid_t TestCluster::etcdPid() const { return parsePid(variable("ETCD_PID")); }

CommandResult TestCluster::kubectl(Identity identity, const std::vector<std::string>& args,
                                   std::string_view input) const {
  std::vector<std::string> argv = {variable("KUBECTL"),
                                   "--kubeconfig=" + kubeconfig(identity).string(),
                                   "--request-timeout=30s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, input);
}

std::vector<pid_t> processesMentioning(const std::filesystem::path& dir) {
  std::vector<pid_t> pids;
  // Every process of a cluster names a file under the folder.
  const std::string needle = (dir / "").string();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const pid_t pid = parsePid(entry.path().filename().string());
    if (pid <= 0) {
      continue;
    }
    std::ifstream file(entry.path() / "cmdline", std::ios::binary);
    std::ostringstream command_line;
    command_line << file.rdbuf();
    if (command_line.str().find(needle) != std::string::npos) {
      pids.push_back(pid);
    }
  }
  return pids;
}

policy::Result<std::filesystem::path> makeRunFolder(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return policy::fail("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return std::filesystem::path(pattern);
}

std::vector<std::string> finishRun(std::unique_ptr<TestCluster>& cluster,
                                   const std::filesystem::path& dir, bool passed) {
  std::vector<std::string> problems;
  if (cluster) {
    if (policy::Result<void> stopped = cluster->stop(); !stopped) {
      problems.push_back(stopped.error().message);
    }
    cluster.reset();
  }
  if (dir.empty()) {
    return problems;
  }
  if (passed && problems.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  } else {
    std::fprintf(stderr, "e2e: the run's folder, with its logs, is kept: %s\n", dir.c_str());
  }
  return problems;
}

}  // namespace palisade::e2e
