/** HTTP: /metrics, /healthz (the process serves), /readyz (probes attached, a round done). */
import express from 'express';
import type { Server } from 'node:http';
import type { Logger } from '../log.js';
import type { PrometheusExporter } from './prometheus.js';

export interface Health {
  ready(): { ok: boolean; reason?: string };
}

export function startServer(
  host: string,
  port: number,
  prom: PrometheusExporter,
  health: Health,
  log: Logger,
): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    try {
      const body = await prom.render();
      res.set('Content-Type', prom.contentType).send(body);
    } catch (err) {
      log.error('rendering /metrics failed', { error: err });
      res.status(500).type('text/plain').send('rendering metrics failed\n');
    }
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const r = health.ready();
    res.status(r.ok ? 200 : 503).type('text/plain').send(r.ok ? 'ready\n' : `not ready: ${r.reason}\n`);
  });
  app.get('/', (_req, res) => {
    res.type('text/html').send('<html><body><h1>tcpulse</h1><a href="/metrics">/metrics</a></body></html>\n');
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}
