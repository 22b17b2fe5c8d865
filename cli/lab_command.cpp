#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/cluster_input.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/matrix_printer.h"
#include "lab/cancel.h"
#include "lab/enforcer.h"
#include "lab/lab.h"
#include "lab/prober.h"
#include "policy/matrix.h"

namespace palisade::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCommand = "palisadectl lab";
constexpr std::string_view kEnforcerName = "palisade-enforcer";
constexpr std::array kStopSignals = {SIGINT, SIGTERM, SIGHUP};

// What the signal handler reaches: set only while a StopSignals is alive.
std::atomic<lab::CancelToken*> g_cancel{nullptr};
volatile sig_atomic_t g_signal = 0;

static_assert(std::atomic<lab::CancelToken*>::is_always_lock_free,
              "the signal handler reads it, so it must be lock-free");

extern "C" void onStopSignal(int signal) {
  g_signal = signal;
  if (lab::CancelToken* cancel = g_cancel.load()) {
    cancel->raise();
  }
}

// Turns SIGINT, SIGTERM and SIGHUP into a cancellation of the lab for its
// lifetime, so that the lab unwinds and tears down as on any other exit, and
// puts the previous handlers back on destruction. SA_RESETHAND: a second
// signal gets the default action, for a user who would rather leave the mess
// than wait.
class StopSignals {
 public:
  explicit StopSignals(lab::CancelToken& cancel) {
    g_signal = 0;
    g_cancel.store(&cancel);
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < kStopSignals.size(); ++i) {
      sigaction(kStopSignals[i], &action, &previous_[i]);
    }
  }
  ~StopSignals() {
    for (size_t i = 0; i < kStopSignals.size(); ++i) {
      sigaction(kStopSignals[i], &previous_[i], nullptr);
    }
    g_cancel.store(nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int received() const { return g_signal; }

 private:
  std::array<struct sigaction, kStopSignals.size()> previous_{};
};

std::string protocolsText(const std::vector<policy::Protocol>& protocols) {
  std::string text;
  for (policy::Protocol protocol : protocols) {
    text += (text.empty() ? "" : ", ") + std::string(policy::toString(protocol));
  }
  return text;
}

std::string portsText(const std::vector<uint16_t>& ports) {
  std::string text;
  for (uint16_t port : ports) {
    text += (text.empty() ? "" : ", ") + std::to_string(port);
  }
  return text;
}

template <class T>
std::string joined(const std::vector<T>& values) {
  std::string text;
  for (const T& value : values) {
    text += (text.empty() ? "" : ", ") + value.toString();
  }
  return text;
}

// The enforcer to run, or nullopt for none; a usage error message when there
// is none to run and none was declined.
std::expected<std::optional<lab::EnforcerSpec>, std::string> enforcerFor(
    const LabOptions& options) {
  if (options.no_enforcer) {
    return std::nullopt;
  }
  std::string program = options.enforcer;
  if (program.empty()) {
    fs::path directory = options.program_dir;
    if (directory.empty()) {
      std::error_code error;
      directory = fs::read_symlink("/proc/self/exe", error).parent_path();
    }
    const fs::path candidate = directory / kEnforcerName;
    if (access(candidate.c_str(), X_OK) != 0) {
      return std::unexpected(fmt::format(
          "no enforcer to run: {} is not beside palisadectl ({}); give --enforcer PATH, or "
          "--no-enforcer to measure the cluster without enforcement",
          kEnforcerName, candidate.string()));
    }
    program = candidate.string();
  } else if (program.find('/') != std::string::npos && access(program.c_str(), X_OK) != 0) {
    return std::unexpected(fmt::format("--enforcer: {} is not an executable file", program));
  }
  lab::EnforcerSpec spec;
  spec.argv = {program};
  const std::vector<std::string>& args =
      options.enforcer_args.empty() ? lab::kDefaultEnforcerArgs : options.enforcer_args;
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  if (options.enforcer_args.empty() && fs::path(program).filename() == kEnforcerName) {
    // What an operator runs to remove Palisade from a node.
    spec.cleanup_argv = {program, "--uninstall", "--pin-dir", "{pin_dir}"};
  }
  spec.log_file = options.enforcer_log;
  return spec;
}

// "TCP/8080 shop-prod/frontend -> shop-prod/database: measured allowed, the oracle denies".
std::vector<std::string> differences(const std::vector<policy::MatrixEntry>& measured,
                                     const std::vector<policy::MatrixEntry>& expected) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < measured.size() && i < expected.size(); ++i) {
    if (measured[i].allowed != expected[i].allowed) {
      lines.push_back(fmt::format("{}/{} {} -> {}: measured {}, the oracle {}",
                                  policy::toString(measured[i].protocol), measured[i].port,
                                  policy::toString(measured[i].from),
                                  policy::toString(measured[i].to),
                                  measured[i].allowed ? "allowed" : "denied",
                                  expected[i].allowed ? "allows" : "denies"));
    }
  }
  return lines;
}

}  // namespace

