// Writes the scale cluster (tests/support's generateScaleCluster: by default
// 100,000 pods and 10,000 policies) as one v1 List on standard output, for
// benchmarks that feed a whole cluster to the enforcer.
//   scale_manifests [NAMESPACES] [PODS_PER_NAMESPACE] [POLICIES_PER_NAMESPACE]

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "policy/json_codec.h"
#include "tests/support/cluster_generator.h"

int main(int argc, char** argv) {
  palisade::testing::ScaleShape shape;
  if (argc > 1) {
    shape.namespaces = std::atoi(argv[1]);
  }
  if (argc > 2) {
    shape.pods_per_namespace = std::atoi(argv[2]);
  }
  if (argc > 3) {
    shape.policies_per_namespace = std::atoi(argv[3]);
  }
  if (shape.namespaces < 1 || shape.pods_per_namespace < 1 || shape.policies_per_namespace < 4) {
    std::fprintf(stderr, "usage: scale_manifests [NAMESPACES] [PODS_PER_NAMESPACE] "
                         "[POLICIES_PER_NAMESPACE >= 4]\n");
    return 2;
  }
  const auto state = palisade::testing::generateScaleCluster(shape);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& ns : state.namespaces) {
    items.push_back(palisade::policy::encodeNamespace(ns));
  }
  for (const auto& pod : state.pods) {
    items.push_back(palisade::policy::encodePod(pod));
  }
  for (const auto& policy : state.policies) {
    items.push_back(palisade::policy::encodeNetworkPolicy(policy));
  }
  std::cout << nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}}
            << "\n";
  return 0;
}
