/**
 * Compact columns for the TUI's index. A million frames must not mean a million JS objects:
 * each column is one typed array that doubles when full, and strings live UTF-8 encoded in one
 * growing Buffer (off the JS heap, invisible to the garbage collector) with an offset column.
 */

type TypedArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;
interface TypedCtor<T extends TypedArray> { new (n: number): T }

/** A typed array with push(); `a` is replaced on growth, so read through `get` or re-read `a`. */
export class Column<T extends TypedArray> {
  a: T;
  n = 0;
  private readonly ctor: TypedCtor<T>;
  constructor(ctor: TypedCtor<T>, initial = 1024) {
    this.ctor = ctor;
    this.a = new ctor(initial);
  }
  push(v: number): number {
    if (this.n === this.a.length) this.grow();
    this.a[this.n] = v;
    return this.n++;
  }
  get(i: number): number {
    return this.a[i] as number;
  }
  set(i: number, v: number): void {
    this.a[i] = v;
  }
  private grow(): void {
    // 1.5x: less slack at the end of a million-row column than doubling leaves.
    const next = new this.ctor(Math.ceil(this.a.length * 1.5));
    (next as Uint8Array).set(this.a as Uint8Array);
    this.a = next;
  }
  bytes(): number {
    return this.a.byteLength;
  }
}

export const u8 = (n?: number) => new Column(Uint8Array, n);
export const u16 = (n?: number) => new Column(Uint16Array, n);
export const u32 = (n?: number) => new Column(Uint32Array, n);
export const i32 = (n?: number) => new Column(Int32Array, n);
export const f64 = (n?: number) => new Column(Float64Array, n);

const MAX_ARENA = 0xffff_ffff;

/**
 * Append-only strings, each truncated to `maxChars` when added (the index keeps what the list
 * and the filter need, not whole queries of megabytes). Index i is the i-th string added.
 */
export class StringArena {
  private buf: Buffer;
  private used = 0;
  /** End offset of each string; the arena stops at 4 GiB (later strings are stored empty). */
  private readonly ends = new Column(Uint32Array, 1024);
  private readonly maxChars: number;
  constructor(maxChars: number, initialBytes = 1 << 16) {
    this.maxChars = maxChars;
    this.buf = Buffer.allocUnsafe(initialBytes);
  }
  get length(): number {
    return this.ends.n;
  }
  add(s: string): number {
    const t = s.length > this.maxChars ? s.slice(0, this.maxChars - 1) + '…' : s;
    if (this.used + t.length * 3 > MAX_ARENA) return this.ends.push(this.used);
    // Worst case 3 bytes per UTF-16 unit; grow before writing so write() never truncates.
    const need = this.used + t.length * 3;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    this.used += this.buf.write(t, this.used, 'utf8');
    return this.ends.push(this.used);
  }
  get(i: number): string {
    if (i < 0 || i >= this.ends.n) return '';
    const start = i === 0 ? 0 : this.ends.get(i - 1);
    return this.buf.toString('utf8', start, this.ends.get(i));
  }
  bytes(): number {
    return this.buf.length + this.ends.bytes();
  }
}

/** Interns a small set of repeated strings (message type names, endpoints, anomaly codes). */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
  name(id: number): string {
    return this.names[id] ?? '';
  }
}
