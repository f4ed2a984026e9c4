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
 * Values of a few entries of an append-only list, by entry index: indices ascend as they are
 * added, so they are found by binary search. Twelve bytes an entry, off the JS heap (a Map
 * costs about 40 of heap).
 */
class SparseValues {
  private readonly at = new Column(Uint32Array, 16);
  private readonly values = new Column(Float64Array, 16);
  get size(): number {
    return this.at.n;
  }
  add(i: number, v: number): void {
    this.at.push(i);
    this.values.push(v);
  }
  get(i: number, absent: number): number {
    let lo = 0;
    let hi = this.at.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.at.get(mid);
      if (a === i) return this.values.get(mid);
      if (a < i) lo = mid + 1;
      else hi = mid - 1;
    }
    return absent;
  }
  bytes(): number {
    return this.at.bytes() + this.values.bytes();
  }
}

/**
 * Numbers that are nearly always small (a message's length, its body's offset in its frame):
 * two bytes each, and the rare value that does not fit (or is negative) beside.
 */
export class SmallColumn {
  private readonly col = new Column(Uint16Array, 1024);
  private readonly big = new SparseValues();
  get n(): number {
    return this.col.n;
  }
  push(v: number): number {
    if (v >= 0 && v < 0xffff && Number.isInteger(v)) return this.col.push(v);
    const i = this.col.push(0xffff);
    this.big.add(i, v);
    return i;
  }
  get(i: number): number {
    const v = this.col.get(i);
    return v === 0xffff ? this.big.get(i, 0) : v;
  }
  bytes(): number {
    return this.col.bytes() + this.big.bytes();
  }
}

/**
 * Numbers that are nearly always zero (how many frames before its last a message began: most
 * lie whole in one frame): only the others are kept, twelve bytes each. A message spans frames
 * only where a frame ends, so they are at most about as many as the frames.
 */
export class ZeroColumn {
  private readonly big = new SparseValues();
  n = 0;
  push(v: number): number {
    if (v !== 0) this.big.add(this.n, v);
    return this.n++;
  }
  get(i: number): number {
    return this.big.get(i, 0);
  }
  bytes(): number {
    return this.big.bytes();
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

/** A string cut to `maxChars` UTF-16 units, its last one an ellipsis, as the arenas keep it. */
export function cutText(s: string, maxChars: number): string {
  return s.length > maxChars ? s.slice(0, maxChars - 1) + '…' : s;
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
    const t = cutText(s, this.maxChars);
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
/** Shared strings have two-byte ids; this one marks an entry stored on its own. */
export const OWN = 0xffff;

/**
 * Strings that mostly repeat (a message summary "DataRow (3 columns)", a query's "command SELECT
 * 1; protocol simple"): each distinct short one is stored once and an entry is its two-byte id.
 * A long string, or a short one once 65,535 are shared, is stored on its own, and its entry's
 * index is noted beside (four bytes). Short strings are looked up by a hash of their text in a
 * bounded table, so a capture of all-distinct strings grows no map.
 */
export class SharedArena {
  private readonly shared: StringArena;
  private readonly own: StringArena;
  private readonly ids = new Column(Uint16Array, 1024);
  /** The entries stored on their own, ascending: the k-th is own's string k. */
  private readonly ownAt = new Column(Uint32Array, 16);
  private readonly byHash = new Map<number, number>();
  private readonly sharedChars: number;
  constructor(maxChars: number, sharedChars: number) {
    this.shared = new StringArena(maxChars);
    this.own = new StringArena(maxChars);
    this.sharedChars = sharedChars;
  }
  get length(): number {
    return this.ids.n;
  }
  add(s: string): number {
    return this.ids.push(this.idFor(s, this.ids.n));
  }
  /**
   * The id that entry `i` (the next one: entries come in order) gets for `s`: a shared string's,
   * or OWN when `s` is stored on its own. For a caller that keeps the ids itself and reads the
   * text back with text(i, id); add() and get() keep them here.
   */
  idFor(s: string, i: number): number {
    if (s.length <= this.sharedChars) {
      // FNV-1a over the UTF-16 units.
      let h = 0x811c9dc5;
      for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
      const seen = this.byHash.get(h);
      if (seen !== undefined && this.shared.get(seen) === s) return seen;
      if (this.shared.length < OWN) {
        const id = this.shared.add(s);
        if (this.byHash.size >= SHARED_MAX) this.byHash.clear();
        this.byHash.set(h, id);
        return id;
      }
    }
    this.own.add(s);
    this.ownAt.push(i);
    return OWN;
  }
  get(i: number): string {
    return i < 0 || i >= this.ids.n ? '' : this.text(i, this.ids.get(i));
  }
  /** Entry `i`'s text, given the id idFor gave it. */
  text(i: number, id: number): string {
    if (id !== OWN) return this.shared.get(id);
    let lo = 0;
    let hi = this.ownAt.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ownAt.get(mid) < i) lo = mid + 1;
      else hi = mid;
    }
    return this.own.get(lo);
  }
  /** How many strings are stored (distinct shared ones, and those on their own). */
  get distinct(): number {
    return this.shared.length + this.own.length;
  }
  bytes(): number {
    // A Map entry costs about 40 bytes of heap.
    return this.shared.bytes() + this.own.bytes() + this.ids.bytes() + this.ownAt.bytes() + this.byHash.size * 40;
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
