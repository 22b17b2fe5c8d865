// palisade-enforcer: parses flags and wires the cluster source, the BPF
// dataplane, the control loop and the metrics endpoint. All logic lives in
// the libraries the tests link.

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "enforcer/api_server_source.h"
#include "enforcer/cluster_source.h"
#include "enforcer/dataplane.h"
#include "enforcer/enforcer.h"
#include "enforcer/metrics_endpoint.h"
#include "enforcer/pod_interfaces.h"
#include "kube/kubeconfig.h"
#include "server/log.h"

namespace {

using namespace palisade;
using server::LogLevel;
using server::logEvent;

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop.store(true); }

struct Options {
  std::string manifests;
  std::string kubeconfig;
  bool in_cluster = false;
  std::string pin_dir = "/sys/fs/bpf/palisade";
  std::string mode = "enforce";
  std::vector<std::string> node_ips;
  std::vector<std::string> service_cidrs;
  std::string node_name;
  std::string metrics_addr = "127.0.0.1:9464";
  std::string ready_file;
  enforcer::DataplaneOptions capacities;  // its pin_dir is --pin-dir's, set in run()
  bool uninstall = false;
};

std::optional<std::pair<std::string, uint16_t>> splitAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) {
      return std::nullopt;
    }
    return std::pair{host, static_cast<uint16_t>(port)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int run(const Options& options) {
  if (options.uninstall) {
    if (auto done = enforcer::Dataplane::uninstall(options.pin_dir); !done) {
      std::cerr << "palisade-enforcer --uninstall: " << done.error().message << "\n";
      return 1;
    }
    logEvent(LogLevel::kInfo, "uninstalled", {{"pinDir", options.pin_dir}});
    return 0;
  }
  const int sources = (options.manifests.empty() ? 0 : 1) + (options.kubeconfig.empty() ? 0 : 1) +
                      (options.in_cluster ? 1 : 0);
  if (sources != 1) {
    std::cerr << "palisade-enforcer: give exactly one source of cluster state: --in-cluster, "
                 "--kubeconfig FILE or --manifests DIR (or --uninstall)\n";
    return 2;
  }
  enforcer::EnforcerOptions enforcer_options;
  if (options.mode == "enforce") {
    enforcer_options.mode = PAL_MODE_ENFORCE;
  } else if (options.mode == "audit") {
    enforcer_options.mode = PAL_MODE_AUDIT;
  } else {
    std::cerr << "palisade-enforcer: --mode: expected enforce or audit, got \"" << options.mode
              << "\"\n";
    return 2;
  }
  for (const std::string& text : options.node_ips) {
    auto address = policy::IpAddress::parse(text);
    if (!address) {
      std::cerr << "palisade-enforcer: --node-ip: \"" << text << "\" is not an IP address\n";
      return 2;
    }
    enforcer_options.node.node_addresses.push_back(*address);
  }
  for (const std::string& text : options.service_cidrs) {
    auto cidr = policy::Cidr::parse(text);
    if (!cidr) {
      std::cerr << "palisade-enforcer: --service-cidr: \"" << text << "\" is not a CIDR\n";
      return 2;
    }
    enforcer_options.node.service_cidrs.push_back(*cidr);
  }
  enforcer_options.node_name = options.node_name;
  enforcer_options.ready_file = options.ready_file;

  // Before the dataplane: a configuration that cannot work is reported
  // without touching the node; the watches list while the programs load.
  std::unique_ptr<enforcer::ClusterSource> source;
  std::string source_name;
  if (!options.manifests.empty()) {
    source = std::make_unique<enforcer::ManifestFolderSource>(options.manifests);
    source_name = "manifests " + options.manifests;
  } else {
    auto config = options.in_cluster ? kube::loadInClusterConfig()
                                     : kube::loadKubeconfig(options.kubeconfig);
    if (!config) {
      std::cerr << "palisade-enforcer: " << config.error().message << "\n";
      return 1;
    }
    const std::string server = config->server;
    auto api = enforcer::ApiServerSource::connect(*std::move(config));
    if (!api) {
      std::cerr << "palisade-enforcer: " << api.error().message << "\n";
      return 1;
    }
    source_name = (*api)->origin() + " (" + server + ")";
    source = *std::move(api);
    if (options.node_name.empty()) {
      logEvent(LogLevel::kWarn,
               "no --node-name: every pod of the cluster is looked up in this node's routes "
               "on every update");
    }
  }

  server::metrics::Registry registry;
  enforcer::MetricsEndpoint metrics(registry);
  // "--metrics-addr=" cannot say empty: CLI11 reads it as the flag alone.
  const bool serve_metrics = !options.metrics_addr.empty() && options.metrics_addr != "off";
  if (serve_metrics) {
    const auto address = splitAddress(options.metrics_addr);
    if (!address) {
      std::cerr << "palisade-enforcer: --metrics-addr: expected ADDRESS:PORT\n";
      return 2;
    }
    if (auto started = metrics.start(address->first, address->second); !started) {
      std::cerr << "palisade-enforcer: " << started.error().message << "\n";
      return 1;
    }
  }

  enforcer::DataplaneOptions dataplane_options = options.capacities;
  dataplane_options.pin_dir = options.pin_dir;
  auto dataplane = enforcer::Dataplane::open(dataplane_options);
  if (!dataplane) {
    std::cerr << "palisade-enforcer: " << dataplane.error().message << "\n";
    return 1;
  }
  enforcer::Enforcer control(**dataplane, *source, enforcer::podInterfaceFor, registry,
                             enforcer_options);
  if (auto started = control.start(); !started) {
    std::cerr << "palisade-enforcer: " << started.error().message << "\n";
    return 1;
  }
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  logEvent(LogLevel::kInfo, "started",
           {{"source", source_name},
            {"pinDir", options.pin_dir},
            {"mode", options.mode},
            {"metricsPort", serve_metrics ? metrics.port() : 0}});
  control.run(g_stop);
  // The programs stay attached and the maps pinned: enforcement goes on
  // until a new daemon takes over or --uninstall removes it.
  logEvent(LogLevel::kInfo, "stopped; the dataplane keeps enforcing the last tables");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"palisade-enforcer: enforces NetworkPolicies in the node's dataplane with eBPF "
               "programs on each local pod's interface."};
  Options options;
  app.add_flag("--in-cluster", options.in_cluster,
               "Watch namespaces, pods and NetworkPolicies on the kube-apiserver, as the pod's "
               "service account");
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Watch them on the kube-apiserver this kubeconfig names (its current context)")
      ->check(CLI::ExistingFile);
  app.add_option("--manifests", options.manifests,
                 "Enforce a folder of namespace, pod and NetworkPolicy manifests instead; "
                 "re-read when it changes");
  app.add_option("--pin-dir", options.pin_dir, "Where the BPF maps are pinned")
      ->capture_default_str();
  app.add_option("--mode", options.mode,
                 "enforce: drop what policies deny; audit: drop nothing, report what would be")
      ->capture_default_str();
  app.add_option("--node-ips,--node-ip", options.node_ips,
                 "This node's addresses (comma-separated or repeated): traffic between them "
                 "and local pods is always allowed")
      ->delimiter(',');
  app.add_option("--service-cidrs,--service-cidr", options.service_cidrs,
                 "Service ClusterIP ranges (comma-separated or repeated): checked after DNAT, "
                 "where they arrive")
      ->delimiter(',');
  app.add_option("--node-name,--node", options.node_name,
                 "Attach only to pods scheduled on this node (spec.nodeName)");
  app.add_option("--metrics-addr", options.metrics_addr,
                 "ADDRESS:PORT for /metrics over HTTP; off (or an empty argument) disables it")
      ->capture_default_str();
  app.add_option("--ready-file", options.ready_file,
                 "Created once the first cluster state is enforced");
  // Map capacities. The policy maps hold two generations during an update;
  // each entry, and each slot of a hash map's bucket array, costs kernel
  // memory on every node (docs/enforcer.md).
  struct CapacityFlag {
    const char* name;
    uint32_t enforcer::DataplaneOptions::*field;
    const char* help;
  };
  using Options = enforcer::DataplaneOptions;
  for (const auto& [name, field, help] : {
           CapacityFlag{"--conntrack-entries", &Options::conntrack_entries,
                        "Flow table capacity (two entries per flow)"},
           CapacityFlag{"--max-endpoints", &Options::endpoint_entries,
                        "Capacity of pal_endpoints: pod addresses of the cluster, twice over"},
           CapacityFlag{"--max-rules", &Options::rule_entries,
                        "Capacity of pal_rules: compiled rule keys, twice over"},
           CapacityFlag{"--max-port-ranges", &Options::port_range_entries,
                        "Capacity of pal_port_ranges: endPort rule keys, twice over"},
           CapacityFlag{"--max-cidrs", &Options::cidr_entries,
                        "Capacity of pal_cidrs: ipBlock prefixes, twice over"},
       }) {
    app.add_option(name, options.capacities.*field, help)
        ->check(CLI::Range(1024u, 1u << 30))
        ->capture_default_str();
  }
  app.add_flag("--uninstall", options.uninstall,
               "Detach from every interface and remove the pinned maps, then exit");
  CLI11_PARSE(app, argc, argv);
  return run(options);
}
