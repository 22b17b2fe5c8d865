#include "lab/lab.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lab/netns.h"
#include "lab/process.h"
#include "lab/prober.h"
#include "policy/json_codec.h"

namespace palisade::lab {
namespace {

namespace fs = std::filesystem;
using policy::IpAddress;
using policy::IpFamily;

// Random, so that labs created at the same time (parallel tests) get their
// own names; were one taken all the same, `ip netns add` would refuse it.
std::string newRunId() {
  std::random_device random;
  return fmt::format("{:06x}", random() & 0xffffff);
}

policy::Result<fs::path> makeRunDir(std::string_view run_id) {
  std::string pattern =
      (fs::temp_directory_path() / fmt::format("palisade-lab-{}-XXXXXX", run_id)).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return policy::fail(fmt::format("cannot create {}: {}", pattern, std::strerror(errno)));
  }
  return fs::path(pattern);
}

// Written beside and renamed over, so that a reader sees the old file or the
// new one, never part of one.
policy::Result<void> writeFileAtomically(const fs::path& path, std::string_view text) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return policy::fail(fmt::format("cannot write {}", temporary.string()));
    }
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    return policy::fail(fmt::format("cannot write {}: {}", path.string(), error.message()));
  }
  return {};
}

std::string listOf(nlohmann::json items) {
  return nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}}
             .dump(2) +
         "\n";
}

std::string joined(const auto& values) {
  std::string text;
  for (const auto& value : values) {
    text += (text.empty() ? "" : ",") + value.toString();
  }
  return text;
}

// The end of a log, for error messages: the enforcer's last words are usually
// the reason it failed.
std::string logTail(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "";
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kTail = 2000;
  std::string tail = text.size() > kTail ? "..." + text.substr(text.size() - kTail) : text;
  while (!tail.empty() && tail.back() == '\n') {
    tail.pop_back();
  }
  return tail.empty() ? "" : fmt::format("\n--- {} ---\n{}", path.string(), tail);
}

const IpAddress* ofFamily(const std::vector<IpAddress>& addresses, IpFamily family) {
  const auto it = std::ranges::find_if(
      addresses, [&](const IpAddress& address) { return address.family() == family; });
  return it == addresses.end() ? nullptr : &*it;
}

std::optional<IpFamily> flowFamily(const LabPod& from, const LabPod& to,
                                   std::optional<IpFamily> wanted) {
  const auto both = [&](IpFamily family) {
    return ofFamily(from.ips, family) != nullptr && ofFamily(to.ips, family) != nullptr;
  };
  if (wanted) {
    return both(*wanted) ? wanted : std::nullopt;
  }
  // As the oracle picks the family of a flow between two pods.
  for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    if (both(family)) {
      return family;
    }
  }
  return std::nullopt;
}

// Every server and every probe in flight holds a descriptor; a large cluster
// needs more than the usual soft limit of 1024.
void raiseDescriptorLimit(size_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) {
    return;
  }
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, needed);
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

