#include "enforcer/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "enforcer/dataplane_programs.h"

namespace palisade::enforcer {

// The C++ side of the ABI; policy/compiler.cpp checks the tables' own structs.
static_assert(sizeof(pal_lpm_addr_key) == 20);
static_assert(sizeof(pal_local_addr_key) == 20);
static_assert(sizeof(pal_config) == 8);
static_assert(sizeof(pal_ct_key) == 40);
static_assert(sizeof(pal_ct) == 16);
static_assert(sizeof(pal_flow_event) == 64);

namespace {

using Address = std::array<uint8_t, PAL_ADDR_LEN>;

constexpr uint32_t kConfigKey = 0;
constexpr uint8_t kPresent = 1;
// Entries per batch syscall: large enough to amortize the syscall, small
// enough to keep the copies in the CPU cache.
constexpr size_t kBatch = 4096;
// ENOTSUPP: internal to the kernel, yet what some batch operations return.
constexpr int kKernelNotSupported = 524;

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message() + " (errno " +
         std::to_string(error) + ")";
}

std::string interfaceName(int ifindex) {
  char name[IF_NAMESIZE];
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return "ifindex " + std::to_string(ifindex);
  }
  return std::string(name) + " (ifindex " + std::to_string(ifindex) + ")";
}

uint32_t mapCapacity(int fd) {
  bpf_map_info info{};
  uint32_t length = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &length) == 0 ? info.max_entries : 0;
}

// Every key of a map. Maps written only by userspace (all but the flow
// table) do not change under the iteration.
template <class Key>
std::vector<Key> keysOf(int fd) {
  std::vector<Key> keys;
  Key current{};
  Key next{};
  const Key* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    keys.push_back(next);
    current = next;
    previous = &current;
  }
  return keys;
}

template <class Key>
bool sameKey(const Key& a, const Key& b) {
  return std::memcmp(&a, &b, sizeof(Key)) == 0;
}

// Deletes `keys`, in batches where the map supports them. Keys already gone
// are skipped; a key that cannot be deleted stays behind as an entry of a
// generation no packet reads, and a restarted daemon removes it.
template <class Key>
void deleteKeys(int fd, const std::vector<Key>& keys) {
  size_t next = 0;
  bool batches = true;
  while (next < keys.size() && batches) {
    uint32_t count = static_cast<uint32_t>(std::min(kBatch, keys.size() - next));
    bpf_map_batch_opts options{};
    options.sz = sizeof(options);
    const int err = bpf_map_delete_batch(fd, &keys[next], &count, &options);
    next += count;
    if (err == -ENOENT) {
      ++next;  // stopped at a key already gone
    } else if (err != 0) {
      batches = false;
    }
  }
  for (; next < keys.size(); ++next) {
    bpf_map_delete_elem(fd, &keys[next]);
  }
}

bool batchUnsupported(int err) {
  return err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP || err == -kKernelNotSupported;
}

// The keys of one generation, as written: what to delete once the next one is
// live, or when writing it fails half way.
struct GenerationKeys {
  std::vector<pal_endpoint_key> endpoints;
  std::vector<pal_rule_key> rules;
  std::vector<pal_port_range_key> port_ranges;
  std::vector<pal_cidr_key> cidrs;
};

// Only the kernel's ring buffer consumer; freed with it.
struct FreeRingBuffer {
  void operator()(ring_buffer* buffer) const { ring_buffer__free(buffer); }
};

// Waits until no BPF program can still be reading the previous generation.
// tc programs run inside an RCU read-side critical section, and
// membarrier(MEMBARRIER_CMD_GLOBAL) is implemented with synchronize_rcu()
// (kernel/sched/membarrier.c), which returns once every such section that
// began before the call has ended.
void waitForRcuGracePeriod() {
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) {
    return;
  }
  // Kernels with nohz_full CPUs refuse the command (EINVAL). A grace period
  // takes milliseconds; wait far longer than one rather than fail the update.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

