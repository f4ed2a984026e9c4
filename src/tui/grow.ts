/**
 * Compact columns for the TUI's index. A million frames must not mean a million JS objects:
 * each column is a few typed arrays (chunks, below), and strings live UTF-8 encoded in one
 * growing Buffer (off the JS heap, invisible to the garbage collector) with an offset column.
 */

type TypedArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;
interface TypedCtor<T extends TypedArray> { new (n: number): T }

const CHUNK_BITS = 16;
/** Entries per chunk once a column is large: 64 Ki (256 KiB of a Uint32Array). */
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/**
 * A typed array with push(), in chunks: the first grows by doubling up to CHUNK entries (a
 * session's short list stays short), then whole chunks are added. A column of millions never
 * holds more than one chunk of slack, and growing never copies it (a single array grown by 1.5x
 * held a quarter of the index as slack on average, and half again while it was copied).
 */
export class Column<T extends TypedArray> {
  private readonly chunks: T[];
  n = 0;
  private readonly ctor: TypedCtor<T>;
  constructor(ctor: TypedCtor<T>, initial = 1024) {
    this.ctor = ctor;
    this.chunks = [new ctor(Math.max(1, Math.min(initial, CHUNK)))];
  }
  push(v: number): number {
    const n = this.n;
    const c = n >>> CHUNK_BITS;
    let chunk = this.chunks[c];
    if (chunk === undefined) {
      chunk = new this.ctor(CHUNK);
      this.chunks.push(chunk);
    } else if ((n & MASK) === chunk.length) {
      // Only the first chunk is ever short.
      const next = new this.ctor(Math.min(CHUNK, chunk.length * 2));
      (next as Uint8Array).set(chunk as Uint8Array);
      this.chunks[0] = next;
      chunk = next;
    }
    chunk[n & MASK] = v;
    return this.n++;
  }
  get(i: number): number {
    return (this.chunks[i >>> CHUNK_BITS] as T)[i & MASK] as number;
  }
  set(i: number, v: number): void {
    (this.chunks[i >>> CHUNK_BITS] as T)[i & MASK] = v;
  }
  bytes(): number {
    let b = 0;
    for (const c of this.chunks) b += c.byteLength;
    return b;
  }
}

export const u8 = (n?: number) => new Column(Uint8Array, n);
export const u16 = (n?: number) => new Column(Uint16Array, n);
export const u32 = (n?: number) => new Column(Uint32Array, n);
export const i32 = (n?: number) => new Column(Int32Array, n);
export const f64 = (n?: number) => new Column(Float64Array, n);

/**
 * Numbers that are nearly always small (a message's length, how many frames before its last it
 * began): two bytes each, and the rare value that does not fit (or is negative) in a map beside.
 */
export class SmallColumn {
  private readonly col = new Column(Uint16Array, 1024);
  private readonly big = new Map<number, number>();
  get n(): number {
    return this.col.n;
  }
  push(v: number): number {
    if (v >= 0 && v < 0xffff && Number.isInteger(v)) return this.col.push(v);
    const i = this.col.push(0xffff);
    this.big.set(i, v);
    return i;
  }
  get(i: number): number {
    const v = this.col.get(i);
    return v === 0xffff ? (this.big.get(i) ?? 0) : v;
  }
  bytes(): number {
    // A Map entry costs about 40 bytes of heap.
    return this.col.bytes() + this.big.size * 40;
  }
}

/** A list read by position (`n`, `get`): a Column, or a RunList. */
export interface IndexList {
  readonly n: number;
  get(i: number): number;
}

/**
 * An ascending list of indices that come mostly in runs (a session's messages: a frame's are
 * consecutive), kept as runs: each run's first index and the list's length at its end. Eight
 * bytes a run instead of four an index; a session's frames carry about eight messages each.
 */
export class RunList implements IndexList {
  private readonly starts = new Column(Uint32Array, 16);
  /** The list's length after each run (ascending): position i lies in the first run ending past it. */
  private readonly ends = new Column(Uint32Array, 16);
  n = 0;
  push(v: number): void {
    const r = this.starts.n - 1;
    if (r >= 0 && this.starts.get(r) + (this.ends.get(r) - (r === 0 ? 0 : this.ends.get(r - 1))) === v) {
      this.ends.set(r, this.ends.get(r) + 1);
    } else {
      this.starts.push(v);
      this.ends.push(this.n + 1);
    }
    this.n++;
  }
  get(i: number): number {
    let lo = 0;
    let hi = this.ends.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends.get(mid) <= i) lo = mid + 1;
      else hi = mid;
    }
    return this.starts.get(lo) + (i - (lo === 0 ? 0 : this.ends.get(lo - 1)));
  }
  bytes(): number {
    return this.starts.bytes() + this.ends.bytes();
  }
}

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
