/* Reading a packet into the tuple the dataplane decides on: addresses in the
 * 16-byte form of the ABI (IPv4 as ::ffff:a.b.c.d), the protocol, and ports
 * in host byte order.
 *
 * - TCP, UDP, SCTP: the ports (the first four bytes of each header).
 * - ICMP and ICMPv6 echo: the identifier is the source port of a request and
 *   the destination port of a reply (the other port 0), so that a reply's
 *   reversed tuple is its request's, while a request never passes for the
 *   reply to one going the other way.
 * - ICMP and ICMPv6 errors: ports 0, and the tuple of the packet they are
 *   about, read from the header they carry, so that an error about a tracked
 *   flow passes with it.
 * - Other protocols, other ICMP messages, and IPv4/IPv6 fragments other than
 *   the first (which carry no transport header): ports 0. A policy rule with a
 *   port therefore never admits a non-first fragment; a rule without ports (or
 *   with the protocol alone) does. Tracking fragments would need the first
 *   fragment's ports remembered per (addresses, IP id).
 *
 * Every read goes through bpf_skb_load_bytes: it works on non-linear skbs and
 * keeps the verifier out of variable packet offsets (IPv4 options, IPv6
 * extension headers). */
#ifndef PALISADE_BPF_LIB_PARSE_H
#define PALISADE_BPF_LIB_PARSE_H

#include "common.h"

/* Extension headers walked before the transport header; a packet with more is
 * malformed (a legitimate one never has more than a handful). */
#define PAL_MAX_IPV6_EXT_HEADERS 8

#define PAL_ICMP_ECHO_REPLY 0
#define PAL_ICMP_DEST_UNREACH 3
#define PAL_ICMP_SOURCE_QUENCH 4
#define PAL_ICMP_REDIRECT 5
#define PAL_ICMP_ECHO 8
#define PAL_ICMP_TIME_EXCEEDED 11
#define PAL_ICMP_PARAMETERPROB 12

#define PAL_ICMPV6_DEST_UNREACH 1
#define PAL_ICMPV6_PARAMPROB 4
#define PAL_ICMPV6_ECHO_REQUEST 128
#define PAL_ICMPV6_ECHO_REPLY 129
#define PAL_ICMPV6_ND_FIRST 133 /* router solicitation */
#define PAL_ICMPV6_ND_LAST 137  /* redirect */

/* Where the ICMP header ends and the header of the packet an error is about
 * begins. */
#define PAL_ICMP_HEADER_LEN 8

enum pal_parse_result {
	PAL_PARSE_IP = 0,
	PAL_PARSE_NOT_IP = 1,
	PAL_PARSE_MALFORMED = 2,
};

struct pal_packet {
	struct pal_ct_key tuple;
	struct pal_ct_key inner; /* icmp_error: the packet the error is about */
	__u8 icmp_error;
	__u8 neighbour_discovery; /* ICMPv6 router/neighbour discovery, redirect */
};

/* What follows an IP header: where the transport header starts, and whether
 * this is a fragment without one. */
struct pal_l3 {
	__u32 l4_offset;
	__u8 protocol;
	__u8 later_fragment;
};

static __always_inline void pal_ipv4_addr(__u8 *out, __be32 address)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &address, 4);
}

static __always_inline int pal_parse_ipv4(struct __sk_buff *skb, __u32 offset,
					  struct pal_ct_key *tuple, struct pal_l3 *l3)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, offset, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 4 || ip.ihl < 5)
		return -1;
	pal_ipv4_addr(tuple->src, ip.saddr);
	pal_ipv4_addr(tuple->dst, ip.daddr);
	tuple->protocol = ip.protocol;
	l3->protocol = ip.protocol;
	l3->l4_offset = offset + ip.ihl * 4;
	/* The fragment offset, without the flags. */
	l3->later_fragment = (bpf_ntohs(ip.frag_off) & 0x1fff) != 0;
	return 0;
}

static __always_inline int pal_parse_ipv6(struct __sk_buff *skb, __u32 offset,
					  struct pal_ct_key *tuple, struct pal_l3 *l3)
{
	struct ipv6hdr ip;
	__u8 next;

