/**
 * The libbpf (1.x) C API through koffi: declarations only. Everything that
 * owns a handle lives in object.ts, map.ts, ringbuf.ts and the link files.
 * libbpf 1.x reports errors as negative errno return values (or NULL with
 * errno set for constructors).
 */
import koffi, { type TypeObject } from 'koffi';

const lib = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

export const BpfObjectT = koffi.opaque('bpf_object');
export const BpfMapT = koffi.opaque('bpf_map');
export const BpfProgramT = koffi.opaque('bpf_program');
export const RingBufferT = koffi.opaque('ring_buffer');
export const BpfLinkT = koffi.opaque('bpf_link');

/** A libbpf handle as koffi gives it: an opaque object. Where C may return NULL the type says `Ptr | null`. */
export type Ptr = object;

export const BpfTestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

export interface TestRunOpts {
  sz: number;
  data_in: Buffer | null;
  data_out: Buffer | null;
  data_size_in: number;
  data_size_out: number;
  ctx_in: Buffer | null;
  ctx_out: Buffer | null;
  ctx_size_in: number;
  ctx_size_out: number;
  retval: number;
  repeat: number;
  duration: number;
  flags: number;
  cpu: number;
  batch_size: number;
}

/** libbpf's struct bpf_tc_hook (koffi lays it out as C does). */
export const BpfTcHook = koffi.struct('bpf_tc_hook', { sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t' });
export interface TcHook {
  sz: number;
  ifindex: number;
  attach_point: number;
  parent: number;
}

/** libbpf's struct bpf_tc_opts. */
export const BpfTcOpts = koffi.struct('bpf_tc_opts', { sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t', priority: 'uint32_t' });
export interface TcOpts {
  sz: number;
  prog_fd: number;
  flags: number;
  prog_id: number;
  handle: number;
  priority: number;
}

/** The head of libbpf's struct bpf_link_create_opts (sz says how much of it there is; the rest counts as zero). */
export const BpfLinkCreateOpts = koffi.struct('bpf_link_create_opts_head', { sz: 'size_t', flags: 'uint32_t' });
export interface LinkCreateOpts {
  sz: number;
  flags: number;
}

export const RingBufferSampleFn = koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)');
export const LibbpfPrintFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *args)');

export const libbpf = {
  object_open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)') as (
    path: string,
    opts: null,
  ) => Ptr | null,
  object_load: lib.func('int bpf_object__load(bpf_object *obj)') as (obj: Ptr) => number,
  object_close: lib.func('void bpf_object__close(bpf_object *obj)') as (obj: Ptr) => void,
  find_map: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)') as (
    obj: Ptr,
    name: string,
  ) => Ptr | null,
  find_program: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)') as (
    obj: Ptr,
    name: string,
  ) => Ptr | null,
  map_fd: lib.func('int bpf_map__fd(bpf_map *map)') as (map: Ptr) => number,
  map_set_max_entries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t n)') as (
    map: Ptr,
    n: number,
  ) => number,
  map_max_entries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)') as (map: Ptr) => number,
  map_set_value_size: lib.func('int bpf_map__set_value_size(bpf_map *map, uint32_t size)') as (map: Ptr, size: number) => number,
  map_reuse_fd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)') as (map: Ptr, fd: number) => number,
  map_key_size: lib.func('uint32_t bpf_map__key_size(bpf_map *map)') as (map: Ptr) => number,
  map_value_size: lib.func('uint32_t bpf_map__value_size(bpf_map *map)') as (map: Ptr) => number,
  map_type: lib.func('int bpf_map__type(bpf_map *map)') as (map: Ptr) => number,
  map_initial_value: lib.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)') as (
    map: Ptr,
    psize: number[],
  ) => Ptr | null,
  map_set_initial_value: lib.func(
    'int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)',
  ) as (map: Ptr, data: Buffer, size: number) => number,
  program_fd: lib.func('int bpf_program__fd(bpf_program *prog)') as (prog: Ptr) => number,
  program_set_autoload: lib.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)') as (
    prog: Ptr,
    autoload: boolean,
  ) => number,
  program_attach: lib.func('bpf_link *bpf_program__attach(bpf_program *prog)') as (prog: Ptr) => Ptr | null,
  prog_load: lib.func(
    'int bpf_prog_load(int prog_type, const char *name, const char *license, const void *insns, size_t insn_cnt, const void *opts)',
  ) as (progType: number, name: string, license: string, insns: Buffer, insnCnt: number, opts: null) => number,
  link_destroy: lib.func('int bpf_link__destroy(bpf_link *link)') as (link: Ptr) => number,
  link_create: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const bpf_link_create_opts_head *opts)') as (
    progFd: number,
    targetFd: number,
    attachType: number,
    opts: LinkCreateOpts | null,
  ) => number,
  map_lookup_batch: lib.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
  ) as (
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: Buffer,
    opts: null,
  ) => number,
  map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)') as (
    fd: number,
    key: Buffer,
    value: Buffer,
  ) => number,
  map_update_elem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)') as (
    fd: number,
    key: Buffer,
    value: Buffer,
    flags: number,
  ) => number,
  map_delete_elem: lib.func('int bpf_map_delete_elem(int fd, const void *key)') as (fd: number, key: Buffer) => number,
  prog_test_run_opts: lib.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)') as (
    progFd: number,
    opts: TestRunOpts,
  ) => number,
  ring_buffer_new: lib.func(
    'ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn *cb, void *ctx, void *opts)',
  ) as (mapFd: number, cb: unknown, ctx: null, opts: null) => Ptr | null,
  ring_buffer_consume: lib.func('int ring_buffer__consume(ring_buffer *rb)') as (rb: Ptr) => number,
  ring_buffer_epoll_fd: lib.func('int ring_buffer__epoll_fd(ring_buffer *rb)') as (rb: Ptr) => number,
  ring_buffer_free: lib.func('void ring_buffer__free(ring_buffer *rb)') as (rb: Ptr) => void,
  tc_hook_create: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)') as (hook: TcHook) => number,
  tc_hook_destroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)') as (hook: TcHook) => number,
  tc_attach: lib.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)') as (hook: TcHook, opts: TcOpts) => number,
  tc_detach: lib.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)') as (hook: TcHook, opts: TcOpts) => number,
  obj_get_info_by_fd: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, void *len)') as (
    fd: number,
    info: Buffer,
    len: Buffer,
  ) => number,
  enable_stats: lib.func('int bpf_enable_stats(int type)') as (type: number) => number,
  num_possible_cpus: lib.func('int libbpf_num_possible_cpus(void)') as () => number,
  set_print: lib.func('void *libbpf_set_print(libbpf_print_fn *fn)') as (fn: unknown) => unknown,
};

export const libcFns = {
  close: libc.func('int close(int fd)') as (fd: number) => number,
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)') as (
    buf: Buffer,
    n: number,
    fmt: string,
    ap: unknown,
  ) => number,
};

/** Bytes of native memory as a Buffer (a copy: the memory belongs to C). */
export function copyOut(ptr: Ptr, size: number): Buffer {
  return Buffer.from(new Uint8Array(koffi.view(ptr, size)));
}

export function register(fn: (...args: never[]) => unknown, proto: unknown): bigint {
  return koffi.register(fn, koffi.pointer(proto as TypeObject));
}

export function unregister(handle: bigint): void {
  koffi.unregister(handle);
}

export { koffi };
