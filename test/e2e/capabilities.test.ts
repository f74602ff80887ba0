/**
 * The capabilities the Helm chart grants the agent, proven on this kernel:
 * the real agent runs as uid 0 with exactly CAPABILITIES (bounding,
 * permitted and effective sets; no inheritable or ambient ones; no new
 * privileges: what a container with `drop: [ALL]`, `add: [...]` and
 * allowPrivilegeEscalation false gets), inside a network namespace, and
 * must attach and measure; with each capability left out in turn it must
 * not. The set is compared with deploy/helm/tcpulse/values.yaml.
 *
 * The restriction is applied by setpriv (util-linux) after `ip netns exec`
 * (which needs CAP_SYS_ADMIN to enter the namespace and remount /sys), so
 * the process that execs node holds only the set; the test reads
 * /proc/PID/status of the agent to make sure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { AgentProc, type LabLike } from '../helpers/agent.js';
import { run, until } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { tcHook } from '../helpers/features.js';

/** What the chart adds (values.yaml securityContext.capabilities.add), in Kubernetes spelling. */
const CAPABILITIES = ['BPF', 'PERFMON', 'NET_ADMIN'] as const;
type Cap = (typeof CAPABILITIES)[number];

/** Capability numbers (include/uapi/linux/capability.h) of those the test uses. */
const CAP_BIT = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;
type CapName = keyof typeof CAP_BIT;

const SOCKET_PROBES = ['tcp_probe', 'tcp_retransmit_skb', 'inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset'];

/**
 * What the agent says when a capability is missing, on this kernel (6.x):
 * each one missing stops the packet programs from loading, so the agent
 * exits before serving. Kept as evidence of why each one is in the set.
 */
const WITHOUT: Record<Cap, { why: string; stderr: RegExp[] }> = {
  // bpf() itself is refused: libbpf cannot load its trivial probe program
  BPF: { why: 'no bpf() at all', stderr: [/Couldn't load trivial BPF program/, /load \S*packet\.bpf\.o: EPERM/] },
  // the verifier treats the loader as unprivileged (no allow_ptr_leaks / bypass_spec_v1)
  PERFMON: {
    why: 'verifier rejects the packet programs as unprivileged',
    stderr: [/pointer arithmetic with it prohibited for !root/, /load \S*packet\.bpf\.o: EACCES/],
  },
  // SCHED_CLS and XDP are CAP_NET_ADMIN program types
  NET_ADMIN: {
    why: 'TC/XDP programs are refused',
    stderr: [/prog 'tcpulse_tc_in': BPF program load failed: Operation not permitted/, /load \S*packet\.bpf\.o: EPERM/],
  },
};

function mask(caps: readonly CapName[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(CAP_BIT[c])), 0n);
}

/** A view of the lab whose spawned commands run as uid 0 with only `caps`. */
function restricted(lab: Lab, caps: readonly CapName[]): LabLike {
  const set = ['-all', ...caps.map((c) => '+' + c.toLowerCase())].join(',');
  const setpriv = ['--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${set}`, '--no-new-privs', '--'];
  return {
    // curl for /readyz and /metrics runs unrestricted: only the agent is under test
    exec: (ns, cmd, args, opts) => lab.exec(ns, cmd, args, opts),
    argv: (ns, cmd, args) => lab.argv(ns, 'setpriv', [...setpriv, cmd, ...args]),
  };
}

interface ProcStatus {
  uid: string;
  capEff: bigint;
  capPrm: bigint;
  capBnd: bigint;
  capInh: bigint;
  capAmb: bigint;
  noNewPrivs: string;
}

function procStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    assert.ok(m, `${name} in /proc/${pid}/status`);
    return m[1]!.trim();
  };
  const caps = (name: string) => BigInt('0x' + field(name));
  return {
    uid: field('Uid').split(/\s+/)[1]!, // effective uid
    capEff: caps('CapEff'),
    capPrm: caps('CapPrm'),
    capBnd: caps('CapBnd'),
    capInh: caps('CapInh'),
    capAmb: caps('CapAmb'),
    noNewPrivs: field('NoNewPrivs'),
  };
}

/** Soft RLIMIT_MEMLOCK of pid in bytes (null: unlimited). */
function memlock(pid: number): number | null {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max locked memory'));
  assert.ok(line, 'Max locked memory in limits');
  const soft = line.slice('Max locked memory'.length).trim().split(/\s+/)[0]!;
  return soft === 'unlimited' ? null : Number(soft);
}

function kernelTableBytes(stderr: string): number {
  for (const line of stderr.split('\n')) {
    if (!line.includes('"kernel tables"')) continue;
    const r = JSON.parse(line) as { flowBytes: number; socketBytes: number };
    return r.flowBytes + r.socketBytes;
  }
  throw new Error(`no "kernel tables" log line: ${stderr}`);
}

