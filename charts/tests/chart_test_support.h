#pragma once

// Reading the objects of a rendered chart in tests: pod specs, containers,
// their flags and mounts, RBAC grants; and the flags the real binaries have.

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policy/error.h"

namespace palisade::charts {

// spec.template.spec of a Deployment or DaemonSet.
YAML::Node podSpecOf(const YAML::Node& workload);
// The container (or init container, when `init`) named `name`; reports a
// test failure and returns an undefined node when there is none.
YAML::Node containerNamed(const YAML::Node& pod_spec, std::string_view name, bool init = false);
YAML::Node volumeNamed(const YAML::Node& pod_spec, std::string_view name);
// The volume mount of `container` at `path`; undefined when none.
YAML::Node mountAt(const YAML::Node& container, std::string_view path);

// "--name" of every "--name=value" or "--name" argument.
std::vector<std::string> flagNames(const YAML::Node& container);
// The values given to `flag` as "--flag=value", in order.
std::vector<std::string> flagValues(const YAML::Node& container, std::string_view flag);
// Every long option `binary --help` lists.
[[nodiscard]] policy::Result<std::set<std::string>> flagsOf(const std::string& binary);

// "group/resource:verb" for every combination a Role or ClusterRole grants
// (the core group is ""), after checking that no rule uses a wildcard,
// resourceNames or nonResourceURLs (a test failure otherwise).
std::vector<std::string> grants(const YAML::Node& role);

std::string readFile(const std::string& path);

}  // namespace palisade::charts
