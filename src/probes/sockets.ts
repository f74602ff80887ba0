/**
 * The socket probe: finds which hook family serves each socket signal on
 * this kernel (hooks.ts), loads bpf/sock.bpf.o with the chosen programs,
 * attaches them and gives the agent its maps and events. It owns the
 * object, links and ring buffer; close() detaches everything.
 */
import { HOOK_FAMILIES, type Config } from '../config.js';
import { decodeSockEvent, readMptcpConn, readMptcpKey, SOCK_SRTT_HIST, SOCK_STAT_NAMES, writeSockCfg, type MptcpConnValue, type SockEventRecord, type SockMap, type SockProgram, type SockStatName } from '../bpf/layout.js';
import { libbpf } from '../bpf/libbpf.js';
import { BpfObject } from '../bpf/object.js';
import type { BpfMap } from '../bpf/map.js';
import { RingBuffer } from '../bpf/ringbuf.js';
import type { Link } from '../bpf/links/link.js';
import type { Logger } from '../log.js';
import { chooseHooks, classify, SOCKET_SIGNALS, type Candidate, type Choice, type Outcome } from './hooks.js';
import { objectPath, type ObjectBuild } from './objects.js';
import { qlogFlags, sizeQlogMaps } from './qlog.js';
import { bucketShape } from '../flows/counters.js';

/** The socket events' ring with histograms in the completion records (~1 KiB each): a burst of ~3000 connections between two wake-ups. */
const RING_BYTES = 4 * 1024 * 1024;

/** What of the configuration the socket probe uses. */
export type SocketConfig = Pick<Config, 'bpfDir' | 'sockets' | 'qlog' | 'histograms'>;

const ALL_PROGRAMS = SOCKET_SIGNALS.flatMap((s) => s.candidates.map((c) => c.program));

/** An open MPTCP connection: its key (token, netns) and its mptcp_conn value. */
export interface MptcpConnection extends MptcpConnValue {
  token: number;
  netns: number;
}

export class SocketProbe {
  readonly choices: Choice[];
  private readonly obj: BpfObject<SockMap, SockProgram> | null;
  readonly socks: BpfMap | null;
  private readonly mptcpMap: BpfMap | null;
  private readonly stats: BpfMap | null;
  private readonly links: Link[] = [];
  private readonly nCpus = libbpf.num_possible_cpus();
  private ringbuf: RingBuffer | null = null;

  /** qlogRing: the packet probe's qlog_events, shared so that all qlog records come in one order. */
  constructor(
    private readonly config: SocketConfig,
    private readonly log: Logger,
    build: ObjectBuild = 'current',
    private readonly qlogRing: BpfMap | null = null,
  ) {
    const path = objectPath(config.bpfDir, 'sock.bpf.o', build);
    let loaded = this.wholeFamily(path);
    if (loaded) {
      this.choices = loaded.choices;
    } else {
      this.choices = chooseHooks(SOCKET_SIGNALS, (c) => this.tryCandidate(path, c), config.sockets.hooks);
      const chosen = this.choices.flatMap((c) => (c.chosen ? [c.chosen.program] : []));
      if (chosen.length > 0) loaded = { ...this.loadAttached(path, chosen), choices: this.choices };
    }
    for (const ch of this.choices) {
      for (const t of ch.tried) {
        const fields = { signal: ch.signal, hook: t.candidate.family, reason: 'reason' in t.outcome ? t.outcome.reason : undefined };
        if (t.outcome.status === 'error') log.warn('socket hook failed', fields);
        else if (t.outcome.status === 'unsupported') log.info('socket hook not available', fields);
      }
      if (ch.chosen) log.info('socket signal', { signal: ch.signal, hook: ch.chosen.family });
      else log.warn('socket signal disabled: no hook works on this kernel', { signal: ch.signal });
    }
    const obj = loaded?.obj ?? null;
    this.links.push(...(loaded?.links ?? []));
    this.obj = obj;
    this.socks = obj?.map('socks') ?? null;
    this.mptcpMap = obj?.map('mptcp_conns') ?? null;
    this.stats = obj?.map('sock_stats') ?? null;
  }

  /** The final object with programs loaded and attached; nothing stays if one fails. */
  private loadAttached(path: string, programs: SockProgram[]): { obj: BpfObject<SockMap, SockProgram>; links: Link[] } {
    const obj = this.open(path, programs, this.config.sockets.tableSize, true);
    const links: Link[] = [];
    try {
      for (const p of programs) links.push(obj.attach(p));
    } catch (err) {
      for (const l of links) l.close();
      obj.close();
      throw err;
    }
    return { obj, links };
  }

