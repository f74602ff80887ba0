/**
 * An MPTCP lab: namespaces A (client) and B (server) joined by TWO veth
 * pairs, so that one MPTCP connection runs two TCP subflows over two
 * interfaces:
 *
 *   A vethA1 ipA1 ──── pair 1 ──── ipB1 vethB1 B     initial subflow (MP_CAPABLE)
 *   A vethA2 ipA2 ──── pair 2 ──── ipB2 vethB2 B     second subflow (MP_JOIN)
 *
 * The client connects to ipB1. In A an MPTCP endpoint "ipA2 dev vethA2
 * subflow" makes the in-kernel path manager open one more subflow, from
 * ipA2 (bound to vethA2) to the same remote address ipB1, as soon as the
 * connection is fully established. That subflow crosses pair 2 both ways:
 * A routes it by a policy rule (from ipA2: table 100, default dev vethA2,
 * which B answers ARP for, arp_ignore being 0) and B answers ipA2 over its
 * connected route on vethB2. Limits are "subflows 2 add_addr_accepted 2" on
 * both sides; B has no endpoints and announces nothing, so there are exactly
 * two subflows per connection.
 *
 * Node cannot open MPTCP sockets (IPPROTO_MPTCP, 262); the server and the
 * client are python3 scripts (socket.socket(AF_INET, SOCK_STREAM, 262)).
 *
 * Kernel views: `ss -tin` lists each subflow as a TCP socket whose info
 * ends in "tcp-ulp-mptcp flags:Mmec token:REM(id:N)/LOC(id:N) ...", the
 * tokens printed with %04x (so not always 8 digits, 0000 when unknown); LOC
 * is the local connection's token, the one `ss -Mi` prints as "token:" for
 * the MPTCP socket, whose "subflows:N" counts the subflows beyond the first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { procNetCounters } from './drop.js';
import { run, sleep, TIME_SCALE } from './exec.js';
import { nsArgv, nsExec, sweepStaleNamespaces } from './netns.js';

// ---- python3 programs ----

/** argv: port. Prints "listening", then one JSON line per connection when it closes. */
const serverPy = String.raw`
import json, socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(64)
lock = threading.Lock()
def emit(o):
    with lock:
        sys.stdout.write(json.dumps(o) + '\n'); sys.stdout.flush()
def serve(c, peer):
    n = 0
    try:
        while True:
            b = c.recv(1 << 16)
            if not b: break
            n += len(b)
    except OSError as e:
        emit({'event': 'error', 'peer': '%s:%d' % peer, 'error': str(e)})
    c.close()
    emit({'event': 'closed', 'peer': '%s:%d' % peer, 'bytes': n})
print('listening', flush=True)
while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
`;

/**
 * argv: host port bytes holdMs waitSubflows waitMs. Connects; when
 * waitSubflows > 1 sends the first byte alone (the path manager adds
 * subflows only once the connection is fully established, which for the
 * client means data the server acknowledged) and waits until the connection
 * has waitSubflows subflows (exit 3 after waitMs); sends the rest of bytes,
 * waits until the server acknowledged all of them (MPTCP data ACK), holds
 * holdMs (or until a line or EOF on stdin when holdMs < 0; a line also ends
 * a positive hold early), then shuts down its side and waits for the server
 * to close. JSON lines: ready, sent, final (just before shutdown),
 * closed; each with the MPTCP_INFO and per-subflow addresses and tcp_info.
 */
