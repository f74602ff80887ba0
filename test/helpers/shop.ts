/**
 * The Kubernetes node the end-to-end tests share: a NodeLab with two pods,
 * web (of Deployment web, through ReplicaSet web-5f7c9) and db-0 (of
 * StatefulSet db), both on node-1, known to a fake API server that listens
 * where the node namespace reaches it.
 */
import { KubeApiServer, pod, replicaSet } from '../fakes/kubeapi/index.js';
import { NodeLab, type PodNet } from './node.js';

export const WEB_POD = 'web-5f7c9-x2x4z';

export interface Shop {
  node: NodeLab;
  api: KubeApiServer;
  web: PodNet;
  db: PodNet;
  /** Stops the API server and removes the node with its pods. */
  destroy(): Promise<void>;
}

export async function shopNode(): Promise<Shop> {
  const node = await NodeLab.create();
  const api = new KubeApiServer({ host: node.apiRootIp });
  try {
    await api.start();
    const web = await node.addPod('web');
    const db = await node.addPod('db');
    api.add('replicasets', replicaSet({ namespace: 'shop', name: 'web-5f7c9', owner: { kind: 'Deployment', name: 'web' } }));
    api.add('pods', pod({ namespace: 'shop', name: WEB_POD, ip: web.ip, nodeName: 'node-1', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5f7c9' }] }));
    api.add('pods', pod({ namespace: 'shop', name: 'db-0', ip: db.ip, nodeName: 'node-1', ownerReferences: [{ kind: 'StatefulSet', name: 'db' }] }));
    return {
      node, api, web, db,
      async destroy() {
        await api.stop();
        await node.destroy();
      },
    };
  } catch (err) {
    await api.stop();
    await node.destroy();
    throw err;
  }
}
