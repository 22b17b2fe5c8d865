#pragma once

// Files published the way the kubelet mounts a projected volume (the
// service account's token, ca.crt and namespace): each name is a symlink to
// ..data/<name>, ..data a symlink to a versioned folder, and a new version
// is published by swapping ..data atomically, then removing the old folder.

#include <filesystem>
#include <map>
#include <string>

namespace palisade::kube::testing {

class MountedFiles {
 public:
  explicit MountedFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }
  // Publishes a new version holding exactly these files (name → contents).
  void publish(const std::map<std::string, std::string>& files);

 private:
  std::filesystem::path dir_;
  int version_ = 0;
};

}  // namespace palisade::kube::testing