const clientPy = String.raw`
import ctypes, json, select, socket, struct, sys, time
SOL_MPTCP, MPTCP_INFO, MPTCP_TCPINFO, MPTCP_SUBFLOW_ADDRS = 284, 1, 2, 3
libc = ctypes.CDLL(None, use_errno=True)
host, port, nbytes, hold_ms, want, wait_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
def emit(o):
    sys.stdout.write(json.dumps(o) + '\n'); sys.stdout.flush()
def mptcp_info(s):
    b = s.getsockopt(SOL_MPTCP, MPTCP_INFO, 96).ljust(96, b'\0')
    f = struct.unpack_from('<6B2xIIQQQ3BxIQQQQB3xIII', b)
    return {'subflows': f[0], 'subflowsMax': f[3], 'addAddrAcceptedMax': f[5], 'flags': f[6], 'token': '%08x' % f[7],
            'localAddrUsed': f[11], 'retransmits': f[14], 'bytesRetrans': f[15], 'bytesSent': f[16], 'bytesReceived': f[17],
            'bytesAcked': f[18], 'subflowsTotal': f[19]}
def sfdata(s, opt, elem):
    hdr = 16
    buf = ctypes.create_string_buffer(hdr + 8 * elem)
    struct.pack_into('<IIII', buf, 0, hdr, 0, 0, elem)
    ln = ctypes.c_uint32(len(buf))
    if libc.getsockopt(s.fileno(), SOL_MPTCP, opt, buf, ctypes.byref(ln)) != 0:
        raise OSError(ctypes.get_errno(), 'getsockopt SOL_MPTCP %d' % opt)
    _, num, _, size_user = struct.unpack_from('<IIII', buf, 0)
    raw = buf.raw
    n = min(num, (ln.value - hdr) // size_user) if size_user else 0
    return [raw[hdr + i * size_user: hdr + (i + 1) * size_user] for i in range(n)]
def sockaddr(b):
    fam = struct.unpack_from('<H', b, 0)[0]
    p = struct.unpack_from('>H', b, 2)[0]
    if fam == socket.AF_INET: return '%s:%d' % (socket.inet_ntop(socket.AF_INET, b[4:8]), p)
    if fam == socket.AF_INET6: return '[%s]:%d' % (socket.inet_ntop(socket.AF_INET6, b[8:24]), p)
    return None
def tcpinfo(b):
    g = lambda fmt, off: struct.unpack_from(fmt, b, off)[0] if len(b) >= off + struct.calcsize(fmt) else None
    return {'state': g('<B', 0), 'totalRetrans': g('<I', 100), 'bytesAcked': g('<Q', 120), 'bytesReceived': g('<Q', 128),
            'segsOut': g('<I', 136), 'segsIn': g('<I', 140), 'minRttUs': g('<I', 148), 'dataSegsIn': g('<I', 152),
            'dataSegsOut': g('<I', 156), 'bytesSent': g('<Q', 200), 'bytesRetrans': g('<Q', 208)}
def snapshot(s, event):
    o = {'event': event, 'info': mptcp_info(s)}
    addrs = [(sockaddr(a[:128]), sockaddr(a[128:256])) for a in sfdata(s, MPTCP_SUBFLOW_ADDRS, 256)]
    infos = sfdata(s, MPTCP_TCPINFO, 256)
    o['subflows'] = [dict(local=l, remote=r, **(tcpinfo(infos[i]) if i < len(infos) else {})) for i, (l, r) in enumerate(addrs)]
    return o
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((host, port))
chunk = b'\x07' * 65536
left = nbytes
if want > 1:
    # the path manager adds subflows once the connection is fully
    # established, which for a client takes data acknowledged by the server
    if left < 1: sys.stderr.write('waiting for subflows needs at least one byte to send\n'); sys.exit(2)
    s.sendall(chunk[:1]); left -= 1
deadline = time.monotonic() + wait_ms / 1000
while mptcp_info(s)['subflows'] + 1 < want:
    if time.monotonic() > deadline:
        emit(snapshot(s, 'timeout')); sys.stderr.write('only %d of %d subflows after %d ms\n' % (mptcp_info(s)['subflows'] + 1, want, wait_ms)); sys.exit(3)
    time.sleep(0.005)
emit(snapshot(s, 'ready'))
while left > 0:
    k = min(left, len(chunk)); s.sendall(chunk[:k]); left -= k
# hold only once the server acknowledged everything at the MPTCP level, so
# that nothing moves while the caller reads the kernel's counters
# (mptcpi_bytes_acked is 0 before Linux 6.5: then do not wait)
deadline = time.monotonic() + 60
while nbytes and mptcp_info(s)['bytesSent'] and mptcp_info(s)['bytesAcked'] < nbytes and time.monotonic() < deadline:
    time.sleep(0.002)
emit(snapshot(s, 'sent'))
if hold_ms < 0: select.select([sys.stdin], [], [])
elif hold_ms > 0: select.select([sys.stdin], [], [], hold_ms / 1000)
emit(snapshot(s, 'final'))
s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass
s.close()
emit({'event': 'closed'})
`;

