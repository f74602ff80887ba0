/**
 * Consumes a BPF ring buffer on the main thread: the ring buffer's epoll fd
 * is watched by libuv (koffi.node.poll), and each wake-up drains it with
 * ring_buffer__consume, which calls back into JS once per record.
 */
import koffi from 'koffi';
import { BpfError } from '../errors.js';
import { copyOut, libbpf, register, RingBufferSampleFn, type Ptr, unregister } from './libbpf.js';
import type { BpfMap } from './map.js';

export class RingBuffer {
  private rb: Ptr | null;
  private readonly cb: bigint;
  private poller: ReturnType<typeof koffi.node.poll> | null = null;
  private failed: unknown = null;

  constructor(map: BpfMap, onRecord: (data: Buffer) => void) {
    this.cb = register((_ctx: unknown, data: Ptr, size: number | bigint) => {
      try {
        onRecord(copyOut(data, Number(size)));
      } catch (err) {
        this.failed ??= err;
      }
      return 0;
    }, RingBufferSampleFn);
    const rb = libbpf.ring_buffer_new(map.fd, this.cb, null, null);
    if (!rb) {
      unregister(this.cb);
      throw new BpfError(`ring buffer on ${map.name}`, koffi.errno());
    }
    this.rb = rb;
  }

  /** Drains what is there now; returns the number of records. */
  consume(): number {
    if (!this.rb) return 0;
    const n = libbpf.ring_buffer_consume(this.rb);
    if (n < 0) throw new BpfError('ring buffer consume', -n);
    const err = this.failed;
    this.failed = null;
    if (err) throw err as unknown; // whatever onRecord threw (the test narrows it to {}, which only-throw-error rejects)
    return n;
  }

  /** Drains on every wake-up; errors go to onError, the loop goes on. */
  start(onError: (err: unknown) => void): void {
    if (!this.rb || this.poller) return;
    const fd = libbpf.ring_buffer_epoll_fd(this.rb);
    this.poller = koffi.node.poll(fd, { readable: true }, () => {
      try {
        this.consume();
      } catch (err) {
        onError(err);
      }
    });
    this.poller.unref();
  }

  close(): void {
    this.poller?.close();
    this.poller = null;
    if (this.rb) {
      libbpf.ring_buffer_free(this.rb);
      this.rb = null;
      unregister(this.cb);
    }
  }
}
