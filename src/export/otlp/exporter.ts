/**
 * The OTLP side of the agent: metrics from snapshots (metrics.ts) and one
 * span per finished connection (spans.ts), over http/protobuf or gRPC,
 * configured by the standard OTEL_* environment variables and the agent's
 * otlp settings. Exports never block the agent: spans beyond the queue
 * are dropped and counted, export failures are counted. The http/protobuf
 * exporters retry transient failures with a bounded backoff (5 tries,
 * within the export timeout); the gRPC ones fail at once, and the next
 * export tries again.
 */
import { hostname } from 'node:os';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SockEventType, SockFlag, type SockEventRecord } from '../../bpf/layout.js';
import type { Config } from '../../config.js';
import { addressToString } from '../../flows/address.js';
import type { Labels } from '../../flows/series.js';
import type { Logger } from '../../log.js';
import type { OtlpStats, Snapshot } from '../snapshot.js';
import { SnapshotProducer } from './metrics.js';
import { emitSpan, sample, type SampleReason, type SubflowEvent } from './spans.js';
import type { OtlpTarget } from './endpoint.js';
import type { WallClock } from '../../time.js';

/** What of the configuration the OTLP exporter uses. */
export type OtlpConfig = Pick<Config, 'otlp' | 'rtt' | 'histograms' | 'kubernetes'>;

export class OtlpExporter {
  private readonly producer: SnapshotProducer;
  private readonly meterProvider: MeterProvider;
  private readonly tracerProvider: BasicTracerProvider | null;
  private inFlight = 0;
  /** subflow events of open MPTCP connections, by token/netns, until the connection closes */
  private readonly subflows = new Map<string, SubflowEvent[]>();
  readonly stats: OtlpStats = {
    metricExports: { ok: 0, failed: 0 },
    spans: { exported: 0, failed: 0, dropped: 0, sampledOut: 0, kept: {} },
  };

