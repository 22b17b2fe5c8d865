#pragma once

// The BPF side of palisade-enforcer: the programs, their maps, the pins under
// /sys/fs/bpf and the tc attachments. Everything the kernel holds outlives the
// process: maps are pinned and programs stay attached, so killing the daemon
// (even with SIGKILL) leaves enforcement in place, and a restarted daemon
// adopts the pinned maps and replaces the attached programs atomically.
//
// Not thread-safe: one owner (the daemon's control loop) drives it.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "policy/dataplane_abi.h"
#include "policy/compiler.h"
#include "policy/dataplane_lookup.h"
#include "policy/error.h"

namespace palisade::enforcer {

struct DataplaneOptions {
  // Where maps are pinned; one enforcer per directory (the lab uses its own).
  std::filesystem::path pin_dir = "/sys/fs/bpf/palisade";
  // Capacities, in entries. The policy maps hold the live generation and the
  // next one together during an update; a map already pinned keeps the size
  // it was created with. Their kernel memory: docs/enforcer.md.
  uint32_t conntrack_entries = PAL_DEFAULT_CONNTRACK;  // the flow table (LRU)
  uint32_t endpoint_entries = PAL_MAX_ENDPOINTS;       // pods' addresses
  uint32_t rule_entries = PAL_MAX_RULES;
  uint32_t port_range_entries = PAL_MAX_PORT_RANGE_KEYS;
  uint32_t cidr_entries = PAL_MAX_CIDRS;
};

class Dataplane {
 public:
  // Loads the programs and creates or adopts the maps pinned under
  // options.pin_dir. Adopted maps keep their contents (the live generation
  // included), so enforcement continues across a restart.
  [[nodiscard]] static policy::Result<std::unique_ptr<Dataplane>> open(
      const DataplaneOptions& options);

  // Detaches the programs from every interface this pin directory's
  // enforcer attached to and removes the pins. Works without a running
  // daemon (`palisade-enforcer --uninstall`).
  [[nodiscard]] static policy::Result<void> uninstall(const std::filesystem::path& pin_dir);

  virtual ~Dataplane() = default;

  // The generation packets are checked against now (0 before any apply()).
  virtual uint32_t generation() const = 0;

  // Writes `tables` (their generation must be generation() + 1), makes them
  // live with one write of pal_config.generation, waits for an RCU grace
  // period so that no packet still reads the old generation, then deletes it.
  // On failure the live generation is untouched and what was written of the
  // new one is removed.
  [[nodiscard]] virtual policy::Result<void> apply(const policy::DataplaneTables& tables) = 0;

  // This node's addresses and the Service ClusterIP ranges.
  [[nodiscard]] virtual policy::Result<void> setNode(const policy::NodeContext& node) = 0;

  [[nodiscard]] virtual policy::Result<void> setMode(pal_mode mode) = 0;

  // The addresses of the pod behind `ifindex`: its packets must come from
  // them (anti-spoofing). Set before attach().
  [[nodiscard]] virtual policy::Result<void> setPodAddresses(
      int ifindex, const std::vector<policy::IpAddress>& addresses) = 0;

  // Attaches the programs to the host side of a pod's interface: tc ingress
  // (what the pod sends) and tc egress (what it receives); replaces programs
  // an earlier run attached, without a gap.
  [[nodiscard]] virtual policy::Result<void> attach(int ifindex) = 0;
  // Detaches them and forgets the pod's addresses.
  [[nodiscard]] virtual policy::Result<void> detach(int ifindex) = 0;
  // The interfaces attached, as recorded in the pins (survives restarts).
  virtual std::vector<int> attachedInterfaces() const = 0;

  // Calls `sink` for each flow event waiting in the ring buffer, waiting at
  // most `timeout` for the first one; returns how many were handled.
  [[nodiscard]] virtual policy::Result<int> pollEvents(
      std::chrono::milliseconds timeout,
      const std::function<void(const pal_flow_event&)>& sink) = 0;

  // Packets by reason (enum pal_reason), summed over CPUs.
  virtual std::array<uint64_t, PAL_REASON_COUNT> counters() const = 0;
};

}  // namespace palisade::enforcer
