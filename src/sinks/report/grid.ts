/**
 * Time buckets for the report's charts, with memory bounded whatever the capture's length:
 * buckets start 10 ms wide, anchored at the first time seen, and each time the span needs more
 * than `maxBuckets` of them their width doubles and neighbours merge (bucket i at width w is
 * bucket floor(i/2) at 2w, so anything recorded per bucket index stays aligned). Indexes may be
 * negative: a session record dates its start before the first query record that came.
 */

const FIRST_STEP_US = 10_000;

export class TimeGrid {
  /** Anchor (µs since the epoch) of bucket 0; NaN until the first time is seen. */
  baseUs = NaN;
  /** A double from the start (see the constructor). */
  stepUs = -0;
  /** Lowest and highest bucket index used so far. */
  lo = 0;
  hi = -1;
  private readonly listeners: Array<() => void> = [];
  /** The bucket index() returned last and its bounds (a widening moves every bound: index() sets them anew). */
  private lastI = 0;
  private lastFrom = -Infinity;
  private lastTo = -Infinity;

  constructor(readonly maxBuckets: number) {
    // stepUs and the bounds hold doubles (µs since the epoch, widths past 2^30): a field that
    // starts as a small integer and later holds a double changes the object's layout, and
    // every optimized function that read it is thrown away and compiled again
    this.stepUs = FIRST_STEP_US;
  }

  /** Called after every doubling, with `stepUs` already the new width. */
  onWiden(f: () => void): void {
    this.listeners.push(f);
  }

  /** The bucket index of a time, widening the grid as needed so that [lo, hi] fits maxBuckets. */
  index(timeUs: number): number {
    // packets and queries come in time order, mostly many to a bucket: the last bucket first
    if (timeUs >= this.lastFrom && timeUs < this.lastTo) return this.lastI;
    return this.locate(timeUs);
  }

  /**
   * index() past the last bucket. Apart from it (and the widening apart from this), so that
   * what V8 inlines into the callers, per packet and per query, is the comparison above: the
   * first widening, which comes long after the callers were optimized, then throws away only
   * this function's optimized code and not theirs.
   */
  private locate(timeUs: number): number {
    if (Number.isNaN(this.baseUs)) this.baseUs = timeUs;
    let i = Math.floor((timeUs - this.baseUs) / this.stepUs);
    if (this.hi < this.lo) {
      this.lo = this.hi = i;
    } else {
      if (Math.max(this.hi, i) - Math.min(this.lo, i) + 1 > this.maxBuckets) i = this.widen(i);
      if (i < this.lo) this.lo = i;
      if (i > this.hi) this.hi = i;
    }
    this.lastI = i;
    this.lastFrom = this.startOf(i);
    this.lastTo = this.lastFrom + this.stepUs;
    return i;
  }

  /** Doubles the width until bucket i fits with [lo, hi] in maxBuckets; returns i at the new width. */
  private widen(i: number): number {
    while (Math.max(this.hi, i) - Math.min(this.lo, i) + 1 > this.maxBuckets) {
      this.stepUs *= 2;
      this.lo = Math.floor(this.lo / 2);
      this.hi = Math.floor(this.hi / 2);
      i = Math.floor(i / 2);
      for (const f of this.listeners) f();
    }
    return i;
  }

  /** The start (µs) of bucket i. */
  startOf(i: number): number {
    return this.baseUs + i * this.stepUs;
  }

  get size(): number {
    return this.hi < this.lo ? 0 : this.hi - this.lo + 1;
  }
}

/**
 * Sums per bucket index of a TimeGrid, over a sparse range [lo, lo + length). Each doubling of
 * the grid's width adds pairs together. The sums are held in a Float64Array: one kind of
 * storage whatever is added (counts, bytes, fractions of microseconds), so the code that adds
 * to it is compiled once (a number[] turning from small integers to doubles changes its
 * elements kind, and every optimized caller is thrown away and compiled again).
 */
export class BucketArray {
  lo = 0;
  private n = 0;
  private buf = new Float64Array(0);

  /** `max`: the most buckets it will ever span (the grid's maxBuckets): its storage grows up to that. */
  constructor(private readonly max = Infinity) {}

  get length(): number {
    return this.n;
  }

  /** The sums of buckets lo, lo + 1, ... */
  values(): number[] {
    return Array.from(this.buf.subarray(0, this.n));
  }

  /** The grid's width doubled: bucket i becomes floor(i/2). */
  widen(): void {
    if (this.n === 0) {
      // an empty row keeps its place (a session with no timed query starts at its start's column)
      this.lo = Math.floor(this.lo / 2);
      return;
    }
    const lo = Math.floor(this.lo / 2);
    const hi = Math.floor((this.lo + this.n - 1) / 2);
    const out = new Float64Array(this.buf.length);
    for (let k = 0; k < this.n; k++) out[Math.floor((this.lo + k) / 2) - lo]! += this.buf[k]!;
    this.lo = lo;
    this.n = hi - lo + 1;
    this.buf = out;
  }

  add(i: number, v: number): void {
    const k = i - this.lo;
    // the usual case, called per packet and per query: a bucket already in range
    if (k >= 0 && k < this.n) {
      this.buf[k]! += v;
      return;
    }
    this.reach(i);
    this.buf[i - this.lo]! += v;
  }

  /** Extends the range to bucket i (the slots past n are always 0). */
  private reach(i: number): void {
    if (this.n === 0) this.lo = i;
    const lo = Math.min(this.lo, i);
    const need = Math.max(this.lo + this.n - 1, i) - lo + 1;
    const shift = this.lo - lo;
    if (need > this.buf.length || shift > 0) {
      const cap = need > this.buf.length ? Math.max(need, Math.min(2 * need, this.max), 8) : this.buf.length;
      const out = new Float64Array(cap);
      out.set(this.buf.subarray(0, this.n), shift);
      this.buf = out;
    }
    this.lo = lo;
    this.n = need;
  }

  get(i: number): number {
    const k = i - this.lo;
    return k >= 0 && k < this.n ? this.buf[k]! : 0;
  }
}

/**
 * Log-scale latency bins shared by the report's histograms: bin 0 holds everything under 1 µs,
 * bin b (1 <= b < LOG_BINS) durations in [2^((b-1)/PER_OCTAVE), 2^(b/PER_OCTAVE)) µs, the last
 * bin everything longer. Four bins per octave: each is 19% wide, which is what the percentiles
 * over time read from them are accurate to (the per-statement tables use stats-latency.ts, 1%).
 */
export const PER_OCTAVE = 4;
/** 2^(127/4) µs is about 55 minutes. */
export const LOG_BINS = 128;

export function logBin(ms: number): number {
  const us = ms * 1000;
  if (!(us >= 1)) return 0;
  const b = 1 + Math.floor(Math.log2(us) * PER_OCTAVE);
  return b >= LOG_BINS ? LOG_BINS - 1 : b;
}

/** The upper bound of bin b, in ms. */
export function binUpperMs(b: number): number {
  return Math.pow(2, b / PER_OCTAVE) / 1000;
}

/** The q-quantile of a histogram (nearest rank), as the geometric middle of its bin, in ms; null when empty. */
export function binQuantile(bins: ArrayLike<number>, total: number, q: number): number | null {
  if (total <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let b = 0; b < bins.length; b++) {
    seen += bins[b]!;
    if (seen >= rank) return b === 0 ? 0 : Math.pow(2, (b - 0.5) / PER_OCTAVE) / 1000;
  }
  return null;
}
