/**
 * OtlpReceiver: the HTTP and gRPC listeners, what they received, and the
 * modes. 'ok' answers at once; 'slow' answers after delayMs; 'error' answers
 * HTTP 503 / gRPC UNAVAILABLE (both configurable); 'down' closes the
 * listeners so connections are refused (ECONNREFUSED), and reopens them on
 * the same ports when the mode changes back. Data of requests answered with
 * an error is not recorded in `metrics`/`spans` (a collector would not have
 * accepted it), but every request is in `requests`.
 */
import { once } from 'node:events';
import type * as http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { listen, urlHost } from '../net.js';
import { pollUntil } from '../poll.js';
import { bindGrpc } from './grpc.js';
import { createHttpServer } from './http.js';
import type {
  Attributes,
  DecodedMetric,
  DecodedPoint,
  DecodedResourceMetrics,
  DecodedScope,
  DecodedSpan,
  OtlpReceiverOptions,
  ReceivedRequest,
  ReceiverMode,
  Transport,
} from './types.js';

/** What the transports (http.ts, grpc.ts) hand requests to. */
export interface Intake {
  readonly errorHttpStatus: number;
  readonly errorGrpcCode: grpc.status;
  /** Logs a request that arrived just now (its body read); outcome 'ok' until decided. */
  log(request: Omit<ReceivedRequest, 'time' | 'outcome'>): ReceivedRequest;
  /** Sets the outcome the mode gives the request; keeps the data `decode` returns unless that is 'error'. Throws what decode throws. */
  accept(entry: ReceivedRequest, decode: () => DecodedResourceMetrics[] | DecodedSpan[]): void;
  /** Runs `fire` (which sends the answer) now, or after delayMs in mode 'slow' (at once on stop()). */
  answer(entry: ReceivedRequest, fire: () => void): void;
}

export class OtlpReceiver {
  /** every accepted ResourceMetrics, in arrival order */
  readonly metrics: DecodedResourceMetrics[] = [];
  /** every accepted span, flattened, in arrival order */
  readonly spans: DecodedSpan[] = [];
  /** every request that reached the receiver, in arrival order */
  readonly requests: ReceivedRequest[] = [];

  private mode: ReceiverMode;
  private delayMs: number;
  private readonly host: string;
  private httpServer: http.Server | null = null;
  private httpPort = 0;
  private grpcServer: grpc.Server | null = null;
  private grpcPort = 0;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;
  private readonly intake: Intake;

  constructor(opts: OtlpReceiverOptions = {}) {
    this.mode = opts.mode ?? 'ok';
    this.delayMs = opts.delayMs ?? 1000;
    this.host = opts.host ?? '127.0.0.1';
    this.intake = {
      errorHttpStatus: opts.errorHttpStatus ?? 503,
      errorGrpcCode: opts.errorGrpcCode ?? grpc.status.UNAVAILABLE,
      log: (request) => this.log(request),
      accept: (entry, decode) => this.accept(entry, decode),
      answer: (entry, fire) => this.answer(entry, fire),
    };
  }

  /** Starts the http/protobuf + http/json listener; resolves to http://HOST:PORT (an OTEL_EXPORTER_OTLP_ENDPOINT). */
  async startHttp(): Promise<string> {
    if (this.httpServer) throw new Error('http receiver already started');
    this.httpServer = createHttpServer(this.intake);
    this.httpPort = await listen(this.httpServer, 0, this.host);
    if (this.mode === 'down') await this.closeHttp();
    return this.httpUrl;
  }

  /** Starts the gRPC listener; resolves to http://HOST:PORT (the grpc exporters' `url`). */
  async startGrpc(): Promise<string> {
    if (this.grpcPort) throw new Error('grpc receiver already started');
    await this.openGrpc(0);
    if (this.mode === 'down') this.closeGrpc();
    return this.grpcUrl;
  }

  get httpUrl(): string {
    if (!this.httpPort) throw new Error('http receiver not started');
    return `http://${urlHost(this.host)}:${this.httpPort}`;
  }

  get grpcUrl(): string {
    if (!this.grpcPort) throw new Error('grpc receiver not started');
    return `http://${urlHost(this.host)}:${this.grpcPort}`;
  }

