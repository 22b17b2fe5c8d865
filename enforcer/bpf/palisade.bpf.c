/* Palisade's dataplane: NetworkPolicy on the host side of each local pod's
 * veth. tc ingress there sees what the pod sends (pal_from_pod), tc egress
 * what it receives (pal_to_pod). The decisions are those of
 * policy/dataplane_lookup.cpp; lib/ holds the pieces. */
#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/events.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/policy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* What a packet's form alone decides, before any table is read: frames that
 * are not IP pass, unreadable ones are dropped, link-local traffic passes.
 * Anything else returns PAL_UNDECIDED with `packet` parsed. */
#define PAL_UNDECIDED (-1) /* TC_ACT_UNSPEC, which neither program returns */

static __always_inline int pal_judge_form(struct __sk_buff *skb, struct pal_packet *packet,
					  __u32 mode)
{
	struct pal_decision decision = {};

	switch (pal_parse(skb, packet)) {
	case PAL_PARSE_NOT_IP:
		return pal_pass(PAL_ALLOW_NOT_IP);
	case PAL_PARSE_MALFORMED:
		decision.reason = PAL_DROP_MALFORMED;
		return pal_verdict(skb, NULL, &decision, mode);
	default:
		break;
	}
	if (pal_is_link_local(packet))
		return pal_pass(PAL_ALLOW_LINK_LOCAL);
	return PAL_UNDECIDED;
}

/* What local pod tuple.src sends. Egress to addresses outside the pod network
 * is decided here; to pods and Services it is deferred to where it arrives
 * (a Service's ClusterIP is only translated to a pod after this point). */
SEC("tc")
int pal_from_pod(struct __sk_buff *skb)
{
	/* Read once: the verifier refuses a context field read through a pointer
	 * the compiler derived from the context. */
	const __u32 ifindex = skb->ifindex;
	const struct pal_config config = pal_read_config();
	struct pal_decision decision = {};
	struct pal_packet packet = {};
	struct pal_ct_state tracked;
	int by_form;
	__u64 now;

	by_form = pal_judge_form(skb, &packet, config.mode);
	if (by_form != PAL_UNDECIDED)
		return by_form;

	now = bpf_ktime_get_ns();
	tracked = pal_ct_lookup(&packet.tuple, now);
	/* A flow this interface's pod was checked to send on: its source address
	 * was this pod's when the entry was written, so the anti-spoofing lookup
	 * is spared for the rest of the flow. */
	if ((tracked.flags & (PAL_CT_SEEN_AT_SOURCE | PAL_CT_REPLY)) &&
	    tracked.sender_ifindex == ifindex)
		return pal_pass(PAL_ALLOW_CONNTRACK);
	if (!pal_is_own_address(ifindex, packet.tuple.src)) {
		decision.direction = PAL_DIR_EGRESS;
		decision.reason = PAL_DROP_SPOOFED;
		return pal_verdict(skb, &packet.tuple, &decision, config.mode);
	}
	if ((tracked.flags & (PAL_CT_SEEN_AT_SOURCE | PAL_CT_REPLY)) ||
	    pal_ct_is_reply(&packet.tuple, now) ||
	    pal_ct_is_related(&packet, packet.inner.dst, packet.tuple.src, now))
		return pal_pass(PAL_ALLOW_CONNTRACK);

	pal_decide_leaving_pod(config.generation, &packet.tuple, &decision);
	if (pal_ct_opens_flow(decision.reason, config.mode))
		pal_ct_record(&packet.tuple, tracked, PAL_CT_SEEN_AT_SOURCE, ifindex, 0, now);
	return pal_verdict(skb, &packet.tuple, &decision, config.mode);
}

/* What local pod tuple.dst receives: every side of a flow between pods, and
 * the ingress side of a flow from outside, is decided here. */
SEC("tc")
int pal_to_pod(struct __sk_buff *skb)
{
	const __u32 ifindex = skb->ifindex; /* read once, as in pal_from_pod */
	const struct pal_config config = pal_read_config();
	struct pal_decision decision = {};
	struct pal_packet packet = {};
	struct pal_ct_state tracked;
	int by_form;
	__u64 now;

	by_form = pal_judge_form(skb, &packet, config.mode);
	if (by_form != PAL_UNDECIDED)
		return by_form;

	now = bpf_ktime_get_ns();
	tracked = pal_ct_lookup(&packet.tuple, now);
	if ((tracked.flags & (PAL_CT_ALLOWED_AT_DEST | PAL_CT_REPLY)) ||
	    pal_ct_is_reply(&packet.tuple, now) ||
	    pal_ct_is_related(&packet, packet.inner.src, packet.tuple.dst, now))
		return pal_pass(PAL_ALLOW_CONNTRACK);

	pal_decide_reaching_pod(config.generation, &packet.tuple, &decision);
	if (pal_ct_opens_flow(decision.reason, config.mode)) {
		/* The pod's replies leave through this interface; whether they come
		 * from its own address is checked once, here. */
		const __u32 reply_sender =
			pal_is_own_address(ifindex, packet.tuple.dst) ? ifindex : 0;

		pal_ct_record(&packet.tuple, tracked, PAL_CT_ALLOWED_AT_DEST, 0, reply_sender, now);
	}
	return pal_verdict(skb, &packet.tuple, &decision, config.mode);
}
