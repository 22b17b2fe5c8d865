#pragma once

// The compiler: a cluster's namespaces, pods and NetworkPolicies in, the
// dataplane's tables out (policy/dataplane_abi.h explains them). Pure: no
// maps, no BPF; the enforcer writes what this returns. Held to the
// reachability oracle by the differential tests (policy/compiler_test.cpp,
// tests/dataplane/), through the reference lookup in dataplane_lookup.h.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/dataplane_abi.h"
#include "policy/objects.h"
#include "policy/oracle.h"

namespace palisade::policy {

// One generation of every policy-dependent table, keys included.
struct DataplaneTables {
  uint32_t generation = 0;
  std::vector<std::pair<pal_endpoint_key, pal_endpoint>> endpoints;
  std::vector<std::pair<pal_rule_key, pal_rule>> rules;
  std::vector<std::pair<pal_port_range_key, pal_port_ranges>> port_ranges;
  std::vector<std::pair<pal_cidr_key, pal_cidr>> cidrs;
};

// What the ids in the tables stand for: to explain a flow event, label a
// metric, or find what a change touched.
struct DataplaneIndex {
  struct Identity {
    std::string namespace_name;
    Labels labels;
    std::vector<PodRef> pods;
  };
  struct RuleSet {
    Direction direction = Direction::kIngress;
    std::vector<PolicyRef> policies;  // the policies that isolate its pods
  };
  std::map<uint32_t, Identity> identities;
  std::map<uint32_t, RuleSet> rulesets;
  std::map<uint32_t, PodRef> endpoints;  // endpoint id -> pod
  std::vector<RuleRef> rules;            // pal_rule.rule -> the rule it came from
};

struct CompiledCluster {
  DataplaneTables tables;
  DataplaneIndex index;
};

// Compiles `state` into generation `generation`. Pods without an address, and
// hostNetwork pods (whose address is their node's), get no endpoint: to the
// dataplane they are addresses outside the pod network, as to the oracle.
CompiledCluster compileCluster(const ClusterState& state, uint32_t generation);

// 16-byte dataplane form of an address: IPv6 as is, IPv4 as ::ffff:a.b.c.d.
std::array<uint8_t, PAL_ADDR_LEN> dataplaneAddress(const IpAddress& address);

}  // namespace palisade::policy
