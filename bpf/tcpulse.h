/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the BPF programs and the TypeScript agent. The user
 * side's layouts, value types, readers and enums are generated from the BTF
 * the compiler emits for this header (bpf/contract.c holds one of each;
 * bpf/gen/btf2ts.ts writes src/bpf/contract.gen.ts), and a test fails when
 * the generated file is not current.
 *
 * Rules: __u* fields only, explicit padding, no pointers, no bitfields;
 * numbers the user side needs are enum members, not #defines (those leave
 * no trace in the BTF).
 */
#ifndef TCPULSE_H
#define TCPULSE_H

#include <linux/types.h>

/*
 * Histograms of integer values (nanoseconds for RTTs, counts for cwnd) in
 * geometric buckets, four per power of two: Prometheus native histogram
 * schema 2 (OTLP exponential scale 2) in the exported unit, so that the
 * agent exports the kernel's buckets as they are. Bucket 0 is the zero
 * bucket, the last also holds everything above. Bounds: bpf/hist.h.
 */
enum hist_geometry {
	HIST_BUCKETS = 100,
};

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
	FLOW_F_SYN_EGRESS = 1 << 0,  /* SYN without ACK sent: egress source is the client */
	FLOW_F_SYN_INGRESS = 1 << 1, /* SYN without ACK received: egress source is the server */
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
	__u64 min_ns;	   /* lifetime minimum; 0: no sample */
	__u64 win_min_ns;  /* minimum within window win_epoch */
	__u64 prev_min_ns; /* minimum within window win_epoch - 1; 0: none */
	__u32 win_epoch;   /* ktime / cfg.min_rtt_window_ns + 1, truncated; 0: none */
	__u32 _pad;
	__u32 hist[HIST_BUCKETS]; /* nanosecond buckets; u32: 4e9 samples per flow */
};

struct flow_stats {
	__u64 first_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 last_ns;
	__u64 packets[DIR_MAX];
	__u64 bytes[DIR_MAX]; /* L3 bytes: IP header, TCP header, payload */
	__u32 flags;	      /* enum flow_flag */
	__u32 traced;	      /* 1: matched the qlog filter at creation (packets go to qlog_events
			       * while the flow is in the traced map) */
	struct ts_state ts[SIDE_MAX];
	struct rtt_stats rtt[SIDE_MAX];
};

/* Program-wide counters, one per-CPU array slot each. */
enum stat {
	STAT_PACKETS = 0,	/* packets seen by any program */
	STAT_NOT_TCP,		/* not IPv4/IPv6 TCP: passed untouched */
	STAT_MALFORMED,		/* truncated or inconsistent headers */
	STAT_FRAGMENT,		/* non-first IP fragments: no TCP header */
	STAT_FLOW_CREATED,	/* flow entries this program created */
	STAT_FLOW_CREATE_ERROR, /* flow entry could not be created */
	STAT_TS_TAKEN,		/* timestamps taken for matching */
	STAT_RTT_SAMPLES,	/* echoes matched: RTT samples */
	STAT_TS_EXPIRED,	/* pending timestamps never echoed (overtaken or timed out) */
	STAT_EVENTS_LOST,	/* ring buffer full */
	STAT_QLOG_TRACED,	/* flows that matched the qlog filter and were traced */
	STAT_QLOG_FULL,		/* flows that matched, but the traced map was full */
	STAT_QLOG_RECORDS,	/* packet records sent to qlog_events */
	STAT_QLOG_CUT,		/* packet records not sent: per-flow limit reached */
	STAT_QLOG_LOST,		/* packet records lost: qlog_events full */
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
	__u64 rtt_rate_limit_ns; /* minimum gap between timestamps per flow and side */
	__u64 ts_timeout_ns;	 /* a pending timestamp older than this is dropped */
	__u64 min_rtt_window_ns; /* length of one min-RTT window */
	__u32 emit_events;	 /* 1: send flow_event records */
	__u32 qlog;		 /* enum qlog_cfg_flag: 0 leaves the packet path as without qlog */
	__u32 qlog_max_records;	 /* packet records per traced flow, then counted as cut */
	__u32 _pad;
};

/* ---- Sockets that end on this node (sock.bpf.c) ---- */

/* A socket: its local and remote end, in its network namespace. */
struct sock_key {
	__u8 saddr[16]; /* local, IPv4 mapped as in flow_key */
	__u8 daddr[16]; /* remote */
	__u16 sport;	/* local port, host byte order */
	__u16 dport;
	__u32 netns; /* network namespace inode: the same tuple may live in two pods */
};

enum sock_flag {
	SOCK_F_ACTIVE = 1 << 0,	 /* connect(): the remote end is the server */
	SOCK_F_PASSIVE = 1 << 1, /* accepted: the local end is the server */
	SOCK_F_ESTABLISHED = 1 << 2,
	SOCK_F_CLOSED = 1 << 3,
	SOCK_F_RST_SENT = 1 << 4,
	SOCK_F_RST_RECEIVED = 1 << 5,
	SOCK_F_MPTCP = 1 << 6,	    /* a subflow of an MPTCP connection */
	SOCK_F_MPTCP_JOIN = 1 << 7, /* a subflow added by MP_JOIN, not the first */
};

