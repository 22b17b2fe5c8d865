#pragma once

// Random but reproducible clusters for benchmarks and differential tests:
// namespaces with team/env labels, pods with app/tier labels, addresses and
// named container ports, and policies drawn from the shapes real clusters use
// (default deny, pod and namespace selectors alone and combined, ipBlock with
// except, numeric and named ports, port ranges, both policy types).

#include <cstdint>

#include "policy/oracle.h"

namespace palisade::testing {

struct ClusterShape {
  int namespaces = 20;
  int pods_per_namespace = 50;
  int policies_per_namespace = 10;
  uint32_t seed = 1;
};

// The same shape and seed always give the same cluster.
policy::ClusterState generateCluster(const ClusterShape& shape);

}  // namespace palisade::testing