class BpfDataplane final : public Dataplane {
 public:
  BpfDataplane(Programs programs, uint32_t generation)
      : programs_(std::move(programs)), maps_(programs_.maps()), generation_(generation) {}

  uint32_t generation() const override { return generation_; }

  policy::Result<void> apply(const policy::DataplaneTables& tables) override {
    if (tables.generation != generation_ + 1) {
      return policy::fail("tables of generation " + std::to_string(tables.generation) +
                          " cannot follow the live generation " + std::to_string(generation_) +
                          ": compile generation " + std::to_string(generation_ + 1));
    }
    if (!live_keys_) {
      live_keys_ = adoptLiveGeneration();
    }
    GenerationKeys written;
    policy::Result<void> result = writeGeneration(tables, written);
    if (result) {
      result = writeConfig(tables.generation, readConfig().mode);
    }
    if (!result) {
      deleteGeneration(written);
      return result;
    }
    waitForRcuGracePeriod();
    deleteGeneration(*live_keys_);
    live_keys_ = std::move(written);
    generation_ = tables.generation;
    return {};
  }

  policy::Result<void> setNode(const policy::NodeContext& node) override {
    std::vector<Address> addresses;
    for (const policy::IpAddress& address : node.node_addresses) {
      addresses.push_back(policy::dataplaneAddress(address));
    }
    if (auto done = replaceSet(maps_.node_addrs, "pal_node_addrs", addresses); !done) {
      return done;
    }
    std::vector<pal_lpm_addr_key> ranges;
    for (const policy::Cidr& cidr : node.service_cidrs) {
      pal_lpm_addr_key key{};
      const bool ipv4 = cidr.family() == policy::IpFamily::kIPv4;
      key.prefixlen = static_cast<uint32_t>(cidr.prefixLength() + (ipv4 ? 96 : 0));
      const Address address = policy::dataplaneAddress(cidr.address());
      std::memcpy(key.addr, address.data(), PAL_ADDR_LEN);
      ranges.push_back(key);
    }
    return replaceSet(maps_.service_cidrs, "pal_service_cidrs", ranges);
  }

  policy::Result<void> setMode(pal_mode mode) override {
    return writeConfig(readConfig().generation, static_cast<uint32_t>(mode));
  }

  policy::Result<void> setPodAddresses(int ifindex,
                                       const std::vector<policy::IpAddress>& addresses) override {
    std::vector<pal_local_addr_key> keys;
    for (const policy::IpAddress& address : addresses) {
      pal_local_addr_key key{};
      key.ifindex = static_cast<uint32_t>(ifindex);
      const Address bytes = policy::dataplaneAddress(address);
      std::memcpy(key.addr, bytes.data(), PAL_ADDR_LEN);
      keys.push_back(key);
    }
    return replaceSet(maps_.local_addrs, "pal_local_addrs", keys,
                      [&](const pal_local_addr_key& key) {
                        return key.ifindex == static_cast<uint32_t>(ifindex);
                      });
  }

  policy::Result<void> attach(int ifindex) override {
    // Recorded first, so that an uninstall finds the interface even if this
    // process dies half way through.
    const uint32_t key = static_cast<uint32_t>(ifindex);
    if (bpf_map_update_elem(maps_.attachments, &key, &kPresent, BPF_ANY) != 0) {
      return policy::fail("recording the attachment to " + interfaceName(ifindex) +
                          " in pal_attachments failed: " + errnoText(errno));
    }
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = ifindex;
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    if (const int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST) {
      return policy::fail("adding a clsact qdisc to " + interfaceName(ifindex) +
                          " failed: " + errnoText(-err));
    }
    const std::pair<bpf_tc_attach_point, int> programs[] = {
        {BPF_TC_INGRESS, programs_.fromPod()},
        {BPF_TC_EGRESS, programs_.toPod()},
    };
    for (const auto& [point, program] : programs) {
      hook.attach_point = point;
      bpf_tc_opts options{};
      options.sz = sizeof(options);
      options.prog_fd = program;
      options.handle = kTcHandle;
      options.priority = kTcPriority;
      options.flags = BPF_TC_F_REPLACE;
      if (const int err = bpf_tc_attach(&hook, &options); err != 0) {
        return policy::fail(std::string("attaching the ") +
                            (point == BPF_TC_INGRESS ? "pal_from_pod program to tc ingress"
                                                     : "pal_to_pod program to tc egress") +
                            " of " + interfaceName(ifindex) + " failed: " + errnoText(-err));
      }
    }
    return {};
  }

