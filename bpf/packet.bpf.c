// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet path: XDP or TC on ingress, TC on egress. Per TCP flow: packets
 * and bytes each way, flags, and passive RTT from TCP timestamps (the ePPing
 * method), rolled into a histogram in the flow's map value. Every program
 * returns pass; nothing is dropped or written.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "tcpulse.h"
#include "parse.h"
#include "hist.h"
#include "common.h"
#include "qlog.h"

/* tcx "next" is TC_ACT_UNSPEC: let the rest of the chain and the stack run. */
#define TCX_NEXT TC_ACT_UNSPEC

const volatile struct tcpulse_cfg cfg = {
	.rtt_rate_limit_ns = 0,
	.ts_timeout_ns = 10ULL * 1000 * 1000 * 1000,
	.min_rtt_window_ns = 10ULL * 1000 * 1000 * 1000,
	.emit_events = 1,
	.qlog = 0,
	.qlog_max_records = 0,
};

/*
 * One entry per flow and interface. The agent sets max_entries before load
 * from its configuration (32768 by default, preallocated: ~35 MiB). Not
 * LRU: a full table keeps measuring the flows it holds and refuses new ones
 * (counted), rather than evicting a live flow for a new one and losing
 * what it had counted; the agent removes idle and closed flows.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

/* A zeroed flow_stats: too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_stats);
} flow_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * The MTU of each interface the XDP program is attached to (ifindex ->
 * bytes), written by the agent as it attaches and when an MTU changes: XDP
 * has no GSO metadata, and a frame longer than its device's MTU is an
 * aggregate (xdp_segments()). One entry per attached interface: a node
 * with more pod veths than this has the TC ingress hook (the default).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} if_mtu SEC(".maps");

/* Flow open/close events: a few per connection, never per packet. 256 KiB
 * holds ~4600 events, several seconds of a connection storm between polls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* qlog: the flows being traced, filled here when a new flow matches the
 * filter, emptied by the agent when it has finished a connection's file.
 * The agent sizes it (a few entries per traced connection). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow_key);
	__type(value, struct qlog_flow);
} traced SEC(".maps");

#define stat_inc(idx) percpu_inc(&stats, idx)

/* A new flow: traced if it matches the filter and the traced map has room. */
static __always_inline void qlog_flow_start(const struct flow_key *key, struct flow_stats *f,
					    __u64 now)
{
	struct qlog_flow init = { .first_ns = now };

	if (!qlog_match(cfg.qlog, key->saddr, key->daddr, key->sport, key->dport))
		return;
	if (bpf_map_update_elem(&traced, key, &init, BPF_NOEXIST) == 0) {
		f->traced = 1;
		stat_inc(STAT_QLOG_TRACED);
	} else {
		stat_inc(STAT_QLOG_FULL);
	}
}

/*
 * One record per packet (or GSO/GRO batch) of a traced flow: where and
 * when, sizes, and the TCP header with its options as on the wire (the
 * agent decodes flags, seq, ack, window and options). Bounded: 15 words.
 */
static __always_inline void qlog_packet(void *data, void *data_end, const struct flow_key *key,
					const struct pkt *p, int dir, __u64 now, __u64 segs,
					__u64 bytes)
{
	struct qlog_flow *t = bpf_map_lookup_elem(&traced, key);
	struct qlog_packet *r;
	__u64 off = p->l4_off, hdr = segs * p->hdr_len;
	__u32 tcp_len, copied = 0;
	__u8 *th;
	int i;

	if (!t)
		return; /* no longer traced: the agent finished its file */
	/* past the limit, SYN, FIN and RST still go (a few more): the agent must see the connection end */
	if (t->records >= cfg.qlog_max_records &&
	    (!(p->tcp_flags & (TH_SYN | TH_FIN | TH_RST)) ||
	     t->records >= cfg.qlog_max_records + QLOG_CONTROL_EXTRA)) {
		__sync_fetch_and_add(&t->cut, 1);
		stat_inc(STAT_QLOG_CUT);
		return;
	}
	r = bpf_ringbuf_reserve(&qlog_events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&t->lost, 1);
		stat_inc(STAT_QLOG_LOST);
		return;
	}
	__sync_fetch_and_add(&t->records, 1);
	r->type = QLOG_REC_PACKET;
	r->dir = dir;
	__builtin_memcpy(&r->key, key, sizeof(*key));
	r->ts_ns = now;
	r->segs = segs;
	r->l3_len = bytes;
	r->payload = bytes > hdr ? bytes - hdr : 0;
	barrier_var(off);
	th = data;
	if (off <= MAX_TCP_OFFSET && (void *)(th + off + 20) <= data_end) {
		th += off;
		tcp_len = (th[12] >> 4) * 4;
		for (i = 0; i < QLOG_TCP_MAX / 4; i++) {
			if (copied >= tcp_len || (void *)(th + i * 4 + 4) > data_end)
				break;
			*(__u32 *)&r->tcp[i * 4] = *(__u32 *)(th + i * 4);
			copied += 4;
		}
	}
	r->tcp_len = copied;
	bpf_ringbuf_submit(r, qlog_wakeup());
	stat_inc(STAT_QLOG_RECORDS);
}

