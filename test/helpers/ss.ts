/** The kernel's own view of TCP sockets, from `ss -tin`, for comparison. */
import { TIME_SCALE } from './exec.js';
import type { Lab } from './netns.js';

export interface SockInfo {
  local: string;
  peer: string;
  minRttMs?: number;
  rttMs?: number;
  cwnd?: number;
  segsOut: number;
  segsIn: number;
  bytesSent: number;
  bytesReceived: number;
  bytesAcked: number;
  /** Payload bytes sent again (tcpi_bytes_retrans). */
  bytesRetrans: number;
  /** Segments retransmitted over the connection's life (tcpi_total_retrans). */
  retrans: number;
  /** Segments the peer acknowledged, SYN and retransmissions included (tcpi_delivered). */
  delivered: number;
}

const num = (info: string, key: string): number | undefined => {
  const m = new RegExp(`(?:^|\\s)${key}:([0-9.]+)`).exec(info);
  return m ? Number(m[1]) : undefined;
};

export function parseSs(text: string): SockInfo[] {
  const out: SockInfo[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^\s/.test(lines[i]!)) continue;
    let head = lines[i]!.trim().split(/\s+/);
    if (/^[A-Z]/.test(head[0] ?? '')) head = head.slice(1); // a State column (absent with a state filter)
    if (head.length < 4) continue;
    const info = lines[i + 1] ?? '';
    if (!/^\s/.test(info)) continue;
    i++;
    const rtt = /\srtt:([0-9.]+)\//.exec(info);
    out.push({
      local: head[2]!,
      peer: head[3]!,
      minRttMs: num(info, 'minrtt'),
      rttMs: rtt ? Number(rtt[1]) : undefined,
      cwnd: num(info, 'cwnd'),
      segsOut: num(info, 'segs_out') ?? 0,
      segsIn: num(info, 'segs_in') ?? 0,
      bytesSent: num(info, 'bytes_sent') ?? 0,
      bytesReceived: num(info, 'bytes_received') ?? 0,
      bytesAcked: num(info, 'bytes_acked') ?? 0,
      bytesRetrans: num(info, 'bytes_retrans') ?? 0,
      retrans: Number(/\sretrans:\d+\/(\d+)/.exec(info)?.[1] ?? 0),
      delivered: num(info, 'delivered') ?? 0,
    });
  }
  return out;
}

/** Established sockets in ns whose peer port is port. */
export async function ssPeerPort(lab: Pick<Lab, 'exec'>, ns: string, port: number): Promise<SockInfo[]> {
  const r = await lab.exec(ns, 'ss', ['-tinH', 'state', 'established', `( dport = :${port} )`]);
  return parseSs(r.stdout);
}

/** Resolves once something in ns listens on TCP port (a server started in the background is ready). */
export async function listening(lab: Pick<Lab, 'exec'>, ns: string, port: number, ms = 10_000 * TIME_SCALE): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await lab.exec(ns, 'ss', ['-tlnH', `( sport = :${port} )`])).stdout.trim()) {
    if (Date.now() > deadline) throw new Error(`nothing listens on :${port} in ${ns}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
