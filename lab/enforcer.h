#pragma once

// The enforcement hook: how the lab runs an enforcer (palisade-enforcer, or
// anything else) on its node. The command is a template: the lab fills in the
// placeholders below when it starts it, so an enforcer plugs in by its flags
// alone, without a change here.
//
//   {manifests}      folder of the cluster's manifests as the lab built it
//                    (namespaces.json, pods.json, networkpolicies.json: v1 Lists,
//                    pods with the addresses, nodeName and hostIP assigned)
//   {topology}       topology.json: node, Service ranges, and for each pod its
//                    namespace, host-side interface (name and ifindex) and addresses
//   {ready_file}     a path the enforcer creates once it enforces; when the
//                    command mentions it, the lab waits for it before probing
//   {node_name}      the name of the node every pod runs on (spec.nodeName)
//   {node_netns}     the node's network namespace, which the enforcer runs in
//   {node_ips}       the node's addresses, comma-separated (IPv4 first)
//   {service_cidrs}  the Service ranges, comma-separated (IPv4 first)
//   {pin_dir}        a folder in a BPF filesystem mounted for this lab alone
//                    (<run dir>/bpf/palisade),
//                    removed at teardown
//   {run_dir}        the lab's private temporary folder, removed at teardown

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/error.h"

namespace palisade::lab {

// The names the lab fills in; any other {name} in a template is an error.
inline constexpr std::string_view kPlaceholders[] = {
    "manifests", "topology", "ready_file", "node_name", "node_netns",
    "node_ips",  "service_cidrs", "pin_dir", "run_dir"};

// palisade-enforcer's arguments in the lab: what `palisadectl lab` passes when
// it is given no other.
inline const std::vector<std::string> kDefaultEnforcerArgs = {
    "--manifests",  "{manifests}",  "--node-name",     "{node_name}",
    "--node-ips",   "{node_ips}",   "--service-cidrs", "{service_cidrs}",
    "--pin-dir",    "{pin_dir}",    "--ready-file",    "{ready_file}",
    "--metrics-addr", ""};

struct EnforcerSpec {
  // The program (looked up in PATH when it has no slash) and its arguments,
  // with placeholders. It runs as a child of the lab, in the node's network
  // namespace but the caller's mount namespace (/sys/class/net is not the
  // node's: find interfaces by netlink or ioctl).
  std::vector<std::string> argv;
  // Run in the node's namespace after the enforcer has stopped at teardown
  // (`palisade-enforcer --uninstall ...`); empty for none. A failure is
  // reported, and teardown goes on.
  std::vector<std::string> cleanup_argv;
  // How long to wait for {ready_file}.
  std::chrono::milliseconds ready_timeout{30'000};
  // How long it has to exit after SIGTERM before SIGKILL.
  std::chrono::milliseconds stop_grace{5'000};
  // Where its standard output and error are appended; empty: enforcer.log in
  // the run folder, which teardown deletes (its end is quoted in errors).
  std::filesystem::path log_file;
};

using PlaceholderValues = std::map<std::string, std::string, std::less<>>;

// Replaces every {name} in every argument by its value. Fails on a name that
// has no value, naming the argument, so that a typo never reaches the enforcer
// as a literal.
[[nodiscard]] policy::Result<std::vector<std::string>> expandPlaceholders(
    const std::vector<std::string>& argv, const PlaceholderValues& values);

// Whether some argument mentions {name}.
bool mentionsPlaceholder(const std::vector<std::string>& argv, std::string_view name);

}  // namespace palisade::lab