  policy::Result<void> detach(int ifindex) override {
    if (auto detached = detachFilters(ifindex); !detached) {
      return detached;
    }
    if (auto forgotten = setPodAddresses(ifindex, {}); !forgotten) {
      return forgotten;
    }
    const uint32_t key = static_cast<uint32_t>(ifindex);
    if (bpf_map_delete_elem(maps_.attachments, &key) != 0 && errno != ENOENT) {
      return policy::fail("removing " + interfaceName(ifindex) +
                          " from pal_attachments failed: " + errnoText(errno));
    }
    return {};
  }

  std::vector<int> attachedInterfaces() const override {
    std::vector<int> interfaces;
    for (uint32_t ifindex : keysOf<uint32_t>(maps_.attachments)) {
      interfaces.push_back(static_cast<int>(ifindex));
    }
    std::ranges::sort(interfaces);
    return interfaces;
  }

  policy::Result<int> pollEvents(std::chrono::milliseconds timeout,
                                 const std::function<void(const pal_flow_event&)>& sink) override {
    if (!events_) {
      events_.reset(ring_buffer__new(maps_.events, &BpfDataplane::onEvent, this, nullptr));
      if (!events_) {
        return policy::fail("reading the pal_events ring buffer failed: " + errnoText(errno));
      }
    }
    sink_ = &sink;
    sink_error_ = nullptr;
    const int handled = ring_buffer__poll(events_.get(), static_cast<int>(timeout.count()));
    sink_ = nullptr;
    if (sink_error_) {
      std::rethrow_exception(std::exchange(sink_error_, nullptr));
    }
    if (handled == -EINTR) {
      return 0;
    }
    if (handled < 0) {
      return policy::fail("polling the pal_events ring buffer failed: " + errnoText(-handled));
    }
    return handled;
  }

  std::array<uint64_t, PAL_REASON_COUNT> counters() const override {
    std::array<uint64_t, PAL_REASON_COUNT> totals{};
    const int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(static_cast<size_t>(std::max(cpus, 1)));
    for (uint32_t reason = 0; reason < PAL_REASON_COUNT; ++reason) {
      if (bpf_map_lookup_elem(maps_.counters, &reason, per_cpu.data()) == 0) {
        for (uint64_t packets : per_cpu) {
          totals[reason] += packets;
        }
      }
    }
    return totals;
  }

 private:
  static int onEvent(void* context, void* data, size_t size) {
    auto* self = static_cast<BpfDataplane*>(context);
    if (size < sizeof(pal_flow_event) || self->sink_ == nullptr) {
      return 0;
    }
    pal_flow_event event;
    std::memcpy(&event, data, sizeof(event));
    // The sink may throw; libbpf is C, so the exception waits for
    // pollEvents() to return and the rest of the events for the next call.
    try {
      (*self->sink_)(event);
    } catch (...) {
      self->sink_error_ = std::current_exception();
      return -ECANCELED;
    }
    return 0;
  }

  pal_config readConfig() const {
    pal_config config{};
    bpf_map_lookup_elem(maps_.config, &kConfigKey, &config);
    return config;
  }

  policy::Result<void> writeConfig(uint32_t generation, uint32_t mode) {
    const pal_config config{.generation = generation, .mode = mode};
    if (bpf_map_update_elem(maps_.config, &kConfigKey, &config, BPF_ANY) != 0) {
      return policy::fail("writing pal_config (generation " + std::to_string(generation) +
                          ", mode " + std::to_string(mode) + ") failed: " + errnoText(errno));
    }
    return {};
  }