struct Lab::State {
  LabOptions options;
  Topology topology;
  fs::path run_dir;
  fs::path manifests_dir;
  fs::path pin_dir;
  bool bpffs_mounted = false;
  // Every namespace whose creation was asked for, so that teardown deletes
  // whatever exists of them even when creation failed halfway.
  std::vector<std::string> netns_names;
  std::map<std::string, NetnsHandle, std::less<>> handles;
  ChildProcess enforcer;
  std::chrono::milliseconds enforcer_grace{5'000};
  fs::path enforcer_log;
  std::vector<std::vector<std::string>> cleanup_commands;
  std::set<std::pair<policy::Protocol, uint16_t>> service_ports;
  bool torn_down = false;

  bool cancelled() const { return options.cancel != nullptr && options.cancel->raised(); }

  const NetnsHandle& node() const { return handles.at(topology.node_netns); }

  policy::Result<void> ipBatch(std::string_view netns, const std::string& batch) const {
    if (batch.empty()) {
      return {};
    }
    const std::vector<std::string> argv = {options.ip_program, "-n", std::string(netns), "-batch",
                                           "-"};
    if (policy::Result<ProcessOutput> ran = runProcess(argv, batch); !ran) {
      return policy::fail(fmt::format("{}\ninput:\n{}", ran.error().message, batch));
    }
    return {};
  }

  policy::Result<void> inNode(const std::vector<std::string>& argv, std::string_view input) {
    const NetnsScope scope(node());
    if (!scope.status()) {
      return std::unexpected(scope.status().error());
    }
    if (policy::Result<ProcessOutput> ran = runProcess(argv, input); !ran) {
      return std::unexpected(ran.error());
    }
    return {};
  }

  policy::Result<void> restoreRules(IpFamily family, const std::string& rules) {
    if (rules.empty()) {
      return {};
    }
    const std::string& program =
        family == IpFamily::kIPv4 ? options.iptables_restore : options.ip6tables_restore;
    if (policy::Result<void> done = inNode({program, "-w", "5", "--noflush"}, rules); !done) {
      return policy::fail(fmt::format("{}\ninput:\n{}", done.error().message, rules));
    }
    return {};
  }

  policy::Result<void> writeManifests() const {
    nlohmann::json namespaces = nlohmann::json::array();
    for (const policy::Namespace& ns : topology.cluster.namespaces) {
      namespaces.push_back(policy::encodeNamespace(ns));
    }
    nlohmann::json pods = nlohmann::json::array();
    for (const policy::Pod& pod : topology.cluster.pods) {
      pods.push_back(policy::encodePod(pod));
    }
    for (const auto& [name, items] :
         {std::pair{"namespaces.json", std::move(namespaces)}, {"pods.json", std::move(pods)}}) {
      if (policy::Result<void> written =
              writeFileAtomically(manifests_dir / name, listOf(items));
          !written) {
        return written;
      }
    }
    return writePolicies();
  }

  policy::Result<void> writePolicies() const {
    nlohmann::json policies = nlohmann::json::array();
    for (const policy::NetworkPolicy& policy : topology.cluster.policies) {
      policies.push_back(policy::encodeNetworkPolicy(policy));
    }
    return writeFileAtomically(manifests_dir / "networkpolicies.json", listOf(policies));
  }

  PlaceholderValues placeholders() const {
    return {{"manifests", manifests_dir.string()},
            {"topology", (run_dir / "topology.json").string()},
            {"ready_file", (run_dir / "enforcer.ready").string()},
            {"node_name", std::string(kNodeName)},
            {"node_netns", topology.node_netns},
            {"node_ips", joined(topology.node_ips)},
            {"service_cidrs", joined(topology.service_cidrs)},
            {"pin_dir", pin_dir.string()},
            {"run_dir", run_dir.string()}};
  }

  policy::Result<void> build();
  policy::Result<void> ensureServicePorts(const policy::MatrixQuery& query);
};

policy::Result<void> Lab::State::build() {
  const auto interrupted = [] { return policy::fail("interrupted"); };

  // The namespaces, one command each: a name is recorded for teardown only
  // once this lab has created it, so that a clash with a namespace that
  // already exists never deletes someone else's.
  std::vector<std::string> wanted = {topology.node_netns};
  for (const LabPod& pod : topology.pods) {
    if (!pod.host_network) {
      wanted.push_back(pod.netns);
    }
  }
  for (const std::string& name : wanted) {
    if (cancelled()) {
      return interrupted();
    }
    if (policy::Result<ProcessOutput> created =
            runProcess({options.ip_program, "netns", "add", name});
        !created) {
      return std::unexpected(created.error());
    }
    netns_names.push_back(name);
    policy::Result<NetnsHandle> handle = NetnsHandle::open(name);
    if (!handle) {
      return std::unexpected(handle.error());
    }
    handles.emplace(name, std::move(*handle));
  }

  // Settings, before the links exist (new interfaces take the `default` ones).
  // Duplicate address detection is off: an address under it cannot be used for
  // a second or so, which would slow the first probes down or, past their
  // timeout, fail them.
  const bool ipv6 = topology.node_ips.size() > 1;
  for (const auto& [name, handle] : handles) {
    const NetnsScope scope(handle);
    if (!scope.status()) {
      return std::unexpected(scope.status().error());
    }
    std::vector<std::pair<std::string, std::string_view>> settings;
    if (name == topology.node_netns) {
      settings.emplace_back("net/ipv4/ip_forward", "1");
      // What the topology relies on, whatever a new namespace inherits from
      // the host (net.core.devconf_inherit_init_net): the node answers ARP for
      // its loopback address on every veth, and takes packets from pods whose
      // addresses it routes to through another interface (hairpins).
      for (std::string_view conf : {"all", "default"}) {
        settings.emplace_back(fmt::format("net/ipv4/conf/{}/arp_ignore", conf), "0");
        settings.emplace_back(fmt::format("net/ipv4/conf/{}/rp_filter", conf), "0");
      }
      if (ipv6) {
        settings.emplace_back("net/ipv6/conf/all/forwarding", "1");
      }
    }
    if (ipv6) {
      settings.emplace_back("net/ipv6/conf/all/accept_dad", "0");
      settings.emplace_back("net/ipv6/conf/default/accept_dad", "0");
    }
    for (const auto& [key, value] : settings) {
      if (policy::Result<void> set = writeSysctl(key, value); !set) {
        return policy::fail(fmt::format("in network namespace {}: {}", name, set.error().message));
      }
    }
  }

  if (policy::Result<void> linked = ipBatch(topology.node_netns, nodeLinksBatch(topology));
      !linked) {
    return linked;
  }
  for (const LabPod& pod : topology.pods) {
    if (cancelled()) {
      return interrupted();
    }
    if (pod.host_network) {
      continue;
    }
    if (policy::Result<void> configured = ipBatch(pod.netns, podBatch(topology, pod));
        !configured) {
      return configured;
    }
  }
  if (policy::Result<void> routed = ipBatch(topology.node_netns, nodeRoutesBatch(topology));
      !routed) {
    return routed;
  }
  {
    const NetnsScope scope(node());
    if (!scope.status()) {
      return std::unexpected(scope.status().error());
    }
    for (LabPod& pod : topology.pods) {
      if (!pod.host_network) {
        pod.host_ifindex = static_cast<int>(if_nametoindex(pod.host_interface.c_str()));
      }
    }
  }
  if (topology.via_services) {
    for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
      if (policy::Result<void> restored = restoreRules(family, serviceBaseRules(topology, family));
          !restored) {
        return restored;
      }
    }
  }