enum close_reason {
	CLOSE_NONE = 0,
	CLOSE_FIN = 1,
	CLOSE_RST = 2,
	CLOSE_TIMEOUT = 3,
};

/*
 * A socket's counters, as tcp_sock keeps them (monotonic over its life):
 * each is in the connection record and the span under its own name, and a
 * series sums each over its sockets (src/flows/counters.ts); the metric
 * families choose which they export (src/export/families.ts).
 */
struct sock_counters {
	__u64 bytes_sent; /* payload, retransmissions included (tcp_sock.bytes_sent) */
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 bytes_retrans; /* payload sent again (tcp_sock.bytes_retrans) */
	__u32 segs_out;
	__u32 segs_in;
	__u32 retransmits; /* retransmitted segments (tcp_sock.total_retrans) */
	__u32 delivered; /* segments the peer acknowledged, retransmissions included (tcp_sock.delivered) */
};

/* What a socket's completion record carries: the scalars of sock_stats. */
struct sock_summary {
	__u64 start_ns; /* SYN sent or received, or first seen */
	__u64 end_ns;	/* reached TCP_CLOSE; 0 while open */
	__u64 last_ns;	/* last event */
	struct sock_counters counters;
	__u64 srtt_sum_us;
	__u64 cwnd_sum; /* sum of the cwnd samples (as many as srtt_count) */
	__u32 srtt_count;
	__u32 srtt_us; /* last smoothed RTT */
	__u32 srtt_min_us;
	__u32 srtt_max_us;
	__u32 min_rtt_us; /* the kernel's windowed minimum RTT (tcp_min_rtt) */
	__u32 cwnd;	  /* last, in segments */
	__u32 ssthresh;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 mss;
	__u32 mptcp_token; /* the MPTCP connection's token; 0: plain TCP */
	__u32 flags;	   /* enum sock_flag */
	__u8 state;	   /* TCP_* of the last state change */
	__u8 close_reason; /* enum close_reason */
	__u16 qlog;	   /* 1: matched the qlog filter when established (in qlog_socks) */
};

/*
 * The socks map is keyed by the kernel's socket address (a u64): a socket's
 * tuple is not complete before connect() picks the local port and is gone
 * again when it closes. The tuple is kept here from the first event where
 * it is complete; key.sport == 0 means not yet.
 */
/*
 * A socket's entry. Its histograms come last: when the agent exports no
 * srtt or cwnd buckets (sock_cfg.hists 0, the default) it sizes the socks
 * values to end before them (SOCK_STATS_HEAD), so that an entry is a fifth
 * as large and its completion record too.
 */
struct sock_stats {
	struct sock_key key;
	__u64 last_sample_ns; /* for sock_cfg.sample_interval_ns */
	struct sock_summary s;
	__u32 srtt_hist[HIST_BUCKETS]; /* nanosecond buckets, one sample per tcp_probe */
	__u32 cwnd_hist[HIST_BUCKETS]; /* segments */
};

/* An MPTCP connection, by token, while any of its subflows lives. */
struct mptcp_key {
	__u32 token;
	__u32 netns;
};

struct mptcp_conn {
	__u64 start_ns;
	struct sock_key first; /* the initial subflow: the connection's series */
	__u32 open;	       /* subflows established and not closed */
	__u32 total;	       /* subflows ever established */
};

enum sock_event_type {
	SOCK_EV_OPENED = 1,	  /* reached ESTABLISHED */
	SOCK_EV_CLOSED = 2,	  /* an established socket reached CLOSE: the completion record
				   * (struct sock_closed_event) */
	SOCK_EV_MPTCP_CLOSED = 3, /* the last subflow of an MPTCP connection closed */
	SOCK_EV_RESET = 4,	  /* a RST sent just after the close (linger 0, unread
				   * data): the CLOSED record's reason becomes rst */
};

struct sock_event {
	__u32 type;	/* enum sock_event_type */
	__u32 subflows; /* SOCK_EV_MPTCP_CLOSED: subflows ever established */
	struct sock_key key;
	struct sock_summary s;
};

/*
 * SOCK_EV_CLOSED: the socket's whole entry as it closed, histograms
 * included. A socket's memory, and with it its socks key, often goes to
 * the next connection within microseconds of the close; the agent reads
 * the table once per interval, so a short connection would otherwise be
 * overwritten before it was read. The agent counts a closed socket from
 * this record and skips its entry in the table.
 */
struct sock_closed_event {
	__u32 type; /* SOCK_EV_CLOSED */
	__u32 _pad;
	__u64 id; /* the socks key: struct sock * */
	struct sock_stats st;
};

