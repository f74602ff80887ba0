// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket path: what the kernel knows of sockets that end on this node.
 * Per socket, in the socks map: smoothed RTT and congestion window (last
 * values and histograms), retransmitted segments, byte and segment counts,
 * lifecycle flags and, for MPTCP subflows, their connection's token. State
 * changes send rare events through the ring buffer: opened, closed (the
 * completion record), MPTCP connection closed.
 *
 * Each hook exists in three families, tried in this order by the agent:
 * tp_btf (typed tracepoint), raw_tp (the same tracepoint, untyped), kprobe
 * (a function of the same place). All read the kernel through CO-RE.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "kernel.h"
#include "tcpulse.h"
#include "hist.h"
#include "common.h"
#include "qlog.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EPIPE 32
#define ECONNRESET 104
#define ECONNABORTED 103
#define ETIMEDOUT 110

/* include/net/tcp_states.h */
enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_CLOSE = 7,
};

struct sk_buff;

const volatile struct sock_cfg scfg = {
	.sample_interval_ns = 0,
	.qlog = 0,
	.qlog_max_records = 0,
	.hists = 1,
};

/* The bytes of a sock_stats before its histograms: a socks value when scfg.hists is 0. */
#define SOCK_STATS_HEAD offsetof(struct sock_stats, srtt_hist)

/* One entry per socket; the agent sizes it (32768 by default, preallocated:
 * ~7 MiB without histograms, ~33 MiB with). Not LRU: a full table keeps
 * measuring the sockets it holds and refuses new ones (counted); a socket's
 * close sends its entry, and the agent removes it, and idle ones. Sizes,
 * not BTF types: the agent shortens the values to SOCK_STATS_HEAD when the
 * histograms are off, and a BTF value type would have to match. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__uint(key_size, sizeof(__u64)); /* struct sock * */
	__uint(value_size, sizeof(struct sock_stats));
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_stats);
} sock_zero SEC(".maps");

/* Open MPTCP connections: a few subflows each, far fewer than sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mptcp_key);
	__type(value, struct mptcp_conn);
} mptcp_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SSTAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_stats SEC(".maps");

/* Per connection an opened event (~220 bytes) and a completion record
 * (~1 KiB, the whole entry): 4 MiB hold a burst of ~3000 connections
 * between two wake-ups of the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} sock_events SEC(".maps");

/* qlog: traced sockets, from established to closed (the entry goes with
 * the close). The agent sizes it (a few entries per traced connection). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64); /* struct sock * */
	__type(value, struct qlog_sock);
} qlog_socks SEC(".maps");

#define sstat_inc(idx) percpu_inc(&sock_stats, idx)

static __always_inline int is_tcp(struct sock *sk)
{
	unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       (family == AF_INET || family == AF_INET6);
}

