#pragma once

// The loaded BPF object (enforcer/bpf/palisade.bpf.c): its two programs and
// its maps, pinned by name under a pin directory. Private to the dataplane
// (enforcer/dataplane.cpp), its tests and its benchmark.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <utility>

#include "policy/error.h"

struct palisade_bpf;  // the bpftool skeleton (palisade_bpf.skel.h)

namespace palisade::enforcer {

// Load-time settings (the programs' read-only data and map sizes).
struct ProgramSettings {
  // Capacities; 0 keeps the object's (enforcer/bpf/lib/maps.h). A map
  // already pinned keeps the size it was created with.
  uint32_t conntrack_entries = 0;
  uint32_t endpoint_entries = 0;
  uint32_t rule_entries = 0;
  uint32_t port_range_entries = 0;
  uint32_t cidr_entries = 0;
  // A flow idle this long is forgotten: its next packet is a first packet.
  std::chrono::nanoseconds tcp_idle_timeout = std::chrono::hours(1);
  std::chrono::nanoseconds other_idle_timeout = std::chrono::minutes(5);
};

// The tc filter both programs are installed as, on the clsact qdisc of a
// pod's interface: the same handle and priority every time, so that a new
// load replaces an earlier one's program in place (BPF_TC_F_REPLACE) and an
// uninstall finds it without the process that attached it. The handle spells
// "PAL", to stay clear of other tc users of the interface.
inline constexpr uint32_t kTcHandle = 0x50414c;
inline constexpr uint32_t kTcPriority = 1;

struct MapFds {
  int config = -1;
  int endpoints = -1;
  int rules = -1;
  int port_ranges = -1;
  int cidrs = -1;
  int node_addrs = -1;
  int service_cidrs = -1;
  int local_addrs = -1;
  int attachments = -1;
  int conntrack = -1;
  int events = -1;
  int counters = -1;
};

// Owns the skeleton: not copyable; destroying it closes the programs and the
// map fds, while the pins and the tc attachments (which hold the programs)
// stay.
class Programs {
 public:
  // Opens the object, creates the maps pinned under `pin_dir` or adopts those
  // already pinned there (contents and size included: until an uninstall,
  // `settings` cannot resize them), and loads the programs.
  [[nodiscard]] static policy::Result<Programs> load(const std::filesystem::path& pin_dir,
                                                     const ProgramSettings& settings);

  Programs(Programs&&) noexcept = default;
  Programs& operator=(Programs&&) noexcept = default;
  ~Programs() = default;

  int fromPod() const { return from_pod_; }
  int toPod() const { return to_pod_; }
  const MapFds& maps() const { return maps_; }

 private:
  struct Destroy {
    void operator()(palisade_bpf* skeleton) const;
  };

  Programs() = default;

  std::unique_ptr<palisade_bpf, Destroy> skeleton_;
  int from_pod_ = -1;
  int to_pod_ = -1;
  MapFds maps_;
};

// Owns a file descriptor (a map or program opened by pin or id).
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    UniqueFd old(std::move(*this));
    fd_ = other.release();
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Whether `path` (or, if it does not exist yet, the directory it would be
// created in) is on a BPF filesystem, where maps can be pinned.
[[nodiscard]] policy::Result<void> checkPinDirectory(const std::filesystem::path& path);

// Removes the filters kTcHandle/kTcPriority from both tc hooks of `ifindex`.
// Filters (or the interface) already gone are not an error.
[[nodiscard]] policy::Result<void> detachFilters(int ifindex);

}  // namespace palisade::enforcer
