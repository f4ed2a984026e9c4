/**
 * Latency distribution with bounded memory, one per normalized query.
 *
 * Exact up to EXACT_LIMIT samples (percentiles by the nearest-rank method on the sorted
 * samples). Past that, the samples are folded into a log-bucketed histogram (the idea of
 * HdrHistogram and DDSketch): bucket i holds values in [γ^(i-1), γ^i) microseconds with
 * γ = 1.01, so any percentile read from it is within 1% of a true sample value, and the
 * histogram has at most a few thousand buckets for anything up to days. Count, sum, min and
 * max stay exact in both modes.
 */

export const EXACT_LIMIT = 10_000;
const GAMMA = 1.01;
const LOG_GAMMA = Math.log(GAMMA);

export class LatencySketch {
  count = 0;
  sumMs = 0;
  minMs = Infinity;
  maxMs = 0;
  private exact: number[] | null = [];
  private sorted = true;
  /** quantile() sorted the exact samples in place: their insertion order is gone. */
  private reordered = false;
  /** bucket index -> count, once past EXACT_LIMIT. */
  private buckets: Map<number, number> | null = null;

  /** Returns whether the value was taken (NaN, infinities and negatives are not). */
  add(ms: number): boolean {
    if (!Number.isFinite(ms) || ms < 0) return false;
    this.count++;
    this.sumMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (this.exact) {
      if (this.sorted && this.exact.length > 0 && ms < this.exact[this.exact.length - 1]!) this.sorted = false;
      this.exact.push(ms);
      if (this.exact.length > EXACT_LIMIT) this.toBuckets();
    } else {
      this.addBucket(ms, 1);
    }
    return true;
  }

  /**
   * The samples in the order they were added, while exact and before any quantile() (which sorts
   * them); null otherwise. Lets a caller replay several sketches into one in their true order.
   */
  samplesInOrder(): readonly number[] | null {
    return this.exact !== null && !this.reordered ? this.exact : null;
  }

  /**
   * Fold another sketch in. Count, min, max and buckets come out as if every sample had been
   * added here; the sum only up to the order of the additions (its last bit). For an exact
   * merge, replay samplesInOrder() through add() in the original order instead.
   */
  merge(o: LatencySketch): void {
    if (o.count === 0) return;
    this.count += o.count;
    this.sumMs += o.sumMs;
    if (o.minMs < this.minMs) this.minMs = o.minMs;
    if (o.maxMs > this.maxMs) this.maxMs = o.maxMs;
    if (this.exact && o.exact && this.exact.length + o.exact.length <= EXACT_LIMIT) {
      for (const v of o.exact) this.exact.push(v);
      this.sorted = false;
      return;
    }
    if (this.exact) this.toBuckets();
    if (o.exact) for (const v of o.exact) this.addBucket(v, 1);
    else for (const [k, n] of o.buckets!) this.buckets!.set(k, (this.buckets!.get(k) ?? 0) + n);
  }

  get meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count;
  }

  /** True while every sample is kept (percentiles exact). */
  get isExact(): boolean {
    return this.exact !== null;
  }

  /** The q-quantile (0 < q <= 1) by nearest rank; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.min(this.count, Math.max(1, Math.ceil(q * this.count)));
    if (this.exact) {
      if (!this.sorted) {
        this.exact.sort((a, b) => a - b);
        this.sorted = true;
        this.reordered = true;
      }
      return this.exact[rank - 1]!;
    }
    const keys = [...this.buckets!.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const k of keys) {
      seen += this.buckets!.get(k)!;
      if (seen >= rank) return Math.min(this.maxMs, Math.max(this.minMs, bucketValue(k)));
    }
    return this.maxMs;
  }

  private toBuckets(): void {
    this.buckets = new Map();
    for (const v of this.exact!) this.addBucket(v, 1);
    this.exact = null;
  }

  private addBucket(ms: number, n: number): void {
    const k = bucketOf(ms);
    this.buckets!.set(k, (this.buckets!.get(k) ?? 0) + n);
  }
}

function bucketOf(ms: number): number {
  const us = ms * 1000;
  return us < 1 ? 0 : 1 + Math.floor(Math.log(us) / LOG_GAMMA);
}

/** The middle of bucket k (geometric), in ms. */
function bucketValue(k: number): number {
  if (k === 0) return 0;
  return Math.exp((k - 0.5) * LOG_GAMMA) / 1000;
}
