/* The policy lookup: DataplaneView::sideAllows and the decisions of
 * policy/dataplane_lookup.cpp, on the maps. That file is the reference; keep
 * the two in step (enforcer/dataplane_test.cpp holds this one to it). */
#ifndef PALISADE_BPF_LIB_POLICY_H
#define PALISADE_BPF_LIB_POLICY_H

#include "common.h"
#include "maps.h"

static __always_inline struct pal_endpoint *pal_endpoint_of(__u32 generation, const __u8 *address)
{
	struct pal_endpoint_key key = { .generation = generation };

	__builtin_memcpy(key.addr, address, PAL_ADDR_LEN);
	return bpf_map_lookup_elem(&pal_endpoints, &key);
}

/* Anti-spoofing: whether `address` is one of the addresses of the pod behind
 * interface `ifindex`. */
static __always_inline bool pal_is_own_address(__u32 ifindex, const __u8 *address)
{
	struct pal_local_addr_key key = { .ifindex = ifindex };

	__builtin_memcpy(key.addr, address, PAL_ADDR_LEN);
	return bpf_map_lookup_elem(&pal_local_addrs, &key) != NULL;
}

static __always_inline bool pal_is_node_address(const __u8 *address)
{
	__u8 key[PAL_ADDR_LEN];

	__builtin_memcpy(key, address, PAL_ADDR_LEN);
	return bpf_map_lookup_elem(&pal_node_addrs, key) != NULL;
}

static __always_inline bool pal_is_service_address(const __u8 *address)
{
	struct pal_lpm_addr_key key = { .prefixlen = PAL_ADDR_LEN * 8 };

	__builtin_memcpy(key.addr, address, PAL_ADDR_LEN);
	return bpf_map_lookup_elem(&pal_service_cidrs, &key) != NULL;
}

/* The region of rule set `ruleset`'s partition of the address space that
 * `address` falls in; 0 when its ipBlocks do not cover it. */
static __always_inline __u32 pal_region(__u32 generation, __u32 ruleset, const __u8 *address)
{
	struct pal_cidr_key key = {
		.prefixlen = PAL_CIDR_KEY_FIXED_BITS + PAL_ADDR_LEN * 8,
		.generation = generation,
		.ruleset = ruleset,
	};
	struct pal_cidr *cidr;

	__builtin_memcpy(key.addr, address, PAL_ADDR_LEN);
	cidr = bpf_map_lookup_elem(&pal_cidrs, &key);
	return cidr ? cidr->region : 0;
}

static __always_inline bool pal_port_in_ranges(__u32 generation, __u32 ruleset, __u32 peer,
					       __u8 protocol, __u16 port)
{
	struct pal_port_range_key key = {
		.generation = generation,
		.ruleset = ruleset,
		.peer = peer,
		.protocol = protocol,
	};
	struct pal_port_ranges *ranges = bpf_map_lookup_elem(&pal_port_ranges, &key);

	if (!ranges)
		return false;
	for (__u32 i = 0; i < PAL_MAX_PORT_RANGES; i++) {
		if (i >= ranges->count)
			break;
		if (ranges->ranges[i].first <= port && port <= ranges->ranges[i].last)
			return true;
	}
	return false;
}

/* Whether rule set `ruleset` has a rule for `peer` (an identity, an endpoint
 * id, a region or PAL_PEER_ANY) that admits the protocol and port. */
static __always_inline bool pal_peer_allows(__u32 generation, __u32 ruleset, __u32 peer,
					    __u8 protocol, __u16 port)
{
	struct pal_rule_key key = {
		.generation = generation,
		.ruleset = ruleset,
		.peer = peer,
		.protocol = protocol,
		.port = port,
	};

	if (pal_is_port_protocol(protocol)) {
		if (bpf_map_lookup_elem(&pal_rules, &key))
			return true;
		key.port = PAL_PORT_ANY;
		if (bpf_map_lookup_elem(&pal_rules, &key))
			return true;
		if (pal_port_in_ranges(generation, ruleset, peer, protocol, port))
			return true;
	}
	key.protocol = PAL_PROTOCOL_ANY;
	key.port = PAL_PORT_ANY;
	return bpf_map_lookup_elem(&pal_rules, &key) != NULL;
}

/* Whether the side with rule set `ruleset_with_flags` (0: not isolated)
 * admits a packet from or to `peer_address`, which belongs to `peer` when that
 * is a pod. */
