/**
 * One span per finished connection, from the kernel's completion record:
 * start and end are the connection's own, attributes follow the OTel
 * semantic conventions where they exist (network.*, server.port, k8s.*)
 * and tcp.* / mptcp.* for the rest. An MPTCP connection's span carries its
 * subflows' joins and closes as span events. Sampling keeps a ratio of the
 * ordinary connections and always the interesting ones.
 */
import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import { CloseReason, SOCK_COUNTER_NAMES, sockCounterField, SockEventType, SockFlag, type SockEventRecord } from '../../bpf/layout.js';
import { nameOf } from '../../bpf/codec.js';
import { addressToString, isV4Mapped } from '../../flows/address.js';
import { sockServerPort } from '../../flows/rollup.js';
import type { Labels } from '../../flows/series.js';
import type { WallClock } from '../../time.js';

export interface SamplingRules {
  ratio: number;
  /** keep when the connection's minimum RTT is above this (ms; 0: off) */
  minRttAboveMs: number;
}

export type SampleReason = 'retransmits' | 'rst' | 'min_rtt' | 'ratio' | null;

/** Why a connection is kept as a span, or null. */
export function sample(ev: SockEventRecord, rules: SamplingRules, random = Math.random): SampleReason {
  const s = ev.s;
  if (ev.type === SockEventType.closed) {
    if (s.counters.retransmits > 0) return 'retransmits';
    if (s.closeReason === CloseReason.rst) return 'rst';
    const minRttMs = (s.minRttUs || s.srttMinUs) / 1000;
    if (rules.minRttAboveMs > 0 && minRttMs > rules.minRttAboveMs) return 'min_rtt';
  }
  return random() < rules.ratio ? 'ratio' : null;
}

const ms = (us: number) => us / 1000;

export function connectionAttributes(ev: SockEventRecord, labels: Labels): Attributes {
  const { key, s } = ev;
  const mptcp = ev.type === SockEventType.mptcpClosed;
  const a: Attributes = {
    'network.transport': 'tcp',
    'network.type': isV4Mapped(key.saddr) ? 'ipv4' : 'ipv6',
    'network.local.address': addressToString(key.saddr),
    'network.local.port': key.sport,
    'network.peer.address': addressToString(key.daddr),
    'network.peer.port': key.dport,
    'server.port': sockServerPort(key.sport, key.dport, s.flags),
  };
  if (labels.pod) a['k8s.pod.name'] = labels.pod;
  if (labels.namespace) a['k8s.namespace.name'] = labels.namespace;
  if (labels.peer_pod) a['tcpulse.peer.k8s.pod.name'] = labels.peer_pod;
  if (labels.peer_namespace) a['tcpulse.peer.k8s.namespace.name'] = labels.peer_namespace;
  if (mptcp) {
    a['mptcp.token'] = s.mptcpToken;
    a['mptcp.subflows'] = ev.subflows;
    return a;
  }
  Object.assign(a, {
    'tcp.close_reason': nameOf(CloseReason, s.closeReason) ?? 'unknown',
    ...Object.fromEntries(SOCK_COUNTER_NAMES.map((n) => [`tcp.${sockCounterField(n)}`, s.counters[n]])),
    'tcp.rtt.min_ms': ms(s.srttMinUs),
    'tcp.rtt.avg_ms': s.srttCount ? ms(s.srttSumUs / s.srttCount) : 0,
    'tcp.rtt.max_ms': ms(s.srttMaxUs),
    'tcp.srtt_ms': ms(s.srttUs),
    'tcp.min_rtt_ms': ms(s.minRttUs),
    'tcp.cwnd': s.cwnd,
    'tcp.ssthresh': s.ssthresh,
    'tcp.snd_wnd': s.sndWnd,
    'tcp.rcv_wnd': s.rcvWnd,
    'tcp.mss': s.mss,
  });
  if (s.flags & SockFlag.mptcp) {
    a['mptcp.token'] = s.mptcpToken;
    a['mptcp.subflow'] = s.flags & SockFlag.mptcpJoin ? 'join' : 'first';
  }
  return a;
}

export interface SubflowEvent {
  name: 'mptcp.subflow.established' | 'mptcp.subflow.closed';
  timeMs: number;
  attributes: Attributes;
}

/** Starts and ends one span (already decided to keep) on tracer. */
export function emitSpan(tracer: Tracer, ev: SockEventRecord, labels: Labels, toWallMs: WallClock, subflows: SubflowEvent[] = []): void {
  const s = ev.s;
  const mptcp = ev.type === SockEventType.mptcpClosed;
  const kind = s.flags & SockFlag.active ? SpanKind.CLIENT : s.flags & SockFlag.passive ? SpanKind.SERVER : SpanKind.INTERNAL;
  const span = tracer.startSpan(mptcp ? 'mptcp.connection' : 'tcp.connection', {
    kind,
    startTime: toWallMs(s.startNs),
    attributes: connectionAttributes(ev, labels),
  });
  for (const e of subflows) span.addEvent(e.name, e.attributes, e.timeMs);
  if (s.closeReason === CloseReason.timeout) span.setStatus({ code: SpanStatusCode.ERROR, message: 'retransmission timeout' });
  span.end(toWallMs(s.endNs));
}
