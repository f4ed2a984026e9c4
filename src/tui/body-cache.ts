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

export class BodyCache {
  private readonly map = new Map<number, CachedMessage>();
  private used = 0;
  readonly budget: number;
  evicted = 0;
  constructor(budgetBytes: number) {
    this.budget = budgetBytes;
  }
  put(index: number, m: CachedMessage): void {
    const c = cost(m.raw);
    // A single message larger than the budget is not kept at all, rather than flushing everything.
    if (c > this.budget) {
      this.evicted++;
      return;
    }
    this.map.set(index, m);
    this.used += c;
    while (this.used > this.budget) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      const victim = this.map.get(oldest.value);
      this.map.delete(oldest.value);
      if (victim) this.used -= cost(victim.raw);
      this.evicted++;
    }
  }
  /** Looks a message up and marks it recently used. */
  get(index: number): CachedMessage | undefined {
    const m = this.map.get(index);
    if (m) {
      this.map.delete(index);
      this.map.set(index, m);
    }
    return m;
  }
  /** Looks a message up without changing its age (the filter's full scan must not churn the cache). */
  peek(index: number): CachedMessage | undefined {
    return this.map.get(index);
  }
  get usedBytes(): number {
    return this.used;
  }
  get size(): number {
    return this.map.size;
  }
}
