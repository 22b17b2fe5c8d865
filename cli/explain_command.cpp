#include <ostream>
#include <string>
#include <variant>

#include "cli/cluster_input.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace palisade::cli {
namespace {

constexpr std::string_view kCommand = "palisadectl explain";

// The pods a mistyped name could have meant: those of the same namespace.
std::string podsOfNamespace(const policy::ReachabilityOracle& oracle,
                            std::string_view namespace_name) {
  std::string names;
  for (const policy::Pod& pod : oracle.state().pods) {
    if (pod.metadata.namespace_name == namespace_name) {
      names += (names.empty() ? "" : ", ") + pod.metadata.name;
    }
  }
  return names.empty() ? "no pods in namespace " + std::string(namespace_name)
                       : "pods in " + std::string(namespace_name) + ": " + names;
}

}  // namespace

int runExplain(const ExplainOptions& options, std::ostream& out, std::ostream& err) {
  auto usageError = [&](const policy::Error& error) {
    err << kCommand << ": " << error.message << "\n";
    return kExitUsage;
  };
  const policy::Result<policy::Endpoint> source = parseEndpoint(options.from, "--from");
  if (!source) {
    return usageError(source.error());
  }
  const policy::Result<policy::Endpoint> destination = parseEndpoint(options.to, "--to");
  if (!destination) {
    return usageError(destination.error());
  }
  const policy::Result<PortAndProtocol> port = parsePortAndProtocol(options.port, "--port");
  if (!port) {
    return usageError(port.error());
  }
  // Exit code 1 means "denied" here, so manifests that cannot be used are a
  // usage error, not a finding.
  std::expected<policy::ClusterState, int> state =
      loadCluster(options.paths, options.onboard, kCommand, kExitUsage, err);
  if (!state) {
    return state.error();
  }

  const policy::ReachabilityOracle oracle(std::move(*state));
  for (const auto& [flag, endpoint] : {std::pair{"--from", &*source}, {"--to", &*destination}}) {
    const auto* pod = std::get_if<policy::PodRef>(endpoint);
    if (pod != nullptr && oracle.findPod(*pod) == nullptr) {
      err << kCommand << ": " << flag << ": pod " << policy::toString(*pod)
          << " is not in the manifests (" << podsOfNamespace(oracle, pod->namespace_name)
          << ")\n";
      return kExitUsage;
    }
  }
  const policy::Flow flow{.source = *source,
                          .destination = *destination,
                          .protocol = port->protocol,
                          .port = port->port,
                          .family = std::nullopt};
  policy::Result<policy::Verdict> verdict = oracle.evaluate(flow);
  if (!verdict) {
    return usageError(verdict.error());
  }
  out << policy::explain(flow, *verdict);
  return verdict->allowed ? kExitOk : kExitFindings;
}

}  // namespace palisade::cli
