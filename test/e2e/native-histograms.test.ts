/**
 * Native histograms, all real: the agent on a veth with iperf3 traffic,
 * scraped by two real Prometheus servers (the Debian package), one with
 * native histograms on (it asks for the protobuf exposition and keeps the
 * kernel histograms as native ones) and one without (the text format,
 * classic buckets). Once the traffic has stopped, both hold the same
 * counts, and histogram_quantile over the native series gives the p50 and
 * p99 of the classic buckets within one bucket (the classic buckets here
 * are all of the kernel's: `fine`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_PORT, AgentProc } from '../helpers/agent.js';
import { sleep, start, type Running } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one } from '../helpers/prom.js';
import { PrometheusProc } from '../helpers/prometheus.js';
import { listening } from '../helpers/ss.js';

/** One bucket of schema 2, with room for the float rounding of two interpolations. */
const ONE_BUCKET = 2 ** 0.25 * 1.001;

describe('native histograms: a real Prometheus with them on and one without agree', () => {
  let lab: Lab;
  let agent: AgentProc;
  let native: PrometheusProc;
  let classic: PrometheusProc;
  const procs: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-native-'));
  const labels = () => ({ peer_address: lab.ipB, server_port: '5201' });

  before(async () => {
    lab = await Lab.create('nh');
    const cfg = join(dir, 'tcpulse.yaml');
    writeFileSync(cfg, [`interfaces: ["${lab.vethA}"]`, 'interval: 300ms', 'histograms:', '  rtt: fine', '  srtt: fine', '  cwnd: coarse'].join('\n'));
    agent = await AgentProc.start(lab, lab.nsA, ['--config', cfg]);
    const targets = [`127.0.0.1:${AGENT_PORT}`];
    native = await PrometheusProc.start(lab, lab.nsA, { targets, nativeHistograms: true });
    classic = await PrometheusProc.start(lab, lab.nsA, { targets });
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await native?.stop();
    await classic?.stop();
    await agent?.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves protobuf to the one and text to the other, and both quantiles agree within one bucket', async (t) => {
    const server = start(...lab.argv(lab.nsB, 'iperf3', ['-s', '-p', '5201']));
    procs.push(server);
    await listening(lab, lab.nsB, 5201);
    const client = start(...lab.argv(lab.nsA, 'iperf3', ['-c', lab.ipB, '-p', '5201', '-t', '4', '-b', '200M', '-P', '4']));
    procs.push(client);
    assert.equal(await client.exited, 0, client.stderr());
    // the agent's counts stand still now; wait until both servers scraped the final ones
    const sel = `{peer_address="${lab.ipB}",server_port="5201"}`;
    const settled = async () => {
      const m = await agent.scrape();
      const want = one(m, 'tcpulse_rtt_seconds_count', labels());
      const n = await native.query(`histogram_count(tcpulse_rtt_seconds${sel})`);
      const c = await classic.query(`tcpulse_rtt_seconds_count${sel}`);
      return want > 0 && Number(n[0]?.value[1]) === want && Number(c[0]?.value[1]) === want;
    };
    const deadline = Date.now() + 30_000;
    while (!(await settled())) {
      assert.ok(Date.now() < deadline, 'both Prometheus servers hold the agent\'s final RTT count');
      await sleep(500);
    }
    // the native server keeps kernel histograms as native only; classic-only ones (the scrape duration) stay classic
    assert.deepEqual(await native.query(`tcpulse_rtt_seconds_bucket${sel}`), []);
    assert.ok((await native.query('tcpulse_scrape_duration_seconds_count')).length > 0);
    for (const family of ['tcpulse_rtt_seconds', 'tcpulse_srtt_seconds']) {
      for (const q of [0.5, 0.99]) {
        const n = Number((await native.query(`histogram_quantile(${q}, sum(${family}${sel}))`))[0]?.value[1]);
        const c = Number((await classic.query(`histogram_quantile(${q}, sum by (le) (${family}_bucket${sel}))`))[0]?.value[1]);
        t.diagnostic(`${family} p${q * 100}: native ${n}, classic ${c}`);
        assert.ok(n > 0 && c > 0, `${family} p${q * 100}: native ${n}, classic ${c}`);
        assert.ok(Math.max(n / c, c / n) <= ONE_BUCKET, `${family} p${q * 100}: native ${n}, classic ${c}`);
      }
      const nc = Number((await native.query(`sum(histogram_count(${family}${sel}))`))[0]?.value[1]);
      const cc = Number((await classic.query(`sum(${family}_count${sel})`))[0]?.value[1]);
      assert.equal(nc, cc, `${family}: the same count`);
      const ns = Number((await native.query(`sum(histogram_sum(${family}${sel}))`))[0]?.value[1]);
      const cs = Number((await classic.query(`sum(${family}_sum${sel})`))[0]?.value[1]);
      assert.ok(Math.abs(ns - cs) <= 1e-9 * cs, `${family}: the same sum (${ns}, ${cs})`);
    }
  });
});
