#include "enforcer/dataplane_programs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <system_error>

#include "palisade_bpf.skel.h"

namespace palisade::enforcer {
namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;  // BPF_FS_MAGIC, linux/magic.h
constexpr size_t kLogTail = 3000;

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message() + " (errno " +
         std::to_string(error) + ")";
}

// libbpf reports through one process-wide callback. While a load is in
// progress on this thread, its warnings are kept for the error message
// (verifier logs, pinned maps that do not match); otherwise they are dropped,
// as the daemon logs JSON and libbpf's lines are not.
thread_local std::string* libbpf_log = nullptr;

int keepLibbpfLog(enum libbpf_print_level level, const char* format, va_list args) {
  if (libbpf_log == nullptr || level == LIBBPF_DEBUG) {
    return 0;
  }
  // Sized to the message: a verifier log comes as one message of many
  // kilobytes, and its cause is at the end.
  va_list measure;
  va_copy(measure, args);
  const int length = std::vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  if (length > 0) {
    const size_t start = libbpf_log->size();
    libbpf_log->resize(start + static_cast<size_t>(length) + 1);
    std::vsnprintf(libbpf_log->data() + start, static_cast<size_t>(length) + 1, format, args);
    libbpf_log->resize(start + static_cast<size_t>(length));
  }
  return 0;
}

class LibbpfLog {
 public:
  LibbpfLog() {
    static std::once_flag installed;
    std::call_once(installed, [] { libbpf_set_print(keepLibbpfLog); });
    libbpf_log = &text_;
  }
  ~LibbpfLog() { libbpf_log = nullptr; }
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  bool mentions(std::string_view what) const { return text_.find(what) != std::string::npos; }

  // The end of what libbpf said, where the cause is.
  std::string tail() const {
    if (text_.empty()) {
      return "";
    }
    const size_t start = text_.size() > kLogTail ? text_.size() - kLogTail : 0;
    return "\nlibbpf said:\n" + text_.substr(start);
  }

 private:
  std::string text_;
};

// Sizes the maps: a map pinned already keeps its size (libbpf refuses to
// adopt a pinned map whose definition differs, and what it holds is worth
// keeping), the others get the size asked for, if any.
policy::Result<void> sizeMaps(bpf_object* object, const std::filesystem::path& pin_dir,
                              const std::map<std::string, uint32_t>& wanted) {
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, object) {
    const std::string name = bpf_map__name(map);
    uint32_t entries = wanted.contains(name) ? wanted.at(name) : 0;
    const UniqueFd pinned(bpf_obj_get((pin_dir / name).c_str()));
    bpf_map_info info{};
    uint32_t length = sizeof(info);
    if (pinned.valid() && bpf_obj_get_info_by_fd(pinned.get(), &info, &length) == 0) {
      entries = info.max_entries;
    }
    if (entries == 0) {
      continue;
    }
    if (const int err = bpf_map__set_max_entries(map, entries)) {
      return policy::fail("sizing " + name + " (" + std::to_string(entries) +
                          " entries) failed: " + errnoText(-err));
    }
  }
  return {};
}

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

void Programs::Destroy::operator()(palisade_bpf* skeleton) const {
  palisade_bpf__destroy(skeleton);
}

policy::Result<void> checkPinDirectory(const std::filesystem::path& path) {
  std::filesystem::path existing = path;
  std::error_code error;
  while (!existing.empty() && !std::filesystem::exists(existing, error)) {
    existing = existing.parent_path();
  }
  struct statfs fs {};
  if (existing.empty() || statfs(existing.c_str(), &fs) != 0) {
    return policy::fail("cannot inspect " + path.string() + ": " + errnoText(errno));
  }
  if (fs.f_type != kBpfFsMagic) {
    return policy::fail(existing.string() + " is not on a BPF filesystem, so " + path.string() +
                        " cannot hold pinned maps: mount one (mount -t bpf bpf /sys/fs/bpf; in "
                        "a pod, mount the host's /sys/fs/bpf) or choose a pin directory on one");
  }
  return {};
}

