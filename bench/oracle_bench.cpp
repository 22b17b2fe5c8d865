// How long the reachability oracle takes on a cluster of realistic shape.
// Run through scripts/bench.sh (make bench); figures, not pass/fail.

#include <benchmark/benchmark.h>

#include "policy/matrix.h"
#include "policy/oracle.h"
#include "tests/support/cluster_generator.h"

namespace palisade {
namespace {

// 20 namespaces x 50 pods = 1,000 pods; 20 x 10 = 200 policies.
testing::ClusterShape issueShape() {
  return testing::ClusterShape{.namespaces = 20, .pods_per_namespace = 50,
                               .policies_per_namespace = 10, .seed = 42};
}

void BM_OracleBuild(benchmark::State& state) {
  const policy::ClusterState cluster = testing::generateCluster(issueShape());
  for (auto _ : state) {
    policy::ReachabilityOracle oracle(cluster);
    benchmark::DoNotOptimize(oracle);
  }
}
BENCHMARK(BM_OracleBuild)->Unit(benchmark::kMillisecond);

// The full matrix: every ordered pair of the 1,000 pods (1e6 flows) on one
// protocol and port.
void BM_FullMatrix(benchmark::State& state) {
  const policy::ReachabilityOracle oracle(testing::generateCluster(issueShape()));
  const policy::MatrixQuery query{.protocols = {policy::Protocol::kTCP}, .ports = {8080}};
  size_t allowed = 0;
  size_t flows = 0;
  for (auto _ : state) {
    const auto entries = policy::reachabilityMatrix(oracle, query);
    flows = entries.size();
    allowed = static_cast<size_t>(std::count_if(entries.begin(), entries.end(),
                                                [](const auto& e) { return e.allowed; }));
    benchmark::DoNotOptimize(allowed);
  }
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["allowed"] = static_cast<double>(allowed);
  state.counters["flows_per_s"] =
      benchmark::Counter(static_cast<double>(flows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FullMatrix)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// One flow at a time, for the per-decision cost.
void BM_SingleFlow(benchmark::State& state) {
  const policy::ReachabilityOracle oracle(testing::generateCluster(issueShape()));
  const auto& pods = oracle.state().pods;
  size_t i = 0;
  for (auto _ : state) {
    const auto& from = pods[i % pods.size()];
    const auto& to = pods[(i * 7919) % pods.size()];
    ++i;
    auto verdict = oracle.evaluate(policy::Flow{
        .source = policy::PodRef{from.metadata.namespace_name, from.metadata.name},
        .destination = policy::PodRef{to.metadata.namespace_name, to.metadata.name},
        .protocol = policy::Protocol::kTCP, .port = 8080, .family = std::nullopt});
    benchmark::DoNotOptimize(verdict);
  }
}
BENCHMARK(BM_SingleFlow);

}  // namespace
}  // namespace palisade

BENCHMARK_MAIN();
