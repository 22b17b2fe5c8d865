#pragma once

// The Palisade chart as Helm renders it: runs the real helm binary on
// charts/palisade and parses what it prints, so that the tests assert on the
// objects the kube-apiserver would receive. Not thread-safe (tests are
// single-threaded); each call runs one helm process.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policy/error.h"

namespace palisade::charts {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] a path or looked up in PATH) to completion, never
// through a shell. Fails only when the program cannot be started.
[[nodiscard]] policy::Result<CommandResult> runCommand(const std::vector<std::string>& argv);

// The helm the tests use: $PALISADE_HELM when set, else the one
// tests/e2e/binaries.sh builds and caches (charts/tests/helm.sh decides).
[[nodiscard]] policy::Result<std::string> helmBinary();

// What a helm run is given besides the chart, built up by chaining:
// ChartOptions().inNamespace("security").set("enforcer.enabled=false").
struct ChartOptions {
  std::string release = "palisade";
  std::string namespace_name = "palisade-system";
  // Files under charts/tests/values, or absolute paths.
  std::vector<std::string> values_files;
  std::vector<std::string> set;       // --set KEY=VALUE
  std::vector<std::string> set_json;  // --set-json KEY=JSON
  // --skip-schema-validation: shows what the templates alone enforce.
  bool skip_schema = false;

  ChartOptions& releaseName(std::string name) {
    release = std::move(name);
    return *this;
  }
  ChartOptions& inNamespace(std::string name) {
    namespace_name = std::move(name);
    return *this;
  }
  ChartOptions& valuesFile(std::string file) {
    values_files.push_back(std::move(file));
    return *this;
  }
  ChartOptions& setValue(std::string assignment) {
    set.push_back(std::move(assignment));
    return *this;
  }
  ChartOptions& setJson(std::string assignment) {
    set_json.push_back(std::move(assignment));
    return *this;
  }
  ChartOptions& skipSchema(bool skip = true) {
    skip_schema = skip;
    return *this;
  }
};

// The documents of a `helm template` run, by kind and name.
class Manifests {
 public:
  [[nodiscard]] static policy::Result<Manifests> parse(std::string_view yaml);

  std::optional<YAML::Node> find(std::string_view kind, std::string_view name) const;
  std::vector<YAML::Node> ofKind(std::string_view kind) const;
  // "Kind/name" of every document, in order.
  std::vector<std::string> names() const;
  const std::vector<YAML::Node>& documents() const { return documents_; }

 private:
  std::vector<YAML::Node> documents_;
};

// `helm template` of charts/palisade (the Kubernetes version pinned, so the
// result does not depend on how the helm binary was built).
[[nodiscard]] policy::Result<CommandResult> helmTemplate(const ChartOptions& options);
// helmTemplate, parsed; fails with helm's standard error when helm fails.
[[nodiscard]] policy::Result<Manifests> render(const ChartOptions& options);
// `helm lint --strict` of charts/palisade with these values.
[[nodiscard]] policy::Result<CommandResult> helmLint(const ChartOptions& options);

// The chart's folder (charts/palisade).
std::string chartDir();

// Reading rendered objects: a missing field reads as empty.
std::string text(const YAML::Node& node);
std::vector<std::string> texts(const YAML::Node& sequence);

}  // namespace palisade::charts
