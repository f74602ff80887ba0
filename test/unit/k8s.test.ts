/** Pod index and labels: pure parts of the Kubernetes enrichment. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodIndex, type PodObject } from '../../src/k8s/pods.js';
import { addressRange, Labeler } from '../../src/flows/labels.js';

function v4(a: string): Buffer {
  return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)]);
}

let uid = 0;
function pod(ns: string, name: string, ip: string, node: string, owner?: { kind: string; name: string }, hostNetwork = false): PodObject {
  return {
    metadata: { namespace: ns, name, uid: `uid-${++uid}`, ownerReferences: owner ? [{ ...owner, controller: true }] : [] },
    spec: { nodeName: node, hostNetwork },
    status: { podIP: ip, podIPs: [{ ip }], phase: 'Running' },
  };
}

describe('pod index', () => {
  it('names workloads through ReplicaSets and Jobs', () => {
    const idx = new PodIndex();
    idx.syncPods([
      pod('shop', 'web-7d9-abc', '10.0.1.2', 'n1', { kind: 'ReplicaSet', name: 'web-7d9' }),
      pod('shop', 'db-0', '10.0.1.3', 'n1', { kind: 'StatefulSet', name: 'db' }),
      pod('ops', 'backup-2901-x', '10.0.1.4', 'n2', { kind: 'Job', name: 'backup-2901' }),
      pod('ops', 'once-x', '10.0.1.5', 'n2', { kind: 'Job', name: 'once' }),
      pod('kube-system', 'agent-x', '10.0.1.6', 'n1', { kind: 'DaemonSet', name: 'agent' }),
      pod('dev', 'debug', '10.0.1.7', 'n1'),
      pod('shop', 'orphan-rs-x', '10.0.1.8', 'n1', { kind: 'ReplicaSet', name: 'orphan-rs' }),
    ]);
    idx.syncOwners('replicasets', [
      { metadata: { namespace: 'shop', name: 'web-7d9', ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] } },
      { metadata: { namespace: 'shop', name: 'orphan-rs', ownerReferences: [] } },
    ]);
    idx.syncOwners('jobs', [{ metadata: { namespace: 'ops', name: 'backup-2901', ownerReferences: [{ kind: 'CronJob', name: 'backup', controller: true }] } }]);
    const w = (ip: string) => idx.workload(idx.lookup(ip)!);
    assert.equal(w('10.0.1.2'), 'deployment/web');
    assert.equal(w('10.0.1.3'), 'statefulset/db');
    assert.equal(w('10.0.1.4'), 'cronjob/backup');
    assert.equal(w('10.0.1.5'), 'job/once');
    assert.equal(w('10.0.1.6'), 'daemonset/agent');
    assert.equal(w('10.0.1.7'), 'pod/debug');
    assert.equal(w('10.0.1.8'), 'replicaset/orphan-rs');
  });

  it('never keys host-network pods by their node IP', () => {
    const idx = new PodIndex();
    idx.syncPods([pod('kube-system', 'kube-proxy-x', '192.168.0.10', 'n1', undefined, true)]);
    assert.equal(idx.lookup('192.168.0.10'), undefined);
    assert.equal(idx.size, 1);
  });

  it('keeps a deleted pod for its grace, unless its IP is taken', () => {
    const idx = new PodIndex();
    const a = pod('ns', 'a', '10.0.2.2', 'n1');
    idx.podEvent('ADDED', a, 0);
    idx.podEvent('DELETED', a, 1000);
    assert.equal(idx.lookup('10.0.2.2')?.name, 'a', 'within grace');
    assert.deepEqual(idx.expire(5000, 3000), []);
    const gone = idx.expire(5000, 7000);
    assert.deepEqual(gone.map((p) => p.name), ['a']);
    assert.equal(idx.lookup('10.0.2.2'), undefined);

    const b = pod('ns', 'b', '10.0.2.3', 'n1');
    idx.podEvent('ADDED', b, 0);
    idx.podEvent('DELETED', b, 100);
    const c = pod('ns', 'c', '10.0.2.3', 'n1'); // the IP reused
    idx.podEvent('ADDED', c, 200);
    assert.equal(idx.lookup('10.0.2.3')?.name, 'c');
    idx.expire(50, 1000); // b expires: c keeps the IP
    assert.equal(idx.lookup('10.0.2.3')?.name, 'c');
  });

  it('treats pods missing from a relist as deleted', () => {
    const idx = new PodIndex();
    const a = pod('ns', 'a', '10.0.3.2', 'n1');
    const b = pod('ns', 'b', '10.0.3.3', 'n1');
    idx.syncPods([a, b], 0);
    const g0 = idx.generation;
    idx.syncPods([b], 100);
    assert.ok(idx.generation > g0);
    assert.deepEqual(idx.expire(10, 200).map((p) => p.name), ['a']);
  });
});

describe('labels', () => {
  const idx = new PodIndex();
  idx.syncPods([
    pod('shop', 'web-1', '10.0.1.2', 'this-node', { kind: 'StatefulSet', name: 'web' }),
    pod('shop', 'db-0', '10.0.2.3', 'other-node', { kind: 'StatefulSet', name: 'db' }),
  ]);
  const opts = { index: idx, nodeName: 'this-node', prefixV4: 24, prefixV6: 64 };

  it('keeps the plain label set without Kubernetes', () => {
    const p = new Labeler(null).place(v4('10.0.1.2'), 40000, v4('10.0.2.3'), 5432, 5432);
    assert.deepEqual(p, { labels: { local_address: '10.0.1.2', peer_address: '10.0.2.3', server_port: '5432' }, flip: false, provisional: false });
  });

  it('makes the pod on this node the local end', () => {
    const l = new Labeler({ ...opts, level: 'pod' });
    // seen on the host side of web-1's veth: egress goes to the pod
    const p = l.place(v4('10.0.2.3'), 5432, v4('10.0.1.2'), 40000, 5432);
    assert.equal(p.flip, true);
    assert.deepEqual(p.labels, {
      namespace: 'shop', pod: 'web-1', workload: 'statefulset/web',
      peer_namespace: 'shop', peer_pod: 'db-0', peer_workload: 'statefulset/db', peer_address: '', server_port: '5432',
    });
    assert.equal(p.provisional, false);
    const fixed = l.place(v4('10.0.2.3'), 5432, v4('10.0.1.2'), 40000, 5432, true);
    assert.equal(fixed.flip, false, 'a socket keeps its own end local');
  });

  it('names unknown peers by their range, and marks the placement provisional', () => {
    const p = new Labeler({ ...opts, level: 'workload' }).place(v4('10.0.1.2'), 40000, v4('93.184.216.34'), 443, 443);
    assert.deepEqual(p.labels, { namespace: 'shop', workload: 'statefulset/web', peer_namespace: '', peer_workload: '', peer_address: '93.184.216.0/24', server_port: '443' });
    assert.equal(p.provisional, true);
  });

  it('has a label set per rollup level', () => {
    const at = (level: 'flow' | 'namespace' | 'node') => new Labeler({ ...opts, level }).place(v4('10.0.1.2'), 40000, v4('10.0.2.3'), 5432, 5432).labels;
    assert.deepEqual(Object.keys(at('flow')), ['namespace', 'pod', 'workload', 'local_address', 'local_port', 'peer_namespace', 'peer_pod', 'peer_workload', 'peer_address', 'peer_port', 'server_port']);
    assert.equal(at('flow').peer_address, '10.0.2.3');
    assert.deepEqual(at('namespace'), { namespace: 'shop', peer_namespace: 'shop', peer_address: '', server_port: '5432' });
    assert.deepEqual(at('node'), { peer_address: '', server_port: '5432' });
  });

  it('computes address ranges for IPv4 and IPv6', () => {
    assert.equal(addressRange(v4('10.1.2.3'), true, 24), '10.1.2.0/24');
    assert.equal(addressRange(v4('10.1.2.3'), true, 20), '10.1.0.0/20');
    assert.equal(addressRange(v4('10.1.2.3'), true, 32), '10.1.2.3/32');
    assert.equal(addressRange(Buffer.from('20010db8000100020003000400050006', 'hex'), false, 64), '2001:db8:1:2::/64');
  });
});
