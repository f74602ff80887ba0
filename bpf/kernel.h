/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the socket programs read, as CO-RE local
 * definitions: libbpf relocates every access by field name against the
 * running kernel's BTF, so only the names used here must exist there (and
 * fields inside anonymous unions are found through them). This keeps the
 * build independent of the build host's kernel and of a vmlinux.h.
 */
#ifndef TCPULSE_KERNEL_H
#define TCPULSE_KERNEL_H

#include <linux/types.h>

#define CORE __attribute__((preserve_access_index))

/* the kernel's in6_addr is a union of arrays: read it whole */
struct in6_addr___t {
	__u8 bytes[16];
};

struct ns_common {
	unsigned int inum;
} CORE;

struct net {
	struct ns_common ns;
} CORE;

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr___t skc_v6_daddr;
	struct in6_addr___t skc_v6_rcv_saddr;
} CORE;

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	__u16 sk_protocol;
} CORE;

struct inet_connection_sock {
	void *icsk_ulp_data;
} CORE;

struct minmax_sample {
	__u32 t;
	__u32 v;
} CORE;

struct minmax {
	struct minmax_sample s[3];
} CORE;

struct tcp_sock {
	__u32 srtt_us; /* smoothed RTT << 3, in microseconds */
	__u32 mdev_us; /* mean deviation << 2 (tcp_info's rttvar is mdev_us >> 2) */
	__u32 packets_out;
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 mss_cache;
	__u32 total_retrans;
	__u32 delivered;
	__u64 bytes_sent;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 bytes_retrans; /* since 4.19 */
	__u32 segs_in;
	__u32 segs_out;
	struct minmax rtt_min;
	_Bool is_mptcp;
} CORE;

struct mptcp_subflow_context {
	struct sock *conn;
} CORE;

struct mptcp_sock {
	__u32 token;
	struct sock *first;
} CORE;

#endif /* TCPULSE_KERNEL_H */
