/**
 * Proves test/fakes/kubeapi/ against the real @kubernetes/client-node
 * (1.4.x): typed list calls, the Watch class and the ListWatch informer, over
 * real HTTP on 127.0.0.1, failure modes included. The assertions on what the
 * client hands back (callback/done shapes) document the client's behaviour
 * for the code that builds pod enrichment on it.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, ListWatch, makeInformer, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import {
  CONTINUE_EXPIRED_MESSAGE,
  job,
  KubeApiServer,
  kubeconfig,
  kubeconfigOptions,
  pod,
  replicaSet,
  waitFor,
} from '../fakes/kubeapi/index.js';
import type { KubeObject } from '../fakes/kubeapi/index.js';

interface Ev {
  type: string;
  object: KubeObject & Record<string, unknown>;
  raw: unknown;
}

interface Watching {
  events: Ev[];
  /** Resolves with what the client passed to done(). */
  done: Promise<unknown>;
  isDone: () => boolean;
  ctl: AbortController;
}

async function watch(kc: KubeConfig, path: string, params: Record<string, string | number | boolean | undefined>): Promise<Watching> {
  const events: Ev[] = [];
  let fired = false;
  let resolve!: (err: unknown) => void;
  const done = new Promise<unknown>((r) => (resolve = r));
  const ctl = await new Watch(kc).watch(
    path,
    params,
    (type, object, raw) => events.push({ type, object, raw }),
    (err) => {
      fired = true;
      resolve(err);
    },
  );
  return { events, done, isDone: () => fired, ctl };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out (${ms} ms): ${what}`)), ms))),
  ]);
}

function configFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig(url));
  return kc;
}

describe('fake kube-apiserver against @kubernetes/client-node', () => {
  let server: KubeApiServer;
  let url: string;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const open: Watching[] = [];

  before(async () => {
    server = new KubeApiServer();
    url = await server.start();
    kc = configFor(url);
    core = kc.makeApiClient(CoreV1Api);
  });
  after(async () => {
    for (const w of open) w.ctl.abort();
    await server.stop();
  });
  beforeEach(async () => {
    await server.setDown(false);
    server.dropWatches({ graceful: true });
    for (const kind of ['pods', 'replicasets', 'jobs'] as const) {
      for (const o of server.list(kind)) server.delete(kind, o.metadata.namespace!, o.metadata.name);
    }
  });

  const track = (w: Watching) => {
    open.push(w);
    return w;
  };

  it('serves LIST through CoreV1Api from a kubeconfig YAML and from loadFromOptions', async () => {
    const rs = server.add('replicasets', replicaSet({ namespace: 'shop', name: 'web-7d4b9c', owner: { kind: 'Deployment', name: 'web' } }));
    server.add('pods', pod({ namespace: 'shop', name: 'web-7d4b9c-abcde', ip: '10.244.1.5', nodeName: 'node-a', ownerReferences: [rs] }));
    server.add('pods', pod({ namespace: 'shop', name: 'web-7d4b9c-fghij', ip: '10.244.2.7', nodeName: 'node-b', ownerReferences: [rs] }));
    server.add('pods', pod({ namespace: 'kube-system', name: 'node-exporter', ip: '192.0.2.10', nodeName: 'node-a', hostNetwork: true }));

    const list = await core.listPodForAllNamespaces();
    assert.equal(list.metadata?.resourceVersion, server.resourceVersion);
    assert.deepEqual(
      list.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
      ['kube-system/node-exporter', 'shop/web-7d4b9c-abcde', 'shop/web-7d4b9c-fghij'],
    );
    const web = list.items[1]!;
    // Typed deserialisation: timestamps become Date objects on the list path.
    assert.ok(web.metadata?.creationTimestamp instanceof Date);
    assert.equal(web.spec?.nodeName, 'node-a');
    assert.equal(web.status?.podIP, '10.244.1.5');
    assert.deepEqual(web.status?.podIPs?.map((i) => i.ip), ['10.244.1.5']);
    assert.equal(web.status?.phase, 'Running');
    assert.deepEqual(web.metadata?.ownerReferences?.map((o) => [o.apiVersion, o.kind, o.name, o.uid, o.controller]), [
      ['apps/v1', 'ReplicaSet', 'web-7d4b9c', rs.metadata.uid, true],
    ]);
    assert.equal(list.items[0]!.spec?.hostNetwork, true);
    assert.equal(list.items[0]!.status?.hostIP, '192.0.2.10');

    const onA = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
    assert.deepEqual(onA.items.map((p) => p.metadata?.name), ['node-exporter', 'web-7d4b9c-abcde']);
    const notA = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=node-a,metadata.namespace=shop' });
    assert.deepEqual(notA.items.map((p) => p.metadata?.name), ['web-7d4b9c-fghij']);
    const byLabel = await core.listPodForAllNamespaces({ labelSelector: 'pod-template-hash in (7d4b9c),app' });
    assert.equal(byLabel.items.length, 2);
    const ns = await core.listNamespacedPod({ namespace: 'kube-system' });
    assert.deepEqual(ns.items.map((p) => p.metadata?.name), ['node-exporter']);
    const one = await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d4b9c-fghij' });
    assert.equal(one.status?.podIP, '10.244.2.7');

    await assert.rejects(core.listPodForAllNamespaces({ fieldSelector: 'spec.bogus=x' }), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 400);
      assert.match(String(err.body), /field label not supported: spec.bogus/);
      return true;
    });

    const kc2 = new KubeConfig();
    kc2.loadFromOptions(kubeconfigOptions(url));
    assert.equal((await kc2.makeApiClient(CoreV1Api).listPodForAllNamespaces()).items.length, 3);

    // client-node 1.x refuses plain http unless the cluster says skipTLSVerify.
    const strict = new KubeConfig();
    strict.loadFromOptions({ ...kubeconfigOptions(url), clusters: [{ name: 'kubeapi-test', server: url, skipTLSVerify: false }] });
    await assert.rejects(strict.makeApiClient(CoreV1Api).listPodForAllNamespaces(), /HTTP protocol is not allowed when skipTLSVerify is not set or false/);
  });

  it('serves ReplicaSets and Jobs through AppsV1Api and BatchV1Api', async () => {
    server.add('replicasets', replicaSet({ namespace: 'shop', name: 'api-5f6d7', owner: { kind: 'Deployment', name: 'api' } }));
    server.add('jobs', job({ namespace: 'batch', name: 'report-28391', owner: { kind: 'CronJob', name: 'report' } }));
    server.add('jobs', job({ namespace: 'batch', name: 'one-off' }));

    const rsList = await kc.makeApiClient(AppsV1Api).listReplicaSetForAllNamespaces();
    assert.equal(rsList.metadata?.resourceVersion, server.resourceVersion);
    assert.deepEqual(rsList.items[0]?.metadata?.ownerReferences?.map((o) => [o.apiVersion, o.kind, o.name]), [['apps/v1', 'Deployment', 'api']]);

    const jobs = await kc.makeApiClient(BatchV1Api).listJobForAllNamespaces();
    assert.deepEqual(
      jobs.items.map((j) => [j.metadata?.name, j.metadata?.ownerReferences?.[0]?.kind, j.metadata?.ownerReferences?.[0]?.apiVersion]),
      [
        ['one-off', undefined, undefined],
        ['report-28391', 'CronJob', 'batch/v1'],
      ],
    );
    assert.equal(server.counts.list.replicasets >= 1 && server.counts.list.jobs >= 1, true);
  });

  it('paginates with limit/continue from a consistent snapshot, and 410s an expired continue token', async () => {
    for (let i = 0; i < 5; i++) server.add('pods', pod({ namespace: 'p', name: `pod-${i}`, ip: `10.0.0.${i + 1}`, nodeName: 'n' }));
    const first = await core.listPodForAllNamespaces({ limit: 2 });
    assert.deepEqual(first.items.map((p) => p.metadata?.name), ['pod-0', 'pod-1']);
    assert.equal(first.metadata?.remainingItemCount, 3);
    assert.ok(first.metadata?._continue);
    const rv = first.metadata?.resourceVersion;

    // Changes between pages are invisible: later pages come from the first page's RV.
    server.add('pods', pod({ namespace: 'p', name: 'pod-2a', ip: '10.0.0.99', nodeName: 'n' }));
    server.delete('pods', 'p', 'pod-3');
    const second = await core.listPodForAllNamespaces({ limit: 2, _continue: first.metadata!._continue });
    assert.deepEqual(second.items.map((p) => p.metadata?.name), ['pod-2', 'pod-3']);
    assert.equal(second.metadata?.resourceVersion, rv);
    const third = await core.listPodForAllNamespaces({ limit: 2, _continue: second.metadata!._continue });
    assert.deepEqual(third.items.map((p) => p.metadata?.name), ['pod-4']);
    assert.equal(third.metadata?._continue, undefined);

    const again = await core.listPodForAllNamespaces({ limit: 4 });
    server.compact(); // at the token's own RV: still readable (etcd keeps the compaction revision)
    const page = await core.listPodForAllNamespaces({ limit: 4, _continue: again.metadata!._continue });
    assert.deepEqual(page.items.map((p) => p.metadata?.name), ['pod-4']);
    server.add('pods', pod({ namespace: 'p', name: 'pod-5', nodeName: 'n' }));
    server.compact(); // now past it
    await assert.rejects(core.listPodForAllNamespaces({ limit: 4, _continue: again.metadata!._continue }), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 410);
      // ApiException.body is the raw response text, not a parsed Status.
      assert.equal(typeof err.body, 'string');
      const st = JSON.parse(err.body as string);
      assert.equal(st.kind, 'Status');
      assert.equal(st.reason, 'Expired');
      assert.equal(st.code, 410);
      assert.equal(st.message, CONTINUE_EXPIRED_MESSAGE);
      assert.ok(st.metadata.continue, 'inconsistent-continue token offered');
      return true;
    });
  });

  it('a Watch from the list RV replays and streams ADDED/MODIFIED/DELETED in order', async () => {
    server.add('pods', pod({ namespace: 'a', name: 'before', ip: '10.1.0.1', nodeName: 'node-a' }));
    const list = await core.listPodForAllNamespaces();
    const rv = list.metadata!.resourceVersion!;
    // Happens between LIST and WATCH: must be replayed from history.
    server.add('pods', pod({ namespace: 'a', name: 'gap', ip: '10.1.0.2', nodeName: 'node-a' }));
    server.add('jobs', job({ namespace: 'a', name: 'other-kind' }));

    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: rv, allowWatchBookmarks: true }));
    await server.waitForWatches(1, 'pods');
    server.add('pods', pod({ namespace: 'a', name: 'live', nodeName: 'node-b' }));
    server.update('pods', 'a', 'live', (p) => {
      (p.status as Record<string, unknown>).podIP = '10.1.0.3';
      (p.status as Record<string, unknown>).phase = 'Running';
    });
    server.delete('pods', 'a', 'gap');
    await waitFor(() => w.events.length >= 4, 3000, 'four events');

    assert.deepEqual(
      w.events.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'gap'],
        ['ADDED', 'live'],
        ['MODIFIED', 'live'],
        ['DELETED', 'gap'],
      ],
    );
    const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.ok(rvs.every((v, i) => i === 0 || v > rvs[i - 1]!), `increasing RVs ${rvs.join(',')}`);
    assert.ok(rvs[0]! > Number(rv));
    assert.equal(String(rvs[3]), server.resourceVersion);
    // Watch objects are the raw JSON (no typed deserialisation, timestamps stay strings), with kind/apiVersion set;
    // the callback's third argument is the whole {type, object} line.
    const ev = w.events[2]!;
    assert.equal(typeof ev.object.metadata.creationTimestamp, 'string');
    assert.equal(ev.object.kind, 'Pod');
    assert.equal(ev.object.apiVersion, 'v1');
    assert.deepEqual(ev.raw, { type: ev.type, object: ev.object });
    assert.equal((ev.object.status as { podIP: string }).podIP, '10.1.0.3');
    // List items carry no kind/apiVersion on the wire (like the real server); only the list does.
    const listReq = server.requestsOf('list', 'pods').at(-1)!;
    assert.equal(listReq.path, '/api/v1/pods');
    const watchReq = server.requestsOf('watch', 'pods').at(-1)!;
    assert.deepEqual(watchReq.query, { watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' });
    assert.equal(w.isDone(), false);
  });

  it('applies fieldSelector per event: scheduling onto the node is ADDED, moving off is DELETED', async () => {
    server.add('pods', pod({ namespace: 'a', name: 'p1' }));
    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion, fieldSelector: 'spec.nodeName=node-a' }));
    await server.waitForWatches(1, 'pods');
    server.update('pods', 'a', 'p1', (p) => ((p.spec as Record<string, unknown>).nodeName = 'node-a'));
    server.update('pods', 'a', 'p1', (p) => ((p.status as Record<string, unknown>).podIP = '10.2.0.1'));
    server.add('pods', pod({ namespace: 'a', name: 'elsewhere', nodeName: 'node-b' }));
    server.update('pods', 'a', 'p1', (p) => ((p.spec as Record<string, unknown>).nodeName = 'node-c'));
    await waitFor(() => w.events.length >= 3, 3000, 'three events');
    assert.deepEqual(
      w.events.map((e) => [e.type, e.object.metadata.name, (e.object.spec as { nodeName?: string }).nodeName]),
      [
        ['ADDED', 'p1', 'node-a'],
        ['MODIFIED', 'p1', 'node-a'],
        // The last state the watcher was allowed to see, with the RV of the change.
        ['DELETED', 'p1', 'node-a'],
      ],
    );
    assert.equal(w.events[2]!.object.metadata.resourceVersion, server.resourceVersion);
  });

  it('a watch without resourceVersion starts with synthetic ADDED events for current state', async () => {
    server.add('pods', pod({ namespace: 'a', name: 'x', nodeName: 'n' }));
    server.add('pods', pod({ namespace: 'b', name: 'y', nodeName: 'n' }));
    const w = track(await watch(kc, '/api/v1/namespaces/b/pods', {}));
    await waitFor(() => w.events.length >= 1, 3000, 'initial event');
    assert.deepEqual(w.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'y']]);
  });

  it('delivers BOOKMARK events only to watches that asked for them', async () => {
    const withBm = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion, allowWatchBookmarks: true }));
    const without = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    const rsWatch = track(await watch(kc, '/apis/apps/v1/replicasets', { resourceVersion: server.resourceVersion, allowWatchBookmarks: true }));
    await server.waitForWatches(3);
    server.add('jobs', job({ name: 'bumps-rv' }));
    assert.equal(server.bookmark(), 2);
    await waitFor(() => withBm.events.length >= 1 && rsWatch.events.length >= 1, 3000, 'bookmarks');
    assert.deepEqual(withBm.events[0]!.object, { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: server.resourceVersion } });
    assert.equal(withBm.events[0]!.type, 'BOOKMARK');
    assert.deepEqual(rsWatch.events[0]!.object, { kind: 'ReplicaSet', apiVersion: 'apps/v1', metadata: { resourceVersion: server.resourceVersion } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(without.events.length, 0);
  });

  it('a watch from a compacted RV gets one ERROR event with a 410 Expired Status, then done(null)', async () => {
    server.add('pods', pod({ namespace: 'a', name: 'old' }));
    const staleRV = server.resourceVersion;
    server.add('pods', pod({ namespace: 'a', name: 'new' }));
    server.compact();
    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: staleRV, allowWatchBookmarks: true }));
    const err = await within(w.done, 3000, 'done after 410');
    assert.equal(err, null, 'the stream ends cleanly: done gets null, not an error');
    assert.equal(w.events.length, 1);
    const ev = w.events[0]!;
    assert.equal(ev.type, 'ERROR');
    assert.deepEqual(ev.object, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${staleRV} (${server.resourceVersion})`,
      reason: 'Expired',
      code: 410,
    });
    // The HTTP status itself was 200, as with the real apiserver.
    assert.equal(server.requestsOf('watch', 'pods').at(-1)!.outcome, 200);
    // From the compaction point onwards, watching works again.
    const ok = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    await server.waitForWatches(1, 'pods');
    assert.equal(ok.isDone(), false);
  });

  it('history beyond historyLimit expires like a compaction', async () => {
    const small = new KubeApiServer({ historyLimit: 2 });
    const u = await small.start();
    try {
      const start = small.resourceVersion;
      for (let i = 0; i < 3; i++) small.add('pods', pod({ name: `p${i}` }));
      const w = await watch(configFor(u), '/api/v1/pods', { resourceVersion: start });
      assert.equal(await within(w.done, 3000, 'done'), null);
      assert.equal(w.events[0]?.type, 'ERROR');
      assert.equal(w.events[0]?.object.code, 410);
      // One event later is still inside the window.
      const w2 = await watch(configFor(u), '/api/v1/pods', { resourceVersion: String(Number(start) + 1) });
      await waitFor(() => w2.events.length === 2, 3000, 'replay');
      assert.deepEqual(w2.events.map((e) => e.object.metadata.name), ['p1', 'p2']);
      w2.ctl.abort();
    } finally {
      await small.stop();
    }
  });

  it('a watch from a future RV waits for it, else gets a 504 ResourceVersionTooLarge ERROR', async () => {
    const quick = new KubeApiServer({ tooLargeWaitMs: 150 });
    const u = await quick.start();
    try {
      const kq = configFor(u);
      const ahead = String(Number(quick.resourceVersion) + 1);
      const reached = await watch(kq, '/api/v1/pods', { resourceVersion: ahead });
      quick.add('pods', pod({ name: 'p0' })); // reaches `ahead`: no error
      const tooFar = await watch(kq, '/api/v1/pods', { resourceVersion: String(Number(quick.resourceVersion) + 10) });
      assert.equal(await within(tooFar.done, 3000, 'too large'), null);
      assert.equal(tooFar.events.length, 1);
      assert.equal(tooFar.events[0]!.type, 'ERROR');
      assert.equal(tooFar.events[0]!.object.code, 504);
      assert.equal(tooFar.events[0]!.object.reason, 'Timeout');
      assert.equal(reached.isDone(), false);
      assert.equal(reached.events.length, 0, 'the event at exactly the requested RV is not sent');
      quick.add('pods', pod({ name: 'p1' }));
      await waitFor(() => reached.events.length === 1, 3000, 'live event');
      reached.ctl.abort();
    } finally {
      await quick.stop();
    }
  });

  it('serves resourceVersionMatch=Exact lists from history', async () => {
    server.add('pods', pod({ namespace: 'e', name: 'one' }));
    const rv = server.resourceVersion;
    server.add('pods', pod({ namespace: 'e', name: 'two' }));
    server.delete('pods', 'e', 'one');
    const past = await core.listNamespacedPod({ namespace: 'e', resourceVersion: rv, resourceVersionMatch: 'Exact' });
    assert.deepEqual(past.items.map((p) => p.metadata?.name), ['one']);
    assert.equal(past.metadata?.resourceVersion, rv);
    const now = await core.listNamespacedPod({ namespace: 'e', resourceVersion: rv, resourceVersionMatch: 'NotOlderThan' });
    assert.deepEqual(now.items.map((p) => p.metadata?.name), ['two']);
    server.compact();
    await assert.rejects(core.listNamespacedPod({ namespace: 'e', resourceVersion: rv, resourceVersionMatch: 'Exact' }), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 410);
      return true;
    });
  });

  it('dropWatches() resets the connection: done gets a Premature close error', async () => {
    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    await server.waitForWatches(1);
    assert.equal(server.dropWatches(), 1);
    const err = await within(w.done, 3000, 'done after drop');
    assert.ok(err instanceof Error);
    assert.equal(err.message, 'Premature close');
    assert.equal((err as Error & { code?: string }).code, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(server.openWatches(), 0);
  });

  it('a graceful close and timeoutSeconds end the watch with done(null)', async () => {
    const g = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    await server.waitForWatches(1);
    server.dropWatches({ graceful: true });
    assert.equal(await within(g.done, 3000, 'graceful done'), null);

    const t0 = performance.now();
    const t = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion, timeoutSeconds: 1 }));
    assert.equal(await within(t.done, 3000, 'timeout done'), null);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 950 && elapsed < 2500, `ended after ${elapsed} ms`);
  });

  it('aborting the returned controller gives done an AbortError', async () => {
    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    await server.waitForWatches(1);
    w.ctl.abort();
    const err = await within(w.done, 3000, 'done after abort');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'AbortError');
    assert.equal((err as Error & { type?: string }).type, 'aborted');
    await waitFor(() => server.openWatches() === 0, 3000, 'server saw the close');
  });

  it('setDown makes lists reject and watches fail, in each mode; setDown(false) recovers', async () => {
    server.add('pods', pod({ name: 'survivor', nodeName: 'n' }));
    const w = track(await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion }));
    await server.waitForWatches(1);

    await server.setDown(true); // default mode '503', drops open watches
    assert.equal(((await within(w.done, 3000, 'drop on down')) as Error).message, 'Premature close');
    await assert.rejects(core.listPodForAllNamespaces(), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 503);
      assert.equal(JSON.parse(err.body as string).reason, 'ServiceUnavailable');
      return true;
    });
    const w503 = await watch(kc, '/api/v1/pods', { resourceVersion: server.resourceVersion });
    const e503 = (await within(w503.done, 3000, 'watch while down')) as Error & { statusCode?: number };
    assert.equal(e503.message, 'Service Unavailable');
    assert.equal(e503.statusCode, 503);

    await server.setDown(true, { mode: 'destroy' });
    await assert.rejects(core.listPodForAllNamespaces(), (err: unknown) => {
      assert.equal((err as Error).name, 'FetchError');
      assert.equal((err as Error & { code?: string }).code, 'ECONNRESET');
      assert.match((err as Error).message, /socket hang up/);
      return true;
    });

    await server.setDown(true, { mode: 'refuse' });
    await assert.rejects(core.listPodForAllNamespaces(), (err: unknown) => {
      assert.equal((err as Error & { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    const wRefused = await watch(kc, '/api/v1/pods', {});
    assert.equal(((await within(wRefused.done, 3000, 'refused watch')) as Error & { code?: string }).code, 'ECONNREFUSED');

    await server.setDown(false);
    assert.equal(server.url, url, 'same port after refuse');
    await server.stop(); // a restart keeps port and state
    assert.equal(await server.start(), url);
    const back = await core.listPodForAllNamespaces();
    assert.deepEqual(back.items.map((p) => p.metadata?.name), ['survivor']);
    const outcomes = server.requestsOf('list', 'pods').slice(-3).map((r) => r.outcome);
    assert.deepEqual(outcomes, [503, 'destroyed', 200]);
  });

  it('failNext injects a bounded number of failures; the request log times retries', async () => {
    server.failNext(2, { verb: 'list', kind: 'pods', mode: 500 });
    const n = server.requestsOf('list', 'pods').length;
    const attempt = () => core.listPodForAllNamespaces().then(() => 'ok', (e: ApiException<unknown>) => e.code);
    assert.equal(await attempt(), 500);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(await attempt(), 500);
    assert.equal(await attempt(), 'ok');
    const log = server.requestsOf('list', 'pods').slice(n);
    assert.deepEqual(log.map((r) => r.outcome), [500, 500, 200]);
    assert.ok(log[1]!.time - log[0]!.time >= 35, 'monotonic ms timestamps');
    assert.match(String(log[0]!.headers.accept), /application\/json/);
  });

  it("the client's ListWatch informer relists after a 410 and surfaces a dropped watch as an error", async () => {
    server.add('pods', pod({ namespace: 'a', name: 'seed', ip: '10.3.0.1', nodeName: 'n' }));
    const lists0 = server.counts.list.pods;
    const informer = makeInformer<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
    const errors: unknown[] = [];
    const added: string[] = [];
    informer.on('add', (p) => added.push(p.metadata!.name!));
    informer.on('error', (e) => errors.push(e));
    try {
      await informer.start();
      await server.waitForWatches(1, 'pods');
      assert.equal(server.counts.list.pods, lists0 + 1);
      const live = server.add('pods', pod({ namespace: 'a', name: 'live', nodeName: 'n' }));
      await waitFor(() => added.includes('live'), 3000, 'informer add');

      // Other kinds move the global RV on; compaction then leaves the informer's RV behind.
      server.add('jobs', job({ name: 'j' }));
      server.compact();
      server.dropWatches({ kind: 'pods', graceful: true });
      await waitFor(() => server.counts.list.pods === lists0 + 2 && server.openWatches('pods') === 1, 3000, 'relist after 410');
      // Re-watch from the last seen RV -> ERROR 410 -> relist -> watch from the new list's RV.
      const [stale, fresh] = server.requestsOf('watch', 'pods').slice(-2);
      assert.equal(stale!.query.resourceVersion, live.metadata.resourceVersion);
      assert.equal(fresh!.query.resourceVersion, server.resourceVersion);
      assert.ok(informer instanceof ListWatch);
      assert.equal(informer.latestResourceVersion(), server.resourceVersion);
      assert.equal(errors.length, 0);

      // An abrupt reset is not retried by ListWatch: it reports the error and stops.
      server.dropWatches({ kind: 'pods' });
      await waitFor(() => errors.length === 1, 3000, 'informer error');
      assert.equal((errors[0] as Error).message, 'Premature close');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(server.openWatches('pods'), 0, 'no automatic re-watch after an error');
    } finally {
      await informer.stop();
    }
  });
});
