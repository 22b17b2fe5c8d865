#include "enforcer/cluster_source.h"

#include <sys/stat.h>

#include <thread>

#include "files/manifest_files.h"
#include "policy/manifest.h"

namespace palisade::enforcer {

namespace fs = std::filesystem;

ManifestFolderSource::ManifestFolderSource(fs::path folder,
                                           std::chrono::milliseconds poll_interval)
    : folder_(std::move(folder)), poll_interval_(poll_interval) {}

// Names, sizes and modification times of every file under the folder: a
// change to any of them is a new version. Editors and kubectl cp replace
// files; ConfigMap volumes swap a symlink; both change the fingerprint.
std::string ManifestFolderSource::fingerprint() const {
  std::string out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder_, fs::directory_options::follow_directory_symlink,
                                           ec),
       end;
       it != end && !ec; it.increment(ec)) {
    struct stat info {};
    if (::stat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      continue;
    }
    out += it->path().string();
    out += '|' + std::to_string(info.st_size) + '|' + std::to_string(info.st_mtim.tv_sec) + '.' +
           std::to_string(info.st_mtim.tv_nsec) + '|' + std::to_string(info.st_ino) + '\n';
  }
  return ec ? "error:" + ec.message() : out;
}

policy::Result<std::optional<policy::ClusterState>> ManifestFolderSource::next(
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string current = fingerprint();
    if (!seen_ || current != *seen_) {
      seen_ = current;
      auto manifest = files::readManifestPaths({folder_});
      if (manifest && manifest->errors.empty()) {
        delivered_ = true;
        last_error_.clear();
        return std::optional(policy::clusterStateOf(*manifest));
      }
      if (!manifest) {
        last_error_ = manifest.error().message;
      } else {
        last_error_ = toString(manifest->errors.front());
        if (manifest->errors.size() > 1) {
          last_error_ += " (and " + std::to_string(manifest->errors.size() - 1) + " more)";
        }
      }
      if (!delivered_) {
        return policy::fail(last_error_);  // nothing good to keep enforcing
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::optional<policy::ClusterState>();
    }
    std::this_thread::sleep_for(
        std::min(poll_interval_, std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - std::chrono::steady_clock::now())));
  }
}

}  // namespace palisade::enforcer
