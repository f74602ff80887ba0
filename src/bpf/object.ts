/**
 * A BPF object file: open, adjust before load (rodata, map sizes, which
 * programs load), load, then hand out maps and program fds. The object owns
 * its maps and programs; close() frees them all (links are owned separately
 * and keep their program alive until they are closed). M and P name its
 * maps and programs (the generated PacketMap, SockProgram, ...), so that a
 * misspelt name is a type error.
 */
import koffi from 'koffi';
import { BpfError, check } from '../errors.js';
import { libbpf, type Ptr } from './libbpf.js';
import { BpfMap } from './map.js';
import { AutoLink } from './links/auto.js';

export class BpfObject<M extends string = string, P extends string = string> {
  private obj: Ptr | null;
  private loaded = false;

  private constructor(
    obj: Ptr,
    readonly path: string,
  ) {
    this.obj = obj;
  }

  static open<M extends string = string, P extends string = string>(path: string): BpfObject<M, P> {
    const obj = libbpf.object_open_file(path, null);
    if (!obj) throw new BpfError(`open ${path}`, koffi.errno());
    return new BpfObject<M, P>(obj, path);
  }

  private handle(): Ptr {
    if (!this.obj) throw new Error(`${this.path}: object is closed`);
    return this.obj;
  }

  private mapPtr(name: string): Ptr {
    const m = libbpf.find_map(this.handle(), name);
    if (!m) throw new Error(`${this.path}: no map ${name}`);
    return m;
  }

  private progPtr(name: string): Ptr {
    const p = libbpf.find_program(this.handle(), name);
    if (!p) throw new Error(`${this.path}: no program ${name}`);
    return p;
  }

  private beforeLoad(what: string): void {
    if (this.loaded) throw new Error(`${this.path}: ${what} must happen before load`);
  }

  /** Replaces the whole .rodata (the const volatile globals). */
  setRodata(data: Buffer): void {
    this.beforeLoad('setRodata');
    const map = this.mapPtr('.rodata');
    const size: number[] = [0];
    libbpf.map_initial_value(map, size);
    if (size[0] !== data.length) {
      throw new Error(`${this.path}: .rodata is ${size[0]} bytes, the codec wrote ${data.length}`);
    }
    check('set .rodata', libbpf.map_set_initial_value(map, data, data.length));
  }

  setMaxEntries(mapName: M, n: number): void {
    this.beforeLoad('setMaxEntries');
    check(`set max_entries of ${mapName}`, libbpf.map_set_max_entries(this.mapPtr(mapName), n));
  }

  /** Shortens (or lengthens) a map's values: for maps declared by size, not by BTF type. */
  setValueSize(mapName: M, size: number): void {
    this.beforeLoad('setValueSize');
    check(`set value_size of ${mapName}`, libbpf.map_set_value_size(this.mapPtr(mapName), size));
  }

  /** Uses another object's map (by fd) instead of creating this one's: both then share it. */
  reuseMap(mapName: M, fd: number): void {
    this.beforeLoad('reuseMap');
    check(`reuse map ${mapName}`, libbpf.map_reuse_fd(this.mapPtr(mapName), fd));
  }

  setAutoload(progName: P, autoload: boolean): void {
    this.beforeLoad('setAutoload');
    check(`set autoload of ${progName}`, libbpf.program_set_autoload(this.progPtr(progName), autoload));
  }

  load(): void {
    this.beforeLoad('load');
    check(`load ${this.path}`, libbpf.object_load(this.handle()));
    this.loaded = true;
  }

  map(name: M): BpfMap {
    const m = this.mapPtr(name);
    return new BpfMap(
      name,
      check(`fd of map ${name}`, libbpf.map_fd(m)),
      libbpf.map_type(m),
      libbpf.map_key_size(m),
      libbpf.map_value_size(m),
      libbpf.map_max_entries(m),
    );
  }

  /** Attaches a program where its section says (tp_btf/, raw_tp/, kprobe/...). */
  attach(progName: P): AutoLink {
    const link = libbpf.program_attach(this.progPtr(progName));
    if (!link) throw new BpfError(`attach ${progName}`, koffi.errno());
    return new AutoLink(progName, link);
  }

  programFd(name: P): number {
    return check(`fd of program ${name}`, libbpf.program_fd(this.progPtr(name)));
  }

  close(): void {
    if (this.obj) libbpf.object_close(this.obj);
    this.obj = null;
  }
}
