/**
 * One exported series: a label set, the flows and sockets rolled into it,
 * and what it shows. Table counters are monotonic: entries that leave a
 * kernel table keep their last values in `retired`, live entries are summed
 * anew each round. Event counters only ever grow.
 */
import { ALL_BUCKETS, Counters, type BucketShape } from './counters.js';

export type Labels = Readonly<Record<string, string>>;

export const CLOSE_REASONS = ['fin', 'rst', 'timeout'] as const;
export type CloseReasonName = (typeof CLOSE_REASONS)[number];

/** What a series shows at the end of a round: a copy the exporters read while the next round runs. */
export interface SeriesView {
  labels: Labels;
  total: Counters;
  /** Windowed min RTT per side (ns), Infinity when none. */
  minRttNs: readonly number[];
  flows: number;
  sockets: number;
  /** fed by the packet path / the socket path, ever: which families to export */
  hasFlows: boolean;
  hasSockets: boolean;
  opened: number;
  closed: Record<CloseReasonName, number>;
  subflowEvents: { established: number; closed: number };
  /** subflows per finished MPTCP connection -> connections */
  mptcpSubflows: ReadonlyMap<number, number>;
  mptcpSubflowsSum: number;
  mptcpConnections: number;
  mptcpSubflowsOpen: number;
}

export class Series {
  readonly retired: Counters;
  readonly current: Counters;
  private readonly totals: readonly [Counters, Counters];
  private views = 0;
  /** Windowed min of passive RTT over live flows, per side (ns; Infinity: none). */
  readonly minRttNs = [Infinity, Infinity];
  /** Flows of this series in the kernel flow table this round. */
  flows = 0;
  /** Open sockets of this series this round. */
  sockets = 0;
  /** Open MPTCP connections and their open subflows, this round. */
  mptcpConnections = 0;
  mptcpSubflowsOpen = 0;

  opened = 0;
  readonly closed: Record<CloseReasonName, number> = { fin: 0, rst: 0, timeout: 0 };
  readonly subflowEvents = { established: 0, closed: 0 };
  /** subflows per finished MPTCP connection: value -> connections */
  readonly mptcpSubflows = new Map<number, number>();
  mptcpSubflowsSum = 0;

  lastActiveNs: number;
  /** Dropped from the rollup (its pod is gone): entries still holding it look again. */
  removed = false;
  /** What has ever fed the series: only those families are exported for it. */
  hasFlows = false;
  hasSockets = false;

  constructor(
    readonly id: string,
    readonly labels: Labels,
    nowNs: number,
    private readonly shape: BucketShape = ALL_BUCKETS,
  ) {
    this.lastActiveNs = nowNs;
    this.retired = new Counters(shape);
    this.current = new Counters(shape);
    this.totals = [new Counters(shape), new Counters(shape)];
  }

  beginRound(): void {
    this.current.reset();
    this.minRttNs[0] = this.minRttNs[1] = Infinity;
    this.flows = 0;
    this.sockets = 0;
    this.mptcpConnections = 0;
    this.mptcpSubflowsOpen = 0;
  }

  /** retired + current: what the series exports. */
  total(): Counters {
    const t = new Counters(this.shape);
    t.add(this.retired);
    t.add(this.current);
    return t;
  }

  /**
   * The series now. Its totals are one of two buffers, taken in turn: the
   * exporters read the last view while the next round runs, and no view is
   * read after the one that follows it is made.
   */
  view(): SeriesView {
    const total = this.totals[(this.views++) & 1]!;
    total.reset();
    total.add(this.retired);
    total.add(this.current);
    return {
      labels: this.labels,
      total,
      minRttNs: [...this.minRttNs],
      flows: this.flows,
      sockets: this.sockets,
      hasFlows: this.hasFlows,
      hasSockets: this.hasSockets,
      opened: this.opened,
      closed: { ...this.closed },
      subflowEvents: { ...this.subflowEvents },
      mptcpSubflows: new Map(this.mptcpSubflows),
      mptcpSubflowsSum: this.mptcpSubflowsSum,
      mptcpConnections: this.mptcpConnections,
      mptcpSubflowsOpen: this.mptcpSubflowsOpen,
    };
  }

  get live(): boolean {
    return this.flows > 0 || this.sockets > 0 || this.mptcpConnections > 0;
  }
}
