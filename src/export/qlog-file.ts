/**
 * One qlog file in the JSON-SEQ serialization (RFC 7464, qlog main schema
 * 0.3): every record is the RS character (U+001E), one JSON text and a line
 * feed; the first record is the header. Records collect in memory and go
 * to a buffered stream in one write per flush() (the tracer flushes after
 * each batch, and a file flushes itself every FLUSH_BYTES); nothing waits:
 * while all files together hold more than their budget not yet written
 * (the disk is slow), a record is dropped and counted instead.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export const RS = '\x1e';
export const QLOG_VERSION = '0.3';
export const QLOG_FORMAT = 'JSON-SEQ';
/** Bytes all files of a tracer may hold in memory, not yet written, before records are dropped. */
export const MAX_BACKLOG = 64 << 20;
const FLUSH_BYTES = 1 << 20;

/** Bytes written but not yet on disk, shared by the files of a tracer. */
export interface Backlog {
  bytes: number;
}

export type Json = Record<string, unknown>;

export interface QlogHeader {
  title: string;
  description: string;
  trace: {
    title: string;
    description: string;
    vantage_point: { name: string; type: 'network' | 'client' | 'server'; flow?: 'client' | 'server' };
    common_fields: Json;
  };
}

export class QlogFile {
  private readonly stream: WriteStream;
  private error: Error | null = null;
  private closed: Promise<void> | null = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** records written after the header */
  written = 0;
  /** records dropped: the stream was behind by MAX_BACKLOG, or failed */
  dropped = 0;

  constructor(
    readonly path: string,
    header: QlogHeader,
    onError: (err: Error) => void,
    private readonly backlog: Backlog = { bytes: 0 },
  ) {
    this.stream = createWriteStream(path, { flags: 'wx', highWaterMark: 256 << 10 });
    this.stream.on('error', (err) => {
      if (!this.error) onError(err);
      this.error = err;
    });
    this.stream.write(RS + JSON.stringify({ qlog_version: QLOG_VERSION, qlog_format: QLOG_FORMAT, ...header }) + '\n');
  }

  /** false: dropped (backlog, unless forced, or a failed file). */
  write(record: Json, force = false): boolean {
    if (this.error || this.closed || (this.backlog.bytes > MAX_BACKLOG && !force)) {
      this.dropped++;
      return false;
    }
    const text = RS + JSON.stringify(record) + '\n';
    this.pending.push(text);
    this.pendingBytes += text.length;
    this.backlog.bytes += text.length;
    this.written++;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    return true;
  }

  /** Hands what was written since the last flush to the stream, in one write. */
  flush(): void {
    if (!this.pending.length) return;
    const n = this.pendingBytes;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.error) this.backlog.bytes -= n;
    else this.stream.write(data, () => (this.backlog.bytes -= n));
  }

  /** Flushes and closes; resolves when the data is handed to the kernel (or the file failed). */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.error) {
        this.stream.destroy();
        resolve();
        return;
      }
      this.flush();
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
    return this.closed;
  }
}
