// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Empty programs on tcpulse's hooks, for bench/overhead.ts: what a run of
 * any program there costs (the hook's dispatch, and bpf_stats' own two
 * clock reads), so that tcpulse's figures read as "how far above the
 * floor". A TC pair (tcx: TCX_NEXT, which is also clsact's TC_ACT_UNSPEC)
 * and tp_btf/tcp_probe. No includes, as xdp_pass.bpf.c.
 */
#define SEC(name) __attribute__((section(name), used))
#define TC_NEXT (-1)

struct __sk_buff;

SEC("tc")
int floor_tc_in(struct __sk_buff *skb)
{
	return TC_NEXT;
}

SEC("tc")
int floor_tc_eg(struct __sk_buff *skb)
{
	return TC_NEXT;
}

SEC("tp_btf/tcp_probe")
int floor_probe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
