#include "enforcer/enforcer.h"

#include <fstream>
#include <set>

#include "server/log.h"

namespace palisade::enforcer {
namespace {

using server::LogLevel;
using server::logEvent;
using Address = std::array<uint8_t, PAL_ADDR_LEN>;

const std::vector<std::string> kNoLabels;

std::vector<policy::IpAddress> addressesOf(const policy::Pod& pod) {
  std::vector<policy::IpAddress> addresses;
  auto add = [&](const std::string& text) {
    if (auto address = policy::IpAddress::parseSloppy(text);
        address && std::ranges::find(addresses, *address) == addresses.end()) {
      addresses.push_back(*address);
    }
  };
  add(pod.pod_ip);
  std::ranges::for_each(pod.pod_ips, add);
  return addresses;
}

policy::IpAddress addressFromDataplane(const uint8_t (&bytes)[PAL_ADDR_LEN]) {
  std::array<uint8_t, 16> copy{};
  std::copy_n(bytes, PAL_ADDR_LEN, copy.begin());
  return policy::IpAddress::v6(copy);  // maps ::ffff:a.b.c.d back to IPv4
}

std::string_view protocolName(uint8_t protocol) {
  switch (protocol) {
    case 1:
      return "ICMP";
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 58:
      return "ICMPv6";
    case 132:
      return "SCTP";
    default:
      return "other";
  }
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view reasonName(uint8_t reason) {
  switch (reason) {
    case PAL_ALLOW_NOT_IP:
      return "allow_not_ip";
    case PAL_ALLOW_CONNTRACK:
      return "allow_conntrack";
    case PAL_ALLOW_POLICY:
      return "allow_policy";
    case PAL_ALLOW_NODE:
      return "allow_node";
    case PAL_ALLOW_DEFERRED:
      return "allow_deferred";
    case PAL_ALLOW_LINK_LOCAL:
      return "allow_link_local";
    case PAL_DROP_INGRESS_DENIED:
      return "drop_ingress_denied";
    case PAL_DROP_EGRESS_DENIED:
      return "drop_egress_denied";
    case PAL_DROP_SPOOFED:
      return "drop_spoofed";
    case PAL_DROP_MALFORMED:
      return "drop_malformed";
    case PAL_AUDIT_WOULD_DROP:
      return "audit_would_drop";
    default:
      return "unknown";
  }
}

Enforcer::Enforcer(Dataplane& dataplane, ClusterSource& source, InterfaceFinder find_interface,
                   server::metrics::Registry& registry, EnforcerOptions options)
    : dataplane_(dataplane),
      source_(source),
      find_interface_(std::move(find_interface)),
      options_(std::move(options)),
      packets_(registry.counter("palisade_enforcer_packets_total",
                                "Packets the dataplane judged, by reason.", {"reason"})),
      events_(registry.counter("palisade_enforcer_flow_events_total",
                               "Denied (or, in audit mode, would-be denied) flows.",
                               {"verdict", "direction", "reason"})),
      errors_(registry.counter("palisade_enforcer_errors_total",
                               "Cluster states or dataplane updates that failed, by stage.",
                               {"stage"})),
      generation_(registry.gauge("palisade_enforcer_generation",
                                 "The generation of the tables packets are checked against.")),
      attached_interfaces_(registry.gauge("palisade_enforcer_attached_interfaces",
                                          "Pod interfaces with the programs attached.")),
      compile_seconds_(registry.histogram(
          "palisade_enforcer_compile_duration_seconds",
          "Time to compile a cluster state into tables.", {}, server::metrics::latencyBuckets())),
      apply_seconds_(registry.histogram("palisade_enforcer_apply_duration_seconds",
                                        "Time to make new tables live, grace period included.",
                                        {}, server::metrics::latencyBuckets())) {}

policy::Result<void> Enforcer::start() {
  if (auto done = dataplane_.setNode(options_.node); !done) {
    return done;
  }
  if (auto done = dataplane_.setMode(options_.mode); !done) {
    return done;
  }
  // An earlier run's attachments stay enforced; they are reconciled with the
  // first cluster state.
  for (int ifindex : dataplane_.attachedInterfaces()) {
    attached_.emplace(ifindex, std::vector<policy::IpAddress>());
  }
  generation_.with(kNoLabels).set(dataplane_.generation());
  return {};
}

void Enforcer::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    step(std::chrono::milliseconds(200));
  }
}

void Enforcer::step(std::chrono::milliseconds wait) {
  auto next = source_.next(wait);
  if (!next) {
    errors_.with({"source"}).inc();
    logEvent(LogLevel::kError, "cluster source failed; enforcing the last good state",
             {{"reason", next.error().message}});
  } else if (*next) {
    if (auto done = enforce(**next); !done) {
      logEvent(LogLevel::kError, "enforcing the new cluster state failed",
               {{"reason", done.error().message}});
    }
  }
  handleEvents();
  publishCounters();
}

policy::Result<void> Enforcer::enforce(const policy::ClusterState& state) {
  const auto compile_start = std::chrono::steady_clock::now();
  const uint32_t generation = dataplane_.generation() + 1;
  policy::CompiledCluster compiled = policy::compileCluster(state, generation);
  const double compile_seconds = secondsSince(compile_start);
  compile_seconds_.with(kNoLabels).observe(compile_seconds);

  const auto apply_start = std::chrono::steady_clock::now();
  if (auto applied = dataplane_.apply(compiled.tables); !applied) {
    errors_.with({"apply"}).inc();
    return applied;
  }
  const double apply_seconds = secondsSince(apply_start);
  apply_seconds_.with(kNoLabels).observe(apply_seconds);
  generation_.with(kNoLabels).set(generation);
  index_ = std::move(compiled.index);
  pods_by_address_.clear();
  for (const policy::Pod& pod : state.pods) {
    const std::string ns = pod.metadata.namespace_name.empty() ? "default"
                                                               : pod.metadata.namespace_name;
    for (const policy::IpAddress& address : addressesOf(pod)) {
      pods_by_address_[policy::dataplaneAddress(address)] = policy::PodRef{ns, pod.metadata.name};
    }
  }
  logEvent(LogLevel::kInfo, "tables live",
           {{"generation", generation},
            {"pods", state.pods.size()},
            {"policies", state.policies.size()},
            {"endpoints", compiled.tables.endpoints.size()},
            {"rules", compiled.tables.rules.size()},
            {"portRanges", compiled.tables.port_ranges.size()},
            {"cidrs", compiled.tables.cidrs.size()},
            {"compileSeconds", compile_seconds},
            {"applySeconds", apply_seconds}});

  // Attached only now: the tables that isolate a new pod are live before its
  // first packet can reach the programs.
  if (auto attached = attachLocalPods(state); !attached) {
    errors_.with({"attach"}).inc();
    return attached;
  }
  if (!ready_) {
    ready_ = true;
    if (!options_.ready_file.empty()) {
      std::ofstream(options_.ready_file) << generation << "\n";
    }
    logEvent(LogLevel::kInfo, "ready", {{"generation", generation}});
  }
  return {};
}

policy::Result<void> Enforcer::attachLocalPods(const policy::ClusterState& state) {
  std::map<int, std::vector<policy::IpAddress>> wanted;
  for (const policy::Pod& pod : state.pods) {
    if (pod.host_network ||
        (!options_.node_name.empty() && pod.node_name != options_.node_name)) {
      continue;
    }
    const std::vector<policy::IpAddress> addresses = addressesOf(pod);
    if (addresses.empty()) {
      continue;
    }
    auto found = find_interface_(addresses.front());
    if (!found) {
      return std::unexpected(found.error());
    }
    if (*found) {
      wanted[(*found)->ifindex] = addresses;
    }
  }
  for (auto it = attached_.begin(); it != attached_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (auto done = dataplane_.detach(it->first); !done) {
      logEvent(LogLevel::kWarn, "detaching from a gone pod's interface failed",
               {{"ifindex", it->first}, {"reason", done.error().message}});
    }
    it = attached_.erase(it);
  }
  for (const auto& [ifindex, addresses] : wanted) {
    auto current = attached_.find(ifindex);
    if (current != attached_.end() && current->second == addresses) {
      continue;
    }
    if (auto done = dataplane_.setPodAddresses(ifindex, addresses); !done) {
      return done;
    }
    if (auto done = dataplane_.attach(ifindex); !done) {
      return done;
    }
    attached_[ifindex] = addresses;
  }
  attached_interfaces_.with(kNoLabels).set(static_cast<double>(attached_.size()));
  return {};
}

nlohmann::json Enforcer::describe(const pal_flow_event& event) const {
  auto side = [&](const uint8_t (&bytes)[PAL_ADDR_LEN], uint16_t port) {
    const policy::IpAddress address = addressFromDataplane(bytes);
    nlohmann::json out = {{"ip", address.toString()}, {"port", port}};
    Address key{};
    std::copy_n(bytes, PAL_ADDR_LEN, key.begin());
    if (auto pod = pods_by_address_.find(key); pod != pods_by_address_.end()) {
      out["namespace"] = pod->second.namespace_name;
      out["pod"] = pod->second.name;
    }
    return out;
  };
  nlohmann::json policies = nlohmann::json::array();
  if (auto ruleset = index_.rulesets.find(event.ruleset & ~PAL_RULESET_PER_ENDPOINT);
      ruleset != index_.rulesets.end()) {
    for (const policy::PolicyRef& policy : ruleset->second.policies) {
      policies.push_back(toString(policy));
    }
  }
  return {{"verdict", event.verdict == PAL_VERDICT_WOULD_DROP ? "would-drop" : "dropped"},
          {"direction", event.direction == PAL_DIR_EGRESS ? "egress" : "ingress"},
          {"reason", reasonName(event.reason)},
          {"protocol", protocolName(event.protocol)},
          {"source", side(event.src, event.sport)},
          {"destination", side(event.dst, event.dport)},
          {"isolatedBy", std::move(policies)}};
}

void Enforcer::handleEvents() {
  auto handled = dataplane_.pollEvents(std::chrono::milliseconds(0), [&](const pal_flow_event& event) {
    const nlohmann::json fields = describe(event);
    events_
        .with({fields["verdict"].get<std::string>(), fields["direction"].get<std::string>(),
               fields["reason"].get<std::string>()})
        .inc();
    logEvent(LogLevel::kInfo, "flow", fields);
  });
  if (!handled) {
    errors_.with({"events"}).inc();
  }
}

void Enforcer::publishCounters() {
  const auto counters = dataplane_.counters();
  for (size_t reason = 0; reason < counters.size(); ++reason) {
    packets_.with({reasonName(static_cast<uint8_t>(reason))})
        .raiseTo(static_cast<double>(counters[reason]));
  }
}

}  // namespace palisade::enforcer
