/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the BPF programs and the TypeScript agent. Every
 * struct here is decoded on the user side by src/bpf/layout.ts; a test
 * (test/layout.test.ts) compares that codec with the BTF the compiler emits
 * for these structs, so a change here that is not mirrored there fails.
 *
 * Rules: __u* fields only, explicit padding, no pointers, no bitfields.
 */
#ifndef TCPULSE_H
#define TCPULSE_H

#include <linux/types.h>

/*
 * Log-linear histogram of integer values (microseconds for RTT): values
 * 0..3 have a bucket each, above that every power of two [2^e, 2^(e+1)) is
 * split into HIST_SUB equal sub-buckets. 100 buckets reach 7 * 2^23 us
 * (58.7 s); the last bucket holds everything above and is exported as +Inf.
 */
#define HIST_SUB_BITS 2
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BUCKETS 100

enum dir {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
	DIR_MAX = 2,
};

/*
 * RTT sides. A TSval sent on egress and echoed on ingress measures the path
 * from the interface to the egress destination and back (SIDE_DST); a TSval
 * received on ingress and echoed on egress measures the path to the egress
 * source (SIDE_SRC). On a host NIC SIDE_DST is the peer.
 */
enum side {
	SIDE_DST = 0,
	SIDE_SRC = 1,
	SIDE_MAX = 2,
};

/* Flags seen on a flow; set once, never cleared. */
enum flow_flag {
	FLOW_F_SYN_EGRESS = 1 << 0,    /* SYN without ACK sent: egress source is the client */
	FLOW_F_SYN_INGRESS = 1 << 1,   /* SYN without ACK received: egress source is the server */
	FLOW_F_SYNACK_EGRESS = 1 << 2,
	FLOW_F_SYNACK_INGRESS = 1 << 3,
	FLOW_F_FIN_EGRESS = 1 << 4,
	FLOW_F_FIN_INGRESS = 1 << 5,
	FLOW_F_RST_EGRESS = 1 << 6,
	FLOW_F_RST_INGRESS = 1 << 7,
};

/*
 * A flow in egress orientation: saddr/sport are the source of packets that
 * leave through the interface, whichever direction a packet travels. IPv4
 * addresses are stored IPv4-mapped (::ffff:a.b.c.d) so one key fits both.
 * The interface is part of the key: the same connection seen at two
 * interfaces is two measurement points, and mixing their timestamps would
 * corrupt both.
 */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host byte order */
	__u16 dport;
	__u32 ifindex;
};

/* Timestamp matching state for one side (the ePPing method). */
struct ts_state {
	__u64 pending_ns;    /* when pending_tsval was first seen; 0: nothing pending */
	__u64 last_take_ns;  /* when the last timestamp was taken (rate limit) */
	__u32 pending_tsval; /* waiting for its echo */
	__u32 last_tsval;    /* last TSval seen: a different one is "new" */
};

struct rtt_stats {
	__u64 count;
	__u64 sum_ns;
	__u64 min_ns;      /* lifetime minimum; 0: no sample */
	__u64 win_min_ns;  /* minimum within window win_epoch */
	__u64 prev_min_ns; /* minimum within window win_epoch - 1; 0: none */
	__u32 win_epoch;   /* ktime / cfg.min_rtt_window_ns + 1, truncated; 0: none */
	__u32 _pad;
	__u32 hist[HIST_BUCKETS]; /* microseconds; u32: 4e9 samples per flow */
};

struct flow_stats {
	__u64 first_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 last_ns;
	__u64 packets[DIR_MAX];
	__u64 bytes[DIR_MAX]; /* L3 bytes: IP header, TCP header, payload */
	__u32 flags;          /* enum flow_flag */
	__u32 _pad;
	struct ts_state ts[SIDE_MAX];
	struct rtt_stats rtt[SIDE_MAX];
};

/* Program-wide counters, one per-CPU array slot each. */
enum stat {
	STAT_PACKETS = 0,     /* packets seen by any program */
	STAT_NOT_TCP,         /* not IPv4/IPv6 TCP: passed untouched */
	STAT_MALFORMED,       /* truncated or inconsistent headers */
	STAT_FRAGMENT,        /* non-first IP fragments: no TCP header */
	STAT_FLOW_CREATED,    /* flow entries this program created */
	STAT_FLOW_CREATE_ERROR,  /* flow entry could not be created */
	STAT_TS_TAKEN,        /* timestamps taken for matching */
	STAT_RTT_SAMPLES,     /* echoes matched: RTT samples */
	STAT_TS_EXPIRED,      /* pending timestamps never echoed (overtaken or timed out) */
	STAT_EVENTS_LOST,     /* ring buffer full */
	STAT_MAX,
};

enum flow_event_type {
	FLOW_EV_OPENED = 1, /* flow entry created */
	FLOW_EV_CLOSED_FIN = 2,
	FLOW_EV_CLOSED_RST = 3,
};

/* Rare events (flow opened, flow closed), through the ring buffer. */
struct flow_event {
	struct flow_key key;
	__u64 ts_ns;
	__u32 type;  /* enum flow_event_type */
	__u32 flags; /* flow flags at the time of the event */
};

/* Load-time settings: one const volatile global, written before load. */
struct tcpulse_cfg {
	__u64 rtt_rate_limit_ns;  /* minimum gap between timestamps per flow and side */
	__u64 ts_timeout_ns;      /* a pending timestamp older than this is dropped */
	__u64 min_rtt_window_ns;  /* length of one min-RTT window */
	__u32 emit_events;        /* 1: send flow_event records */
	__u32 _pad;
};

#endif /* TCPULSE_H */
