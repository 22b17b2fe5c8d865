/* The dataplane's tables, shared by the BPF programs (enforcer/bpf/) and the
 * C++ that compiles and writes them (policy/compiler.h, enforcer/): one
 * definition of every map key, value, event and reason code, never mirrored
 * by hand. C, so that clang -target bpf compiles it; C++ checks the layouts
 * (policy/compiler.cpp).
 *
 * How a verdict is found (policy/dataplane_lookup.cpp is the reference the BPF
 * code is tested against):
 *
 * - Every address is 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d.
 * - pal_endpoints maps a pod address to its identity (pods with the same
 *   namespace, labels and named container ports share one), its endpoint id
 *   (one per pod), and the rule sets that isolate it: one for ingress, one for
 *   egress, 0 when no policy isolates it in that direction. Pods sharing the
 *   same isolating policies (and named ports, where those matter) share rule
 *   sets.
 * - A side (ingress at the destination, egress at the source) with rule set
 *   R allows a packet from/to a peer when pal_rules has an entry for
 *   (R, peer, protocol, port), where peer is tried as: the peer pod's identity,
 *   the peer pod's endpoint id (only for rule sets flagged
 *   PAL_RULESET_PER_ENDPOINT), the peer address's CIDR region in R
 *   (pal_cidrs: an LPM trie per rule set that splits the address space by the
 *   set of ipBlocks containing it, excepts included), and PAL_PEER_ANY; and
 *   port as the port, then PAL_PORT_ANY with the protocol, then PAL_PORT_ANY
 *   with PAL_PROTOCOL_ANY; or when pal_port_ranges holds a range for
 *   (R, peer, protocol) that contains the port (endPort ranges).
 * - Every policy-dependent key starts with a generation. Userspace writes a
 *   whole new generation, flips pal_config.generation, waits for an RCU grace
 *   period and deletes the old one: a packet reads the generation once and
 *   sees the old tables or the new ones, never a mix.
 */
#ifndef PALISADE_POLICY_DATAPLANE_ABI_H
#define PALISADE_POLICY_DATAPLANE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PAL_ADDR_LEN 16

/* Default capacities of the maps, in entries: the policy maps hold two
 * generations of the largest cluster state expected (100,000 pods, 10,000
 * policies) while an update is in flight. palisade-enforcer's --max-* flags
 * size them otherwise before load. */
#define PAL_MAX_ENDPOINTS (1u << 18)
#define PAL_MAX_RULES (1u << 21)
#define PAL_MAX_PORT_RANGE_KEYS (1u << 19)
#define PAL_MAX_CIDRS (1u << 18)
#define PAL_DEFAULT_CONNTRACK (1u << 18)

/* Peer ids: identities, endpoint ids and CIDR regions live in disjoint ranges
 * so that one pal_rules key can hold any of them. */
#define PAL_PEER_ANY 0u
#define PAL_PEER_ENDPOINT_BIT 0x40000000u
#define PAL_PEER_REGION_BIT 0x80000000u

/* A rule set whose egress rules match pods by ipBlock with named ports: the
 * port resolves against the destination pod itself, so such rules are
 * compiled per destination endpoint. */
#define PAL_RULESET_PER_ENDPOINT 0x80000000u

#define PAL_PROTOCOL_ANY 0
#define PAL_PORT_ANY 0
#define PAL_MAX_PORT_RANGES 16

/* pal_endpoints: (generation, pod address) -> endpoint. Every pod of the
 * cluster on the pod network, local or not. */
struct pal_endpoint_key {
  __u32 generation;
  __u8 addr[PAL_ADDR_LEN];
};

struct pal_endpoint {
  __u32 identity;
  __u32 endpoint_id; /* PAL_PEER_ENDPOINT_BIT | n */
  __u32 ingress_ruleset;
  __u32 egress_ruleset;
};

/* pal_rules: (generation, rule set, peer, protocol, port) -> the rule that
 * allows it (an index into the compiler's rule list, for explanations). */
struct pal_rule_key {
  __u32 generation;
  __u32 ruleset;
  __u32 peer;
  __u16 port;
  __u8 protocol;
  __u8 pad;
};

struct pal_rule {
  __u32 rule;
};

/* pal_port_ranges: (generation, rule set, peer, protocol) -> the port ranges
 * (endPort) it allows, sorted and disjoint. */
struct pal_port_range_key {
  __u32 generation;
  __u32 ruleset;
  __u32 peer;
  __u8 protocol;
  __u8 pad[3];
};

struct pal_port_range {
  __u16 first;
  __u16 last;
};

struct pal_port_ranges {
  __u32 count;
  struct pal_port_range ranges[PAL_MAX_PORT_RANGES];
};

/* pal_cidrs (LPM trie): (generation, rule set, address prefix) -> the region
 * of the rule set's partition of the address space that the longest matching
 * prefix stands for. prefixlen counts the 64 bits of generation and rule set
 * plus the address bits. */