  /** Changes the mode; entering or leaving 'down' closes or reopens the listeners (same ports). */
  async setMode(mode: ReceiverMode, delayMs?: number): Promise<void> {
    const was = this.mode;
    this.mode = mode;
    if (delayMs !== undefined) this.delayMs = delayMs;
    if (mode === 'down' && was !== 'down') {
      await this.closeHttp();
      this.closeGrpc();
    } else if (mode !== 'down' && was === 'down' && !this.stopped) {
      if (this.httpPort && this.httpServer && !this.httpServer.listening) await listen(this.httpServer, this.httpPort, this.host);
      if (this.grpcPort && !this.grpcServer) await this.openGrpc(this.grpcPort);
    }
  }

  getMode(): ReceiverMode {
    return this.mode;
  }

  /** Forgets everything received so far. */
  reset(): void {
    this.metrics.length = 0;
    this.spans.length = 0;
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const [t, fire] of this.timers) {
      clearTimeout(t);
      fire();
    }
    this.timers.clear();
    await this.closeHttp();
    this.closeGrpc();
    this.httpServer = null;
  }

  /** Every point of the metric `name` whose attributes include `attrs`, in arrival order. */
  points(name: string, attrs?: Record<string, string | number | boolean>): DecodedPoint[] {
    return this.named(name).flatMap(({ metric }) => metric.points.filter((p) => attrsMatch(p.attributes, attrs)));
  }

  /** The last received point of metric `name` whose attributes include `attrs`. */
  latestPoint(name: string, attrs?: Record<string, string | number | boolean>): DecodedPoint | undefined {
    return this.points(name, attrs).at(-1);
  }

  /** The last received metric `name`, with the resource and scope it came with. */
  latestMetric(name: string): { metric: DecodedMetric; resource: Attributes; scope: DecodedScope; transport: Transport } | undefined {
    return this.named(name).at(-1);
  }

  /** Polls `pred` every 10 ms until it holds; rejects after `ms` (default 5000). */
  waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    return pollUntil(
      pred,
      ms,
      () => `OtlpReceiver.waitFor: ${what} not met within ${ms} ms (${this.requests.length} requests, ${this.spans.length} spans)`,
      10,
    );
  }

  // -- internals ------------------------------------------------------------

  private log(request: Omit<ReceivedRequest, 'time' | 'outcome'>): ReceivedRequest {
    const entry: ReceivedRequest = { ...request, time: Date.now(), outcome: 'ok' };
    this.requests.push(entry);
    return entry;
  }

  private accept(entry: ReceivedRequest, decode: () => DecodedResourceMetrics[] | DecodedSpan[]): void {
    const mode = this.mode;
    if (mode === 'error') {
      entry.outcome = 'error';
      return;
    }
    const decoded = decode();
    if (entry.signal === 'metrics') this.metrics.push(...(decoded as DecodedResourceMetrics[]));
    else this.spans.push(...(decoded as DecodedSpan[]));
    entry.outcome = mode === 'slow' ? 'slow' : 'ok';
  }

  private answer(entry: ReceivedRequest, fire: () => void): void {
    const done = () => {
      entry.respondedAt = Date.now();
      fire();
    };
    if (entry.outcome !== 'slow') return done();
    const t = setTimeout(() => {
      this.timers.delete(t);
      done();
    }, this.delayMs);
    this.timers.set(t, done);
  }

  /** Every received metric `name` with the resource and scope it came with, in arrival order. */
  private named(name: string): { metric: DecodedMetric; resource: Attributes; scope: DecodedScope; transport: Transport }[] {
    const out = [];
    for (const rm of this.metrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) if (m.name === name) out.push({ metric: m, resource: rm.resource, scope: sm.scope, transport: rm.transport });
    return out;
  }

  private async closeHttp(): Promise<void> {
    const server = this.httpServer;
    if (!server || !server.listening) return;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  private async openGrpc(port: number): Promise<void> {
    const { server, port: bound } = await bindGrpc(this.intake, urlHost(this.host), port);
    this.grpcServer = server;
    this.grpcPort = bound;
  }

  private closeGrpc(): void {
    this.grpcServer?.forceShutdown();
    this.grpcServer = null;
  }
}

function attrsMatch(have: Attributes, want: Record<string, string | number | boolean> | undefined): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => have[k] === v);
}
