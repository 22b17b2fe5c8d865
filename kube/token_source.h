#pragma once

// The bearer token a client presents. In a pod it is the service account's
// projected token, which the kubelet rotates (bound tokens live an hour and
// are refreshed at 80% of their life) by swapping the mounted Secret's
// `..data` symlink: a client that read it once would start failing with 401
// after the old token expires. So a file-backed token is re-read whenever the
// file's identity changes, checked on every use (one stat call).

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "policy/error.h"

namespace palisade::kube {

// Thread-safe.
class TokenSource {
 public:
  static std::shared_ptr<TokenSource> fixed(std::string token);
  // Reads the file now; fails when it cannot be read or holds no token.
  // `origin` names where the path came from in error messages
  // ("kubeconfig /home/a/.kube/config: users[0].user.tokenFile").
  [[nodiscard]] static policy::Result<std::shared_ptr<TokenSource>> fromFile(
      std::filesystem::path file, std::string origin);

  // The token to send now. When the file changed but cannot be read (it is
  // being replaced), the last token read is kept and the read is retried on
  // the next call.
  std::string token();

  // Empty for a fixed token.
  const std::filesystem::path& file() const { return file_; }

 private:
  TokenSource() = default;

  std::filesystem::path file_;
  std::mutex mutex_;
  std::string token_;
  std::string identity_;  // of the file version token_ was read from
};

}  // namespace palisade::kube
