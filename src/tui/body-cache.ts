/**
 * Caches within a byte budget (least recently used out first): the decoded forms of the messages
 * the user looks at (BodyCache), and the copies of bodies that cannot be read again from the
 * capture file (message-bodies.ts). The index (store.ts) never depends on them: an evicted
 * message still has its row, summary and frame.
 */
import type { RawMessage, DecodedMessage } from '../../dissectors/types.js';
import type { MessageRecord } from '../pipeline/events.js';

export interface CachedMessage {
  raw: RawMessage;
  decoded: DecodedMessage;
  rec: MessageRecord;
}

/** Rough heap cost of a decoded message: its body plus object overhead; decoded text is about the body again. */
function cost(m: CachedMessage): number {
  return m.raw.body.length * 2 + 512;
}

interface Entry<T> {
  m: T;
  /** Looked at since it last came round the queue: gets a second chance before eviction. */
  ref: boolean;
}

/**
 * Approximate LRU ("second chance"): a FIFO queue of indices in a typed array, each entry
 * with a referenced bit. A Map used as the queue would be quadratic here: V8 leaves deleted
 * entries in place, so finding the oldest key scans every tombstone before it.
 */
export class LruCache<T> {
  private readonly map = new Map<number, Entry<T>>();
  private queue = new Uint32Array(1024);
  private head = 0;
  private tail = 0;
  private used = 0;
  readonly budget: number;
  evicted = 0;
  constructor(budgetBytes: number, private readonly cost: (m: T) => number) {
    this.budget = budgetBytes;
  }

  private enqueue(index: number): void {
    if (this.tail === this.queue.length) {
      const live = this.tail - this.head;
      if (this.head >= live) {
        // Mostly consumed: slide down instead of growing.
        this.queue.copyWithin(0, this.head, this.tail);
      } else {
        const next = new Uint32Array(this.queue.length * 2);
        next.set(this.queue.subarray(this.head, this.tail));
        this.queue = next;
      }
      this.head = 0;
      this.tail = live;
    }
    this.queue[this.tail++] = index;
  }

  put(index: number, m: T): void {
    const c = this.cost(m);
    // A single message larger than the budget is not kept at all, rather than flushing everything.
    if (c > this.budget) {
      this.evicted++;
      return;
    }
    const old = this.map.get(index);
    if (old) this.used -= this.cost(old.m);
    this.map.set(index, { m, ref: false });
    if (!old) this.enqueue(index);
    this.used += c;
    while (this.used > this.budget && this.head < this.tail) {
      const victim = this.queue[this.head++] as number;
      const e = this.map.get(victim);
      if (!e) continue;
      if (e.ref) {
        e.ref = false;
        this.enqueue(victim);
        continue;
      }
      this.map.delete(victim);
      this.used -= this.cost(e.m);
      this.evicted++;
    }
  }

  /** Looks a message up and marks it recently used. */
  get(index: number): T | undefined {
    const e = this.map.get(index);
    if (!e) return undefined;
    e.ref = true;
    return e.m;
  }

  /** Looks a message up without changing its age (the filter's full scan must not churn the cache). */
  peek(index: number): T | undefined {
    return this.map.get(index)?.m;
  }

  get usedBytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }
}

/** Decoded messages, charged by their body's size. */
export class BodyCache extends LruCache<CachedMessage> {
  constructor(budgetBytes: number) {
    super(budgetBytes, cost);
  }
}
