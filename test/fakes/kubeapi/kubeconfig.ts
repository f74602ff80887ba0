/** Client configuration pointing at the fake API server. */

const CTX = 'kubeapi-test';

/**
 * A kubeconfig (YAML) pointing at `url` over plain http with no credentials.
 * `insecure-skip-tls-verify: true` is required: @kubernetes/client-node 1.x
 * refuses an http:// server without it ("HTTP protocol is not allowed when
 * skipTLSVerify is not set or false").
 */
export function kubeconfig(url: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${CTX}`,
    '  cluster:',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${CTX}`,
    '  user: {}',
    'contexts:',
    `- name: ${CTX}`,
    '  context:',
    `    cluster: ${CTX}`,
    `    user: ${CTX}`,
    `    namespace: ${namespace}`,
    `current-context: ${CTX}`,
    '',
  ].join('\n');
}

/** The same as an object for `new KubeConfig().loadFromOptions(...)`. */
export function kubeconfigOptions(url: string, namespace = 'default') {
  return {
    clusters: [{ name: CTX, server: url, skipTLSVerify: true }],
    users: [{ name: CTX }],
    contexts: [{ name: CTX, cluster: CTX, user: CTX, namespace }],
    currentContext: CTX,
  };
}
