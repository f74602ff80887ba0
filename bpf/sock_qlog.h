/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * qlog for sockets: metrics changes and lifecycle of traced sockets.
 * Part of sock.bpf.c: included after its maps, sock_get() and emit().
 */
#ifndef TCPULSE_SOCK_QLOG_H
#define TCPULSE_SOCK_QLOG_H

static __always_inline void qlog_fill(struct qlog_sock_rec *r, struct sock *sk,
				      const struct sock_stats *st, __u32 type, __u64 now)
{
	struct tcp_sock *tp = (void *)sk;

	r->type = type;
	r->state = st->s.state;
	__builtin_memcpy(&r->key, &st->key, sizeof(r->key));
	r->ts_ns = now;
	r->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	r->rttvar_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	r->min_rtt_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
	r->cwnd = BPF_CORE_READ(tp, snd_cwnd);
	r->ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	r->packets_out = BPF_CORE_READ(tp, packets_out);
	r->retrans = BPF_CORE_READ(tp, total_retrans);
	r->mss = BPF_CORE_READ(tp, mss_cache);
	r->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	r->mptcp_token = st->s.mptcp_token;
	r->flags = st->s.flags;
}

/* Established or closed: always sent (two per socket), whatever the limit. */
static __always_inline void qlog_state(struct sock *sk, const struct sock_stats *st,
				       const struct qlog_sock *q, __u64 now)
{
	struct qlog_sock_rec *r = bpf_ringbuf_reserve(&qlog_events, sizeof(*r), 0);

	if (!r) {
		sstat_inc(SSTAT_QLOG_LOST);
		return;
	}
	qlog_fill(r, sk, st, QLOG_REC_STATE, now);
	r->cut = q ? q->cut : 0;
	r->lost = q ? q->lost : 0;
	bpf_ringbuf_submit(r, qlog_wakeup());
	sstat_inc(SSTAT_QLOG_RECORDS);
}

/* A socket just established: traced if it matches the filter and there is room. */
static __always_inline void qlog_sock_start(struct sock *sk, struct sock_stats *st, __u64 now)
{
	struct tcp_sock *tp = (void *)sk;
	__u64 id = (__u64)sk;
	struct qlog_sock init = {};
	const struct sock_key *k = &st->key;

	if (!qlog_match(scfg.qlog, k->saddr, k->daddr, k->sport, k->dport))
		return;
	__builtin_memcpy(&init.key, k, sizeof(*k));
	/* the established record carries these: metrics records start from them */
	init.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	init.rttvar_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	init.cwnd = BPF_CORE_READ(tp, snd_cwnd);
	init.ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	/* BPF_ANY: a socket that left without a close we saw left its entry */
	if (bpf_map_update_elem(&qlog_socks, &id, &init, BPF_ANY) != 0) {
		sstat_inc(SSTAT_QLOG_FULL);
		return;
	}
	st->s.qlog = 1;
	sstat_inc(SSTAT_QLOG_TRACED);
	qlog_state(sk, st, NULL, now);
}

static __always_inline void qlog_sock_end(struct sock *sk, struct sock_stats *st, __u64 now)
{
	__u64 id = (__u64)sk;

	st->s.qlog = 0;
	qlog_state(sk, st, bpf_map_lookup_elem(&qlog_socks, &id), now);
	bpf_map_delete_elem(&qlog_socks, &id);
}

/* Per tcp_probe of a traced socket: a record when srtt, rttvar, cwnd or ssthresh changed. */
static __always_inline void qlog_metrics(struct sock *sk, const struct sock_stats *st, __u64 now)
{
	struct tcp_sock *tp = (void *)sk;
	__u64 id = (__u64)sk;
	struct qlog_sock *q = bpf_map_lookup_elem(&qlog_socks, &id);
	struct qlog_sock_rec *r;
	__u32 srtt, rttvar, cwnd, ssthresh;

	if (!q)
		return;
	srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
	rttvar = BPF_CORE_READ(tp, mdev_us) >> 2;
	cwnd = BPF_CORE_READ(tp, snd_cwnd);
	ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	if (srtt == q->srtt_us && rttvar == q->rttvar_us && cwnd == q->cwnd &&
	    ssthresh == q->ssthresh)
		return;
	q->srtt_us = srtt;
	q->rttvar_us = rttvar;
	q->cwnd = cwnd;
	q->ssthresh = ssthresh;
	if (q->records >= scfg.qlog_max_records) {
		__sync_fetch_and_add(&q->cut, 1);
		sstat_inc(SSTAT_QLOG_CUT);
		return;
	}
	r = bpf_ringbuf_reserve(&qlog_events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&q->lost, 1);
		sstat_inc(SSTAT_QLOG_LOST);
		return;
	}
	__sync_fetch_and_add(&q->records, 1);
	qlog_fill(r, sk, st, QLOG_REC_METRICS, now);
	bpf_ringbuf_submit(r, qlog_wakeup());
	sstat_inc(SSTAT_QLOG_RECORDS);
}

#endif /* TCPULSE_SOCK_QLOG_H */
