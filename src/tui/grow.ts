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

/** Bytes per arena chunk once an arena is large: a string never spans two (it is at most 4000 chars, 12 KB). */
const ARENA_CHUNK = 1 << 20;
/** Offsets are four bytes: the arena stops at 4 GiB (later strings are stored empty). */
const MAX_ARENA = 0xffff_ffff;

/**
 * Append-only strings, each truncated to `maxChars` when added (the index keeps what the list
 * and the filter need, not whole queries of megabytes). Index i is the i-th string added.
 * The bytes lie in chunks of 1 MiB (the first grows by doubling, so a small arena stays small):
 * one Buffer grown by doubling held up to half of it as slack, and for a while the old and the
 * new copy both, which was the peak of a big capture's load.
 */
export class StringArena {
  private readonly chunks: Buffer[];
  /** Offset of the next string, counted over all chunks (chunk k holds offsets k * ARENA_CHUNK ...). */
  private used = 0;
  /** End offset of each string; a string starts at the previous end, or at its chunk's start when it did not fit in the previous chunk. */
  private readonly ends = new Column(Uint32Array, 1024);
  private readonly maxChars: number;
  constructor(maxChars: number, initialBytes = 1 << 16) {
    this.maxChars = maxChars;
    this.chunks = [Buffer.allocUnsafe(Math.min(ARENA_CHUNK, Math.max(16, initialBytes)))];
  }
  get length(): number {
    return this.ends.n;
  }
  add(s: string): number {
    const t = s.length > this.maxChars ? s.slice(0, this.maxChars - 1) + '…' : s;
    // Worst case 3 bytes per UTF-16 unit; room is made before writing so write() never truncates.
    const worst = t.length * 3;
    if (worst === 0) return this.ends.push(this.used);
    let c = Math.floor(this.used / ARENA_CHUNK);
    let at = this.used - c * ARENA_CHUNK;
    if (at + worst > ARENA_CHUNK) {
      c++;
      at = 0;
    }
    if (c * ARENA_CHUNK + worst > MAX_ARENA) return this.ends.push(this.used);
    let chunk = this.chunks[c];
    if (chunk === undefined) this.chunks.push((chunk = Buffer.allocUnsafe(ARENA_CHUNK)));
    else if (at + worst > chunk.length) {
      // Only the first chunk is ever short.
      let size = chunk.length * 2;
      while (size < at + worst) size *= 2;
      const next = Buffer.allocUnsafe(Math.min(ARENA_CHUNK, size));
      chunk.copy(next, 0, 0, at);
      this.chunks[c] = chunk = next;
    }
    this.used = c * ARENA_CHUNK + at + chunk.write(t, at, 'utf8');
    return this.ends.push(this.used);
  }
  get(i: number): string {
    if (i < 0 || i >= this.ends.n) return '';
    const end = this.ends.get(i);
    const prev = i === 0 ? 0 : this.ends.get(i - 1);
    if (end === prev) return '';
    const c = Math.floor((end - 1) / ARENA_CHUNK);
    const start = Math.max(prev, c * ARENA_CHUNK);
    return (this.chunks[c] as Buffer).toString('utf8', start - c * ARENA_CHUNK, end - c * ARENA_CHUNK);
  }
  bytes(): number {
    let b = this.ends.bytes();
    for (const c of this.chunks) b += c.length;
    return b;
  }
}

/** Distinct strings remembered for sharing; past it the memory starts again (recent ones are the likely repeats). */
const SHARED_MAX = 1 << 16;

/**
 * Strings that repeat (a message summary "DataRow (3 columns)", a query's "command SELECT 1;
 * protocol simple"): each distinct one is stored once, and each entry is a four-byte id. Only
 * strings up to `sharedChars` are looked up, by a hash of their text; the table is bounded, so a
 * capture of all-distinct strings costs an id each more than a plain arena, not a growing map.
 */
export class SharedArena {
  private readonly text: StringArena;
  private readonly ids = new Column(Uint32Array, 1024);
  private readonly byHash = new Map<number, number>();
  private readonly sharedChars: number;
  constructor(maxChars: number, sharedChars: number) {
    this.text = new StringArena(maxChars);
    this.sharedChars = sharedChars;
  }
  get length(): number {
    return this.ids.n;
  }
  add(s: string): number {
    if (s.length > this.sharedChars) return this.ids.push(this.text.add(s));
    // FNV-1a over the UTF-16 units.
    let h = 0x811c9dc5;
    for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
    const seen = this.byHash.get(h);
    if (seen !== undefined && this.text.get(seen) === s) return this.ids.push(seen);
    const id = this.text.add(s);
    if (this.byHash.size >= SHARED_MAX) this.byHash.clear();
    this.byHash.set(h, id);
    return this.ids.push(id);
  }
  get(i: number): string {
    return i < 0 || i >= this.ids.n ? '' : this.text.get(this.ids.get(i));
  }
  /** How many distinct strings are stored. */
  get distinct(): number {
    return this.text.length;
  }
  bytes(): number {
    // A Map entry costs about 40 bytes of heap.
    return this.text.bytes() + this.ids.bytes() + this.byHash.size * 40;
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
