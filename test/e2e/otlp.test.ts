/**
 * OTLP for real: the agent exports to a local OTLP receiver (http/protobuf
 * and gRPC, decoded) while real connections run between namespaces. One
 * span per connection with the right attributes; metric values equal to
 * the same scrape of /metrics; a receiver that is down costs data, counted,
 * never the measurements.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, type Running } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { OtlpReceiver } from '../fakes/otlp/index.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { SERIES_FAMILIES, type SeriesFamily } from '../../src/export/families.js';
import { sendBytes, startSink } from '../helpers/tcp.js';

for (const transport of ['http', 'grpc'] as const) {
  describe(`OTLP over ${transport}`, () => {
    let lab: Lab;
    let agent: AgentProc;
    let receiver: OtlpReceiver;
    const procs: Running[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'tcpulse-otlp-'));
    const port = transport === 'http' ? 5801 : 5802;

    before(async () => {
      lab = await Lab.create('otlp');
      const link = await lab.linkRoot();
      receiver = new OtlpReceiver({ host: link.rootIp });
      const url = transport === 'http' ? await receiver.startHttp() : await receiver.startGrpc();
      const cfg = join(dir, 'tcpulse.yaml');
      writeFileSync(cfg, `otlp:\n  endpoint: ${url}\n  protocol: ${transport === 'grpc' ? 'grpc' : 'http/protobuf'}\n  metricsInterval: 1s\ninterval: 300ms\n`);
      agent = await AgentProc.start(lab, lab.nsA, ['--config', cfg, '--interface', lab.vethA]);
      procs.push(await startSink(lab, lab.nsB, port));
    });

    after(async () => {
      for (const p of procs) await p.stop('SIGKILL');
      await agent?.stop('SIGKILL');
      await receiver?.stop();
      await lab?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const mine = () => receiver.spans.filter((s) => s.attributes['server.port'] === port && s.name === 'tcp.connection');

    it('sends one span per connection, with its attributes', async () => {
      for (let i = 0; i < 3; i++) {
        const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, 100_000 * (i + 1));
        await sleep(200);
        await sender.stop('SIGTERM');
      }
      await receiver.waitFor(() => mine().length >= 6, 10_000, 'six spans');
      await sleep(1500);
      const spans = mine();
      const clients = spans.filter((s) => s.kind === 'client');
      const servers = spans.filter((s) => s.kind === 'server');
      assert.equal(clients.length, 3, 'one client span per connection');
      assert.equal(servers.length, 3, 'one server span per connection');
      // each byte once, whatever a busy machine made TCP send again
      const sentOnce = (s: (typeof spans)[number]) => (s.attributes['tcp.bytes_sent'] as number) - (s.attributes['tcp.bytes_retrans'] as number);
      assert.deepEqual(clients.map(sentOnce).sort(), [100_000, 200_000, 300_000]);
      for (const s of clients) {
        assert.equal(s.attributes['network.transport'], 'tcp');
        assert.equal(s.attributes['network.type'], 'ipv4');
        assert.equal(s.attributes['network.peer.address'], lab.ipB);
        assert.equal(s.attributes['network.peer.port'], port);
        assert.equal(s.attributes['network.local.address'], lab.ipA);
        assert.equal(s.attributes['tcp.close_reason'], 'fin');
        for (const k of ['tcp.rtt.min_ms', 'tcp.rtt.avg_ms', 'tcp.rtt.max_ms', 'tcp.cwnd', 'tcp.retransmits', 'tcp.segs_out', 'tcp.bytes_received']) {
          assert.equal(typeof s.attributes[k], 'number', k);
        }
        const startMs = Number(BigInt(s.startTimeUnixNano) / 1_000_000n);
        const endMs = Number(BigInt(s.endTimeUnixNano) / 1_000_000n);
        assert.ok(endMs >= startMs && endMs - startMs < 10_000, 'the connection\'s own start and end');
        assert.ok(Math.abs(Date.now() - endMs) < 30_000, 'wall-clock times');
        assert.equal(s.resource['service.name'], 'tcpulse');
      }
      for (const s of servers) assert.equal(s.attributes['network.peer.address'], lab.ipA);
    });

    it('exports the same values as /metrics', async () => {
      const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
      // every counter and gauge of the family table with an OTel name, each of its label sets
      const checks = (SERIES_FAMILIES as readonly SeriesFamily[])
        .filter((f) => f.otel && !f.hist && !f.option)
        .flatMap((f) => (f.labels ?? [{}]).map((extra): [string, string, Readonly<Record<string, string>>] => [f.otel!, f.name, extra]));
      assert.ok(checks.length >= 12, `${checks.length} checks`);
      // a fresh export between two scrapes that agree: the series stood still meanwhile
      const values = (s: Sample[]) => [...checks.map(([, prom, extra]) => one(s, prom, { ...labels, ...extra })), one(s, 'tcpulse_rtt_seconds_count', labels)];
      let m: Sample[] = [];
      for (let stood = false, tries = 0; !stood && tries < 10; tries++) {
        const m1 = await agent.scrape();
        const seen = receiver.metrics.length;
        await receiver.waitFor(() => receiver.metrics.length > seen + 1, 10_000, 'a fresh export');
        m = await agent.scrape();
        stood = isDeepStrictEqual(values(m1), values(m));
      }
      for (const [otel, prom, extra] of checks) {
        const p = receiver.latestPoint(otel, { ...labels, ...extra });
        assert.ok(p, `${otel} exported`);
        assert.equal(p.value, one(m, prom, { ...labels, ...extra }), `${otel} = ${prom}`);
      }
      const rtt = receiver.latestPoint('tcpulse.rtt', labels)!;
      assert.equal(receiver.latestMetric('tcpulse.rtt')?.metric.type, 'exponentialHistogram');
      assert.equal(rtt.count, one(m, 'tcpulse_rtt_seconds_count', labels));
      assert.equal(rtt.scale, 2, 'the kernel\'s buckets: scale 2');
      // OTLP bucket j is (2^(j/4), 2^((j+1)/4)]: summed up to each `le` of /metrics, it gives that bucket's count
      const { offset, bucketCounts } = rtt.positive!;
      for (const b of pick(m, 'tcpulse_rtt_seconds_bucket', labels)) {
        const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
        const upTo = bucketCounts.reduce((sum, c, n) => (2 ** ((offset + n + 1) / 4) <= le * (1 + 1e-12) ? sum + c : sum), rtt.zeroCount ?? 0);
        assert.equal(upTo, b.value, `le=${b.labels.le}`);
      }
      const resource = receiver.metrics.at(-1)!.resource;
      assert.equal(resource['service.name'], 'tcpulse');
      assert.ok(resource['host.name']);
    });

    it('keeps measuring while the receiver is down, and counts what was lost', async () => {
      await receiver.setMode('down');
      const before = await agent.scrape();
      const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, 50_000);
      await sleep(200);
      await sender.stop('SIGTERM');
      const failed = async () => {
        const m = await agent.scrape();
        return one(m, 'tcpulse_otlp_exports_total', { outcome: 'failed' }) > 0 && one(m, 'tcpulse_otlp_spans_total', { outcome: 'failed' }) > 0;
      };
      const deadline = Date.now() + 25_000;
      while (!(await failed())) {
        assert.ok(Date.now() < deadline, 'export failures counted');
        await sleep(500);
      }
      const m = await agent.scrape();
      const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
      assert.equal(one(m, 'tcpulse_connections_opened_total', labels), one(before, 'tcpulse_connections_opened_total', labels) + 1, 'still measuring');
      await receiver.setMode('ok');
    });
  });
}
