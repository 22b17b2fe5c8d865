// Compile time and table sizes at scale: 100,000 pods and 10,000 policies
// (1,000 namespaces x 100 pods x 10 policies, tests/support's scale cluster),
// and smaller clusters for the trend. Figures, not a test.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "policy/compiler.h"
#include "tests/support/cluster_generator.h"

namespace {

using palisade::policy::CompiledCluster;
using palisade::policy::compileCluster;
using palisade::testing::ScaleShape;

// Bytes a kernel hash map spends per element beyond key and value (struct
// htab_elem on 64-bit: list node, hash, padding); LPM trie nodes similarly.
constexpr size_t kHashElementOverhead = 48;
constexpr size_t kLpmNodeOverhead = 48;

size_t roundUp8(size_t n) { return (n + 7) / 8 * 8; }

template <class Entries>
size_t hashBytes(const Entries& entries) {
  using Entry = typename Entries::value_type;
  return entries.size() * (kHashElementOverhead + roundUp8(sizeof(typename Entry::first_type)) +
                           roundUp8(sizeof(typename Entry::second_type)));
}

void measure(const ScaleShape& shape) {
  const auto state = palisade::testing::generateScaleCluster(shape);
  std::vector<double> seconds;
  CompiledCluster compiled;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    compiled = compileCluster(state, 1);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const auto& tables = compiled.tables;
  const size_t bytes = hashBytes(tables.endpoints) + hashBytes(tables.rules) +
                       hashBytes(tables.port_ranges) +
                       tables.cidrs.size() * (kLpmNodeOverhead + sizeof(pal_cidr_key) +
                                              sizeof(pal_cidr));
  std::printf("%7zu pods %6zu policies: compile %7.3f s (median of 3) | identities %6zu rule sets %6zu"
              " | entries: endpoints %7zu rules %8zu ranges %5zu cidrs %6zu | ~%.1f MiB per generation\n",
              state.pods.size(), state.policies.size(), seconds[1],
              compiled.index.identities.size(), compiled.index.rulesets.size(),
              tables.endpoints.size(), tables.rules.size(), tables.port_ranges.size(),
              tables.cidrs.size(), static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

int main() {
  std::printf("Compiling generated clusters (median of 3 runs); map memory estimated as entries x "
              "(key + value + %zu bytes of kernel element overhead)\n",
              kHashElementOverhead);
  measure(ScaleShape{.namespaces = 10, .pods_per_namespace = 100, .policies_per_namespace = 10,
                     .replicas_per_app = 10});
  measure(ScaleShape{.namespaces = 100, .pods_per_namespace = 100, .policies_per_namespace = 10,
                     .replicas_per_app = 10});
  measure(ScaleShape{.namespaces = 1000, .pods_per_namespace = 100, .policies_per_namespace = 10,
                     .replicas_per_app = 10});
  return 0;
}
