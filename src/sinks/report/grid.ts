/**
 * Time buckets for the report's charts, with memory bounded whatever the capture's length:
 * buckets start 10 ms wide, anchored at the first time seen, and each time the span needs more
 * than `maxBuckets` of them their width doubles and neighbours merge (bucket i at width w is
 * bucket floor(i/2) at 2w, so anything recorded per bucket index stays aligned). Indexes may be
 * negative: a session record dates its start before the first query record that came.
 */

export const FIRST_STEP_US = 10_000;

export class TimeGrid {
  /** Anchor (µs since the epoch) of bucket 0; NaN until the first time is seen. */
  baseUs = NaN;
  stepUs = FIRST_STEP_US;
  /** Lowest and highest bucket index used so far. */
  lo = 0;
  hi = -1;
  private readonly listeners: Array<() => void> = [];
  /** The bucket index() returned last and its bounds (a widening moves every bound: index() sets them anew). */
  private lastI = 0;
  private lastFrom = 0;
  private lastTo = -Infinity;

  constructor(readonly maxBuckets: number) {}

  /** Called after every doubling, with `stepUs` already the new width. */
  onWiden(f: () => void): void {
    this.listeners.push(f);
  }

  /** The bucket index of a time, widening the grid as needed so that [lo, hi] fits maxBuckets. */
  index(timeUs: number): number {
    // packets and queries come in time order, mostly many to a bucket: the last bucket first
    if (timeUs >= this.lastFrom && timeUs < this.lastTo) return this.lastI;
    if (Number.isNaN(this.baseUs)) this.baseUs = timeUs;
    let i = Math.floor((timeUs - this.baseUs) / this.stepUs);
    if (this.hi < this.lo) {
      this.lo = this.hi = i;
    } else {
      while (Math.max(this.hi, i) - Math.min(this.lo, i) + 1 > this.maxBuckets) {
        this.stepUs *= 2;
        this.lo = Math.floor(this.lo / 2);
        this.hi = Math.floor(this.hi / 2);
        i = Math.floor(i / 2);
        for (const f of this.listeners) f();
      }
      if (i < this.lo) this.lo = i;
      if (i > this.hi) this.hi = i;
    }
    this.lastI = i;
    this.lastFrom = this.startOf(i);
    this.lastTo = this.lastFrom + this.stepUs;
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
 * Sums per bucket index of a TimeGrid, over a sparse range [lo, lo + values.length). Each
 * doubling of the grid's width adds pairs together.
 */
export class BucketArray {
  lo = 0;
  values: number[] = [];

  /** The grid's width doubled: bucket i becomes floor(i/2). */
  widen(): void {
    if (this.values.length === 0) return;
    const lo = Math.floor(this.lo / 2);
    const hi = Math.floor((this.lo + this.values.length - 1) / 2);
    const out = new Array<number>(hi - lo + 1).fill(0);
    for (let k = 0; k < this.values.length; k++) {
      const j = Math.floor((this.lo + k) / 2) - lo;
      out[j]! += this.values[k]!;
    }
    this.lo = lo;
    this.values = out;
  }

  add(i: number, v: number): void {
    const k = i - this.lo;
    // the usual case, called per packet and per query: a bucket already in range
    if (k >= 0 && k < this.values.length) {
      this.values[k]! += v;
      return;
    }
    if (this.values.length === 0) {
      this.lo = i;
      this.values.push(v);
      return;
    }
    if (i < this.lo) {
      const pad = new Array<number>(this.lo - i).fill(0);
      this.values = pad.concat(this.values);
      this.lo = i;
    } else if (i >= this.lo + this.values.length) {
      while (this.values.length < i - this.lo + 1) this.values.push(0);
    }
    this.values[i - this.lo]! += v;
  }

  get(i: number): number {
    const k = i - this.lo;
    return k >= 0 && k < this.values.length ? this.values[k]! : 0;
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
