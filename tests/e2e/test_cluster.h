#pragma once

// The end-to-end test cluster (tests/e2e/cluster) as GoogleTest programs use
// it: a real etcd and kube-apiserver on 127.0.0.1, brought up in a folder of
// the test's own, and kubectl run against it as one of two identities.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"

namespace palisade::e2e {

struct CommandResult {
  // The exit status; -1 when the program could not be started or was killed
  // by a signal (then `output` says which).
  int exit_code = -1;
  // Standard output, then standard error.
  std::string output;
};

// Runs argv (argv[0] is looked up in PATH) to completion with `input` on its
// standard input; never through a shell, so no argument is re-parsed.
CommandResult runCommand(const std::vector<std::string>& argv, std::string_view input = {});

// Who kubectl authenticates as.
enum class Identity {
  // Client certificate in group system:masters.
  kAdmin,
  // A token of the service account palisade-system/palisade-webhook, with the
  // permissions the cluster script grants Palisade.
  kPalisade,
};

// A control plane started with `cluster up DIR` and stopped with `cluster down
// DIR`. Owns its processes: destruction stops them if stop() was not called.
// The folder itself is left to the caller (it holds the logs). Not
// thread-safe.
class TestCluster {
 public:
  // Brings the cluster up in `dir` (created if missing); blocks until the
  // apiserver answers /readyz. The error carries the script's output, which
  // ends with the apiserver log's last lines when it did not become ready.
  [[nodiscard]] static policy::Result<TestCluster> start(const std::filesystem::path& dir);

  ~TestCluster();
  TestCluster(TestCluster&& other) noexcept;
  TestCluster& operator=(TestCluster&& other) noexcept;
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // `cluster down DIR`: SIGTERM, then SIGKILL after a grace period. Idempotent.
  [[nodiscard]] policy::Result<void> stop();

  const std::filesystem::path& dir() const { return dir_; }
  // https://127.0.0.1:PORT
  std::string apiserverUrl() const { return variable("APISERVER_URL"); }
  std::filesystem::path caCertificate() const { return variable("APISERVER_CA"); }
  std::filesystem::path kubeconfig(Identity identity) const;
  pid_t apiserverPid() const;
  pid_t etcdPid() const;

  // kubectl --kubeconfig=<identity's> ARGS...
  CommandResult kubectl(Identity identity, const std::vector<std::string>& args,
                        std::string_view input = {}) const;

 private:
  TestCluster(std::filesystem::path dir, std::map<std::string, std::string> env)
      : dir_(std::move(dir)), env_(std::move(env)) {}

  std::string variable(const std::string& name) const;

  std::filesystem::path dir_;
  // DIR/env, as written by `cluster up`.
  std::map<std::string, std::string> env_;
  bool running_ = false;
};

// A test program's folder for its cluster and logs, made under the temporary
// directory as "<prefix>-XXXXXX".
[[nodiscard]] policy::Result<std::filesystem::path> makeRunFolder(std::string_view prefix);

// At the end of a test program: stops `cluster` (if any) and removes `dir`
// when every test `passed`, or keeps it and says where on standard error, so
// that the logs of a failure stay. Returns what went wrong, one line each.
std::vector<std::string> finishRun(std::unique_ptr<TestCluster>& cluster,
                                   const std::filesystem::path& dir, bool passed);

// The path of the cluster script, set at build time.
std::filesystem::path clusterScript();

// Pids of the processes whose command line mentions `dir`: what a cluster in
// that folder still has running.
std::vector<pid_t> processesMentioning(const std::filesystem::path& dir);

}  // namespace palisade::e2e
