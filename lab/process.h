#pragma once

// Running the system tools the lab drives (ip, iptables-restore) and the
// enforcer it supervises. Programs are started with posix_spawnp from an argv
// vector, never through a shell, so no argument is ever re-parsed.
//
// A child starts in the network namespace of the thread that spawns it: to run
// a tool inside a namespace, spawn it while a NetnsScope (lab/netns.h) holds
// the calling thread there.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"

namespace palisade::lab {

// "ip -n pl-1 link add ..."; arguments with spaces or quotes are quoted.
std::string commandLine(const std::vector<std::string>& argv);

// "exited with status 2", "was killed by signal 9", from a waitpid() status.
std::string describeExit(int wait_status);

struct ProcessOutput {
  std::string out;
  std::string err;
};

struct FinishedProcess {
  int wait_status = 0;  // as waitpid() gives it
  ProcessOutput output;
};

// Runs argv (argv[0] is looked up in PATH) to completion with `input` on its
// standard input, whatever its exit status. Fails only when the program cannot
// be started.
[[nodiscard]] policy::Result<FinishedProcess> runToCompletion(const std::vector<std::string>& argv,
                                                              std::string_view input = {});

// runToCompletion, failing also when the program exits other than with status
// 0; the message names the command and quotes its standard error.
[[nodiscard]] policy::Result<ProcessOutput> runProcess(const std::vector<std::string>& argv,
                                                       std::string_view input = {});

// A long-running child: the enforcer. Its standard output and error go to
// `output_fd` (a log file), its standard input is /dev/null. Owns the process:
// destruction stops it (SIGTERM, then SIGKILL) and reaps it. Not thread-safe.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] static policy::Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                                          int output_fd);

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // The waitpid() status once the process has ended, without blocking;
  // nullopt while it runs.
  std::optional<int> poll();
  // Sends `signal`, waits up to `grace` for the process to end, then sends
  // SIGKILL. Returns the waitpid() status, or nullopt if it was not running.
  std::optional<int> stop(int signal, std::chrono::milliseconds grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace palisade::lab
