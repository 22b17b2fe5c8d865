// The per-packet cost of pal_to_pod (what a pod receives) with 0, 1,000 and
// 10,000 policies loaded, measured with BPF_PROG_TEST_RUN (the kernel runs the
// program `kRepeat` times on one packet and reports the mean):
//
// - first packet: the policy path (flow table miss, endpoint lookups, the
//   source's egress and the destination's ingress rule lookups, the flow
//   table write). Every repetition must be a first packet, so the programs
//   are loaded a second time, on the same maps, with idle timeouts of zero:
//   the entry the previous repetition wrote is already stale.
// - established flow: a packet of a flow admitted before (one flow table hit).
//
// The cost of a first packet depends on how far down the lookup order its
// rule is found, so it is measured for several flows the policies admit
// (where both the source's egress and the destination's ingress are isolated,
// when the cluster has such flows) and reported as their median and maximum;
// and for a flow they deny, where every lookup misses (its flow event is
// written until the ring buffer is full, then only attempted).
//
// Clusters come from tests/support/cluster_generator.h (100 namespaces of 10
// pods, with 0, 10 and 100 policies each). Runs in a private mount and network
// namespace (needs root).

#include <linux/pkt_cls.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "enforcer/dataplane.h"
#include "enforcer/dataplane_programs.h"
#include "enforcer/dataplane_testing.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "tests/support/cluster_generator.h"