  /**
   * The common case in one load: the preferred family serves every signal,
   * its programs loaded and attached together in the final object. If any
   * fails, nothing stays and each signal is probed on its own (chooseHooks),
   * which also tells why.
   */
  private wholeFamily(path: string): { obj: BpfObject<SockMap, SockProgram>; links: Link[]; choices: Choice[] } | null {
    const family = HOOK_FAMILIES.find((f) => this.config.sockets.hooks.includes(f));
    if (!family) return null;
    const picks = SOCKET_SIGNALS.map((sig) => ({ signal: sig.name, candidate: sig.candidates.find((c) => c.family === family)! }));
    try {
      const loaded = this.loadAttached(path, picks.map((p) => p.candidate.program));
      const supported = { status: 'supported' as const };
      return { ...loaded, choices: picks.map((p) => ({ signal: p.signal, chosen: p.candidate, tried: [{ candidate: p.candidate, outcome: supported }] })) };
    } catch {
      return null;
    }
  }

  private open(path: string, programs: SockProgram[], tableSize: number, final = false): BpfObject<SockMap, SockProgram> {
    const obj = BpfObject.open<SockMap, SockProgram>(path);
    try {
      const q = this.config.qlog;
      const shape = bucketShape({ localRtt: false, histograms: this.config.histograms });
      const hists = shape.srtt || shape.cwnd;
      obj.setRodata(writeSockCfg({ sampleIntervalNs: this.config.sockets.sampleIntervalMs * 1e6, qlog: qlogFlags(q), qlogMaxRecords: q.maxEventsPerConnection, hists: hists ? 1 : 0 }));
      obj.setMaxEntries('socks', tableSize);
      // without histograms an entry ends before them, and so does its completion record: a ring a quarter as large holds as many
      if (!hists) obj.setValueSize('socks', SOCK_SRTT_HIST);
      obj.setMaxEntries('sock_events', hists ? RING_BYTES : RING_BYTES / 4);
      if (final) {
        sizeQlogMaps(obj, q, 'qlog_socks', false);
        if (q.dir && this.qlogRing) obj.reuseMap('qlog_events', this.qlogRing.fd);
      }
      for (const p of ALL_PROGRAMS) obj.setAutoload(p, programs.includes(p));
      obj.load();
      return obj;
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Loads and attaches one program in a throwaway object. */
  private tryCandidate(path: string, c: Candidate): Outcome {
    let obj: BpfObject<SockMap, SockProgram> | null = null;
    try {
      obj = this.open(path, [c.program], 64);
      obj.attach(c.program).close();
      return { status: 'supported' };
    } catch (err) {
      return classify(err);
    } finally {
      obj?.close();
    }
  }

  /** The loaded programs: name and fd (owned by the object). */
  programs(): { name: string; fd: number }[] {
    const obj = this.obj;
    if (!obj) return [];
    return this.choices.flatMap((c) => (c.chosen ? [{ name: c.chosen.program, fd: obj.programFd(c.chosen.program) }] : []));
  }

  get enabled(): boolean {
    return this.obj !== null;
  }

  /** A map of the loaded object (qlog filter maps), or null when no hook loaded. */
  map(name: SockMap): BpfMap | null {
    return this.obj ? this.obj.map(name) : null;
  }

  /** Kernel memory of the socket table keys and values, from the configured size. */
  tableBytes(): number {
    return this.socks ? this.socks.maxEntries * (this.socks.keySize + this.socks.valueSize) : 0;
  }

  readStats(): Record<SockStatName, number> {
    const v = this.stats ? this.stats.sumPerCpuU64(SOCK_STAT_NAMES.length, this.nCpus) : SOCK_STAT_NAMES.map(() => 0);
    return Object.fromEntries(SOCK_STAT_NAMES.map((name, i) => [name, v[i]!])) as Record<SockStatName, number>;
  }

  /** Open MPTCP connections, read in one batch pass. */
  readMptcp(): MptcpConnection[] {
    const out: MptcpConnection[] = [];
    const m = this.mptcpMap;
    if (!m) return out;
    m.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        // copies: the batch buffers are reused, the key of the first subflow is kept
        const key = readMptcpKey(keys, i * m.keySize);
        const conn = readMptcpConn(Buffer.from(values.subarray(i * m.valueSize, (i + 1) * m.valueSize)));
        out.push({ token: key.token, netns: key.netns, ...conn });
      }
    });
    return out;
  }

  onEvents(onEvent: (ev: SockEventRecord) => void, onError: (err: unknown) => void): void {
    if (!this.obj) return;
    this.ringbuf = new RingBuffer(this.obj.map('sock_events'), (data) => onEvent(decodeSockEvent(data)));
    this.ringbuf.start(onError);
  }

  drainEvents(): number {
    return this.ringbuf?.consume() ?? 0;
  }

  private closeLinks(): void {
    for (const l of this.links.splice(0)) {
      try {
        l.close();
      } catch (err) {
        this.log.warn('detach failed', { link: l.description, error: err });
      }
    }
  }

  close(): void {
    this.closeLinks();
    this.ringbuf?.close();
    this.ringbuf = null;
    this.obj?.close();
  }
}
