/**
 * OTLP over HTTP: POST /v1/metrics and /v1/traces with application/x-protobuf
 * or application/json bodies (gzip or deflate content encoding too),
 * answered with an empty Export*ServiceResponse in the same encoding; 404 for
 * other paths, 405 for other methods, 415 for other content types, 400 for
 * bodies that do not decode.
 */
import * as http from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { fromJson, fromProtobuf } from './decode.js';
import { PROTO } from './proto.js';
import type { Intake } from './receiver.js';
import type { Signal } from './types.js';

const HTTP_PATHS: Record<string, Signal> = { '/v1/metrics': 'metrics', '/v1/traces': 'traces' };
const MAX_BODY = 64 * 1024 * 1024;

/** An HTTP server (not yet listening) that hands what it receives to `intake`. */
export function createHttpServer(intake: Intake): http.Server {
  const server = http.createServer((req, res) => onRequest(intake, req, res));
  server.keepAliveTimeout = 5000;
  return server;
}

function onRequest(intake: Intake, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '').split('?')[0]!;
  const signal = HTTP_PATHS[path];
  if (!signal || req.method !== 'POST') {
    res.writeHead(signal ? 405 : 404, { 'Content-Type': 'text/plain' }).end(signal ? 'POST only\n' : 'not found\n');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => onBody(intake, signal, req, res, Buffer.concat(chunks)));
}

function onBody(intake: Intake, signal: Signal, req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const entry = intake.log({
    transport: 'http',
    signal,
    contentType,
    bytes: raw.length,
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
  });
  const json = contentType === 'application/json';
  const reply = (status: number, body: Buffer | string, type: string) => {
    entry.respondedAt = Date.now();
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'Content-Type': type }).end(body);
  };
  if (!json && contentType !== 'application/x-protobuf') {
    entry.outcome = 'invalid';
    reply(415, `unsupported content type '${contentType}'\n`, 'text/plain');
    return;
  }
  try {
    const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
    const body = encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw;
    intake.accept(entry, () => (json ? fromJson : fromProtobuf)(signal, body, 'http', entry.time));
  } catch (e) {
    entry.outcome = 'invalid';
    reply(400, `cannot decode: ${String(e)}\n`, 'text/plain');
    return;
  }
  intake.answer(entry, () => {
    if (entry.outcome === 'error') reply(intake.errorHttpStatus, 'OtlpReceiver in mode error\n', 'text/plain');
    else if (json) reply(200, '{}', 'application/json');
    else reply(200, PROTO[signal].emptyResponse, 'application/x-protobuf');
  });
}