static __always_inline void emit_event(const struct flow_key *key, __u64 now, __u32 type,
				       __u32 flags)
{
	struct flow_event *ev;

	if (!cfg.emit_events)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(STAT_EVENTS_LOST);
		return;
	}
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->ts_ns = now;
	ev->type = type;
	ev->flags = flags;
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline struct flow_stats *flow_get(const struct flow_key *key, __u64 now)
{
	struct flow_stats *f = bpf_map_lookup_elem(&flows, key);
	__u32 zero = 0;
	long err;

	if (f)
		return f;
	f = bpf_map_lookup_elem(&flow_zero, &zero);
	if (!f)
		return NULL;
	f->first_ns = now;
	err = bpf_map_update_elem(&flows, key, f, BPF_NOEXIST);
	f->first_ns = 0; /* keep the template zeroed */
	if (err == 0) {
		stat_inc(STAT_FLOW_CREATED);
		emit_event(key, now, FLOW_EV_OPENED, 0);
		if (cfg.qlog) {
			f = bpf_map_lookup_elem(&flows, key);
			if (f)
				qlog_flow_start(key, f, now);
			return f;
		}
	} else if (err != -17 /* EEXIST: another CPU won the race */) {
		stat_inc(STAT_FLOW_CREATE_ERROR);
		return NULL;
	}
	return bpf_map_lookup_elem(&flows, key);
}

#include "packet_rtt.h"

