/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded, read-only parsing of Ethernet / VLAN / IPv4 / IPv6 / TCP. Every
 * access is checked against data_end; any byte sequence ends in "not TCP" or
 * "malformed", never in a fault or a changed packet.
 */
#ifndef TCPULSE_PARSE_H
#define TCPULSE_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tcpulse.h"
#include "common.h"

/* 802.1Q inside 802.1ad is the common stack; more tags are not TCP to us. */
#define MAX_VLAN_TAGS 2
/* Hop-by-hop, routing, destination options, fragment, AH: six is more than
 * any sane packet carries (RFC 8200 recommends each at most once). */
#define MAX_IPV6_EXT 6
/* 40 option bytes; a NOP counts as one step, so ten steps cover every real
 * stack (Linux: NOP NOP TS, or MSS SACKOK TS NOP WS on SYN). */
#define MAX_TCP_OPTS 10

/* Ethernet + 2 VLAN tags + IPv6 with its extension headers, generously. */
#define MAX_TCP_OFFSET 1024

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TIMESTAMP 8
#define TCPOLEN_TIMESTAMP 10

enum parse_result {
	PARSE_OK = 0,
	PARSE_NOT_TCP,
	PARSE_MALFORMED,
	PARSE_FRAGMENT,
};

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 tcp_flags; /* the flags byte: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
	__u8 has_ts;
	__u16 l2_len;  /* bytes before the IP header */
	__u16 l4_off;  /* bytes before the TCP header (qlog copies it from there) */
	__u32 hdr_len; /* IP + TCP header bytes (repeated per GSO segment) */
	__u32 l3_len;  /* IP packet length from its header */
	__u32 payload; /* TCP payload bytes */
	__u32 tsval;
	__u32 tsecr;
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static __always_inline int parse_tcp_opts(struct tcphdr *th, void *data_end, struct pkt *p)
{
	__u8 *pos = (__u8 *)(th + 1);
	__u8 *opt_end = (__u8 *)th + th->doff * 4;
	int i;

	for (i = 0; i < MAX_TCP_OPTS; i++) {
		__u8 kind, len;

		if ((void *)(pos + 1) > data_end || pos + 1 > opt_end)
			return 0;
		kind = pos[0];
		if (kind == TCPOPT_EOL)
			return 0;
		if (kind == TCPOPT_NOP) {
			pos++;
			continue;
		}
		if ((void *)(pos + 2) > data_end || pos + 2 > opt_end)
			return 0;
		len = pos[1];
		if (len < 2)
			return 0; /* would loop forever on a real stack too: stop */
		if (kind == TCPOPT_TIMESTAMP && len == TCPOLEN_TIMESTAMP) {
			if ((void *)(pos + TCPOLEN_TIMESTAMP) > data_end ||
			    pos + TCPOLEN_TIMESTAMP > opt_end)
				return 0;
			p->tsval = bpf_ntohl(*(__be32 *)(pos + 2));
			p->tsecr = bpf_ntohl(*(__be32 *)(pos + 6));
			p->has_ts = 1;
			return 0;
		}
		pos += len;
	}
	return 0;
}

static __always_inline int parse_ipv6_ext(void **cursor, void *data_end, __u8 *nexthdr)
{
	void *c = *cursor;
	int i;

	for (i = 0; i < MAX_IPV6_EXT; i++) {
		__u8 nh = *nexthdr;

		if (nh == IPPROTO_TCP) {
			*cursor = c;
			return PARSE_OK;
		}
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			__u8 *h = c;

			if ((void *)(h + 2) > data_end)
				return PARSE_MALFORMED;
			*nexthdr = h[0];
			c += (h[1] + 1) * 8;
		} else if (nh == IPPROTO_FRAGMENT) {
			__u8 *h = c;

			if ((void *)(h + 8) > data_end)
				return PARSE_MALFORMED;
			/* offset is the top 13 bits of bytes 2-3 */
			if (bpf_ntohs(*(__be16 *)(h + 2)) & 0xfff8)
				return PARSE_FRAGMENT;
			*nexthdr = h[0];
			c += 8;
		} else if (nh == IPPROTO_AH) {
			__u8 *h = c;

			if ((void *)(h + 2) > data_end)
				return PARSE_MALFORMED;
			*nexthdr = h[0];
			c += (h[1] + 2) * 4;
		} else {
			return PARSE_NOT_TCP;
		}
	}
	if (*nexthdr == IPPROTO_TCP) {
		*cursor = c;
		return PARSE_OK;
	}
	return PARSE_NOT_TCP;
}

