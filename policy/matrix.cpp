#include "policy/matrix.h"

namespace palisade::policy {

std::vector<MatrixEntry> reachabilityMatrix(const ReachabilityOracle& oracle,
                                            const MatrixQuery& query) {
  std::vector<PodRef> pods;
  for (const Pod& pod : oracle.state().pods) {
    pods.push_back(PodRef{pod.metadata.namespace_name, pod.metadata.name});
  }
  std::vector<MatrixEntry> entries;
  entries.reserve(query.protocols.size() * query.ports.size() * pods.size() * pods.size());
  for (Protocol protocol : query.protocols) {
    for (uint16_t port : query.ports) {
      for (const PodRef& from : pods) {
        for (const PodRef& to : pods) {
          const Flow flow{.source = from, .destination = to, .protocol = protocol, .port = port,
                          .family = std::nullopt};
          // Both ends come from the cluster itself, so evaluation cannot fail.
          const bool allowed = oracle.evaluate(flow).value().allowed;
          entries.push_back(MatrixEntry{from, to, protocol, port, allowed});
        }
      }
    }
  }
  return entries;
}

}  // namespace palisade::policy