// ---- types ----

export interface MptcpInfo {
  /** Subflows beyond the initial one (mptcpi_subflows). */
  subflows: number;
  subflowsMax: number;
  addAddrAcceptedMax: number;
  flags: number;
  /** The local connection token, 8 hex digits (ss prints it with %04x: compare as numbers). */
  token: string;
  localAddrUsed: number;
  retransmits: number;
  bytesRetrans: number;
  bytesSent: number;
  bytesReceived: number;
  bytesAcked: number;
  /** All subflows including the initial one (Linux 6.10+; 0 before). */
  subflowsTotal: number;
}

/** One subflow as the client socket reports it (MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO). */
export interface ClientSubflow {
  local: string;
  remote: string;
  state?: number;
  totalRetrans?: number;
  bytesSent?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  bytesRetrans?: number;
  segsOut?: number;
  segsIn?: number;
  dataSegsOut?: number;
  dataSegsIn?: number;
  minRttUs?: number;
}

export interface ClientSnapshot {
  event: 'ready' | 'sent' | 'final' | 'timeout';
  info: MptcpInfo;
  subflows: ClientSubflow[];
}

/** One TCP subflow in `ss -tin` (the kernel's view). */
export interface KernelSubflow {
  /** address:port, without the %dev suffix */
  local: string;
  peer: string;
  /** SO_BINDTODEVICE of the subflow (the "%dev" ss appends), if any */
  dev?: string;
  /** flags letters: M/m MP_CAPABLE remote/local, J/j MP_JOIN, B/b backup, e fully established, c connected, v map valid */
  flags: string;
  /** the peer connection's token as far as known (0 on most subflows) */
  remoteToken: number;
  remoteId: number;
  /** the token of the MPTCP connection this subflow belongs to, in this namespace */
  localToken: number;
  localId: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
  /** retrans:a/TOTAL: the total */
  retrans: number;
}

/** One MPTCP socket in `ss -Mi`. */
export interface KernelMsk {
  local: string;
  peer: string;
  token: number;
  /** additional subflows (the initial one not counted) */
  subflows: number;
}

export interface MptcpConnection {
  token: number;
  msk?: KernelMsk;
  subflows: KernelSubflow[];
}

export interface ConnectOptions {
  /** How long to keep the connection open after sending (default 0). Negative: until release(). */
  holdMs?: number;
  /**
   * Subflows (including the initial one) to wait for before sending the
   * bulk (default 2; 1 disables). Needs bytes >= 1: the first byte goes
   * alone over the initial subflow, since the second subflow is only opened
   * once the server has acknowledged data.
   */
  waitSubflows?: number;
  /** Time allowed for waitSubflows (default 5000 ms). */
  waitMs?: number;
  /** Server address (default ipB1). */
  host?: string;
  /** Called while the connection is held (after "sent"); the hold lasts at least until it resolves. */
  during?: (c: MptcpClient) => Promise<void>;
}

// ---- processes ----