  manifests_dir = run_dir / "manifests";
  std::error_code error;
  fs::create_directories(manifests_dir, error);
  if (error) {
    return policy::fail(
        fmt::format("cannot create {}: {}", manifests_dir.string(), error.message()));
  }
  if (policy::Result<void> written = writeManifests(); !written) {
    return written;
  }
  return writeFileAtomically(run_dir / "topology.json", topologyJson(topology).dump(2) + "\n");
}

policy::Result<void> Lab::State::ensureServicePorts(const policy::MatrixQuery& query) {
  for (policy::Protocol protocol : query.protocols) {
    for (uint16_t port : query.ports) {
      if (service_ports.contains({protocol, port})) {
        continue;
      }
      for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
        if (policy::Result<void> restored =
                restoreRules(family, serviceDnatRules(topology, family, protocol, port));
            !restored) {
          return restored;
        }
      }
      service_ports.emplace(protocol, port);
    }
  }
  return {};
}

Lab::Lab(std::unique_ptr<State> state) : state_(std::move(state)) {}

Lab::~Lab() {
  if (!state_) {
    return;
  }
  for (const std::string& problem : teardown()) {
    std::cerr << "palisade lab: teardown: " << problem << "\n";
  }
}

Lab::Lab(Lab&& other) noexcept = default;

