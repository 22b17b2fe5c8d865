#include "tests/e2e/test_cluster.h"

#include <signal.h>
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

#include "lab/process.h"

namespace palisade::e2e {
namespace {

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
  policy::Result<lab::FinishedProcess> finished = lab::runToCompletion(argv, input);
  if (!finished) {
    result.output = finished.error().message;
    return result;
  }
  // Standard output, then standard error: the tests look for words in either.
  result.output = std::move(finished->output.out) + finished->output.err;
  const int status = finished->wait_status;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.output += "\n[" + argv[0] + " " + lab::describeExit(status) + "]";
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
