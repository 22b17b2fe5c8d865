#include "charts/tests/helm_chart.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lab/process.h"

namespace palisade::charts {
namespace {

namespace fs = std::filesystem;

// The Kubernetes version of the end-to-end cluster (tests/e2e/go.mod). A helm
// built without its release ldflags reports 1.20, which Chart.yaml's
// kubeVersion refuses.
constexpr std::string_view kKubeVersion = "1.37.0";

const fs::path kChartsDir = fs::path(PALISADE_SOURCE_DIR) / "charts";

std::vector<std::string> chartArguments(const ChartOptions& options) {
  std::vector<std::string> args;
  for (const std::string& file : options.values_files) {
    const fs::path path = fs::path(file).is_absolute() ? fs::path(file)
                                                       : kChartsDir / "tests" / "values" / file;
    args.insert(args.end(), {"--values", path.string()});
  }
  for (const std::string& assignment : options.set) {
    args.insert(args.end(), {"--set", assignment});
  }
  for (const std::string& assignment : options.set_json) {
    args.insert(args.end(), {"--set-json", assignment});
  }
  if (options.skip_schema) {
    args.emplace_back("--skip-schema-validation");
  }
  return args;
}

policy::Result<CommandResult> runHelm(std::vector<std::string> args) {
  auto helm = helmBinary();
  if (!helm) {
    return std::unexpected(helm.error());
  }
  args.insert(args.begin(), *helm);
  return runCommand(args);
}

}  // namespace

policy::Result<CommandResult> runCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return policy::fail("runCommand: no program");
  }
  policy::Result<lab::FinishedProcess> finished = lab::runToCompletion(argv);
  if (!finished) {
    return std::unexpected(finished.error());
  }
  const int status = finished->wait_status;
  return CommandResult{.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                       .out = std::move(finished->output.out),
                       .err = std::move(finished->output.err)};
}

policy::Result<std::string> helmBinary() {
  // Resolved once per process: the script may build helm the first time.
  static const policy::Result<std::string> resolved = []() -> policy::Result<std::string> {
    auto printed = runCommand({(kChartsDir / "tests" / "helm.sh").string()});
    if (!printed) {
      return std::unexpected(printed.error());
    }
    if (printed->exit_code != 0) {
      return policy::fail("charts/tests/helm.sh failed: " + printed->err);
    }
    std::string path = printed->out;
    while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
      path.pop_back();
    }
    if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
      return policy::fail("charts/tests/helm.sh printed \"" + path + "\", not an executable");
    }
    return path;
  }();
  return resolved;
}

policy::Result<Manifests> Manifests::parse(std::string_view yaml) {
  Manifests manifests;
  try {
    for (YAML::Node& document : YAML::LoadAll(std::string(yaml))) {
      if (document.IsMap()) {
        manifests.documents_.push_back(document);
      }
    }
  } catch (const YAML::Exception& error) {
    return policy::fail(std::string("helm printed invalid YAML: ") + error.what());
  }
  return manifests;
}

std::optional<YAML::Node> Manifests::find(std::string_view kind, std::string_view name) const {
  for (const YAML::Node& document : documents_) {
    if (text(document["kind"]) == kind && text(document["metadata"]["name"]) == name) {
      return document;
    }
  }
  return std::nullopt;
}

std::vector<YAML::Node> Manifests::ofKind(std::string_view kind) const {
  std::vector<YAML::Node> found;
  for (const YAML::Node& document : documents_) {
    if (text(document["kind"]) == kind) {
      found.push_back(document);
    }
  }
  return found;
}

std::vector<std::string> Manifests::names() const {
  std::vector<std::string> names;
  for (const YAML::Node& document : documents_) {
    names.push_back(text(document["kind"]) + "/" + text(document["metadata"]["name"]));
  }
  return names;
}

policy::Result<CommandResult> helmTemplate(const ChartOptions& options) {
  std::vector<std::string> args = {"template",       options.release,
                                   chartDir(),       "--namespace",
                                   options.namespace_name, "--kube-version",
                                   std::string(kKubeVersion)};
  std::ranges::move(chartArguments(options), std::back_inserter(args));
  return runHelm(std::move(args));
}

policy::Result<Manifests> render(const ChartOptions& options) {
  auto rendered = helmTemplate(options);
  if (!rendered) {
    return std::unexpected(rendered.error());
  }
  if (rendered->exit_code != 0) {
    return policy::fail("helm template failed: " + rendered->err);
  }
  return Manifests::parse(rendered->out);
}

policy::Result<CommandResult> helmLint(const ChartOptions& options) {
  std::vector<std::string> args = {"lint",        chartDir(),
                                   "--strict",    "--namespace",
                                   options.namespace_name, "--kube-version",
                                   std::string(kKubeVersion)};
  std::ranges::move(chartArguments(options), std::back_inserter(args));
  return runHelm(std::move(args));
}

std::string chartDir() { return (kChartsDir / "palisade").string(); }

std::string text(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsScalar()) {
    return "";
  }
  return node.as<std::string>();
}

std::vector<std::string> texts(const YAML::Node& sequence) {
  std::vector<std::string> values;
  if (!sequence.IsDefined() || !sequence.IsSequence()) {
    return values;
  }
  for (const YAML::Node& item : sequence) {
    values.push_back(text(item));
  }
  return values;
}

}  // namespace palisade::charts