Lab& Lab::operator=(Lab&& other) noexcept {
  if (this != &other) {
    if (state_) {
      for (const std::string& problem : teardown()) {
        std::cerr << "palisade lab: teardown: " << problem << "\n";
      }
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

policy::Result<Lab> Lab::create(const policy::ClusterState& cluster, LabOptions options) {
  if (geteuid() != 0) {
    return policy::fail(fmt::format(
        "the lab needs root: it creates network namespaces, veth pairs and iptables rules "
        "(running as uid {})",
        geteuid()));
  }
  const std::string run_id = newRunId();
  policy::Result<Topology> topology = planTopology(cluster, run_id, options.via_services);
  if (!topology) {
    return std::unexpected(topology.error());
  }
  policy::Result<fs::path> run_dir = makeRunDir(run_id);
  if (!run_dir) {
    return std::unexpected(run_dir.error());
  }
  auto state = std::make_unique<State>();
  state->topology = std::move(*topology);
  state->run_dir = std::move(*run_dir);
  // A BPF filesystem of the lab's own, mounted when an enforcer starts: the
  // machine's /sys/fs/bpf may not be mounted, and nothing the lab pins should
  // outlive it.
  state->pin_dir = state->run_dir / "bpf" / "palisade";
  std::optional<EnforcerSpec> enforcer = std::move(options.enforcer);
  state->options = std::move(options);
  // From here on the Lab owns whatever exists, and tears it down on failure.
  Lab lab(std::move(state));
  if (policy::Result<void> built = lab.state_->build(); !built) {
    return std::unexpected(built.error());
  }
  if (enforcer) {
    if (policy::Result<void> started = lab.startEnforcer(*enforcer); !started) {
      return std::unexpected(started.error());
    }
  }
  return lab;
}

const Topology& Lab::topology() const { return state_->topology; }
const fs::path& Lab::runDir() const { return state_->run_dir; }
const fs::path& Lab::manifestsDir() const { return state_->manifests_dir; }

policy::Result<Measurement> Lab::measure(const policy::MatrixQuery& query,
                                         const ProbeOptions& options) {
  State& state = *state_;
  if (state.torn_down) {
    return policy::fail("the lab has been torn down");
  }
  const auto started = std::chrono::steady_clock::now();
  for (policy::Protocol protocol : query.protocols) {
    if (policy::Result<void> supported = checkProtocolSupport(protocol); !supported) {
      return policy::fail(fmt::format("cannot probe {}: {}", policy::toString(protocol),
                                      supported.error().message));
    }
  }
  if (state.topology.via_services) {
    if (policy::Result<void> ensured = state.ensureServicePorts(query); !ensured) {
      return std::unexpected(ensured.error());
    }
  }

  // A server per address, protocol and port; hostNetwork pods share the node's.
  std::vector<ServerSpec> servers;
  std::set<std::tuple<std::string, IpAddress, policy::Protocol, uint16_t>> served;
  for (const LabPod& pod : state.topology.pods) {
    for (const IpAddress& address : pod.ips) {
      for (policy::Protocol protocol : query.protocols) {
        for (uint16_t port : query.ports) {
          if (served.emplace(pod.netns, address, protocol, port).second) {
            servers.push_back(ServerSpec{.netns = &state.handles.at(pod.netns),
                                         .address = address,
                                         .protocol = protocol,
                                         .port = port});
          }
        }
      }
    }
  }

  Measurement measurement;
  std::vector<ProbeSpec> probes;
  std::vector<size_t> entry_of_probe;
  for (policy::Protocol protocol : query.protocols) {
    for (uint16_t port : query.ports) {
      for (const LabPod& from : state.topology.pods) {
        for (const LabPod& to : state.topology.pods) {
          const size_t entry = measurement.entries.size();
          measurement.entries.push_back(
              policy::MatrixEntry{from.ref, to.ref, protocol, port, false});
          const std::optional<IpFamily> family = flowFamily(from, to, options.family);
          const std::string flow = fmt::format("{}/{} {} -> {}", policy::toString(protocol),
                                               port, policy::toString(from.ref),
                                               policy::toString(to.ref));
          if (!family) {
            measurement.anomalies.push_back(
                fmt::format("{}: not probed: the pods have no address family in common", flow));
            continue;
          }
          const IpAddress* destination =
              ofFamily(state.topology.via_services ? to.cluster_ips : to.ips, *family);
          probes.push_back(ProbeSpec{.source = &state.handles.at(from.netns),
                                     .destination = *destination,
                                     .protocol = protocol,
                                     .port = port});
          entry_of_probe.push_back(entry);
        }
      }
    }
  }

  const ProbeSettings settings{.timeout = options.timeout,
                               .attempts = std::max(options.attempts, 1),
                               .max_in_flight = options.max_in_flight};
  raiseDescriptorLimit(servers.size() + settings.max_in_flight + 64);
  policy::Result<std::vector<ProbeResult>> results =
      runProbes(servers, probes, settings, state.options.cancel);
  if (!results) {
    return std::unexpected(results.error());
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    const ProbeResult& result = (*results)[i];
    policy::MatrixEntry& entry = measurement.entries[entry_of_probe[i]];
    entry.allowed = result.reached;
    if (!result.reached && result.failure != "timed out") {
      measurement.anomalies.push_back(fmt::format(
          "{}/{} {} -> {} ({}): {}", policy::toString(entry.protocol), entry.port,
          policy::toString(entry.from), policy::toString(entry.to),
          probes[i].destination.toString(), result.failure));
    }
  }
  measurement.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return measurement;
}

policy::Result<void> Lab::startEnforcer(const EnforcerSpec& spec) {
  State& state = *state_;
  if (state.torn_down) {
    return policy::fail("the lab has been torn down");
  }
  if (state.enforcer.started() && !state.enforcer.poll()) {
    return policy::fail("an enforcer is already running in this lab");
  }
  if (spec.argv.empty()) {
    return policy::fail("the enforcer command is empty");
  }
  if (!state.bpffs_mounted) {
    // The pins go in a folder inside the mount, as under /sys/fs/bpf: an
    // uninstall removes the folder, never the mount point.
    const fs::path mount_point = state.pin_dir.parent_path();
    std::error_code made;
    fs::create_directories(mount_point, made);
    if (made || ::mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0) {
      return policy::fail(fmt::format("cannot mount a BPF filesystem on {}: {}",
                                      mount_point.string(),
                                      made ? made.message() : std::strerror(errno)));
    }
    state.bpffs_mounted = true;
  }
  const PlaceholderValues values = state.placeholders();
  policy::Result<std::vector<std::string>> argv = expandPlaceholders(spec.argv, values);
  if (!argv) {
    return policy::fail(fmt::format("enforcer command: {}", argv.error().message));
  }
  if (!spec.cleanup_argv.empty()) {
    policy::Result<std::vector<std::string>> cleanup =
        expandPlaceholders(spec.cleanup_argv, values);
    if (!cleanup) {
      return policy::fail(fmt::format("enforcer cleanup command: {}", cleanup.error().message));
    }
    if (std::ranges::find(state.cleanup_commands, *cleanup) == state.cleanup_commands.end()) {
      state.cleanup_commands.push_back(std::move(*cleanup));
    }
  }
  const fs::path ready_file = values.at("ready_file");
  std::error_code ignored;
  fs::remove(ready_file, ignored);
  state.enforcer_log = spec.log_file.empty() ? state.run_dir / "enforcer.log" : spec.log_file;
  const int log_fd =
      open(state.enforcer_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return policy::fail(fmt::format("cannot open the enforcer's log {}: {}",
                                    state.enforcer_log.string(), std::strerror(errno)));
  }
  policy::Result<ChildProcess> child = [&]() -> policy::Result<ChildProcess> {
    const NetnsScope scope(state.node());
    if (!scope.status()) {
      return std::unexpected(scope.status().error());
    }
    return ChildProcess::spawn(*argv, log_fd);
  }();
  close(log_fd);
  if (!child) {
    return policy::fail(fmt::format("cannot start the enforcer: {}", child.error().message));
  }
  state.enforcer = std::move(*child);
  state.enforcer_grace = spec.stop_grace;

  if (!mentionsPlaceholder(spec.argv, "ready_file")) {
    return {};
  }
  const auto deadline = std::chrono::steady_clock::now() + spec.ready_timeout;
  while (!fs::exists(ready_file, ignored)) {
    if (const std::optional<int> status = state.enforcer.poll()) {
      return policy::fail(fmt::format("the enforcer {} before it was ready: {}{}",
                                      describeExit(*status), commandLine(*argv),
                                      logTail(state.enforcer_log)));
    }
    if (state.cancelled()) {
      return policy::fail("interrupted");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      state.enforcer.stop(SIGTERM, spec.stop_grace);
      return policy::fail(fmt::format(
          "the enforcer was not ready within {} ms (it did not create {}): {}{}",
          spec.ready_timeout.count(), ready_file.string(), commandLine(*argv),
          logTail(state.enforcer_log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

std::optional<std::string> Lab::stopEnforcer(int signal) {
  State& state = *state_;
  if (!state.enforcer.started()) {
    return std::nullopt;
  }
  const std::optional<int> status = state.enforcer.stop(signal, state.enforcer_grace);
  if (!status) {
    return std::nullopt;
  }
  return describeExit(*status);
}

policy::Result<void> Lab::removeEnforcer() {
  State& state = *state_;
  if (state.enforcer.started()) {
    if (const std::optional<int> status = state.enforcer.stop(SIGTERM, state.enforcer_grace);
        status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) {
      return policy::fail(fmt::format("the enforcer did not exit within {} ms of SIGTERM",
                                      state.enforcer_grace.count()));
    }
  }
  for (const std::vector<std::string>& command : state.cleanup_commands) {
    if (policy::Result<void> cleaned = state.inNode(command, ""); !cleaned) {
      return policy::fail(fmt::format("enforcer cleanup: {}", cleaned.error().message));
    }
  }
  return {};
}

std::optional<pid_t> Lab::enforcerPid() const {
  if (!state_->enforcer.started()) {
    return std::nullopt;
  }
  return state_->enforcer.pid();
}

policy::Result<void> Lab::setPolicies(std::vector<policy::NetworkPolicy> policies) {
  state_->topology.cluster.policies = std::move(policies);
  return state_->writePolicies();
}

std::vector<std::string> Lab::teardown() {
  std::vector<std::string> problems;
  if (!state_ || state_->torn_down) {
    return problems;
  }
  State& state = *state_;
  state.torn_down = true;

  if (state.enforcer.started()) {
    if (const std::optional<int> exited = state.enforcer.poll()) {
      // Whatever was measured after that was measured without enforcement.
      problems.push_back(fmt::format("the enforcer had exited before the end: it {}{}",
                                     describeExit(*exited), logTail(state.enforcer_log)));
    } else if (const std::optional<int> status =
                   state.enforcer.stop(SIGTERM, state.enforcer_grace);
               status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) {
      problems.push_back(fmt::format("the enforcer did not exit within {} ms of SIGTERM and "
                                     "was killed",
                                     state.enforcer_grace.count()));
    }
  }
  if (state.handles.contains(state.topology.node_netns)) {
    for (const std::vector<std::string>& command : state.cleanup_commands) {
      if (policy::Result<void> cleaned = state.inNode(command, ""); !cleaned) {
        problems.push_back(fmt::format("enforcer cleanup: {}", cleaned.error().message));
      }
    }
  }
  // Open handles would keep the namespaces alive after `ip netns del`.
  state.handles.clear();
  std::string batch;
  for (const std::string& name : state.netns_names) {
    std::error_code ignored;
    if (fs::exists(fs::path("/run/netns") / name, ignored)) {
      batch += fmt::format("netns del {}\n", name);
    }
  }
  if (!batch.empty()) {
    if (policy::Result<ProcessOutput> deleted =
            runProcess({state.options.ip_program, "-force", "-batch", "-"}, batch);
        !deleted) {
      problems.push_back(deleted.error().message);
    }
  }
  if (state.bpffs_mounted) {
    // Detached: pins still referenced by a dying enforcer do not block it.
    if (::umount2(state.pin_dir.parent_path().c_str(), MNT_DETACH) != 0) {
      problems.push_back(fmt::format("cannot unmount {}: {}",
                                     state.pin_dir.parent_path().string(), std::strerror(errno)));
    }
    state.bpffs_mounted = false;
  }
  for (const fs::path& path : {state.run_dir}) {
    std::error_code error;
    if (!path.empty() && fs::exists(path, error)) {
      fs::remove_all(path, error);
      if (error) {
        problems.push_back(fmt::format("cannot remove {}: {}", path.string(), error.message()));
      }
    }
  }
  return problems;
}

}  // namespace palisade::lab