  // After a restart: the live generation's keys, found by iterating the
  // maps, and the removal of any other generation's (an update the previous
  // process did not finish), so that none of them becomes live by accident.
  GenerationKeys adoptLiveGeneration() {
    GenerationKeys live;
    adoptKeys(maps_.endpoints, live.endpoints);
    adoptKeys(maps_.rules, live.rules);
    adoptKeys(maps_.port_ranges, live.port_ranges);
    adoptKeys(maps_.cidrs, live.cidrs);
    return live;
  }

  template <class Key>
  void adoptKeys(int fd, std::vector<Key>& live) {
    std::vector<Key> stray;
    for (const Key& key : keysOf<Key>(fd)) {
      (key.generation == generation_ ? live : stray).push_back(key);
    }
    deleteKeys(fd, stray);
  }

  policy::Result<void> writeGeneration(const policy::DataplaneTables& tables,
                                       GenerationKeys& written) {
    if (auto done = writeEntries(maps_.endpoints, "pal_endpoints", tables.endpoints, true,
                                 written.endpoints);
        !done) {
      return done;
    }
    if (auto done = writeEntries(maps_.rules, "pal_rules", tables.rules, true, written.rules);
        !done) {
      return done;
    }
    if (auto done = writeEntries(maps_.port_ranges, "pal_port_ranges", tables.port_ranges, true,
                                 written.port_ranges);
        !done) {
      return done;
    }
    // LPM tries have no batch operations.
    return writeEntries(maps_.cidrs, "pal_cidrs", tables.cidrs, false, written.cidrs);
  }

  void deleteGeneration(const GenerationKeys& keys) {
    deleteKeys(maps_.endpoints, keys.endpoints);
    deleteKeys(maps_.rules, keys.rules);
    deleteKeys(maps_.port_ranges, keys.port_ranges);
    deleteKeys(maps_.cidrs, keys.cidrs);
  }

  template <class Key, class Value>
  policy::Result<void> writeEntries(int fd, const char* map,
                                    const std::vector<std::pair<Key, Value>>& entries,
                                    bool batches, std::vector<Key>& written) {
    std::vector<Key> keys;
    std::vector<Value> values;
    for (size_t start = 0; start < entries.size(); start += kBatch) {
      const size_t end = std::min(entries.size(), start + kBatch);
      size_t next = start;
      if (batches) {
        keys.clear();
        values.clear();
        for (size_t i = start; i < end; ++i) {
          keys.push_back(entries[i].first);
          values.push_back(entries[i].second);
        }
        uint32_t count = static_cast<uint32_t>(keys.size());
        bpf_map_batch_opts options{};
        options.sz = sizeof(options);
        const int err = bpf_map_update_batch(fd, keys.data(), values.data(), &count, &options);
        written.insert(written.end(), keys.begin(), keys.begin() + count);
        next = start + count;
        if (err != 0 && !(batchUnsupported(err) && count == 0)) {
          return writeFailure(fd, map, next, entries.size(), -err);
        }
        batches = err == 0;
      }
      for (; next < end; ++next) {
        if (bpf_map_update_elem(fd, &entries[next].first, &entries[next].second, BPF_ANY) != 0) {
          return writeFailure(fd, map, next, entries.size(), errno);
        }
        written.push_back(entries[next].first);
      }
    }
    return {};
  }

  std::unexpected<policy::Error> writeFailure(int fd, const char* map, size_t index, size_t total,
                                              int error) const {
    std::string message = "writing generation " + std::to_string(generation_ + 1) + " to " + map +
                          " failed at entry " + std::to_string(index + 1) + " of " +
                          std::to_string(total) + ": " + errnoText(error);
    if (error == E2BIG || error == ENOSPC || error == ENOMEM) {
      message += " (" + std::string(map) + " holds at most " + std::to_string(mapCapacity(fd)) +
                 " entries, the live generation's and the new one's together)";
    }
    return policy::fail(message + "; the live generation " + std::to_string(generation_) +
                        " is unchanged");
  }

