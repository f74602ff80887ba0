/**
 * One round of the socket table, alone (prints figures; not a test). Needs root.
 *
 *   node --import tsx bench/round.ts [--sockets 16384] [--series 1000] [--rounds 10] [--bucketed] [--profile FILE]
 *
 * Loads bpf/sock.bpf.o (nothing attached), fills its socks map with
 * --sockets entries spread over --series label sets, each with srtt and
 * cwnd samples, then runs the mirror's round --rounds times, the entries
 * changing between rounds as live sockets do (last event, samples). Prints
 * ms per round and µs per entry: the batch read alone, and the whole round.
 * The series keep srtt and cwnd as sum and count, as the agent's defaults
 * do (histograms.srtt and .cwnd none); --bucketed keeps their buckets.
 * --profile writes a CPU profile of the last round (started after the load:
 * the profiler's signals make the verifier give up).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SOCK_SRTT_HIST, SOCK_SUMMARY, SockFlag, SockStats, SockSummary } from '../src/bpf/layout.js';
import { writeU64 } from '../src/bpf/codec.js';
import { BpfObject } from '../src/bpf/object.js';
import { bucketOf } from '../src/flows/histogram.js';
import { ALL_BUCKETS } from '../src/flows/counters.js';
import { MapMirror } from '../src/flows/mirror.js';
import { Rollup } from '../src/flows/rollup.js';
import { SockKind } from '../src/flows/socktable.js';
import { Labeler } from '../src/flows/labels.js';
import { SOCKET_SIGNALS } from '../src/probes/hooks.js';
import { projectRoot } from '../src/paths.js';
import { monoNs } from '../src/time.js';

const { values: opt } = parseArgs({
  options: {
    sockets: { type: 'string', default: '16384' },
    series: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '10' },
    profile: { type: 'string' },
    bucketed: { type: 'boolean', default: false },
  },
});
const sockets = Number(opt.sockets);
const series = Number(opt.series);
const rounds = Number(opt.rounds);
if (![sockets, series, rounds].every((n) => Number.isInteger(n) && n >= 1) || series > 60000) {
  process.stderr.write('usage: round.ts [--sockets N] [--series 1..60000] [--rounds N] [--profile FILE] (whole numbers)\n');
  process.exit(2);
}

const at = (f: string) => SOCK_SUMMARY + SockSummary.offset(f);

/** Socket i as the programs would have written it by time nowNs. */
function entry(v: Buffer, i: number, nowNs: number, round: number): void {
  const key = SockStats.offset('key');
  v.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 0, 1], key);
  v.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 0, 2], key + 16);
  v.writeUInt16LE(32768 + (i % 28000), SockStats.offset('key.sport'));
  v.writeUInt16LE(1 + (i % series), SockStats.offset('key.dport'));
  writeU64(v, at('start_ns'), 1e9);
  writeU64(v, at('last_ns'), nowNs);
  v.writeUInt32LE(SockFlag.active | SockFlag.established, at('flags'));
  const samples = 5 * (round + 1);
  v.writeUInt32LE(samples, at('srtt_count'));
  writeU64(v, at('srtt_sum_us'), samples * 50);
  writeU64(v, at('cwnd_sum'), samples * 10);
  v.writeUInt32LE(round, at('counters.segs_out'));
  const srtt = SockStats.offset(`srtt_hist.${bucketOf('seconds', 50_000)}`);
  const cwnd = SockStats.offset(`cwnd_hist.${bucketOf('count', 10)}`);
  v.writeUInt32LE(samples, srtt);
  v.writeUInt32LE(samples, cwnd);
}

async function main(): Promise<void> {
  const obj = BpfObject.open(join(projectRoot, 'bpf/sock.bpf.o'));
  try {
    for (const c of SOCKET_SIGNALS.flatMap((sig) => sig.candidates)) obj.setAutoload(c.program, false);
    obj.setMaxEntries('socks', sockets);
    if (!opt.bucketed) obj.setValueSize('socks', SOCK_SRTT_HIST); // as the agent sizes them without histograms
    obj.load();
    const socks = obj.map('socks');
    const labeler = new Labeler(null);
    const shape = opt.bucketed ? ALL_BUCKETS : { rtt: [true, false] as const, srtt: false, cwnd: false };
    const rollup = new Rollup(series + 10, labeler.labelNames, shape);
    const kind = new SockKind(rollup, labeler, { firstKey: () => undefined });
    const mirror = new MapMirror(socks, kind, { idleNs: 300e9, closedNs: 10e9 });
    const key = Buffer.alloc(socks.keySize);
    const value = Buffer.alloc(SockStats.size);
    const fill = (round: number, nowNs: number) => {
      for (let i = 0; i < sockets; i++) {
        key.writeBigUInt64LE(BigInt(i + 1));
        entry(value, i, nowNs, round);
        socks.update(key, value);
      }
    };
    const session = opt.profile ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 50 }); // µs: a round is a few ms
    }
    const read: number[] = [];
    const whole: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const now = monoNs();
      fill(r, now);
      let t0 = monoNs();
      let n = 0;
      socks.forEachBatch(({ count }) => (n += count));
      read.push((monoNs() - t0) / 1e6);
      for (const s of rollup.all()) s.beginRound();
      const profiled = session && r === rounds - 1; // the last round alone: steady state, no fill
      if (profiled) await session.post('Profiler.start');
      t0 = monoNs();
      await mirror.round(now);
      whole.push((monoNs() - t0) / 1e6);
      if (profiled) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(opt.profile!, JSON.stringify(profile));
        session.disconnect();
      }
      if (n !== sockets) throw new Error(`read ${n} of ${sockets} entries`);
    }
    // the first round places every entry; the others are steady state
    const steady = (xs: number[]) => xs.slice(1).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const line = (what: string, ms: number) => `${what.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${((ms * 1000) / sockets).toFixed(2).padStart(7)} µs per entry\n`;
    process.stdout.write(`${sockets} sockets, ${series} series, ${socks.valueSize} B per entry, ${opt.bucketed ? 'srtt and cwnd buckets kept' : 'srtt and cwnd as sum and count'}, median of ${rounds - 1} steady rounds\n`);
    process.stdout.write(line('batch read only', steady(read)));
    process.stdout.write(line('whole round', steady(whole)));
    process.stdout.write(line('first round (placing)', whole[0]!));
  } finally {
    obj.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`round: ${(err as Error).message}\n`);
  process.exit(1);
});
