/* Every map of the dataplane, defined once. All are pinned by name under the
 * pin directory userspace opens the object with, so that they outlive the
 * daemon and a restarted daemon adopts them (enforcer/dataplane.cpp).
 *
 * The policy maps hold two generations while an update is in flight, so they
 * are sized for twice the largest cluster state expected; the hash maps do not
 * preallocate their elements, which would cost their full size in kernel
 * memory on every node whatever the cluster (their bucket arrays, 16 bytes a
 * slot, are allocated whole: 32 MiB for pal_rules). These are the defaults:
 * userspace may size the maps otherwise before load (ProgramSettings), and a
 * pinned map keeps the size it was created with. */
#ifndef PALISADE_BPF_LIB_MAPS_H
#define PALISADE_BPF_LIB_MAPS_H

#include "common.h"

/* PAL_MAX_ENDPOINTS, PAL_MAX_RULES, PAL_MAX_PORT_RANGE_KEYS, PAL_MAX_CIDRS and
 * PAL_DEFAULT_CONNTRACK: policy/dataplane_abi.h, shared with userspace. */
#define PAL_MAX_NODE_ADDRS 256
#define PAL_MAX_SERVICE_CIDRS 256
#define PAL_MAX_LOCAL_ADDRS (1u << 14)
#define PAL_MAX_ATTACHMENTS (1u << 13)
#define PAL_EVENTS_BYTES (1u << 20)

/* index 0 -> the live generation and the mode */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_config SEC(".maps");

/* (generation, pod address) -> the pod's identity, endpoint id and rule sets */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_ENDPOINTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pal_endpoint_key);
	__type(value, struct pal_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_endpoints SEC(".maps");

/* (generation, rule set, peer, protocol, port) -> the rule that allows it */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pal_rule_key);
	__type(value, struct pal_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_rules SEC(".maps");

/* (generation, rule set, peer, protocol) -> the endPort ranges it allows */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_PORT_RANGE_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pal_port_range_key);
	__type(value, struct pal_port_ranges);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_port_ranges SEC(".maps");

/* (generation, rule set, address prefix) -> the ipBlock region it falls in */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PAL_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pal_cidr_key);
	__type(value, struct pal_cidr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_cidrs SEC(".maps");

/* an address of this node -> 1 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_NODE_ADDRS);
	__type(key, __u8[PAL_ADDR_LEN]);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_node_addrs SEC(".maps");

/* a Service ClusterIP range -> 1 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PAL_MAX_SERVICE_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pal_lpm_addr_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_service_cidrs SEC(".maps");

/* (host-side interface of a pod, an address of that pod) -> 1 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_LOCAL_ADDRS);
	__type(key, struct pal_local_addr_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_local_addrs SEC(".maps");

/* ifindex the programs are attached to -> 1 (only userspace reads it) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PAL_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_attachments SEC(".maps");

/* a flow, as its first packet went -> when it was last seen, and how it was let through */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PAL_DEFAULT_CONNTRACK);
	__type(key, struct pal_ct_key);
	__type(value, struct pal_ct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_conntrack SEC(".maps");

/* ring buffer of struct pal_flow_event */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PAL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_events SEC(".maps");

/* enum pal_reason -> packets, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pal_counters SEC(".maps");

#endif /* PALISADE_BPF_LIB_MAPS_H */