  // Makes `wanted` the keys (value 1) of a map userspace alone writes; of the
  // keys present, only those `mine` accepts are considered. New keys go in
  // before old ones go, so a key in both never disappears.
  template <class Key, class Mine = bool (*)(const Key&)>
  policy::Result<void> replaceSet(
      int fd, const char* map, const std::vector<Key>& wanted,
      Mine mine = [](const Key&) { return true; }) {
    for (const Key& key : wanted) {
      if (bpf_map_update_elem(fd, &key, &kPresent, BPF_ANY) != 0) {
        return policy::fail(std::string("writing ") + map + " failed: " + errnoText(errno) +
                            (errno == E2BIG || errno == ENOSPC
                                 ? " (it holds at most " + std::to_string(mapCapacity(fd)) +
                                       " entries)"
                                 : std::string()));
      }
    }
    for (const Key& key : keysOf<Key>(fd)) {
      const bool still_wanted = std::ranges::any_of(
          wanted, [&](const Key& other) { return sameKey(key, other); });
      if (mine(key) && !still_wanted && bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
        return policy::fail(std::string("removing an entry from ") + map +
                            " failed: " + errnoText(errno));
      }
    }
    return {};
  }

  Programs programs_;
  MapFds maps_;
  uint32_t generation_;
  // The live generation's keys; unknown after adopting pinned maps until the
  // first apply() finds them.
  std::optional<GenerationKeys> live_keys_;
  std::unique_ptr<ring_buffer, FreeRingBuffer> events_;
  const std::function<void(const pal_flow_event&)>* sink_ = nullptr;
  std::exception_ptr sink_error_;
};

}  // namespace

policy::Result<std::unique_ptr<Dataplane>> Dataplane::open(const DataplaneOptions& options) {
  auto programs = Programs::load(options.pin_dir,
                                 ProgramSettings{
                                     .conntrack_entries = options.conntrack_entries,
                                     .endpoint_entries = options.endpoint_entries,
                                     .rule_entries = options.rule_entries,
                                     .port_range_entries = options.port_range_entries,
                                     .cidr_entries = options.cidr_entries,
                                 });
  if (!programs) {
    return std::unexpected(programs.error());
  }
  pal_config config{};
  bpf_map_lookup_elem(programs->maps().config, &kConfigKey, &config);
  return std::make_unique<BpfDataplane>(std::move(*programs), config.generation);
}

policy::Result<void> Dataplane::uninstall(const std::filesystem::path& pin_dir) {
  std::error_code error;
  if (!std::filesystem::exists(pin_dir, error)) {
    return {};  // nothing pinned: nothing attached by this pin directory's enforcer either
  }
  const std::string attachments = (pin_dir / "pal_attachments").string();
  const UniqueFd fd(bpf_obj_get(attachments.c_str()));
  if (!fd.valid() && errno != ENOENT) {
    return policy::fail("opening " + attachments + " failed: " + errnoText(errno) +
                        (errno == EPERM || errno == EACCES ? " (are you root?)" : ""));
  }
  if (fd.valid()) {
    const std::vector<uint32_t> interfaces = keysOf<uint32_t>(fd.get());
    for (uint32_t ifindex : interfaces) {
      if (auto detached = detachFilters(static_cast<int>(ifindex)); !detached) {
        return std::unexpected(policy::Error{detached.error().message +
                                             "; the pins under " + pin_dir.string() +
                                             " are kept so that uninstall can be retried"});
      }
    }
  }
  std::filesystem::remove_all(pin_dir, error);
  if (error) {
    return policy::fail("removing " + pin_dir.string() + " failed: " + error.message());
  }
  return {};
}

}  // namespace palisade::enforcer
