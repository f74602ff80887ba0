/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small helpers both program families use. */
#ifndef TCPULSE_COMMON_H
#define TCPULSE_COMMON_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

/* An IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d): one key layout for both. */
static __always_inline void map_v4(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/*
 * Atomics that return a value (BPF_FETCH: fetch_or, fetch_add used for its
 * result; BPF_CMPXCHG) came with Linux 5.12. An older verifier rejects a
 * program that contains one anywhere, dead code included ("BPF_STX uses
 * reserved fields"), so the objects for such kernels (bpf/compat/, built
 * with -DTCPULSE_NO_FETCH_ATOMICS) get plain read-modify-writes instead: two
 * CPUs updating the same word at once may then lose one update. A
 * __sync_fetch_and_add whose result is unused is the old BPF_XADD and works
 * everywhere.
 */
#ifdef TCPULSE_NO_FETCH_ATOMICS
static __always_inline __u32 fetch_or_u32(__u32 *p, __u32 v)
{
	__u32 old = *p;

	*p = old | v;
	return old;
}

static __always_inline __u64 cmpxchg_u64(__u64 *p, __u64 old, __u64 new)
{
	__u64 cur = *p;

	if (cur == old)
		*p = new;
	return cur;
}

/* The decrement is atomic (BPF_XADD); two CPUs may both read 0 after it. */
static __always_inline __u32 dec_and_read_u32(__u32 *p)
{
	__sync_fetch_and_add(p, -1);
	return *(volatile __u32 *)p;
}
#else
static __always_inline __u32 fetch_or_u32(__u32 *p, __u32 v)
{
	return __sync_fetch_and_or(p, v);
}

static __always_inline __u64 cmpxchg_u64(__u64 *p, __u64 old, __u64 new)
{
	return __sync_val_compare_and_swap(p, old, new);
}

static __always_inline __u32 dec_and_read_u32(__u32 *p)
{
	return __sync_sub_and_fetch(p, 1);
}
#endif

/* Counts into a per-CPU array of u64: each CPU has its own slot, no atomics. */
static __always_inline void percpu_inc(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

#endif /* TCPULSE_COMMON_H */
