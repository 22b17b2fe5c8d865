/* The flow table: so that the rest of a flow admitted on its first packet,
 * its replies, and ICMP errors about it pass without a policy lookup.
 *
 * An entry is keyed by the flow's tuple as its first packet travelled. It is
 * written where a first packet is let through: by pal_from_pod with
 * PAL_CT_SEEN_AT_SOURCE (the source pod's side let it out: to an address
 * outside the cluster by its egress policy, or on to a pod or Service whose
 * node decides), by pal_to_pod with PAL_CT_ALLOWED_AT_DEST (every side was
 * checked and admitted it). Entries idle for longer than the timeout count as
 * absent; the LRU evicts the oldest when the table is full. The tables decide
 * first packets only: a flow admitted before a policy change goes on until it
 * is idle for its timeout, as in most NetworkPolicy dataplanes. */
#ifndef PALISADE_BPF_LIB_CONNTRACK_H
#define PALISADE_BPF_LIB_CONNTRACK_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"

/* Idle timeouts, set by userspace before load. */
const volatile __u64 pal_ct_tcp_timeout_ns = 3600ULL * 1000000000ULL;
const volatile __u64 pal_ct_other_timeout_ns = 300ULL * 1000000000ULL;

/* How stale an entry's last_seen may be. A flow's packets cross the entry on
 * both ends' CPUs (data one way, acknowledgements the other); writing it on
 * every packet would bounce its cache line between them at line rate. Next to
 * timeouts of minutes, a second of staleness changes nothing. */
#define PAL_CT_REFRESH_NS 1000000000ULL

static __always_inline void pal_ct_reverse(const struct pal_ct_key *tuple, struct pal_ct_key *out)
{
	__builtin_memcpy(out->src, tuple->dst, PAL_ADDR_LEN);
	__builtin_memcpy(out->dst, tuple->src, PAL_ADDR_LEN);
	out->sport = tuple->dport;
	out->dport = tuple->sport;
	out->protocol = tuple->protocol;
}

/* What a live entry says of a flow. */
struct pal_ct_state {
	__u32 flags;	      /* 0: no live entry */
	__u32 sender_ifindex; /* see struct pal_ct */
};

/* The live entry for `key`, which this packet keeps alive; flags 0 when there
 * is none or it has been idle too long. */
static __always_inline struct pal_ct_state pal_ct_lookup(const struct pal_ct_key *key, __u64 now)
{
	struct pal_ct *ct = bpf_map_lookup_elem(&pal_conntrack, key);
	struct pal_ct_state state = {};
	__u64 timeout;
	__u64 last_seen;

	if (!ct)
		return state;
	timeout = key->protocol == PAL_IPPROTO_TCP ? pal_ct_tcp_timeout_ns
						   : pal_ct_other_timeout_ns;
	last_seen = ct->last_seen_ns;
	/* Another CPU may have refreshed it after `now` was read. */
	if (now > last_seen && now - last_seen > timeout)
		return state;
	if (now > last_seen && now - last_seen > PAL_CT_REFRESH_NS)
		ct->last_seen_ns = now;
	state.flags = ct->flags;
	state.sender_ifindex = ct->sender_ifindex;
	return state;
}

/* What a flow's own entry says of it: opened at its source or admitted at
 * its destination (PAL_CT_REPLY only says the reversed flow was). */
#define PAL_CT_OPENED (PAL_CT_SEEN_AT_SOURCE | PAL_CT_ALLOWED_AT_DEST)

/* Whether the packet answers a live flow: its reversed tuple was opened. */
static __always_inline bool pal_ct_is_reply(const struct pal_ct_key *tuple, __u64 now)
{
	struct pal_ct_key reversed = {};

	pal_ct_reverse(tuple, &reversed);
	return (pal_ct_lookup(&reversed, now).flags & PAL_CT_OPENED) != 0;
}

/* Whether the packet is an ICMP error about a live flow of `pod`'s (the
 * packet it quotes came from or went to that pod, as `quoted_end` says). */
static __always_inline bool pal_ct_is_related(const struct pal_packet *packet,
					      const __u8 *quoted_end, const __u8 *pod, __u64 now)
{
	if (!packet->icmp_error || !pal_addr_equal(quoted_end, pod))
		return false;
	return (pal_ct_lookup(&packet->inner, now).flags & PAL_CT_OPENED) != 0 ||
	       pal_ct_is_reply(&packet->inner, now);
}

/* Tracks the flow with `flags` added to those of its live entry (`live`), and
 * its reversed tuple with PAL_CT_REPLY: replies then pass on their own
 * tuple's lookup instead of a miss and a second lookup, which is most of what
 * an established flow costs. An evicted or expired reply entry only sends a
 * reply back to pal_ct_is_reply, which decides the same. `sender` and
 * `reply_sender` are the interfaces of the local pods checked to send the
 * flow's packets and its replies (0: not known, which keeps what an entry
 * already knows). */
static __always_inline void pal_ct_record(const struct pal_ct_key *key, struct pal_ct_state live,
					  __u32 flags, __u32 sender, __u32 reply_sender, __u64 now)
{
	struct pal_ct value = {
		.last_seen_ns = now,
		.flags = live.flags | flags,
		.sender_ifindex = sender ? sender : live.sender_ifindex,
	};
	struct pal_ct_key reversed = {};
	struct pal_ct *reverse;

	bpf_map_update_elem(&pal_conntrack, key, &value, BPF_ANY);
	pal_ct_reverse(key, &reversed);
	reverse = bpf_map_lookup_elem(&pal_conntrack, &reversed);
	if (reverse) {
		reverse->flags |= PAL_CT_REPLY;
		reverse->last_seen_ns = now;
		if (reply_sender)
			reverse->sender_ifindex = reply_sender;
		return;
	}
	value.flags = PAL_CT_REPLY;
	value.sender_ifindex = reply_sender;
	bpf_map_update_elem(&pal_conntrack, &reversed, &value, BPF_NOEXIST);
}

/* Whether a first packet opens a tracked flow: when it is let through on the
 * strength of the policies (or their absence), and in audit mode also when it
 * would have been dropped by them, so that the flow goes on as it would
 * without policies and is reported once. Traffic with the node is allowed
 * whatever the tables say and needs no entry. */
static __always_inline bool pal_ct_opens_flow(__u8 reason, __u32 mode)
{
	if (reason == PAL_ALLOW_POLICY || reason == PAL_ALLOW_DEFERRED)
		return true;
	return mode == PAL_MODE_AUDIT &&
	       (reason == PAL_DROP_INGRESS_DENIED || reason == PAL_DROP_EGRESS_DENIED);
}

#endif /* PALISADE_BPF_LIB_CONNTRACK_H */