class JsonLines {
  readonly events: Record<string, unknown>[] = [];
  private buf = '';
  stderr = '';
  readonly exited: Promise<number | string>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.events.push(line.startsWith('{') ? JSON.parse(line) : { event: line });
      }
    });
    proc.stderr!.on('data', (d) => (this.stderr += d));
    // 'close', not 'exit': all output has been read by then
    this.exited = new Promise((resolve) => proc.on('close', (code, sig) => resolve(code ?? sig ?? -1)));
    void this.exited.then(() => (this.done = true));
  }

  private done = false;

  async waitFor(event: string, ms: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = this.events.find((x) => x.event === event);
      if (e) return e;
      if (this.done) throw new Error(`waiting for "${event}": exited ${await this.exited}: ${this.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`waiting for "${event}": timeout after ${ms} ms: ${this.stderr.trim()}`);
      await sleep(10);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000 * TIME_SCALE): Promise<number | string> {
    const p = this.proc;
    if (p.exitCode === null && p.signalCode === null) {
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }
}

export class MptcpServer {
  constructor(
    private readonly p: JsonLines,
    readonly port: number,
  ) {}

  /** Connections the server has seen closed: peer address and bytes received. */
  closed(): { peer: string; bytes: number }[] {
    return this.p.events.filter((e) => e.event === 'closed') as unknown as { peer: string; bytes: number }[];
  }

  stderr(): string {
    return this.p.stderr;
  }

  stop(): Promise<number | string> {
    return this.p.stop();
  }
}

export class MptcpClient {
  constructor(private readonly p: JsonLines) {}

  get pid(): number {
    return this.p.proc.pid!;
  }

  /** The snapshot taken when the subflows were up, before sending. */
  ready(): Promise<ClientSnapshot> {
    return this.p.waitFor('ready', 30_000 * TIME_SCALE) as unknown as Promise<ClientSnapshot>;
  }

  /** The snapshot taken after sending everything and the server acknowledging it (MPTCP data ACK). */
  sent(timeoutMs = 60_000 * TIME_SCALE): Promise<ClientSnapshot> {
    return this.p.waitFor('sent', timeoutMs) as unknown as Promise<ClientSnapshot>;
  }

  /** Ends the hold now. */
  release(): void {
    if (this.p.proc.stdin!.writable) this.p.proc.stdin!.end('\n');
  }

  /** Resolves with the last snapshot before the client shut down, once the connection is closed on both sides. */
  async closed(timeoutMs = 60_000 * TIME_SCALE): Promise<ClientSnapshot> {
    await this.p.waitFor('closed', timeoutMs);
    const code = await this.p.exited;
    if (code !== 0) throw new Error(`mptcp client exited ${code}: ${this.p.stderr}`);
    return this.p.events.find((e) => e.event === 'final') as unknown as ClientSnapshot;
  }

  kill(): Promise<number | string> {
    return this.p.stop('SIGKILL');
  }
}

// ---- the lab ----

export class MptcpLab {
  readonly nsA: string;
  readonly nsB: string;
  readonly vethA1: string;
  readonly vethB1: string;
  readonly vethA2: string;
  readonly vethB2: string;
  readonly ipA1: string;
  readonly ipB1: string;
  readonly ipA2: string;
  readonly ipB2: string;
  /** Policy routing table in A for traffic from ipA2. */
  static readonly TABLE = 100;
  private readonly procs = new Set<JsonLines>();

  private constructor(tag: string) {
    const id = randomBytes(3).toString('hex');
    this.nsA = `tcpulse-mptcp-${tag}-${process.pid}-${id}-a`;
    this.nsB = `tcpulse-mptcp-${tag}-${process.pid}-${id}-b`;
    this.vethA1 = `mp${id}a1`; // 10 characters (IFNAMSIZ allows 15)
    this.vethB1 = `mp${id}b1`;
    this.vethA2 = `mp${id}a2`;
    this.vethB2 = `mp${id}b2`;
    // 10.200-249.x.0/24 and 10.200-249.x+1.0/24 (Lab uses 10.100-199)
    const n = randomBytes(2);
    const net = `10.${200 + (n[0]! % 50)}`;
    const third = n[1]! & 0xfe;
    this.ipA1 = `${net}.${third}.1`;
    this.ipB1 = `${net}.${third}.2`;
    this.ipA2 = `${net}.${third + 1}.1`;
    this.ipB2 = `${net}.${third + 1}.2`;
  }

  static async create(tag: string): Promise<MptcpLab> {
    await sweepStaleNamespaces();
    const lab = new MptcpLab(tag);
    try {
      await run('ip', ['netns', 'add', lab.nsA]);
      await run('ip', ['netns', 'add', lab.nsB]);
      for (const [a, b] of [
        [lab.vethA1, lab.vethB1],
        [lab.vethA2, lab.vethB2],
      ] as const) {
        await run('ip', ['link', 'add', a, 'netns', lab.nsA, 'type', 'veth', 'peer', 'name', b, 'netns', lab.nsB]);
      }
      for (const [ns, devs] of [
        [lab.nsA, [[lab.vethA1, lab.ipA1], [lab.vethA2, lab.ipA2]]],
        [lab.nsB, [[lab.vethB1, lab.ipB1], [lab.vethB2, lab.ipB2]]],
      ] as const) {
        await lab.exec(ns, 'sysctl', ['-qw', 'net.mptcp.enabled=1']);
        await lab.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
        for (const [dev, ip] of devs) {
          await lab.exec(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', dev]);
          await lab.exec(ns, 'ip', ['link', 'set', dev, 'up']);
        }
        await lab.exec(ns, 'ip', ['mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
      }
      const table = String(MptcpLab.TABLE);
      await lab.exec(lab.nsA, 'ip', ['rule', 'add', 'from', lab.ipA2, 'table', table]);
      await lab.exec(lab.nsA, 'ip', ['route', 'add', 'default', 'dev', lab.vethA2, 'table', table]);
      await lab.exec(lab.nsA, 'ip', ['mptcp', 'endpoint', 'add', lab.ipA2, 'dev', lab.vethA2, 'subflow']);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  exec(ns: string, cmd: string, args: string[], opts?: Parameters<typeof run>[2]) {
    return nsExec(ns, cmd, args, opts);
  }

  argv(ns: string, cmd: string, args: string[]): [string, string[]] {
    return nsArgv(ns, cmd, args);
  }

  private spawnPy(ns: string, script: string, args: string[]): JsonLines {
    const [cmd, argv] = this.argv(ns, 'python3', ['-u', '-c', script, ...args]);
    const p = new JsonLines(spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] }));
    p.proc.stdin!.on('error', () => {});
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** An MPTCP server in B on 0.0.0.0:port that reads and discards, closing when the client does. */
  async startServer(port: number): Promise<MptcpServer> {
    const p = this.spawnPy(this.nsB, serverPy, [String(port)]);
    await p.waitFor('listening', 10_000 * TIME_SCALE);
    return new MptcpServer(p, port);
  }

  /**
   * Starts an MPTCP client in A that connects to host:port (default ipB1),
   * waits for its subflows, sends `bytes`, holds, closes. Resolves once the
   * subflows are up (the "ready" snapshot is available).
   */
  async open(port: number, bytes: number, opts: Omit<ConnectOptions, 'during'> = {}): Promise<MptcpClient> {
    const p = this.spawnPy(this.nsA, clientPy, [
      opts.host ?? this.ipB1,
      String(port),
      String(bytes),
      String(opts.holdMs ?? 0),
      String(opts.waitSubflows ?? 2),
      String(opts.waitMs ?? 5000 * TIME_SCALE),
    ]);
    const c = new MptcpClient(p);
    await c.ready();
    return c;
  }

  /**
   * One whole connection: open, send, hold (running `during` meanwhile),
   * close. Resolves once closed on both sides, with the client's last
   * snapshot (taken just before it shut down).
   */
  async connect(port: number, bytes: number, opts: ConnectOptions = {}): Promise<ClientSnapshot> {
    const { during, ...rest } = opts;
    const hold = rest.holdMs ?? 0;
    const c = await this.open(port, bytes, during ? { ...rest, holdMs: -1 } : rest);
    try {
      await c.sent();
      if (during) {
        const t0 = Date.now();
        await during(c);
        const left = hold - (Date.now() - t0);
        if (left > 0) await sleep(left);
        c.release();
      }
      return await c.closed();
    } catch (err) {
      await c.kill();
      throw err;
    }
  }

  /** TCP subflows of MPTCP connections in ns (default A) with port as either end, from `ss -tin`. */
  async subflows(port: number, ns = this.nsA): Promise<KernelSubflow[]> {
    const r = await this.exec(ns, 'ss', ['-tinH', 'state', 'established', `( dport = :${port} or sport = :${port} )`]);
    return parseSubflows(r.stdout);
  }

  /** MPTCP sockets in ns (default A) with port as either end, from `ss -Mi`. */
  async msks(port: number, ns = this.nsA): Promise<KernelMsk[]> {
    const r = await this.exec(ns, 'ss', ['-MinH', 'state', 'established', `( dport = :${port} or sport = :${port} )`]);
    return parseMsks(r.stdout);
  }

  /** Subflows grouped by connection (local token), each with its MPTCP socket. */
  async connections(port: number, ns = this.nsA): Promise<MptcpConnection[]> {
    const [sfs, msks] = await Promise.all([this.subflows(port, ns), this.msks(port, ns)]);
    const by = new Map<number, MptcpConnection>();
    for (const m of msks) by.set(m.token, { token: m.token, msk: m, subflows: [] });
    for (const s of sfs) {
      let c = by.get(s.localToken);
      if (!c) by.set(s.localToken, (c = { token: s.localToken, subflows: [] }));
      c.subflows.push(s);
    }
    return [...by.values()];
  }

  /** Interface counters of dev in ns (skbs, not wire segments, for packets). */
  async linkStats(ns: string, dev: string): Promise<{ rxBytes: number; rxPackets: number; txBytes: number; txPackets: number }> {
    const r = await this.exec(ns, 'ip', ['-s', '-j', 'link', 'show', 'dev', dev]);
    const st = (JSON.parse(r.stdout) as { stats64: Record<'rx' | 'tx', { bytes: number; packets: number }> }[])[0]!.stats64;
    return { rxBytes: st.rx.bytes, rxPackets: st.rx.packets, txBytes: st.tx.bytes, txPackets: st.tx.packets };
  }

  /** MPTcpExt counters of ns (/proc/net/netstat), e.g. MPJoinSynAckRx, MPCapableSYNACKRX. */
  async counters(ns: string): Promise<Record<string, number>> {
    const all = await procNetCounters(this, ns, 'netstat');
    const out: Record<string, number> = {};
    for (const [k, v] of all) if (k.startsWith('MPTcpExt.')) out[k.slice(9)] = v;
    return out;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGKILL')));
    for (const ns of [this.nsA, this.nsB]) await run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

// ---- ss parsing ----

/** Pairs of (header fields, info line) from `ss -H` output with -i. */
function ssEntries(text: string): { local: string; peer: string; info: string }[] {
  const out: { local: string; peer: string; info: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^\s/.test(lines[i]!) || !lines[i]!.trim()) continue;
    let head = lines[i]!.trim().split(/\s+/);
    if (/^[A-Z-]+$/.test(head[0] ?? '') && head.length >= 5) head = head.slice(1); // a State column
    const info = /^\s/.test(lines[i + 1] ?? '') ? lines[++i]! : '';
    out.push({ local: head[2]!, peer: head[3]!, info });
  }
  return out;
}

const num = (info: string, key: string): number => {
  const m = new RegExp(`(?:^|\\s)${key}:([0-9.]+)`).exec(info);
  return m ? Number(m[1]) : 0;
};

/** "10.1.2.1%eth0:5201" -> ["10.1.2.1:5201", "eth0"] */
function splitDev(addr: string): [string, string | undefined] {
  const m = /^(.*)%([^:\]]+)(:\d+|:\*)$/.exec(addr);
  return m ? [m[1]! + m[3]!, m[2]] : [addr, undefined];
}

export function parseSubflows(text: string): KernelSubflow[] {
  const out: KernelSubflow[] = [];
  for (const e of ssEntries(text)) {
    const m = /tcp-ulp-mptcp(?: flags:(\S+))? token:([0-9a-f]+)\(id:(\d+)\)\/([0-9a-f]+)\(id:(\d+)\)/.exec(e.info);
    if (!m) continue; // plain TCP, or an MPTCP socket that fell back
    const [local, dev] = splitDev(e.local);
    out.push({
      local,
      peer: splitDev(e.peer)[0],
      dev,
      flags: m[1] ?? '',
      remoteToken: Number.parseInt(m[2]!, 16),
      remoteId: Number(m[3]),
      localToken: Number.parseInt(m[4]!, 16),
      localId: Number(m[5]),
      bytesSent: num(e.info, 'bytes_sent'),
      bytesAcked: num(e.info, 'bytes_acked'),
      bytesReceived: num(e.info, 'bytes_received'),
      segsOut: num(e.info, 'segs_out'),
      segsIn: num(e.info, 'segs_in'),
      retrans: Number(/\sretrans:\d+\/(\d+)/.exec(e.info)?.[1] ?? 0),
    });
  }
  return out;
}

export function parseMsks(text: string): KernelMsk[] {
  const out: KernelMsk[] = [];
  for (const e of ssEntries(text)) {
    const t = /(?:^|\s)token:([0-9a-f]+)/.exec(e.info);
    if (!t) continue;
    out.push({ local: e.local, peer: e.peer, token: Number.parseInt(t[1]!, 16), subflows: num(e.info, 'subflows') });
  }
  return out;
}
