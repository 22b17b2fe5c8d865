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

// A large cluster the way teams write policies: per namespace, apps of
// several replicas (pods of an app share labels), a default deny, DNS egress,
// Prometheus scraping, app-to-app rules, one cross-namespace rule and one
// external API. For the scale figures (100,000 pods, 10,000 policies), where
// generateCluster's deliberately random, broad selectors would measure a
// cluster nobody runs.
struct ScaleShape {
  int namespaces = 1000;
  int pods_per_namespace = 100;
  int policies_per_namespace = 10;  // at least 4
  int replicas_per_app = 10;
};
policy::ClusterState generateScaleCluster(const ScaleShape& shape);

}  // namespace palisade::testing