static __always_inline __u32 flags_for(__u8 th, int dir)
{
	__u32 f = 0;
	int eg = dir == DIR_EGRESS;

	if ((th & (TH_SYN | TH_ACK)) == TH_SYN)
		f |= eg ? FLOW_F_SYN_EGRESS : FLOW_F_SYN_INGRESS;
	if ((th & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
		f |= eg ? FLOW_F_SYNACK_EGRESS : FLOW_F_SYNACK_INGRESS;
	if (th & TH_FIN)
		f |= eg ? FLOW_F_FIN_EGRESS : FLOW_F_FIN_INGRESS;
	if (th & TH_RST)
		f |= eg ? FLOW_F_RST_EGRESS : FLOW_F_RST_INGRESS;
	return f;
}

#define FLOW_F_RST (FLOW_F_RST_EGRESS | FLOW_F_RST_INGRESS)
#define FLOW_F_FIN_BOTH (FLOW_F_FIN_EGRESS | FLOW_F_FIN_INGRESS)

static __always_inline void flow_flags(struct flow_stats *f, const struct flow_key *key, __u8 th,
				       int dir, __u64 now)
{
	__u32 add = flags_for(th, dir), old, now_set;

	if (!add || (f->flags & add) == add)
		return;
	old = fetch_or_u32(&f->flags, add);
	now_set = old | add;
	/* one close event per flow: the first of RST or FIN both ways */
	if ((old & FLOW_F_RST) || (old & FLOW_F_FIN_BOTH) == FLOW_F_FIN_BOTH)
		return;
	if (now_set & FLOW_F_RST)
		emit_event(key, now, FLOW_EV_CLOSED_RST, now_set);
	else if ((now_set & FLOW_F_FIN_BOTH) == FLOW_F_FIN_BOTH)
		emit_event(key, now, FLOW_EV_CLOSED_FIN, now_set);
}

/*
 * How many segments an skb stands for on the wire. A GSO or GRO skb is
 * several, each repeating the IP and TCP headers; gso_segs says how many,
 * except where the kernel has not counted them yet: a packet handed up by
 * a virtio-net or TAP device with a GSO header (SKB_GSO_DODGY) arrives
 * with gso_size set and gso_segs 0 (virtio_net_hdr_to_skb(); the segments
 * are counted when it is segmented, if ever). Then they follow from the
 * payload and gso_size, as skb_gso_segment() would cut them.
 */
static __always_inline __u64 segments(const struct pkt *p, __u32 skb_len, __u32 gso_segs,
				      __u32 gso_size)
{
	__u64 payload;

	if (gso_segs > 1)
		return gso_segs;
	if (!gso_size || skb_len <= p->l2_len + p->hdr_len)
		return 1;
	payload = skb_len - p->l2_len - p->hdr_len;
	return payload > gso_size ? (payload + gso_size - 1) / gso_size : 1;
}

/*
 * An XDP frame carries no GSO metadata, yet generic XDP on a device that
 * hands up GSO packets (a TAP device, virtio-net without native XDP) sees
 * such a packet as one frame. Longer than its device's MTU, it stands for
 * the segments a sender cutting at that MTU sends. No lookup below 1500
 * bytes: an aggregate of two segments is shorter only behind an MTU under
 * ~780 bytes.
 */
static __always_inline __u64 xdp_segments(const struct pkt *p, __u32 ifindex)
{
	__u32 *mtu, seg;

	if (p->l3_len <= 1500)
		return 1;
	mtu = bpf_map_lookup_elem(&if_mtu, &ifindex);
	if (!mtu || p->l3_len <= *mtu || *mtu <= p->hdr_len)
		return 1;
	seg = *mtu - p->hdr_len;
	return (p->payload + seg - 1) / seg;
}

/*
 * segs and bytes describe what this call stands for on the wire: a GSO or
 * GRO skb is several packets, each repeating the IP and TCP headers.
 */
static __always_inline void handle(void *data, void *data_end, __u32 ifindex, int dir,
				   __u32 skb_len, __u32 gso_segs, __u32 gso_size)
{
	struct flow_key key = {};
	struct flow_stats *f;
	struct pkt p = {};
	__u64 now, segs, bytes;
	int r;

	stat_inc(STAT_PACKETS);
	r = parse_packet(data, data_end, &p);
	if (r != PARSE_OK) {
		stat_inc(r == PARSE_NOT_TCP  ? STAT_NOT_TCP :
			 r == PARSE_FRAGMENT ? STAT_FRAGMENT :
					       STAT_MALFORMED);
		return;
	}

	if (dir == DIR_EGRESS) {
		__builtin_memcpy(key.saddr, p.saddr, 16);
		__builtin_memcpy(key.daddr, p.daddr, 16);
		key.sport = p.sport;
		key.dport = p.dport;
	} else {
		__builtin_memcpy(key.saddr, p.daddr, 16);
		__builtin_memcpy(key.daddr, p.saddr, 16);
		key.sport = p.dport;
		key.dport = p.sport;
	}
	key.ifindex = ifindex;

	now = bpf_ktime_get_ns();
	f = flow_get(&key, now);
	if (!f)
		return;

	if (skb_len) {
		/* skb path: the skb length is right also for GSO and BIG TCP */
		segs = segments(&p, skb_len, gso_segs, gso_size);
		bytes = skb_len > p.l2_len ? skb_len - p.l2_len : 0;
	} else {
		segs = xdp_segments(&p, ifindex);
		bytes = p.l3_len;
	}
	bytes += (segs - 1) * p.hdr_len;
	f->last_ns = now;
	__sync_fetch_and_add(&f->packets[dir & 1], segs);
	__sync_fetch_and_add(&f->bytes[dir & 1], bytes);
	flow_flags(f, &key, p.tcp_flags, dir, now);
	if (cfg.qlog && f->traced)
		qlog_packet(data, data_end, &key, &p, dir, now, segs, bytes);

	if (p.has_ts) {
		/* A TSval leaving on egress is echoed by the egress destination. */
		int take = dir == DIR_EGRESS ? SIDE_DST : SIDE_SRC;
		int match = dir == DIR_EGRESS ? SIDE_SRC : SIDE_DST;

		rtt_take(&f->ts[take], &p, now);
		rtt_match(&f->ts[match], &f->rtt[match], &p, now);
	}
}

SEC("xdp")
int tcpulse_xdp_in(struct xdp_md *ctx)
{
	handle((void *)(long)ctx->data, (void *)(long)ctx->data_end, ctx->ingress_ifindex,
	       DIR_INGRESS, 0, 0, 0);
	return XDP_PASS;
}

SEC("tc")
int tcpulse_tc_in(struct __sk_buff *skb)
{
	handle((void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex, DIR_INGRESS,
	       skb->len, skb->gso_segs, skb->gso_size);
	return TCX_NEXT;
}

SEC("tc")
int tcpulse_tc_eg(struct __sk_buff *skb)
{
	handle((void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex, DIR_EGRESS,
	       skb->len, skb->gso_segs, skb->gso_size);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
