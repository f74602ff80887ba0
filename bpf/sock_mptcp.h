/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * MPTCP: a subflow's connection (the token of its parent MPTCP socket) and
 * the per-connection subflow counts. Part of sock.bpf.c: included after
 * its maps and emit().
 */
#ifndef TCPULSE_SOCK_MPTCP_H
#define TCPULSE_SOCK_MPTCP_H

/* The MPTCP connection of a subflow: its token, and whether it joined later. */
static __always_inline __u32 mptcp_token_of(struct sock *sk, int *join)
{
	struct tcp_sock *tp = (void *)sk;
	struct inet_connection_sock *icsk = (void *)sk;
	struct mptcp_subflow_context *ctx;
	struct mptcp_sock *msk;

	if (!bpf_core_field_exists(tp->is_mptcp) || !BPF_CORE_READ(tp, is_mptcp))
		return 0;
	ctx = BPF_CORE_READ(icsk, icsk_ulp_data);
	if (!ctx)
		return 0;
	msk = (void *)BPF_CORE_READ(ctx, conn);
	if (!msk)
		return 0;
	*join = (void *)BPF_CORE_READ(msk, first) != (void *)sk;
	return BPF_CORE_READ(msk, token);
}

static __always_inline void subflow_opened(struct sock_stats *st, __u32 token, int join, __u64 now)
{
	const struct sock_key *k = &st->key;
	struct mptcp_key mk = { .token = token, .netns = k->netns };
	struct mptcp_conn *c = bpf_map_lookup_elem(&mptcp_conns, &mk);

	st->s.mptcp_token = token;
	st->s.flags |= SOCK_F_MPTCP | (join ? SOCK_F_MPTCP_JOIN : 0);
	if (!c) {
		struct mptcp_conn init = { .start_ns = now };

		__builtin_memcpy(&init.first, k, sizeof(*k));
		bpf_map_update_elem(&mptcp_conns, &mk, &init, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&mptcp_conns, &mk);
		if (!c)
			return;
	}
	if (!join)
		__builtin_memcpy(&c->first, k, sizeof(*k));
	__sync_fetch_and_add(&c->open, 1);
	__sync_fetch_and_add(&c->total, 1);
}

static __always_inline void subflow_closed(const struct sock_key *k, __u32 token, __u64 now)
{
	struct mptcp_key mk = { .token = token, .netns = k->netns };
	struct mptcp_conn *c = bpf_map_lookup_elem(&mptcp_conns, &mk);
	struct sock_summary sum = {};

	if (!c || c->open == 0)
		return;
	if (dec_and_read_u32(&c->open) != 0)
		return;
	sum.start_ns = c->start_ns;
	sum.end_ns = now;
	sum.last_ns = now;
	sum.mptcp_token = token;
	sum.flags = SOCK_F_MPTCP | SOCK_F_CLOSED;
	emit(SOCK_EV_MPTCP_CLOSED, &c->first, &sum, c->total);
	bpf_map_delete_elem(&mptcp_conns, &mk);
}

#endif /* TCPULSE_SOCK_MPTCP_H */
