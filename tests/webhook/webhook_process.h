#pragma once

// The real palisade-webhook binary as a child process, for tests that talk to
// it over TLS the way the kube-apiserver does.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/tls_test_client.h"

namespace palisade::testing {

// Runs palisade-webhook with standard output and standard error in files of a
// directory the caller owns. The destructor SIGKILLs and reaps a process still
// running (a test that failed half-way), and the child is SIGKILLed too if the
// thread that started it dies, so that no server outlives its test. Start and
// destroy it from the test's main thread. Not thread-safe.
class WebhookProcess {
 public:
  // Starts `binary` with `arguments`; null (and `error` says why) if it cannot.
  static std::unique_ptr<WebhookProcess> start(const std::filesystem::path& binary,
                                               const std::vector<std::string>& arguments,
                                               const std::filesystem::path& output_dir,
                                               std::string* error = nullptr);
  ~WebhookProcess();
  WebhookProcess(const WebhookProcess&) = delete;
  WebhookProcess& operator=(const WebhookProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The port of the "listening" log line; 0 if the process exits or the line
  // does not come within `deadline`.
  uint16_t waitForPort(std::chrono::milliseconds deadline = kWaitDeadline);

  std::string standardOutput() const;
  std::string standardError() const;
  // The JSON log lines written so far; lines that are not JSON are skipped.
  std::vector<nlohmann::json> logLines() const;
  // The first log line whose "msg" is `message` and that satisfies `also`,
  // waiting up to `deadline` for it.
  std::optional<nlohmann::json> waitForLog(
      std::string_view message,
      const std::function<bool(const nlohmann::json&)>& also = nullptr,
      std::chrono::milliseconds deadline = kWaitDeadline);

  bool signal(int number) const;
  // Whether the process has exited (and is then reaped).
  bool exited();
  // The exit status, or 128 + the signal that ended it; nullopt if it is still
  // running after `deadline`.
  std::optional<int> waitForExit(std::chrono::milliseconds deadline = kWaitDeadline);

 private:
  WebhookProcess(pid_t pid, std::filesystem::path stdout_path, std::filesystem::path stderr_path)
      : pid_(pid), stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {}

  pid_t pid_;
  std::optional<int> status_;
  std::filesystem::path stdout_path_;
  std::filesystem::path stderr_path_;
};

// palisade-webhook on 127.0.0.1, on a port of its choosing, serving with the
// throwaway CA and certificate of --dev-certs, in a temporary directory of its
// own; and clients that trust that CA. Not thread-safe, except client().
class DevWebhook {
 public:
  // Starts it with `flags` in addition to --dev-certs and --listen, and waits
  // until it listens; null (and `error` says why, with its log) if it does not.
  static std::unique_ptr<DevWebhook> start(const std::filesystem::path& binary,
                                           const std::vector<std::string>& flags,
                                           std::string* error);

  WebhookProcess& process() { return *process_; }
  uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::string& caPem() const { return ca_pem_; }
  // A client (not yet connected) that trusts the CA and verifies `host`.
  std::unique_ptr<TestClient> client(std::string host = "localhost",
                                     std::vector<std::string> alpn = {"http/1.1"}) const;

 private:
  DevWebhook() : dir_("palisade-webhook") {}

  TempDir dir_;
  std::unique_ptr<WebhookProcess> process_;
  uint16_t port_ = 0;
  std::string ca_pem_;
};

// Decodes standard base64 (with padding); nullopt if it is not.
std::optional<std::string> base64Decode(std::string_view text);

std::string readFile(const std::filesystem::path& path);
// Replaces `path` with `contents` atomically (written beside it, then renamed
// over it), so that a reader never sees half a file.
void replaceFile(const std::filesystem::path& path, std::string_view contents);

}  // namespace palisade::testing
