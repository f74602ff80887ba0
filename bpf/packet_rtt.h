/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Passive RTT from TCP timestamps, the ePPing way: a TSval is timed when it
 * leaves, its echo in a TSecr the other way gives a sample, which goes into
 * the flow's histogram and min-RTT windows. Part of packet.bpf.c: included
 * after its cfg and stat_inc().
 */
#ifndef TCPULSE_PACKET_RTT_H
#define TCPULSE_PACKET_RTT_H

static __always_inline void rtt_record(struct rtt_stats *r, __u64 rtt_ns, __u64 now)
{
	__u32 b = hist_bucket_ns(rtt_ns);
	/* +1: epoch 0 means "no window yet", also in the first window after boot */
	__u32 epoch = now / cfg.min_rtt_window_ns + 1;

	__sync_fetch_and_add(&r->count, 1);
	__sync_fetch_and_add(&r->sum_ns, rtt_ns);
	barrier_var(b); /* keep the bound check: the verifier cannot see hist_bucket's */
	if (b < HIST_BUCKETS)
		__sync_fetch_and_add(&r->hist[b], 1);
	/* Minima race benignly: two CPUs writing a sample each within the same
	 * nanoseconds may keep the larger one; the next sample corrects it. */
	if (r->min_ns == 0 || rtt_ns < r->min_ns)
		r->min_ns = rtt_ns;
	if (r->win_epoch != epoch) {
		r->prev_min_ns = r->win_epoch + 1 == epoch ? r->win_min_ns : 0;
		r->win_min_ns = rtt_ns;
		r->win_epoch = epoch;
	} else if (rtt_ns < r->win_min_ns) {
		r->win_min_ns = rtt_ns;
	}
}

/*
 * The first packet carrying a new TSval (with payload, SYN or FIN: pure
 * ACKs are not acknowledged, so their echo can come arbitrarily late) is
 * timestamped; the first packet the other way whose TSecr equals it gives a
 * sample. One timestamp is pending per side at a time.
 */
static __always_inline void rtt_take(struct ts_state *st, const struct pkt *p, __u64 now)
{
	/* Only the first packet with a TSval is timed: a later one with the same
	 * TSval could be echoed for its predecessor and read too short. */
	if (p->tsval == st->last_tsval)
		return;
	st->last_tsval = p->tsval;
	if (!p->payload && !(p->tcp_flags & (TH_SYN | TH_FIN)))
		return;
	if (st->pending_ns) {
		__u64 pend = st->pending_ns;

		if (now - pend < cfg.ts_timeout_ns)
			return;
		/* expired: drop it once, whether or not a new one is taken now */
		if (cmpxchg_u64(&st->pending_ns, pend, 0) == pend)
			stat_inc(STAT_TS_EXPIRED);
	}
	if (st->last_take_ns && now - st->last_take_ns < cfg.rtt_rate_limit_ns)
		return;
	st->pending_tsval = p->tsval;
	st->last_take_ns = now;
	st->pending_ns = now;
	stat_inc(STAT_TS_TAKEN);
}

static __always_inline void rtt_match(struct ts_state *st, struct rtt_stats *r, const struct pkt *p,
				      __u64 now)
{
	__u64 sent = st->pending_ns;

	if (!sent || !(p->tcp_flags & TH_ACK))
		return;
	if (p->tsecr == st->pending_tsval) {
		/* claim the match so that a concurrent echo does not count twice */
		if (cmpxchg_u64(&st->pending_ns, sent, 0) != sent)
			return;
		if (now - sent >= cfg.ts_timeout_ns) {
			/* too late to trust: the echo may be for another packet */
			stat_inc(STAT_TS_EXPIRED);
			return;
		}
		stat_inc(STAT_RTT_SAMPLES);
		rtt_record(r, now - sent, now);
	} else if ((__s32)(p->tsecr - st->pending_tsval) > 0) {
		/* the peer echoes a later TSval: ours will never come back */
		cmpxchg_u64(&st->pending_ns, sent, 0);
		stat_inc(STAT_TS_EXPIRED);
	}
}

#endif /* TCPULSE_PACKET_RTT_H */
