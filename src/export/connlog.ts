/**
 * The connection log: one JSON line per finished connection (the Tstat
 * log_tcp_complete idea), from the kernel's completion records. Field
 * groups are chosen in the config: core (always), rtt, window, mptcp.
 * Writes are buffered by the stream; nothing blocks the agent.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { ConfigError } from '../errors.js';
import { CloseReason, SOCK_COUNTER_NAMES, sockCounterField, SockEventType, SockFlag, type SockEventRecord } from '../bpf/layout.js';
import { nameOf } from '../bpf/codec.js';
import type { ConnLogGroup } from '../config.js';
import { addressToString } from '../flows/address.js';
import { serverPortOf } from '../flows/rollup.js';
import type { WallClock } from '../time.js';

const ms = (us: number) => Math.round(us) / 1000;

export function connectionRecord(ev: SockEventRecord, groups: readonly ConnLogGroup[], toWallMs: WallClock): Record<string, unknown> {
  const { key, s } = ev;
  const mptcpConn = ev.type === SockEventType.mptcpClosed;
  const server = s.flags & SockFlag.active ? 'remote' : s.flags & SockFlag.passive ? 'local' : null;
  const rec: Record<string, unknown> = {
    type: mptcpConn ? 'mptcp' : s.flags & SockFlag.mptcp ? 'subflow' : 'tcp',
    start: new Date(toWallMs(s.startNs)).toISOString(),
    end: new Date(toWallMs(s.endNs)).toISOString(),
    duration_s: (s.endNs - s.startNs) / 1e9,
    local_address: addressToString(key.saddr),
    local_port: key.sport,
    peer_address: addressToString(key.daddr),
    peer_port: key.dport,
    server_port: serverPortOf(key.sport, key.dport, server),
    role: server === 'remote' ? 'client' : server === 'local' ? 'server' : 'unknown',
    netns: key.netns,
  };
  if (!mptcpConn) {
    Object.assign(rec, {
      ...Object.fromEntries(SOCK_COUNTER_NAMES.map((n) => [sockCounterField(n), s.counters[n]])),
      close_reason: nameOf(CloseReason, s.closeReason) ?? 'unknown',
    });
    if (groups.includes('rtt')) {
      Object.assign(rec, {
        srtt_min_ms: ms(s.srttMinUs),
        srtt_avg_ms: s.srttCount ? ms(s.srttSumUs / s.srttCount) : null,
        srtt_max_ms: ms(s.srttMaxUs),
        srtt_last_ms: ms(s.srttUs),
        min_rtt_ms: ms(s.minRttUs),
        rtt_samples: s.srttCount,
      });
    }
    if (groups.includes('window')) {
      Object.assign(rec, { cwnd: s.cwnd, ssthresh: s.ssthresh, snd_wnd: s.sndWnd, rcv_wnd: s.rcvWnd, mss: s.mss });
    }
  }
  if (groups.includes('mptcp') && (mptcpConn || s.flags & SockFlag.mptcp)) {
    rec.mptcp_token = s.mptcpToken;
    if (mptcpConn) rec.subflows = ev.subflows;
    else rec.subflow = s.flags & SockFlag.mptcpJoin ? 'join' : 'first';
  }
  return rec;
}

export class ConnectionLog {
  private readonly out: WriteStream;
  written = 0;

  constructor(
    path: string,
    private readonly groups: readonly ConnLogGroup[],
    onError: (err: unknown) => void,
  ) {
    let fd: number;
    try {
      fd = openSync(path, 'a');
    } catch (err) {
      throw new ConfigError(`--connection-log ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.out = createWriteStream(path, { fd });
    this.out.on('error', onError);
  }

  write(ev: SockEventRecord, toWallMs: WallClock): void {
    this.out.write(JSON.stringify(connectionRecord(ev, this.groups, toWallMs)) + '\n');
    this.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}
