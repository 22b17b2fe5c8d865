/* What every part of the dataplane includes: the kernel's types (vmlinux.h,
 * generated from the running kernel's BTF at build time), libbpf's helpers,
 * the ABI shared with userspace, and the few uapi constants that are macros
 * and so absent from BTF. */
#ifndef PALISADE_BPF_LIB_COMMON_H
#define PALISADE_BPF_LIB_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "policy/dataplane_abi.h"

/* include/uapi/linux/pkt_cls.h */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* include/uapi/linux/if_ether.h */
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* IP protocol numbers (include/uapi/linux/in.h, in6.h) */
#define PAL_IPPROTO_HOPOPTS 0
#define PAL_IPPROTO_ICMP 1
#define PAL_IPPROTO_TCP 6
#define PAL_IPPROTO_UDP 17
#define PAL_IPPROTO_ROUTING 43
#define PAL_IPPROTO_FRAGMENT 44
#define PAL_IPPROTO_AH 51
#define PAL_IPPROTO_ICMPV6 58
#define PAL_IPPROTO_DSTOPTS 60
#define PAL_IPPROTO_SCTP 132

/* The protocols whose ports NetworkPolicy rules name. */
static __always_inline bool pal_is_port_protocol(__u8 protocol)
{
	return protocol == PAL_IPPROTO_TCP || protocol == PAL_IPPROTO_UDP ||
	       protocol == PAL_IPPROTO_SCTP;
}

/* clang's BPF backend has no memcmp. */
static __always_inline bool pal_addr_equal(const __u8 *a, const __u8 *b)
{
	__u8 diff = 0;

#pragma unroll
	for (int i = 0; i < PAL_ADDR_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

#endif /* PALISADE_BPF_LIB_COMMON_H */
