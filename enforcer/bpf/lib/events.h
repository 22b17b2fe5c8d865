/* What the dataplane reports: a per-CPU counter per packet by reason, and a
 * flow event per packet it drops (or, in audit mode, would drop). */
#ifndef PALISADE_BPF_LIB_EVENTS_H
#define PALISADE_BPF_LIB_EVENTS_H

#include "common.h"
#include "maps.h"
#include "policy.h"

static __always_inline void pal_count(__u32 reason)
{
	__u64 *packets = bpf_map_lookup_elem(&pal_counters, &reason);

	if (packets)
		*packets += 1; /* per CPU: no other writer */
}

/* A full ring buffer loses the event, never the verdict. */
static __always_inline void pal_emit(struct __sk_buff *skb, const struct pal_ct_key *tuple,
				     const struct pal_decision *decision, __u8 verdict)
{
	struct pal_flow_event *event = bpf_ringbuf_reserve(&pal_events, sizeof(*event), 0);

	if (!event)
		return;
	event->timestamp_ns = bpf_ktime_get_ns();
	__builtin_memcpy(event->src, tuple->src, PAL_ADDR_LEN);
	__builtin_memcpy(event->dst, tuple->dst, PAL_ADDR_LEN);
	event->sport = tuple->sport;
	event->dport = tuple->dport;
	event->protocol = tuple->protocol;
	event->direction = decision->direction;
	event->verdict = verdict;
	event->reason = decision->reason;
	event->ifindex = skb->ifindex;
	event->src_identity = decision->src_identity;
	event->dst_identity = decision->dst_identity;
	event->ruleset = decision->ruleset;
	bpf_ringbuf_submit(event, 0);
}

static __always_inline int pal_pass(__u32 reason)
{
	pal_count(reason);
	return TC_ACT_OK;
}

/* The tc action for a decision: counted under its reason, except that in
 * audit mode nothing is dropped and what would have been is counted as
 * PAL_AUDIT_WOULD_DROP (each packet is counted once). Dropped packets vanish:
 * no TCP reset, no ICMP error, so clients time out as the Kubernetes
 * conformance tests expect. `tuple` is NULL when the packet could not be read. */
static __always_inline int pal_verdict(struct __sk_buff *skb, const struct pal_ct_key *tuple,
				       const struct pal_decision *decision, __u32 mode)
{
	const bool audit = mode == PAL_MODE_AUDIT;

	if (pal_reason_allows(decision->reason))
		return pal_pass(decision->reason);
	if (tuple)
		pal_emit(skb, tuple, decision,
			 audit ? PAL_VERDICT_WOULD_DROP : PAL_VERDICT_DROPPED);
	if (audit)
		return pal_pass(PAL_AUDIT_WOULD_DROP);
	pal_count(decision->reason);
	return TC_ACT_SHOT;
}

#endif /* PALISADE_BPF_LIB_EVENTS_H */