int runLab(const LabOptions& options, std::ostream& out, std::ostream& err) {
  policy::Result<policy::MatrixQuery> query =
      parseMatrixFlags(options.output, options.ports, options.protocols);
  if (!query) {
    err << kCommand << ": " << query.error().message << "\n";
    return kExitUsage;
  }
  for (policy::Protocol protocol : query->protocols) {
    if (policy::Result<void> supported = lab::checkProtocolSupport(protocol); !supported) {
      err << kCommand << ": --protocols: " << policy::toString(protocol)
          << " cannot be probed: " << supported.error().message << "\n";
      return kExitUsage;
    }
  }
  if (options.no_enforcer && (!options.enforcer.empty() || !options.enforcer_args.empty())) {
    err << kCommand << ": --no-enforcer excludes --enforcer and enforcer arguments\n";
    return kExitUsage;
  }
  if (geteuid() != 0) {
    err << kCommand << ": must run as root: the lab creates network namespaces, veth pairs "
        << "and iptables rules\n";
    return kExitUsage;
  }
  std::expected<policy::ClusterState, int> cluster =
      loadCluster(options.paths, options.onboard, kCommand, kExitFindings, err);
  if (!cluster) {
    return cluster.error();
  }
  std::expected<std::optional<lab::EnforcerSpec>, std::string> enforcer = enforcerFor(options);
  if (!enforcer) {
    err << kCommand << ": " << enforcer.error() << "\n";
    return kExitUsage;
  }

  const std::string enforcer_program = *enforcer ? (**enforcer).argv.front() : "";

  lab::CancelToken cancel;
  const StopSignals signals(cancel);
  const auto interrupted = [&] {
    err << kCommand << ": interrupted by signal " << signals.received()
        << "; the lab has been torn down\n";
    return 128 + signals.received();
  };
  lab::LabOptions lab_options;
  lab_options.via_services = options.via_services;
  lab_options.enforcer = std::move(*enforcer);
  lab_options.cancel = &cancel;
  policy::Result<lab::Lab> lab = lab::Lab::create(*cluster, std::move(lab_options));
  if (!lab) {
    if (cancel.raised()) {
      return interrupted();
    }
    err << kCommand << ": " << lab.error().message << "\n";
    return kExitLabFailed;
  }
  const lab::Topology& topology = lab->topology();
  err << fmt::format("{}: {} pods in network namespaces {}-*, node {} (Services {}), "
                     "enforcer: {}\n",
                     kCommand, topology.pods.size(),
                     topology.node_netns.substr(0, topology.node_netns.rfind('-')),
                     joined(topology.node_ips), joined(topology.service_cidrs),
                     lab->enforcerPid()
                         ? fmt::format("{} (pid {})", enforcer_program, *lab->enforcerPid())
                         : "none");

  policy::Result<lab::Measurement> measurement = lab->measure(*query);
  std::vector<std::string> problems = lab->teardown();
  for (const std::string& problem : problems) {
    err << kCommand << ": teardown: " << problem << "\n";
  }
  if (cancel.raised()) {
    return interrupted();
  }
  if (!measurement) {
    err << kCommand << ": " << measurement.error().message << "\n";
    return kExitLabFailed;
  }
  err << fmt::format("{}: {} probes ({} on {}{}) in {} ms\n", kCommand,
                     measurement->entries.size(), protocolsText(query->protocols),
                     portsText(query->ports),
                     options.via_services ? ", through Services" : "",
                     measurement->duration.count());
  for (const std::string& anomaly : measurement->anomalies) {
    err << kCommand << ": " << anomaly << "\n";
  }
  if (options.output == "json") {
    printMatrixJson(measurement->entries, out);
  } else {
    printMatrixTable(podRefs(lab->cluster()), measurement->entries, options.color, out);
  }
  if (!problems.empty()) {
    return kExitLabFailed;
  }
  if (options.check) {
    const std::vector<std::string> found = differences(
        measurement->entries,
        policy::reachabilityMatrix(policy::ReachabilityOracle(lab->cluster()), *query));
    for (const std::string& line : found) {
      err << kCommand << ": differs from the oracle: " << line << "\n";
    }
    if (!found.empty()) {
      err << kCommand << ": " << found.size() << " of " << measurement->entries.size()
          << " flows differ from the oracle\n";
      return kExitFindings;
    }
  }
  return kExitOk;
}

}  // namespace palisade::cli