/* p->hdr_len holds the IP header length on entry. */
static __always_inline int parse_tcp(struct tcphdr *th, void *data_end, struct pkt *p)
{
	__u32 tcp_len;

	if ((void *)(th + 1) > data_end)
		return PARSE_MALFORMED;
	if (th->doff < 5)
		return PARSE_MALFORMED;
	tcp_len = th->doff * 4;
	p->sport = bpf_ntohs(th->source);
	p->dport = bpf_ntohs(th->dest);
	p->tcp_flags = ((__u8 *)th)[13];
	p->hdr_len += tcp_len;
	/* tot_len 0 is legal for BIG TCP / GSO; the skb path sizes such
	 * packets from the skb length instead */
	p->payload = p->l3_len > p->hdr_len ? p->l3_len - p->hdr_len : 0;
	p->has_ts = 0;
	parse_tcp_opts(th, data_end, p);
	return PARSE_OK;
}

/*
 * Parses from data (the Ethernet header) and fills p. The return value is
 * enum parse_result; p is meaningful only for PARSE_OK.
 */
static __always_inline int parse_packet(void *data, void *data_end, struct pkt *p)
{
	struct ethhdr *eth = data;
	void *cursor;
	__u16 proto;
	__u32 ip_hdr_len;
	__u64 off;
	int i;

	if ((void *)(eth + 1) > data_end)
		return PARSE_MALFORMED;
	proto = eth->h_proto;
	cursor = eth + 1;

	for (i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_hdr *vh = cursor;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return PARSE_MALFORMED;
		proto = vh->proto;
		cursor = vh + 1;
	}
	p->l2_len = cursor - data;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = cursor;

		if ((void *)(iph + 1) > data_end)
			return PARSE_MALFORMED;
		if (iph->version != 4 || iph->ihl < 5)
			return PARSE_MALFORMED;
		if (iph->protocol != IPPROTO_TCP)
			return PARSE_NOT_TCP;
		if (bpf_ntohs(iph->frag_off) & 0x1fff)
			return PARSE_FRAGMENT;
		ip_hdr_len = iph->ihl * 4;
		p->l3_len = bpf_ntohs(iph->tot_len);
		if (p->l3_len < ip_hdr_len)
			return PARSE_MALFORMED;
		map_v4(p->saddr, iph->saddr);
		map_v4(p->daddr, iph->daddr);
		cursor += ip_hdr_len;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = cursor;
		__u8 nexthdr;
		int r;

		if ((void *)(ip6h + 1) > data_end)
			return PARSE_MALFORMED;
		if (ip6h->version != 6)
			return PARSE_MALFORMED;
		nexthdr = ip6h->nexthdr;
		__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6h->daddr, 16);
		p->l3_len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
		cursor = ip6h + 1;
		r = parse_ipv6_ext(&cursor, data_end, &nexthdr);
		if (r != PARSE_OK)
			return r;
		ip_hdr_len = cursor - (void *)ip6h;
	} else {
		return PARSE_NOT_TCP;
	}

	/*
	 * Forget which L2/L3 path led here: a TCP header at a bounded variable
	 * offset lets the verifier check the option loop once instead of once
	 * per VLAN and extension header combination.
	 */
	off = cursor - data;
	barrier_var(off);
	if (off > MAX_TCP_OFFSET)
		return PARSE_MALFORMED;
	p->l4_off = off;
	p->hdr_len = ip_hdr_len;
	return parse_tcp(data + off, data_end, p);
}

#endif /* TCPULSE_PARSE_H */
