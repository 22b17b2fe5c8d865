#include "cli/cluster_input.h"

#include <ostream>
#include <variant>

#include "cli/commands.h"
#include "files/manifest_files.h"
#include "policy/onboarding.h"

namespace palisade::cli {

std::vector<std::filesystem::path> toPaths(const std::vector<std::string>& paths) {
  return {paths.begin(), paths.end()};
}

std::optional<policy::FieldErrors> validateObject(const policy::ManifestObject& object) {
  if (const auto* ns = std::get_if<policy::Namespace>(&object.object)) {
    return policy::validateNamespace(*ns);
  }
  if (const auto* pod = std::get_if<policy::Pod>(&object.object)) {
    return policy::validatePod(*pod);
  }
  if (const auto* network_policy = std::get_if<policy::NetworkPolicy>(&object.object)) {
    return policy::validateNetworkPolicy(*network_policy);
  }
  return std::nullopt;
}

std::string formatFieldError(const policy::ManifestObject& object,
                             const policy::FieldError& error) {
  return policy::toString(object.document) + ": " +
         policy::objectName(object.kind, object.metadata()) + ": " + error.toString();
}

policy::ClusterState onboard(policy::ClusterState state) {
  return policy::onboardCluster(std::move(state), policy::OnboardingTemplates{},
                                kPalisadeNamespace);
}

std::expected<policy::ClusterState, int> loadCluster(const std::vector<std::string>& paths,
                                                      bool onboard_cluster,
                                                      std::string_view command,
                                                      int invalid_exit_code, std::ostream& err) {
  if (paths.empty()) {
    err << command << ": no manifests given (-f PATH)\n";
    return std::unexpected(kExitUsage);
  }
  policy::Result<policy::Manifest> manifest = files::readManifestPaths(toPaths(paths));
  if (!manifest) {
    err << command << ": " << manifest.error().message << "\n";
    return std::unexpected(kExitUsage);
  }
  size_t problems = manifest->errors.size();
  for (const policy::ManifestError& error : manifest->errors) {
    err << command << ": " << policy::toString(error) << "\n";
  }
  for (const policy::ManifestObject& object : manifest->objects) {
    for (const policy::FieldError& error : validateObject(object).value_or(policy::FieldErrors{})) {
      err << command << ": " << formatFieldError(object, error) << "\n";
      ++problems;
    }
  }
  if (problems > 0) {
    err << command << ": the manifests describe no cluster the apiserver would accept; "
        << "`palisadectl validate` lists every problem\n";
    return std::unexpected(invalid_exit_code);
  }
  policy::ClusterState state = policy::clusterStateOf(*manifest);
  return onboard_cluster ? onboard(std::move(state)) : state;
}

}  // namespace palisade::cli
