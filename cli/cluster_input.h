#pragma once

// What the palisadectl commands share: reading manifests from paths, judging
// their objects as the apiserver would, and turning them into a cluster.

#include <expected>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/manifest.h"
#include "policy/oracle.h"
#include "policy/validation.h"

namespace palisade::cli {

// The namespace Palisade itself runs in: onboarding never restricts it.
inline constexpr std::string_view kPalisadeNamespace = "palisade-system";

std::vector<std::filesystem::path> toPaths(const std::vector<std::string>& paths);

// The apiserver's validation of a Namespace, Pod or NetworkPolicy; nullopt for
// the kinds Palisade does not model, which nothing checks.
std::optional<policy::FieldErrors> validateObject(const policy::ManifestObject& object);

// "file:doc: Kind/namespace/name: field.path: Invalid value: ...".
std::string formatFieldError(const policy::ManifestObject& object,
                             const policy::FieldError& error);

// `state` with Palisade's onboarding policies (default-deny and DNS, the
// default templates) in every namespace that is not exempt.
policy::ClusterState onboard(policy::ClusterState state);

// The cluster the manifests at `paths` describe, onboarded when `onboard`.
// On failure the reasons are written to `err` (each line prefixed with
// `command`) and the exit code to return is given: kExitUsage when a path
// cannot be read, `invalid_exit_code` when a document cannot be decoded or an
// object is invalid. Such a cluster could not exist (the apiserver would have
// refused part of it), so no answer about it would mean anything.
std::expected<policy::ClusterState, int> loadCluster(const std::vector<std::string>& paths,
                                                      bool onboard, std::string_view command,
                                                      int invalid_exit_code, std::ostream& err);

}  // namespace palisade::cli