describe('capabilities the chart grants', () => {
  let lab: Lab;
  const agents: AgentProc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-caps-'));
  /** What the chart's config changes that matters here: no BPF run-time statistics (they need CAP_SYS_ADMIN). */
  const chartLike = join(dir, 'config.yaml');

  before(async () => {
    const setpriv = await run('setpriv', ['--version'], { allowFail: true }).catch(() => ({ code: 127 }));
    assert.equal(setpriv.code, 0, 'setpriv (util-linux) is needed to restrict the agent\'s capabilities: apt-get install util-linux');
    lab = await Lab.create('caps');
    writeFileSync(chartLike, 'bpfStats: false\n');
  });

  after(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs fn with an agent restricted to caps and always stops it: a
   * leftover agent would answer the next test's /readyz on the same port.
   */
  async function withAgent(caps: readonly CapName[], extra: string[], fn: (a: AgentProc) => Promise<void>): Promise<void> {
    const a = await startAgent(caps, extra);
    try {
      await fn(a);
    } finally {
      await a.stop('SIGKILL');
    }
  }

  async function startAgent(caps: readonly CapName[], extra: string[] = []): Promise<AgentProc> {
    const a = await AgentProc.start(restricted(lab, caps), lab.nsA, ['--interface', lab.vethA, '--interval', '300ms', ...extra]);
    agents.push(a);
    return a;
  }

  function assertOnlyCaps(a: AgentProc, caps: readonly CapName[]): ProcStatus {
    const pid = a.proc.proc.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.some((x) => x.endsWith('src/cli.ts')), `pid ${pid} is the agent: ${cmdline.join(' ')}`);
    const s = procStatus(pid);
    const want = mask(caps);
    assert.equal(s.uid, '0', 'runs as uid 0');
    assert.equal(s.capEff.toString(16), want.toString(16), 'effective set');
    assert.equal(s.capPrm.toString(16), want.toString(16), 'permitted set');
    assert.equal(s.capBnd.toString(16), want.toString(16), 'bounding set');
    assert.equal(s.capInh, 0n, 'no inheritable capabilities');
    assert.equal(s.capAmb, 0n, 'no ambient capabilities');
    assert.equal(s.noNewPrivs, '1', 'no_new_privs, as with allowPrivilegeEscalation: false');
    return s;
  }

  function assertProbes(m: Sample[], ingressHook: string, egressHook: string): void {
    assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_ingress', hook: ingressHook }), 1);
    assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_egress', hook: egressHook }), 1);
    for (const probe of SOCKET_PROBES) assert.equal(one(m, 'tcpulse_probe_available', { probe, hook: 'tp_btf' }), 1, probe);
    assert.equal(pick(m, 'tcpulse_interface_attached', { interface: lab.vethA }).length, 2, 'ingress and egress links held');
  }

  it('values.yaml adds exactly this set, nothing extra, not privileged', () => {
    const values = YAML.parse(readFileSync(join(projectRoot, 'deploy/helm/tcpulse/values.yaml'), 'utf8'));
    assert.deepEqual([...values.securityContext.capabilities.add].sort(), [...CAPABILITIES].sort());
    assert.deepEqual(values.securityContext.extraCapabilities, [], 'nothing extra by default');
    assert.equal(values.securityContext.privileged, false);
  });

  it('with exactly the set the agent attaches (tcx), serves every probe, measures traffic, follows new interfaces', async () => {
    // a glob for pod veths that appear later, as on a node
    const late = `${lab.vethA.slice(0, -1)}x`;
    await withAgent(CAPABILITIES, ['--config', chartLike, '--interface', `${late}*`], async (a) => {
      assertOnlyCaps(a, CAPABILITIES);
      assertProbes(await a.scrape(), await tcHook(), await tcHook());

      await lab.exec(lab.nsA, 'ip', ['link', 'add', `${late}1`, 'type', 'veth', 'peer', 'name', `${late}2`]);
      for (const dev of [`${late}1`, `${late}2`]) await lab.exec(lab.nsA, 'ip', ['link', 'set', dev, 'up']);
      await until(`${late}2 attached`, async () => pick(await a.scrape(), 'tcpulse_interface_attached', { interface: `${late}2` }).length === 2, 10_000);

      // maps are read and the ring buffer drained with the same set: the
      // connection stays open until its socket has been read too
      const sink = await startSink(lab, lab.nsB, 5601);
      try {
        const sender = await sendBytes(lab, lab.nsA, lab.ipB, 5601, 2_000_000);
        try {
          const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: '5601' };
          const seen = (x: Sample[]) => x.length === 1 && x[0]!.value > 0;
          let last = {};
          await until(() => `traffic measured: ${JSON.stringify(last)}`, async () => {
            const m = await a.scrape();
            const opened = pick(m, 'tcpulse_connections_opened_total', labels); // ring buffer
            const packets = pick(m, 'tcpulse_packets_total', { ...labels, direction: 'egress' }); // flow table
            const srtt = pick(m, 'tcpulse_srtt_seconds_count', labels); // socket table
            last = { opened, packets, srtt };
            return seen(opened) && seen(packets) && seen(srtt);
          }, 10_000);
        } finally {
          await sender.stop('SIGTERM');
        }
      } finally {
        await sink.stop();
      }

      // CAP_SYS_RESOURCE is not needed: the kernel charges BPF memory to the
      // cgroup (5.11+), so tables far above RLIMIT_MEMLOCK load without raising it
      const limit = memlock(a.proc.proc.pid!);
      if (limit !== null) {
        const bytes = kernelTableBytes(a.proc.stderr());
        assert.ok(bytes > limit, `kernel tables (${bytes} B) exceed RLIMIT_MEMLOCK (${limit} B) without CAP_SYS_RESOURCE`);
      }
      assert.doesNotMatch(a.proc.stderr(), /RLIMIT_MEMLOCK/);
      assert.equal(await a.stop(), 0, 'detaches and exits cleanly');
      // nothing went wrong along the way for want of a capability
      const problems = a.proc.stderr().split('\n').filter((l) => /"level":"(warn|error)"/.test(l) && !l.includes('"no interface matches"'));
      assert.deepEqual(problems, [], 'no warnings or errors (but the glob that matched nothing at start)');
    });
  });

  it('with exactly the set XDP ingress attaches too', async () => {
    await withAgent(CAPABILITIES, ['--config', chartLike, '--ingress-hook', 'xdp'], async (a) => {
      assertOnlyCaps(a, CAPABILITIES);
      assertProbes(await a.scrape(), 'xdp', await tcHook());
      assert.equal(await a.stop(), 0);
    });
  });

  it('with exactly the set the clsact fallback (netlink qdisc and filters) attaches too', async () => {
    await withAgent(CAPABILITIES, ['--config', chartLike, '--tc-attach', 'clsact'], async (a) => {
      assertOnlyCaps(a, CAPABILITIES);
      assertProbes(await a.scrape(), 'clsact', 'clsact');
      assert.equal(await a.stop(), 0);
    });
    const filters = await lab.exec(lab.nsA, 'tc', ['filter', 'show', 'dev', lab.vethA, 'ingress'], { allowFail: true });
    assert.doesNotMatch(filters.stdout, /tcpulse/, 'clsact filter removed on stop');
  });

  it('BPF run-time statistics need CAP_SYS_ADMIN beyond the set, so the chart turns them off', async () => {
    const values = YAML.parse(readFileSync(join(projectRoot, 'deploy/helm/tcpulse/values.yaml'), 'utf8'));
    assert.equal(values.config.bpfStats, false, 'values.yaml config.bpfStats');
    const unavailable = /BPF run-time statistics unavailable.*EPERM/;

    await withAgent(CAPABILITIES, [], async (a) => {
      // bpfStats is on by default in the agent
      assert.match(a.proc.stderr(), unavailable, 'BPF_ENABLE_STATS refused with the chart set; the agent runs on');
      assertProbes(await a.scrape(), await tcHook(), await tcHook());
      assert.equal(await a.stop(), 0);
    });
    const withAdmin: CapName[] = [...CAPABILITIES, 'SYS_ADMIN'];
    await withAgent(withAdmin, [], async (a) => {
      assertOnlyCaps(a, withAdmin);
      assert.doesNotMatch(a.proc.stderr(), unavailable, 'with CAP_SYS_ADMIN too they are on');
      assert.equal(await a.stop(), 0);
    });
  });

  for (const cap of CAPABILITIES) {
    it(`without CAP_${cap} the agent does not run (${WITHOUT[cap].why})`, async () => {
      const caps = CAPABILITIES.filter((c) => c !== cap);
      let started: AgentProc | null = null;
      let failure = '';
      try {
        started = await startAgent(caps);
      } catch (err) {
        failure = (err as Error).message;
      }
      if (started) {
        try {
          // Running on is fine only if it reports what the capability is for as unavailable.
          assertOnlyCaps(started, caps);
          const down = pick(await started.scrape(), 'tcpulse_probe_available').filter((s) => s.value === 0);
          assert.ok(down.length > 0, `without CAP_${cap} every probe is available: the capability would not be needed`);
          return;
        } finally {
          await started.stop('SIGKILL');
        }
      }
      assert.match(failure, /^agent exited 1:/, 'exits with 1 (start failed), not a config error');
      for (const re of WITHOUT[cap].stderr) assert.match(failure, re);
    });
  }
});