  constructor(
    private readonly config: OtlpConfig,
    target: OtlpTarget,
    version: string,
    private readonly log: Logger,
    toWallMs: WallClock,
  ) {
    const k8sNode = config.kubernetes.enabled ? config.kubernetes.nodeName : '';
    const ours: Attributes = {
      'service.name': process.env.OTEL_SERVICE_NAME || 'tcpulse',
      'service.version': version,
      'host.name': hostname(),
      ...(k8sNode ? { 'k8s.node.name': k8sNode } : {}),
    };
    // OTEL_RESOURCE_ATTRIBUTES wins over ours, OTEL_SERVICE_NAME over both
    let resource = resourceFromAttributes(ours).merge(detectResources({ detectors: [envDetector] }));
    if (process.env.OTEL_SERVICE_NAME) resource = resource.merge(resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME }));

    const grpc = target.protocol === 'grpc';
    const fromConfig = config.otlp.endpoint !== '';
    const url = (signal: string) => (fromConfig ? (grpc ? target.endpoint : `${target.endpoint}/v1/${signal}`) : undefined);
    const metricExporter = grpc ? new GrpcMetricExporter({ url: url('metrics') }) : new ProtoMetricExporter({ url: url('metrics') });
    this.producer = new SnapshotProducer(Date.now(), toWallMs, { localRtt: config.rtt.localSide, histograms: config.histograms });
    this.meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: this.countMetricExports(metricExporter),
          exportIntervalMillis: config.otlp.metricsIntervalMs,
          exportTimeoutMillis: Math.min(config.otlp.metricsIntervalMs, 30_000),
          metricProducers: [this.producer],
        }),
      ],
    });
    if (config.otlp.spans) {
      const spanExporter = grpc ? new GrpcTraceExporter({ url: url('traces') }) : new ProtoTraceExporter({ url: url('traces') });
      this.tracerProvider = new BasicTracerProvider({
        resource,
        spanProcessors: [
          new BatchSpanProcessor(this.countSpanExports(spanExporter), {
            maxQueueSize: config.otlp.spanQueueSize,
            maxExportBatchSize: 512,
            scheduledDelayMillis: 1000,
          }),
        ],
      });
    } else {
      this.tracerProvider = null;
    }
    log.info('otlp', { endpoint: target.endpoint, protocol: target.protocol, spans: config.otlp.spans });
  }

  private countMetricExports(e: PushMetricExporter): PushMetricExporter {
    const stats = this.stats.metricExports;
    const log = this.log;
    return {
      export(metrics: ResourceMetrics, done: (r: ExportResult) => void) {
        e.export(metrics, (r) => {
          if (r.code === ExportResultCode.SUCCESS) stats.ok++;
          else {
            stats.failed++;
            log.warn('otlp metrics export failed', { error: r.error });
          }
          done(r);
        });
      },
      forceFlush: () => e.forceFlush(),
      shutdown: () => e.shutdown(),
      selectAggregationTemporality: e.selectAggregationTemporality?.bind(e),
      selectAggregation: e.selectAggregation?.bind(e),
    };
  }

  private countSpanExports(e: SpanExporter): SpanExporter {
    return {
      export: (spans: ReadableSpan[], done: (r: ExportResult) => void) => {
        e.export(spans, (r) => {
          this.inFlight -= spans.length;
          if (r.code === ExportResultCode.SUCCESS) this.stats.spans.exported += spans.length;
          else {
            this.stats.spans.failed += spans.length;
            this.log.warn('otlp span export failed', { spans: spans.length, error: r.error });
          }
          done(r);
        });
      },
      shutdown: () => e.shutdown(),
      forceFlush: () => e.forceFlush?.() ?? Promise.resolve(),
    };
  }

  update(snap: Snapshot): void {
    this.producer.update(snap);
  }

  /** A socket event: subflow joins and closes are kept for their connection's span; closes become spans. */
  socketEvent(ev: SockEventRecord, labels: Labels, toWallMs: WallClock): void {
    if (!this.tracerProvider) return;
    const id = `${ev.key.netns}:${ev.s.mptcpToken}`;
    if (ev.s.flags & SockFlag.mptcp && ev.type !== SockEventType.mptcpClosed) {
      const opened = ev.type === SockEventType.opened;
      const list = this.subflows.get(id) ?? [];
      if (list.length < 64) {
        list.push({
          name: opened ? 'mptcp.subflow.established' : 'mptcp.subflow.closed',
          timeMs: toWallMs(opened ? ev.s.startNs : ev.s.endNs),
          attributes: {
            'network.local.address': addressToString(ev.key.saddr),
            'network.local.port': ev.key.sport,
            'network.peer.address': addressToString(ev.key.daddr),
            'network.peer.port': ev.key.dport,
            'mptcp.subflow': ev.s.flags & SockFlag.mptcpJoin ? 'join' : 'first',
          },
        });
      }
      this.subflows.set(id, list);
    }
    if (ev.type === SockEventType.opened) return;
    const events = ev.type === SockEventType.mptcpClosed ? this.subflows.get(id) : undefined;
    if (ev.type === SockEventType.mptcpClosed) this.subflows.delete(id);
    const reason: SampleReason = sample(ev, { ratio: this.config.otlp.spanRatio, minRttAboveMs: this.config.otlp.spanMinRttAboveMs });
    if (!reason) {
      this.stats.spans.sampledOut++;
      return;
    }
    if (this.inFlight >= this.config.otlp.spanQueueSize) {
      this.stats.spans.dropped++;
      return;
    }
    this.inFlight++;
    this.stats.spans.kept[reason] = (this.stats.spans.kept[reason] ?? 0) + 1;
    emitSpan(this.tracerProvider.getTracer('tcpulse'), ev, labels, toWallMs, events);
  }

  /** Flushes what it can within timeoutMs, then stops. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    const all = Promise.allSettled([this.meterProvider.shutdown(), this.tracerProvider?.shutdown()]);
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