/* The socket's tuple; false while it is not complete (no local port yet). */
static __always_inline int sock_key_of(struct sock *sk, struct sock_key *k)
{
	unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		map_v4(k->saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		map_v4(k->daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&k->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&k->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return 0;
	}
	k->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return k->sport != 0 && k->dport != 0;
}

/* Keeps the tuple once it is complete; it no longer changes after that. */
static __always_inline void refresh_key(struct sock *sk, struct sock_stats *st)
{
	struct sock_key k = {};

	if (st->key.sport == 0 && sock_key_of(sk, &k))
		__builtin_memcpy(&st->key, &k, sizeof(k));
}

/*
 * The socket's entry; a new one starts now. fresh replaces an entry an old
 * socket with the same tuple left (counted as created only when none was
 * there, so that created - deleted - present = evicted holds).
 */
static __always_inline struct sock_stats *sock_get(struct sock *sk, __u64 now, __u32 flags,
						   int fresh)
{
	__u64 id = (__u64)sk;
	struct sock_stats *s = bpf_map_lookup_elem(&socks, &id);
	int existed = s != NULL;
	__u32 zero = 0;
	long err;

	if (s && !fresh)
		return s;
	s = bpf_map_lookup_elem(&sock_zero, &zero);
	if (!s)
		return NULL;
	s->s.start_ns = now;
	s->s.last_ns = now;
	s->s.flags = flags;
	err = bpf_map_update_elem(&socks, &id, s, fresh ? BPF_ANY : BPF_NOEXIST);
	s->s.start_ns = 0;
	s->s.last_ns = 0;
	s->s.flags = 0;
	if (err == 0 && !existed)
		sstat_inc(SSTAT_CREATED);
	s = bpf_map_lookup_elem(&socks, &id);
	if (!s)
		sstat_inc(SSTAT_CREATE_ERROR);
	else
		refresh_key(sk, s);
	return s;
}

#include "sock_read.h"

static __always_inline void emit(__u32 type, const struct sock_key *k, const struct sock_summary *s,
				 __u32 subflows)
{
	struct sock_event *ev = bpf_ringbuf_reserve(&sock_events, sizeof(*ev), 0);

	if (!ev) {
		sstat_inc(SSTAT_EVENTS_LOST);
		return;
	}
	ev->type = type;
	ev->subflows = subflows;
	__builtin_memcpy(&ev->key, k, sizeof(*k));
	__builtin_memcpy(&ev->s, s, sizeof(*s));
	bpf_ringbuf_submit(ev, 0);
}

/* The completion record: the whole entry, so that the close counts even
 * when the entry is overwritten before the agent reads the table; as long
 * as the entry (without histograms when scfg.hists is 0). */
static __always_inline void emit_closed_as(__u64 id, const struct sock_stats *st, const __u32 size)
{
	struct sock_closed_event *ev =
		bpf_ringbuf_reserve(&sock_events, offsetof(struct sock_closed_event, st) + size, 0);

	if (!ev) {
		sstat_inc(SSTAT_EVENTS_LOST);
		return;
	}
	ev->type = SOCK_EV_CLOSED;
	ev->_pad = 0;
	ev->id = id;
	__builtin_memcpy(&ev->st, st, size);
	bpf_ringbuf_submit(ev, 0);
}

/* Inlined with a constant size each: the ring reservation and the copy need one. */
static __always_inline void emit_closed(__u64 id, const struct sock_stats *st)
{
	if (scfg.hists)
		emit_closed_as(id, st, sizeof(*st));
	else
		emit_closed_as(id, st, SOCK_STATS_HEAD);
}

#include "sock_qlog.h"
#include "sock_mptcp.h"

static __always_inline __u8 close_reason(struct sock *sk, __u32 flags)
{
	int err = BPF_CORE_READ(sk, sk_err);

	if (flags & (SOCK_F_RST_SENT | SOCK_F_RST_RECEIVED))
		return CLOSE_RST;
	if (err == ETIMEDOUT)
		return CLOSE_TIMEOUT;
	if (err == ECONNRESET || err == EPIPE || err == ECONNABORTED)
		return CLOSE_RST;
	return CLOSE_FIN;
}

static __always_inline void on_state(struct sock *sk, int newstate)
{
	__u64 id = (__u64)sk;
	struct sock_stats *st;
	__u64 now;

	if (!is_tcp(sk))
		return;
	sstat_inc(SSTAT_STATE_EVENTS);
	now = bpf_ktime_get_ns();
	if (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV) {
		/* a new connection: replaces what a freed socket at this address left */
		sock_get(sk, now, newstate == TCP_SYN_SENT ? SOCK_F_ACTIVE : SOCK_F_PASSIVE, 1);
		return;
	}
	/* listeners and other sockets without a connection are not tracked */
	st = newstate == TCP_ESTABLISHED ? sock_get(sk, now, 0, 0) :
					   bpf_map_lookup_elem(&socks, &id);
	if (!st)
		return;
	st->s.state = newstate;
	if (newstate == TCP_ESTABLISHED) {
		int join = 0;
		__u32 token = mptcp_token_of(sk, &join);

		refresh_key(sk, st);
		read_counters((void *)sk, &st->s, now);
		read_state((void *)sk, st, 0);
		st->s.flags |= SOCK_F_ESTABLISHED;
		if (token)
			subflow_opened(st, token, join, now);
		emit(SOCK_EV_OPENED, &st->key, &st->s, 0);
		if (scfg.qlog && !st->s.qlog)
			qlog_sock_start(sk, st, now);
	} else if (newstate == TCP_CLOSE) {
		__u32 flags = st->s.flags;

		if (flags & SOCK_F_CLOSED)
			return;
		read_counters((void *)sk, &st->s, now);
		read_state((void *)sk, st, 0);
		st->s.end_ns = now;
		st->s.close_reason = close_reason(sk, flags);
		st->s.flags = flags | SOCK_F_CLOSED;
		if (scfg.qlog && st->s.qlog)
			qlog_sock_end(sk, st, now);
		if (flags & SOCK_F_ESTABLISHED)
			emit_closed(id, st);
		if (st->s.mptcp_token)
			subflow_closed(&st->key, st->s.mptcp_token, now);
	}
}

static __always_inline void on_probe(struct sock *sk)
{
	struct sock_stats *st;
	__u64 now;

	if (!is_tcp(sk))
		return;
	sstat_inc(SSTAT_PROBE_EVENTS);
	now = bpf_ktime_get_ns();
	st = sock_get(sk, now, 0, 0);
	if (!st)
		return;
	if (scfg.qlog && st->s.qlog)
		qlog_metrics(sk, st, now);
	if (scfg.sample_interval_ns && now - st->last_sample_ns < scfg.sample_interval_ns)
		return;
	st->last_sample_ns = now;
	read_counters((void *)sk, &st->s, now);
	read_state((void *)sk, st, 1);
}

static __always_inline void on_retransmit(struct sock *sk)
{
	struct sock_stats *st;
	__u64 now;

	if (!is_tcp(sk))
		return;
	sstat_inc(SSTAT_RETRANSMIT_EVENTS);
	now = bpf_ktime_get_ns();
	st = sock_get(sk, now, 0, 0);
	if (st)
		read_counters((void *)sk, &st->s, now);
}

static __always_inline void on_reset(struct sock *sk, __u32 flag)
{
	__u64 id = (__u64)sk;
	struct sock_stats *st;
	__u32 old;

	if (!sk)
		return;
	st = bpf_map_lookup_elem(&socks, &id);
	if (!st)
		return;
	old = fetch_or_u32(&st->s.flags, flag);
	/* tcp_disconnect() and tcp_close() set TCP_CLOSE first and send the RST
	 * right after: correct the record that already left */
	if ((old & SOCK_F_CLOSED) && st->s.close_reason != CLOSE_RST) {
		st->s.close_reason = CLOSE_RST;
		if (old & SOCK_F_ESTABLISHED)
			emit(SOCK_EV_RESET, &st->key, &st->s, 0);
	}
}

/*
 * One tracepoint, two families: tp_btf (typed, 5.5+) and raw_tp (untyped,
 * 4.17+). Both pass the tracepoint's arguments the same way.
 */
#define TRACEPOINT(name, tp, call, ...)       \
	SEC("tp_btf/" tp)                     \
	int BPF_PROG(name##_btf, __VA_ARGS__) \
	{                                     \
		call;                         \
		return 0;                     \
	}                                     \
	SEC("raw_tp/" tp)                     \
	int BPF_PROG(name##_raw, __VA_ARGS__) \
	{                                     \
		call;                         \
		return 0;                     \
	}

TRACEPOINT(ts_probe, "tcp_probe", on_probe(sk), struct sock *sk)
TRACEPOINT(ts_retx, "tcp_retransmit_skb", on_retransmit(sk), struct sock *sk)
TRACEPOINT(ts_state, "inet_sock_set_state", on_state(sk, newstate), struct sock *sk, int oldstate,
	   int newstate)
TRACEPOINT(ts_rsttx, "tcp_send_reset", on_reset(sk, SOCK_F_RST_SENT), struct sock *sk)
TRACEPOINT(ts_rstrx, "tcp_receive_reset", on_reset(sk, SOCK_F_RST_RECEIVED), struct sock *sk)

/* kprobe: the functions around those tracepoints, where kprobes exist */
SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(ts_probe_kp, struct sock *sk)
{
	on_probe(sk);
	return 0;
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(ts_retx_kp, struct sock *sk)
{
	on_retransmit(sk);
	return 0;
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(ts_state_kp, struct sock *sk, int state)
{
	on_state(sk, state);
	return 0;
}

SEC("kprobe/tcp_send_active_reset")
int BPF_KPROBE(ts_rsttx_kp, struct sock *sk)
{
	on_reset(sk, SOCK_F_RST_SENT);
	return 0;
}

SEC("kprobe/tcp_reset")
int BPF_KPROBE(ts_rstrx_kp, struct sock *sk)
{
	on_reset(sk, SOCK_F_RST_RECEIVED);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
