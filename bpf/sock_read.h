/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What is read of a tcp_sock (CO-RE): its counters into the summary a
 * connection record carries, and its state (srtt, cwnd) into the socket's
 * histograms. Part of sock.bpf.c: included after its cfg and helpers.
 */
#ifndef TCPULSE_SOCK_READ_H
#define TCPULSE_SOCK_READ_H

static __always_inline void read_counters(struct tcp_sock *tp, struct sock_summary *s, __u64 now)
{
	struct sock_counters *c = &s->counters;

	c->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
	c->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	c->bytes_received = BPF_CORE_READ(tp, bytes_received);
	c->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	c->segs_out = BPF_CORE_READ(tp, segs_out);
	c->segs_in = BPF_CORE_READ(tp, segs_in);
	c->retransmits = BPF_CORE_READ(tp, total_retrans);
	c->delivered = BPF_CORE_READ(tp, delivered);
	s->last_ns = now;
}

/* Last values, and with sample one srtt and one cwnd histogram sample. */
static __always_inline void read_state(struct tcp_sock *tp, struct sock_stats *st, int sample)
{
	struct sock_summary *s = &st->s;
	__u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
	__u32 cwnd = BPF_CORE_READ(tp, snd_cwnd);
	__u32 b;

	s->cwnd = cwnd;
	s->ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	s->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	s->rcv_wnd = BPF_CORE_READ(tp, rcv_wnd);
	s->mss = BPF_CORE_READ(tp, mss_cache);
	s->min_rtt_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
	if (!srtt)
		return; /* no RTT sample yet */
	s->srtt_us = srtt;
	if (!sample)
		return;
	__sync_fetch_and_add(&s->srtt_count, 1);
	__sync_fetch_and_add(&s->srtt_sum_us, srtt);
	__sync_fetch_and_add(&s->cwnd_sum, cwnd);
	if (!s->srtt_min_us || srtt < s->srtt_min_us)
		s->srtt_min_us = srtt;
	if (srtt > s->srtt_max_us)
		s->srtt_max_us = srtt;
	if (!scfg.hists)
		return; /* the values end here: the verifier drops what follows */
	b = hist_bucket_ns((__u64)srtt * 1000);
	barrier_var(b);
	if (b < HIST_BUCKETS)
		__sync_fetch_and_add(&st->srtt_hist[b], 1);
	b = hist_bucket_count(cwnd);
	barrier_var(b);
	if (b < HIST_BUCKETS)
		__sync_fetch_and_add(&st->cwnd_hist[b], 1);
}

#endif /* TCPULSE_SOCK_READ_H */
