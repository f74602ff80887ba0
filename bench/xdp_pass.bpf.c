// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * An empty XDP program for bench/overhead.ts: attaching any XDP program to a
 * veth switches it to NAPI mode (and the peer loses TSO); this measures that
 * cost apart from tcpulse's own program. No includes, so a plain
 * `clang -O2 -g -target bpf -c` builds it without arch include paths.
 */
#define SEC(name) __attribute__((section(name), used))
#define XDP_PASS 2

struct xdp_md;

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
