#pragma once

// Where the enforcer learns the cluster: namespaces, pods and NetworkPolicies.
// In a cluster, a watch on the kube-apiserver (api_server_source.h);
// standalone, in the lab and in the demo, a folder of manifests.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "policy/error.h"
#include "policy/objects.h"

namespace palisade::enforcer {

class ClusterSource {
 public:
  virtual ~ClusterSource() = default;

  // Waits at most `timeout` for the cluster to change; returns its new state
  // when it did, nullopt when it did not. Every state returned is complete:
  // the control loop detaches from pods a state lacks. Until a source has a
  // complete first state it returns nullopt (the API source, until its first
  // list) or an error (a folder that does not decode), and the control loop
  // enforces nothing new.
  [[nodiscard]] virtual policy::Result<std::optional<policy::ClusterState>> next(
      std::chrono::milliseconds timeout) = 0;
};

// A folder of YAML/JSON manifests, read recursively, re-read when any file in
// it is added, removed or changed. A version with a document that cannot be
// decoded is refused as a whole (the error says which), and the last good
// state stays in force: half a cluster would be enforced wrongly.
class ManifestFolderSource : public ClusterSource {
 public:
  explicit ManifestFolderSource(std::filesystem::path folder,
                                std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));

  policy::Result<std::optional<policy::ClusterState>> next(
      std::chrono::milliseconds timeout) override;

  // Why the last changed version was refused, if it was.
  const std::string& lastError() const { return last_error_; }

 private:
  std::string fingerprint() const;

  std::filesystem::path folder_;
  std::chrono::milliseconds poll_interval_;
  std::optional<std::string> seen_;
  bool delivered_ = false;
  std::string last_error_;
};

}  // namespace palisade::enforcer