struct pal_cidr_key {
  __u32 prefixlen;
  __u32 generation;
  __u32 ruleset;
  __u8 addr[PAL_ADDR_LEN];
};

#define PAL_CIDR_KEY_FIXED_BITS 64

struct pal_cidr {
  __u32 region; /* PAL_PEER_REGION_BIT | n */
};

/* pal_config (array of one): what the programs read first. */
enum pal_mode {
  PAL_MODE_ENFORCE = 0,
  PAL_MODE_AUDIT = 1, /* report what would be dropped, drop nothing */
};

struct pal_config {
  __u32 generation;
  __u32 mode;
};

/* pal_node_addrs: this node's addresses (16 bytes) -> 1. Traffic between a
 * pod and its own node is always allowed. */
/* pal_service_cidrs (LPM trie): Service ClusterIP ranges. A pod's packet to a
 * ClusterIP is checked where it arrives, after kube-proxy's DNAT. */
struct pal_lpm_addr_key {
  __u32 prefixlen;
  __u8 addr[PAL_ADDR_LEN];
};

/* pal_local_addrs: (host-side interface of a local pod, one of the pod's
 * addresses) -> 1. A pod's packets must come from its own addresses
 * (anti-spoofing). pal_attachments: ifindex -> 1, the interfaces the programs
 * are attached to, so that an uninstall or a restarted daemon finds them. */
struct pal_local_addr_key {
  __u32 ifindex;
  __u8 addr[PAL_ADDR_LEN];
};

/* pal_conntrack (LRU): a flow, as first seen, -> what is known of it. */
struct pal_ct_key {
  __u8 src[PAL_ADDR_LEN];
  __u8 dst[PAL_ADDR_LEN];
  __u16 sport;
  __u16 dport;
  __u8 protocol;
  __u8 pad[3];
};

#define PAL_CT_SEEN_AT_SOURCE 0x1u   /* a local pod opened it */
#define PAL_CT_ALLOWED_AT_DEST 0x2u  /* a local pod's policies admitted it */
#define PAL_CT_REPLY 0x4u            /* the reversed tuple is tracked: replies pass */

struct pal_ct {
  __u64 last_seen_ns;
  __u32 flags;
  /* The host-side interface of the local pod that sends this tuple's packets,
   * checked against the pod's addresses when the entry was written; 0 when
   * not known. Such a packet from that interface needs no anti-spoofing
   * lookup for as long as the flow lives. */
  __u32 sender_ifindex;
};

/* Stable reason codes: the index of the per-CPU counters (pal_counters) and
 * the `reason` of flow events; also metric labels. Never renumber. */
enum pal_reason {
  PAL_ALLOW_NOT_IP = 0,         /* ARP and other non-IP frames */
  PAL_ALLOW_CONNTRACK = 1,      /* a packet of a flow already allowed, or its reply */
  PAL_ALLOW_POLICY = 2,         /* allowed by the rules on every side checked here */
  PAL_ALLOW_NODE = 3,           /* between a pod and its own node */
  PAL_ALLOW_DEFERRED = 4,       /* to a pod or a Service: checked where it arrives */
  PAL_ALLOW_LINK_LOCAL = 5,     /* IPv6 neighbour discovery and link-local traffic */
  PAL_DROP_INGRESS_DENIED = 6,  /* no rule of the destination's ingress policies */
  PAL_DROP_EGRESS_DENIED = 7,   /* no rule of the source's egress policies */
  PAL_DROP_SPOOFED = 8,         /* a pod sent from an address that is not its own */
  PAL_DROP_MALFORMED = 9,       /* an IP packet too short to read */
  PAL_AUDIT_WOULD_DROP = 10,    /* audit mode: would have been dropped */
  PAL_REASON_COUNT = 11,
};

/* Which check a flow event is about. */
enum pal_direction {
  PAL_DIR_INGRESS = 0,
  PAL_DIR_EGRESS = 1,
};

enum pal_verdict {
  PAL_VERDICT_DROPPED = 0,
  PAL_VERDICT_WOULD_DROP = 1, /* audit mode */
};

/* pal_events (ring buffer): one per denied (or, in audit mode, would-be
 * denied) packet that opens a flow. */
struct pal_flow_event {
  __u64 timestamp_ns;
  __u8 src[PAL_ADDR_LEN];
  __u8 dst[PAL_ADDR_LEN];
  __u16 sport;
  __u16 dport;
  __u8 protocol;
  __u8 direction; /* enum pal_direction: the side that denied */
  __u8 verdict;   /* enum pal_verdict */
  __u8 reason;    /* enum pal_reason */
  __u32 ifindex;
  __u32 src_identity; /* 0 outside the pod network */
  __u32 dst_identity;
  __u32 ruleset; /* the rule set that denied */
};

#endif /* PALISADE_POLICY_DATAPLANE_ABI_H */
