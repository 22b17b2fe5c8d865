#pragma once

// The configuration in use, and its file: reloaded when it changes, and an
// invalid new version never replaces a good one.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "policy/config.h"
#include "policy/error.h"

namespace palisade::server {

// Holds the current configuration; readers take a snapshot that stays valid
// however often it is replaced. Thread-safe.
class ConfigStore {
 public:
  explicit ConfigStore(std::shared_ptr<const policy::Config> initial);
  std::shared_ptr<const policy::Config> current() const;
  void replace(std::shared_ptr<const policy::Config> config);

 private:
  std::atomic<std::shared_ptr<const policy::Config>> config_;
};

// Reads a configuration file.
[[nodiscard]] policy::Result<std::shared_ptr<const policy::Config>> loadConfigFile(
    const std::filesystem::path& path);

// Re-reads the file into the store when its identity (inode, size,
// modification time, symlink target — a ConfigMap volume swaps a symlink)
// changes. Not thread-safe: call poll() from one thread (a server timer).
class ConfigFileWatcher {
 public:
  enum class Poll { kUnchanged, kReloaded, kFailed };

  ConfigFileWatcher(std::filesystem::path path, ConfigStore& store);
  // On kFailed, `error` says why; the store keeps the last good configuration
  // and the same file version is not retried until it changes again.
  Poll poll(std::string* error = nullptr);

 private:
  std::string fileIdentity() const;

  std::filesystem::path path_;
  ConfigStore& store_;
  std::string identity_;
};

}  // namespace palisade::server
