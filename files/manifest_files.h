#pragma once

// Reading manifests from the filesystem: files and folders of YAML and JSON,
// as `kubectl apply -f` takes them.

#include <filesystem>
#include <vector>

#include "policy/error.h"
#include "policy/manifest.h"

namespace palisade::files {

// Reads every path: a file is read whatever its extension; a folder
// contributes its *.yaml, *.yml and *.json files, recursively, in name order.
// "-" reads standard input. Documents that fail to decode are reported in the
// manifest's errors; a path that cannot be read fails the whole call.
[[nodiscard]] policy::Result<policy::Manifest> readManifestPaths(
    const std::vector<std::filesystem::path>& paths);

}  // namespace palisade::files