static __always_inline bool pal_side_allows(__u32 generation, __u32 ruleset_with_flags,
					    const struct pal_endpoint *peer,
					    const __u8 *peer_address, __u8 protocol, __u16 port)
{
	const __u32 ruleset = ruleset_with_flags & ~PAL_RULESET_PER_ENDPOINT;
	__u32 region;

	if (ruleset == 0)
		return true;
	if (peer) {
		if (pal_peer_allows(generation, ruleset, peer->identity, protocol, port))
			return true;
		if ((ruleset_with_flags & PAL_RULESET_PER_ENDPOINT) &&
		    pal_peer_allows(generation, ruleset, peer->endpoint_id, protocol, port))
			return true;
	}
	region = pal_region(generation, ruleset, peer_address);
	if (region && pal_peer_allows(generation, ruleset, region, protocol, port))
		return true;
	return pal_peer_allows(generation, ruleset, PAL_PEER_ANY, protocol, port);
}

/* The live generation and the mode, read once per packet: every lookup of
 * the packet uses this generation, so it sees the old tables or the new ones,
 * never a mix (userspace deletes a generation only after an RCU grace period
 * from the flip, and programs run inside an RCU read-side section). */
static __always_inline struct pal_config pal_read_config(void)
{
	struct pal_config config = {};
	__u32 zero = 0;
	struct pal_config *live = bpf_map_lookup_elem(&pal_config, &zero);

	if (live) {
		config.generation = *(volatile __u32 *)&live->generation;
		config.mode = *(volatile __u32 *)&live->mode;
	}
	return config;
}

/* The outcome of a first packet, and what a flow event says about it. */
struct pal_decision {
	__u32 ruleset; /* the rule set that denied, flags left out */
	__u32 src_identity;
	__u32 dst_identity;
	__u8 reason;    /* enum pal_reason */
	__u8 direction; /* enum pal_direction: the side that decided */
};

static __always_inline bool pal_reason_allows(__u8 reason)
{
	return reason <= PAL_ALLOW_LINK_LOCAL;
}

/* decideLeavingPod: the first packet of a flow from local pod tuple->src. */
static __always_inline void pal_decide_leaving_pod(__u32 generation,
						   const struct pal_ct_key *tuple,
						   struct pal_decision *decision)
{
	const struct pal_endpoint *pod = pal_endpoint_of(generation, tuple->src);
	const struct pal_endpoint *peer;

	decision->direction = PAL_DIR_EGRESS;
	if (!pod) {
		decision->reason = PAL_DROP_SPOOFED;
		return;
	}
	decision->src_identity = pod->identity;
	if (pal_is_node_address(tuple->dst)) {
		decision->reason = PAL_ALLOW_NODE;
		return;
	}
	peer = pal_endpoint_of(generation, tuple->dst);
	if (peer || pal_is_service_address(tuple->dst)) {
		decision->dst_identity = peer ? peer->identity : 0;
		decision->reason = PAL_ALLOW_DEFERRED;
		return;
	}
	if (pal_side_allows(generation, pod->egress_ruleset, NULL, tuple->dst, tuple->protocol,
			    tuple->dport)) {
		decision->reason = PAL_ALLOW_POLICY;
		return;
	}
	decision->ruleset = pod->egress_ruleset & ~PAL_RULESET_PER_ENDPOINT;
	decision->reason = PAL_DROP_EGRESS_DENIED;
}

/* decideReachingPod: the first packet of a flow to local pod tuple->dst. */
static __always_inline void pal_decide_reaching_pod(__u32 generation,
						    const struct pal_ct_key *tuple,
						    struct pal_decision *decision)
{
	const struct pal_endpoint *pod = pal_endpoint_of(generation, tuple->dst);
	const struct pal_endpoint *peer;

	decision->direction = PAL_DIR_INGRESS;
	if (!pod) {
		decision->reason = PAL_DROP_INGRESS_DENIED; /* not a pod this node enforces for */
		return;
	}
	decision->dst_identity = pod->identity;
	if (pal_is_node_address(tuple->src)) {
		decision->reason = PAL_ALLOW_NODE;
		return;
	}
	peer = pal_endpoint_of(generation, tuple->src);
	if (peer) {
		decision->src_identity = peer->identity;
		if (!pal_side_allows(generation, peer->egress_ruleset, pod, tuple->dst,
				     tuple->protocol, tuple->dport)) {
			decision->direction = PAL_DIR_EGRESS;
			decision->ruleset = peer->egress_ruleset & ~PAL_RULESET_PER_ENDPOINT;
			decision->reason = PAL_DROP_EGRESS_DENIED;
			return;
		}
	}
	if (!pal_side_allows(generation, pod->ingress_ruleset, peer, tuple->src, tuple->protocol,
			     tuple->dport)) {
		decision->ruleset = pod->ingress_ruleset & ~PAL_RULESET_PER_ENDPOINT;
		decision->reason = PAL_DROP_INGRESS_DENIED;
		return;
	}
	decision->reason = PAL_ALLOW_POLICY;
}

#endif /* PALISADE_BPF_LIB_POLICY_H */
