/**
 * Message bodies and decoded forms, kept only within a byte budget (least recently used out
 * first). The index (store.ts) never depends on them: an evicted message still has its row,
 * summary and frame; only the field tree and the message hex need the body, and the detail
 * pane then says so and the hex pane shows the frame re-read from the capture file.
 */
import type { RawMessage, DecodedMessage } from '../../dissectors/types.js';
import type { MessageRecord } from '../pipeline/events.js';

export interface CachedMessage {
  raw: RawMessage;
  decoded: DecodedMessage;
  rec: MessageRecord;
}

/** Rough heap cost of a decoded message: its body plus object overhead; decoded text is about the body again. */
function cost(raw: RawMessage): number {
  return raw.body.length * 2 + 512;
}

interface Entry {
  m: CachedMessage;
  /** Looked at since it last came round the queue: gets a second chance before eviction. */
  ref: boolean;
}

/**
 * Approximate LRU ("second chance"): a FIFO queue of indices in a typed array, each entry
 * with a referenced bit. A Map used as the queue would be quadratic here: V8 leaves deleted
 * entries in place, so finding the oldest key scans every tombstone before it.
 */
export class BodyCache {
  private readonly map = new Map<number, Entry>();
  private queue = new Uint32Array(1024);
  private head = 0;
  private tail = 0;
  private used = 0;
  readonly budget: number;
  evicted = 0;
  constructor(budgetBytes: number) {
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

  put(index: number, m: CachedMessage): void {
    const c = cost(m.raw);
    // A single message larger than the budget is not kept at all, rather than flushing everything.
    if (c > this.budget) {
      this.evicted++;
      return;
    }
    const old = this.map.get(index);
    if (old) this.used -= cost(old.m.raw);
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
      this.used -= cost(e.m.raw);
      this.evicted++;
    }
  }

  /** Looks a message up and marks it recently used. */
  get(index: number): CachedMessage | undefined {
    const e = this.map.get(index);
    if (!e) return undefined;
    e.ref = true;
    return e.m;
  }

  /** Looks a message up without changing its age (the filter's full scan must not churn the cache). */
  peek(index: number): CachedMessage | undefined {
    return this.map.get(index)?.m;
  }

  get usedBytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }
}