namespace palisade::enforcer {
namespace {

constexpr int kRepeat = 1'000'000;
constexpr int kRounds = 5;  // the median of these is reported
constexpr uint8_t kTcp = 6;
// 10,000 generated policies compile to 6.7 million rules and a million port
// range keys (one generation): more than the maps' defaults.
constexpr uint32_t kRuleEntries = 1u << 23;
constexpr uint32_t kPortRangeEntries = 1u << 21;
constexpr uint16_t kPorts[] = {80, 443, 5432, 6379, 8080, 9090};

constexpr size_t kFlows = 8;

struct Flow {
  policy::IpAddress source;
  policy::IpAddress destination;
  uint16_t port = 0;
};

struct Flows {
  std::vector<Flow> admitted;
  std::optional<Flow> denied;
  bool both_sides = false;  // the admitted flows have both sides isolated
};

// Flows between pods spread over the cluster (strides prime to its size),
// as the tables judge them where they arrive.
Flows sampleFlows(const policy::ClusterState& state, const policy::DataplaneView& view) {
  std::vector<Flow> isolated;
  std::vector<Flow> other;
  Flows flows;
  const size_t pods = state.pods.size();
  for (size_t i = 0; i < pods * pods && isolated.size() < kFlows; i += 7919) {
    const policy::Pod& from = state.pods[i % pods];
    const policy::Pod& to = state.pods[(i / pods + i * 31) % pods];
    const policy::IpAddress source = policy::IpAddress::parse(from.pod_ip).value();
    const policy::IpAddress destination = policy::IpAddress::parse(to.pod_ip).value();
    if (source == destination) {
      continue;
    }
    const bool both = view.endpoint(source)->egress_ruleset != 0 &&
                      view.endpoint(destination)->ingress_ruleset != 0;
    for (uint16_t port : kPorts) {
      const Flow flow{source, destination, port};
      const policy::PacketVerdict verdict =
          policy::decideReachingPod(view, policy::NodeContext{}, source, destination, kTcp, port);
      if (!verdict.allowed) {
        if (both && !flows.denied) {
          flows.denied = flow;
        }
      } else {
        (both ? isolated : other).push_back(flow);
        break;
      }
    }
  }
  flows.both_sides = !isolated.empty();
  flows.admitted = flows.both_sides ? isolated : other;
  if (flows.admitted.size() > kFlows) {
    flows.admitted.resize(kFlows);
  }
  return flows;
}

double median(std::vector<double> values) {
  std::ranges::sort(values);
  return values[values.size() / 2];
}

policy::Result<double> nsPerPacket(int program, const std::vector<uint8_t>& frame, int rounds,
                                   uint32_t expected = TC_ACT_OK) {
  std::vector<double> durations;
  for (int round = 0; round < rounds; ++round) {
    uint32_t duration = 0;
    const auto verdict = testing::testRun(program, frame, 1, kRepeat, &duration);
    if (!verdict) {
      return std::unexpected(verdict.error());
    }
    if (*verdict != expected) {
      return policy::fail("the benchmark flow got verdict " + std::to_string(*verdict) +
                          " instead of " + std::to_string(expected));
    }
    durations.push_back(duration);
  }
  return median(durations);
}

struct Row {
  int policies = 0;
  size_t pods = 0;
  size_t entries = 0;
  double compile_ms = 0;
  double apply_ms = 0;
  double first_median_ns = 0;
  double first_max_ns = 0;
  std::optional<double> denied_ns;
  double established_ns = 0;
  bool both_sides = false;
};

// The scale cluster (100,000 pods in 1,000 namespaces, written the way teams
// write policies) keeping the policies of its first `policy_namespaces`
// namespaces (10 each): the pods stay the same, only the policies grow.
policy::ClusterState clusterWithPolicies(int policy_namespaces) {
  policy::ClusterState state = palisade::testing::generateScaleCluster(
      palisade::testing::ScaleShape{.namespaces = 1000, .pods_per_namespace = 100,
                                    .policies_per_namespace = 10, .replicas_per_app = 10});
  std::erase_if(state.policies, [&](const policy::NetworkPolicy& policy) {
    const std::string& ns = policy.metadata.namespace_name;
    return std::stoi(ns.substr(ns.find('-') + 1)) >= policy_namespaces;
  });
  return state;
}

policy::Result<Row> measure(int policy_namespaces, const std::filesystem::path& pin_dir) {
  const policy::ClusterState state = clusterWithPolicies(policy_namespaces);
  Row row;
  row.policies = static_cast<int>(state.policies.size());
  row.pods = state.pods.size();

  // Loaded first, so that the maps it creates (and pins) are large enough for
  // the 10,000-policy tables; the Dataplane adopts them.
  auto first_packets = Programs::load(
      pin_dir, ProgramSettings{.rule_entries = kRuleEntries,
                               .port_range_entries = kPortRangeEntries,
                               .tcp_idle_timeout = std::chrono::nanoseconds(0),
                               .other_idle_timeout = std::chrono::nanoseconds(0)});
  if (!first_packets) {
    return std::unexpected(first_packets.error());
  }
  auto dataplane = Dataplane::open(DataplaneOptions{.pin_dir = pin_dir});
  if (!dataplane) {
    return std::unexpected(dataplane.error());
  }
  const auto compile_start = std::chrono::steady_clock::now();
  const policy::CompiledCluster compiled = policy::compileCluster(state, 1);
  const auto apply_start = std::chrono::steady_clock::now();
  if (auto applied = (*dataplane)->apply(compiled.tables); !applied) {
    return std::unexpected(applied.error());
  }
  const auto apply_end = std::chrono::steady_clock::now();
  row.compile_ms = std::chrono::duration<double, std::milli>(apply_start - compile_start).count();
  row.apply_ms = std::chrono::duration<double, std::milli>(apply_end - apply_start).count();
  const policy::DataplaneTables& tables = compiled.tables;
  row.entries = tables.endpoints.size() + tables.rules.size() + tables.port_ranges.size() +
                tables.cidrs.size();

  const policy::DataplaneView view(tables);
  const Flows flows = sampleFlows(state, view);
  if (flows.admitted.empty()) {
    return policy::fail("no admitted flow in the generated cluster");
  }
  row.both_sides = flows.both_sides;
  auto established = Programs::load(pin_dir, ProgramSettings{});
  if (!established) {
    return std::unexpected(established.error());
  }

  std::vector<double> first;
  uint16_t source_port = 40000;
  for (const Flow& flow : flows.admitted) {
    const std::vector<uint8_t> syn =
        testing::PacketBuilder(flow.source, flow.destination).tcp(source_port++, flow.port).frame();
    auto ns = nsPerPacket(first_packets->toPod(), syn, 3);
    if (!ns) {
      return std::unexpected(ns.error());
    }
    first.push_back(*ns);
  }
  row.first_median_ns = median(first);
  row.first_max_ns = *std::ranges::max_element(first);
  if (flows.denied) {
    const std::vector<uint8_t> syn = testing::PacketBuilder(flows.denied->source,
                                                            flows.denied->destination)
                                         .tcp(source_port++, flows.denied->port)
                                         .frame();
    auto ns = nsPerPacket(first_packets->toPod(), syn, 3, TC_ACT_SHOT);
    if (!ns) {
      return std::unexpected(ns.error());
    }
    row.denied_ns = *ns;
  }

  // A flow's first packet, then its packets.
  const Flow& flow = flows.admitted.front();
  const std::vector<uint8_t> ack = testing::PacketBuilder(flow.source, flow.destination)
                                       .tcp(source_port++, flow.port, testing::kTcpAck)
                                       .frame();
  if (auto opened = testing::testRun(established->toPod(), ack, 1); !opened) {
    return std::unexpected(opened.error());
  }
  auto tracked = nsPerPacket(established->toPod(), ack, 5);
  if (!tracked) {
    return std::unexpected(tracked.error());
  }
  row.established_ns = *tracked;
  dataplane->reset();
  if (auto removed = Dataplane::uninstall(pin_dir); !removed) {
    return std::unexpected(removed.error());
  }
  return row;
}

int run() {
  if (auto sandbox = testing::enterSandbox(); !sandbox) {
    std::fprintf(stderr, "bpf_bench: %s\n", sandbox.error().message.c_str());
    return 1;
  }
  std::vector<Row> rows;
  for (int policy_namespaces : {0, 100, 1000}) {
    auto row = measure(policy_namespaces, "/sys/fs/bpf/palisade-bench");
    if (!row) {
      std::fprintf(stderr, "bpf_bench: %s\n", row.error().message.c_str());
      return 1;
    }
    rows.push_back(*row);
  }
  std::printf("pal_to_pod per packet (ns), BPF_PROG_TEST_RUN repeat %d; first packets: median "
              "and maximum over %zu admitted flows\n",
              kRepeat, kFlows);
  std::printf("%8s %6s %13s %10s %9s | %12s %5s %9s | %11s | %11s %5s\n", "policies", "pods",
              "table entries", "compile ms", "apply ms", "first median", "ratio", "first max",
              "first denied", "established", "ratio");
  for (const Row& row : rows) {
    const std::string denied =
        row.denied_ns ? std::to_string(static_cast<int>(*row.denied_ns)) : "-";
    std::printf("%8d %6zu %13zu %10.1f %9.1f | %12.0f %5.2f %9.0f | %11s | %11.0f %5.2f%s\n",
                row.policies, row.pods, row.entries, row.compile_ms, row.apply_ms,
                row.first_median_ns, row.first_median_ns / rows[0].first_median_ns,
                row.first_max_ns, denied.c_str(), row.established_ns,
                row.established_ns / rows[0].established_ns,
                row.policies > 0 && !row.both_sides ? "  (flows isolated on one side only)" : "");
  }
  return 0;
}

}  // namespace
}  // namespace palisade::enforcer

int main() { return palisade::enforcer::run(); }
