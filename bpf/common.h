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

/* Counts into a per-CPU array of u64: each CPU has its own slot, no atomics. */
static __always_inline void percpu_inc(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

#endif /* TCPULSE_COMMON_H */
