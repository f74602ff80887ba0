/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * qlog tracing, the part both objects share: the filter maps the agent
 * fills (addresses and CIDRs, ports), the match, and the records' ring
 * buffer. sock.bpf.c's qlog_events is replaced before load by
 * packet.bpf.c's (bpf_map__reuse_fd), so both write into one ring.
 *
 * The filter runs only where tracing can start: when a flow entry is
 * created, when a socket becomes established. Nothing here runs per packet
 * for a flow that is not traced, and nothing at all when cfg.qlog is 0 (a
 * .rodata constant: the verifier removes the branches).
 */
#ifndef TCPULSE_QLOG_H
#define TCPULSE_QLOG_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "tcpulse.h"

/* Endpoints to trace: /128 for an address, /(96 + n) for an IPv4 CIDR. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1); /* the agent sizes it */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct qlog_addr);
	__type(value, __u8);
} qlog_addrs SEC(".maps");

/* Ports to trace, either end. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* the agent sizes it */
	__type(key, __u16);
	__type(value, __u8);
} qlog_ports SEC(".maps");

/* Packet and socket records of traced connections. One page while qlog is
 * off; the agent sizes it otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} qlog_events SEC(".maps");

static __always_inline int qlog_addr_in(const __u8 *a)
{
	struct qlog_addr k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, a, 16);
	return bpf_map_lookup_elem(&qlog_addrs, &k) != NULL;
}

static __always_inline int qlog_port_in(__u16 port)
{
	return bpf_map_lookup_elem(&qlog_ports, &port) != NULL;
}

/* Whether a connection between these ends is to be traced: every criterion
 * that is on (addresses, ports) must hold for one of its ends. */
static __always_inline int qlog_match(__u32 flags, const __u8 *saddr, const __u8 *daddr,
				      __u16 sport, __u16 dport)
{
	if (!(flags & QLOG_ON))
		return 0;
	if ((flags & QLOG_BY_PORT) && !qlog_port_in(sport) && !qlog_port_in(dport))
		return 0;
	if ((flags & QLOG_BY_ADDR) && !qlog_addr_in(saddr) && !qlog_addr_in(daddr))
		return 0;
	return 1;
}

/*
 * The agent drains qlog_events on a short timer; a record wakes it only
 * when the ring's fill crosses a quarter (the records within 8 KiB past
 * it), so a traced bulk transfer costs neither a wake-up per packet nor,
 * while the agent is slow to come, one per record above the mark.
 */
static __always_inline __u64 qlog_wakeup(void)
{
	__u64 mark = bpf_ringbuf_query(&qlog_events, BPF_RB_RING_SIZE) / 4;
	__u64 avail = bpf_ringbuf_query(&qlog_events, BPF_RB_AVAIL_DATA);

	return avail > mark && avail <= mark + 8192 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif /* TCPULSE_QLOG_H */
