#pragma once

// Reachability matrices: the oracle's verdict for every ordered pair of pods,
// for each protocol and port asked for.

#include <cstdint>
#include <vector>

#include "policy/oracle.h"

namespace palisade::policy {

struct MatrixQuery {
  std::vector<Protocol> protocols = {Protocol::kTCP};
  std::vector<uint16_t> ports = {80};
};

struct MatrixEntry {
  PodRef from;
  PodRef to;
  Protocol protocol = Protocol::kTCP;
  uint16_t port = 0;
  bool allowed = false;

  auto operator<=>(const MatrixEntry&) const = default;
};

// Entries ordered by protocol, then port (as in the query), then source and
// destination pod in the order the cluster lists them. A pod paired with
// itself is included.
std::vector<MatrixEntry> reachabilityMatrix(const ReachabilityOracle& oracle,
                                            const MatrixQuery& query);

}  // namespace palisade::policy