enum sock_stat {
	SSTAT_PROBE_EVENTS = 0, /* tcp_probe events handled */
	SSTAT_RETRANSMIT_EVENTS,
	SSTAT_STATE_EVENTS,
	SSTAT_CREATED,	    /* socket entries created */
	SSTAT_CREATE_ERROR, /* socket entry could not be created */
	SSTAT_EVENTS_LOST,  /* ring buffer full */
	SSTAT_QLOG_TRACED,  /* sockets that matched the qlog filter and were traced */
	SSTAT_QLOG_FULL,    /* matched, but qlog_socks was full */
	SSTAT_QLOG_RECORDS, /* records sent to qlog_events */
	SSTAT_QLOG_CUT,	    /* metrics records not sent: per-socket limit reached */
	SSTAT_QLOG_LOST,    /* records lost: qlog_events full */
	SSTAT_MAX,
};

struct sock_cfg {
	__u64 sample_interval_ns; /* minimum gap between two srtt/cwnd samples of a socket */
	__u32 qlog;		  /* enum qlog_cfg_flag */
	__u32 qlog_max_records;	  /* metrics records per traced socket, then counted as cut */
	__u32 hists; /* 1: sockets keep srtt and cwnd histograms; 0: the socks values end before them */
	__u32 _pad;
};

/* ---- qlog: per-packet and per-ACK records of a few traced connections ----
 *
 * Both objects apply the same filter (addresses/CIDRs and ports, filled by
 * the agent) when a flow is created (packet.bpf.c) or a socket becomes
 * established (sock.bpf.c), so that tracing starts with the first packet
 * (the SYN) without a round trip to userspace. Records of both objects go
 * to one ring buffer, qlog_events (sock.bpf.c reuses packet.bpf.c's), so
 * userspace reads them in one time order. Everything is bounded: traced
 * flows and sockets by their map sizes, records per flow or socket by
 * qlog_max_records; what is cut or lost is counted.
 */
enum qlog_cfg_flag {
	QLOG_ON = 1 << 0,      /* tracing on */
	QLOG_BY_ADDR = 1 << 1, /* an endpoint must be in qlog_addrs */
	QLOG_BY_PORT = 1 << 2, /* a port must be in qlog_ports */
};

/* qlog_addrs (LPM trie) key: IPv4 as IPv4-mapped, prefixlen counts from bit 0 of addr. */
struct qlog_addr {
	__u32 prefixlen;
	__u8 addr[16];
};

enum qlog_rec_type {
	QLOG_REC_PACKET = 1,  /* struct qlog_packet */
	QLOG_REC_METRICS = 2, /* struct qlog_sock_rec: srtt/cwnd/ssthresh changed */
	QLOG_REC_STATE = 3,   /* struct qlog_sock_rec: the socket became established or closed */
};

enum qlog_limits {
	QLOG_TCP_MAX = 60, /* a TCP header with 40 option bytes */
	/* Records a traced flow may send beyond qlog_max_records, for SYN, FIN and RST only. */
	QLOG_CONTROL_EXTRA = 16,
};

/* A packet of a traced flow, its TCP header as on the wire. */
struct qlog_packet {
	__u32 type; /* QLOG_REC_PACKET */
	__u32 dir;  /* enum dir */
	struct flow_key key;
	__u64 ts_ns;
	__u32 payload; /* TCP payload bytes, all segments of a GSO/GRO batch */
	__u32 segs;    /* wire segments this record stands for */
	__u32 l3_len;  /* layer-3 bytes of those segments */
	__u8 tcp_len;  /* bytes of tcp[] copied: the header length, or less if truncated */
	__u8 _pad[3];
	__u8 tcp[QLOG_TCP_MAX];
};

/* The traced map's value: one per traced flow (key: struct flow_key). */
struct qlog_flow {
	__u64 first_ns;
	__u32 records; /* sent to qlog_events */
	__u32 cut;     /* not sent: qlog_max_records reached */
	__u32 lost;    /* not sent: qlog_events full */
	__u32 _pad;
};

/* A traced socket: metrics changes and lifecycle (sock.bpf.c). */
struct qlog_sock_rec {
	__u32 type;  /* QLOG_REC_METRICS or QLOG_REC_STATE */
	__u32 state; /* TCP_* (QLOG_REC_STATE: the new state) */
	struct sock_key key;
	__u64 ts_ns;
	__u32 srtt_us;
	__u32 rttvar_us;
	__u32 min_rtt_us;
	__u32 cwnd; /* segments */
	__u32 ssthresh;
	__u32 packets_out;
	__u32 retrans; /* tcp_sock.total_retrans */
	__u32 mss;
	__u32 snd_wnd;
	__u32 mptcp_token;
	__u32 flags; /* enum sock_flag */
	__u32 cut;   /* QLOG_REC_STATE closed: metrics records cut for this socket */
	__u32 lost;  /* ... and lost (qlog_events full) */
	__u32 _pad;
};

/* qlog_socks value, per traced socket (key: struct sock *). The agent lets
 * go of sockets whose connection it does not trace (maxConnections). */
struct qlog_sock {
	struct sock_key key;
	__u32 srtt_us; /* last values sent */
	__u32 rttvar_us;
	__u32 cwnd;
	__u32 ssthresh;
	__u32 records;
	__u32 cut;
	__u32 lost;
	__u32 _pad;
};

#endif /* TCPULSE_H */