	if (bpf_skb_load_bytes(skb, offset, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 6)
		return -1;
	__builtin_memcpy(tuple->src, &ip.saddr, PAL_ADDR_LEN);
	__builtin_memcpy(tuple->dst, &ip.daddr, PAL_ADDR_LEN);
	offset += sizeof(ip);
	next = ip.nexthdr;
	l3->later_fragment = 0;

	for (int i = 0; i < PAL_MAX_IPV6_EXT_HEADERS; i++) {
		/* next header, length, and for a fragment header its offset */
		__u8 ext[4];

		if (next != PAL_IPPROTO_HOPOPTS && next != PAL_IPPROTO_ROUTING &&
		    next != PAL_IPPROTO_DSTOPTS && next != PAL_IPPROTO_AH &&
		    next != PAL_IPPROTO_FRAGMENT)
			break;
		if (bpf_skb_load_bytes(skb, offset, ext, sizeof(ext)) < 0)
			return -1;
		if (next == PAL_IPPROTO_FRAGMENT) {
			__u16 fragment_offset = ((__u16)ext[2] << 8) | ext[3];

			if (fragment_offset & 0xfff8)
				l3->later_fragment = 1;
			offset += 8;
		} else if (next == PAL_IPPROTO_AH) {
			offset += ((__u32)ext[1] + 2) * 4; /* RFC 4302: in 4-byte units, minus 2 */
		} else {
			offset += ((__u32)ext[1] + 1) * 8; /* RFC 8200: in 8-byte units, minus 1 */
		}
		next = ext[0];
		if (l3->later_fragment)
			break; /* what follows is the middle of a payload */
	}
	if (!l3->later_fragment &&
	    (next == PAL_IPPROTO_HOPOPTS || next == PAL_IPPROTO_ROUTING ||
	     next == PAL_IPPROTO_DSTOPTS || next == PAL_IPPROTO_AH ||
	     next == PAL_IPPROTO_FRAGMENT))
		return -1; /* more extension headers than PAL_MAX_IPV6_EXT_HEADERS */
	tuple->protocol = next;
	l3->protocol = next;
	l3->l4_offset = offset;
	return 0;
}

/* The ports of a TCP, UDP or SCTP header: its first four bytes. */
static __always_inline int pal_parse_ports(struct __sk_buff *skb, __u32 offset,
					   struct pal_ct_key *tuple)
{
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, offset, ports, sizeof(ports)) < 0)
		return -1;
	tuple->sport = bpf_ntohs(ports[0]);
	tuple->dport = bpf_ntohs(ports[1]);
	return 0;
}

static __always_inline bool pal_is_icmp_error(__u8 protocol, __u8 type)
{
	if (protocol == PAL_IPPROTO_ICMP)
		return type == PAL_ICMP_DEST_UNREACH || type == PAL_ICMP_SOURCE_QUENCH ||
		       type == PAL_ICMP_REDIRECT || type == PAL_ICMP_TIME_EXCEEDED ||
		       type == PAL_ICMP_PARAMETERPROB;
	return type >= PAL_ICMPV6_DEST_UNREACH && type <= PAL_ICMPV6_PARAMPROB;
}

static __always_inline bool pal_is_icmp_echo(__u8 protocol, __u8 type)
{
	if (protocol == PAL_IPPROTO_ICMP)
		return type == PAL_ICMP_ECHO || type == PAL_ICMP_ECHO_REPLY;
	return type == PAL_ICMPV6_ECHO_REQUEST || type == PAL_ICMPV6_ECHO_REPLY;
}

static __always_inline bool pal_is_icmp_echo_reply(__u8 protocol, __u8 type)
{
	return type == (protocol == PAL_IPPROTO_ICMP ? PAL_ICMP_ECHO_REPLY : PAL_ICMPV6_ECHO_REPLY);
}

/* The identifier of an echo message of type `type`, whose header starts at
 * `offset`, as a port. */
static __always_inline int pal_parse_echo_id(struct __sk_buff *skb, __u32 offset, __u8 type,
					     struct pal_ct_key *tuple)
{
	__be16 id;

	if (bpf_skb_load_bytes(skb, offset + 4, &id, sizeof(id)) < 0)
		return -1;
	if (pal_is_icmp_echo_reply(tuple->protocol, type))
		tuple->dport = bpf_ntohs(id);
	else
		tuple->sport = bpf_ntohs(id);
	return 0;
}

/* The packet an ICMP error carries (its IP header and the first 8 bytes of
 * its payload, at least), as a tuple. Fails when it cannot be read. */