policy::Result<Programs> Programs::load(const std::filesystem::path& pin_dir,
                                        const ProgramSettings& settings) {
  if (auto usable = checkPinDirectory(pin_dir); !usable) {
    return std::unexpected(usable.error());
  }
  std::error_code error;
  std::filesystem::create_directories(pin_dir, error);
  if (!error) {
    // Only root reads the policy state (libbpf makes its own directories so).
    std::filesystem::permissions(pin_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, error);
  }
  if (error) {
    return policy::fail("cannot create the pin directory " + pin_dir.string() + ": " +
                        error.message());
  }

  LibbpfLog log;
  const std::string pin_root = pin_dir.string();
  bpf_object_open_opts options{};
  options.sz = sizeof(options);
  options.pin_root_path = pin_root.c_str();
  Programs programs;
  programs.skeleton_.reset(palisade_bpf__open_opts(&options));
  if (!programs.skeleton_) {
    return policy::fail("opening the BPF object failed: " + errnoText(errno) + log.tail());
  }
  palisade_bpf& skeleton = *programs.skeleton_;
  skeleton.rodata->pal_ct_tcp_timeout_ns = static_cast<uint64_t>(settings.tcp_idle_timeout.count());
  skeleton.rodata->pal_ct_other_timeout_ns =
      static_cast<uint64_t>(settings.other_idle_timeout.count());
  const auto sized = sizeMaps(skeleton.obj, pin_dir,
                              {{"pal_conntrack", settings.conntrack_entries},
                               {"pal_endpoints", settings.endpoint_entries},
                               {"pal_rules", settings.rule_entries},
                               {"pal_port_ranges", settings.port_range_entries},
                               {"pal_cidrs", settings.cidr_entries}});
  if (!sized) {
    return std::unexpected(sized.error());
  }

  if (const int err = palisade_bpf__load(&skeleton)) {
    std::string hint;
    if (err == -EPERM || err == -EACCES) {
      hint = " (are you root? loading BPF programs and maps needs CAP_BPF, CAP_NET_ADMIN and "
             "CAP_PERFMON, or CAP_SYS_ADMIN)";
    } else if (log.mentions("reuse pinned map")) {
      hint = " (the maps pinned under " + pin_root +
             " do not match this build's: `palisade-enforcer --uninstall` removes them)";
    }
    return policy::fail("loading the BPF programs failed: " + errnoText(-err) + hint + log.tail());
  }

  programs.from_pod_ = bpf_program__fd(skeleton.progs.pal_from_pod);
  programs.to_pod_ = bpf_program__fd(skeleton.progs.pal_to_pod);
  programs.maps_ = MapFds{
      .config = bpf_map__fd(skeleton.maps.pal_config),
      .endpoints = bpf_map__fd(skeleton.maps.pal_endpoints),
      .rules = bpf_map__fd(skeleton.maps.pal_rules),
      .port_ranges = bpf_map__fd(skeleton.maps.pal_port_ranges),
      .cidrs = bpf_map__fd(skeleton.maps.pal_cidrs),
      .node_addrs = bpf_map__fd(skeleton.maps.pal_node_addrs),
      .service_cidrs = bpf_map__fd(skeleton.maps.pal_service_cidrs),
      .local_addrs = bpf_map__fd(skeleton.maps.pal_local_addrs),
      .attachments = bpf_map__fd(skeleton.maps.pal_attachments),
      .conntrack = bpf_map__fd(skeleton.maps.pal_conntrack),
      .events = bpf_map__fd(skeleton.maps.pal_events),
      .counters = bpf_map__fd(skeleton.maps.pal_counters),
  };
  return programs;
}

policy::Result<void> detachFilters(int ifindex) {
  char name[IF_NAMESIZE];
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return {};  // the interface is gone, and its filters with it
  }
  for (const bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = ifindex;
    hook.attach_point = point;
    bpf_tc_opts options{};
    options.sz = sizeof(options);
    options.handle = kTcHandle;
    options.priority = kTcPriority;
    const int err = bpf_tc_detach(&hook, &options);
    // ENOENT: no such filter; EINVAL: no clsact qdisc (nothing attached);
    // ENODEV: the interface went away meanwhile.
    if (err != 0 && err != -ENOENT && err != -EINVAL && err != -ENODEV) {
      return policy::fail("detaching the tc " +
                          std::string(point == BPF_TC_INGRESS ? "ingress" : "egress") +
                          " program from " + name + " (ifindex " + std::to_string(ifindex) +
                          ") failed: " + errnoText(-err));
    }
  }
  return {};
}

}  // namespace palisade::enforcer
