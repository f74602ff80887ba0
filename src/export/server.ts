/**
 * HTTP: /metrics (text or protobuf, as the scraper asks), /healthz (the
 * process serves), /readyz (probes attached, a round done). node:http alone: four fixed routes need no framework, and
 * the agent starts without loading one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { negotiate } from './accept.js';
import type { PrometheusExporter } from './prometheus.js';

export interface Health {
  ready(): { ok: boolean; reason?: string };
}

const INDEX = '<html><body><h1>tcpulse</h1><a href="/metrics">/metrics</a></body></html>\n';

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }).end(body);
}

export function startServer(host: string, port: number, prom: PrometheusExporter, health: Health, log: Logger): Promise<Server> {
  const routes: Record<string, (res: ServerResponse, req: IncomingMessage) => void | Promise<void>> = {
    '/metrics': async (res, req) => {
      try {
        const format = negotiate(req.headers.accept);
        send(res, 200, prom.contentType(format), await prom.render(format));
      } catch (err) {
        log.error('rendering /metrics failed', { error: err });
        send(res, 500, 'text/plain; charset=utf-8', 'rendering metrics failed\n');
      }
    },
    '/healthz': (res) => send(res, 200, 'text/plain; charset=utf-8', 'ok\n'),
    '/readyz': (res) => {
      const r = health.ready();
      send(res, r.ok ? 200 : 503, 'text/plain; charset=utf-8', r.ok ? 'ready\n' : `not ready: ${r.reason}\n`);
    },
    '/': (res) => send(res, 200, 'text/html; charset=utf-8', INDEX),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes[new URL(req.url ?? '/', 'http://agent').pathname];
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n');
    }
    void route(res, req);
  });
  return new Promise((resolve, reject) => {
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(port, host);
  });
}