static __always_inline int pal_parse_inner(struct __sk_buff *skb, __u32 offset, bool ipv6,
					   struct pal_ct_key *inner)
{
	struct pal_l3 l3 = {};
	int err;

	if (ipv6)
		err = pal_parse_ipv6(skb, offset, inner, &l3);
	else
		err = pal_parse_ipv4(skb, offset, inner, &l3);
	if (err < 0)
		return -1;
	if (l3.later_fragment)
		return 0;
	if (pal_is_port_protocol(l3.protocol))
		return pal_parse_ports(skb, l3.l4_offset, inner);
	if (l3.protocol == (ipv6 ? PAL_IPPROTO_ICMPV6 : PAL_IPPROTO_ICMP)) {
		__u8 type;

		if (bpf_skb_load_bytes(skb, l3.l4_offset, &type, 1) < 0)
			return -1;
		if (pal_is_icmp_echo(l3.protocol, type))
			return pal_parse_echo_id(skb, l3.l4_offset, type, inner);
	}
	return 0;
}

static __always_inline int pal_parse_icmp(struct __sk_buff *skb, const struct pal_l3 *l3,
					  bool ipv6, struct pal_packet *packet)
{
	__u8 type;

	if (bpf_skb_load_bytes(skb, l3->l4_offset, &type, 1) < 0)
		return -1;
	if (pal_is_icmp_echo(l3->protocol, type))
		return pal_parse_echo_id(skb, l3->l4_offset, type, &packet->tuple);
	if (ipv6 && type >= PAL_ICMPV6_ND_FIRST && type <= PAL_ICMPV6_ND_LAST)
		packet->neighbour_discovery = 1;
	/* An error whose quoted packet cannot be read is judged as a packet of its
	 * own (protocol ICMP, ports 0), which only a rule without ports admits. */
	if (pal_is_icmp_error(l3->protocol, type) &&
	    pal_parse_inner(skb, l3->l4_offset + PAL_ICMP_HEADER_LEN, ipv6, &packet->inner) == 0)
		packet->icmp_error = 1;
	return 0;
}

static __always_inline enum pal_parse_result pal_parse(struct __sk_buff *skb,
						       struct pal_packet *packet)
{
	/* skb->protocol rather than the Ethernet header: a VLAN tag has already
	 * been taken out of the frame when tc runs. */
	const __u16 ethertype = bpf_ntohs(skb->protocol);
	const bool ipv6 = ethertype == ETH_P_IPV6;
	struct pal_l3 l3 = {};
	int err;

	if (ethertype == ETH_P_IP)
		err = pal_parse_ipv4(skb, ETH_HLEN, &packet->tuple, &l3);
	else if (ipv6)
		err = pal_parse_ipv6(skb, ETH_HLEN, &packet->tuple, &l3);
	else
		return PAL_PARSE_NOT_IP;
	if (err < 0)
		return PAL_PARSE_MALFORMED;
	if (l3.later_fragment)
		return PAL_PARSE_IP;
	if (pal_is_port_protocol(l3.protocol))
		err = pal_parse_ports(skb, l3.l4_offset, &packet->tuple);
	else if (l3.protocol == (ipv6 ? PAL_IPPROTO_ICMPV6 : PAL_IPPROTO_ICMP))
		err = pal_parse_icmp(skb, &l3, ipv6, packet);
	return err < 0 ? PAL_PARSE_MALFORMED : PAL_PARSE_IP;
}

/* IPv6 traffic that cannot leave the link between a pod and its node:
 * neighbour and router discovery, and anything to a link-local address
 * (fe80::/10) or a link-scope multicast group (ffx2::/16). Without it a pod
 * could not resolve its gateway. (A link-local source with a routable
 * destination gets no pass: it meets the anti-spoofing check, and no router
 * forwards it anyway.) IPv4 has ARP, which is not IP; its link-local range
 * (169.254/16, where cloud metadata services live) is routed and stays under
 * policy. */
static __always_inline bool pal_is_link_local(const struct pal_packet *packet)
{
	const __u8 *dst = packet->tuple.dst;

	return packet->neighbour_discovery || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) ||
	       (dst[0] == 0xff && (dst[1] & 0x0f) == 0x02);
}

#endif /* PALISADE_BPF_LIB_PARSE_H */
