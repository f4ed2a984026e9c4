/**
 * The process-wide memory budget. Every store that a capture can grow (out-of-order bytes,
 * connections, requests waiting for their answers, prepared statements and portals, kept rows)
 * draws on one budget of bytes for the whole process, so that limits do not multiply: a limit
 * per connection times the number of connections is no limit (issue 19: 3,000 connections of
 * 10,000 unanswered requests each took 4.6 GB).
 *
 * The budget is derived from one number, the memory limit (`--memory-limit MB`, default
 * DEFAULT_MEMORY_LIMIT_MB): the peak resident size pgsniff stays under on any input. Part of it
 * is the runtime's own (Node.js, V8, code, the young generation: RUNTIME_BYTES), and V8 needs
 * about as much free heap again as it keeps live to collect without stalling; what is left is
 * split into shares (memoryShares). The sizes charged are estimates of the heap an item holds
 * (its wire bytes plus a fixed overhead per object), not measurements: docs/BENCHMARK.md has
 * the runs that check the ceiling holds.
 *
 * A share that is full gives up its oldest item first, across every connection (MemoryLedger):
 * the owner of the item decides what giving up means (a request reported incomplete, a
 * statement forgotten) and reports it as an anomaly.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const DEFAULT_MEMORY_LIMIT_MB = 512;
/** The smallest --memory-limit accepted: below it the runtime alone would not fit. */
export const MIN_MEMORY_LIMIT_MB = 128;
/** Node.js, V8, pgsniff's code and the young generation (3 x 8 MiB semi-spaces in read/stats). */
export const RUNTIME_BYTES = 96 * 1024 * 1024;

const MiB = 1024 * 1024;

/** Bytes of kept state each part of the pipeline may hold, for one memory limit. */
export interface MemoryShares {
  /** The ceiling: peak resident size (bytes). */
  limit: number;
  /** Out-of-order TCP bytes held while holes wait (reassembly). */
  reassembly: number;
  /** Per-connection state (flow table, PostgreSQL framing and phase state). */
  connections: number;
  /** Requests waiting for their answers, prepared statements and portals, over all sessions. */
  session: number;
  /** Row values kept with --rows, over all queries. */
  rows: number;
}

/**
 * The shares of a memory limit (bytes): half of what the runtime leaves is kept state (the
 * other half is V8's room to collect), split 1/4 reassembly, 3/8 connections, 1/4 session,
 * 1/8 rows. For the default 512 MB: 52, 78, 52 and 26 MiB.
 */
export function memoryShares(limitBytes: number): MemoryShares {
  const state = Math.max(16 * MiB, (limitBytes - RUNTIME_BYTES) / 2);
  return {
    limit: limitBytes,
    reassembly: Math.floor(state / 4),
    connections: Math.floor((state * 3) / 8),
    session: Math.floor(state / 4),
    rows: Math.floor(state / 8),
  };
}

/**
 * What holds charged items: a ticket is live while the item it was charged for is held, and
 * giveUp(ticket) lets that item go (and calls release for its bytes).
 */
export interface BudgetHolder {
  holds(ticket: number): boolean;
  giveUp(ticket: number): void;
}

/**
 * A holder's name in a ledger's queue of tickets. The queue keeps released tickets until they
 * reach its front or it is compacted (MemoryLedger), and with them whatever each ticket's holder
 * keeps alive: a session's request queue or outbox reaches the whole session (tracker, framing,
 * records), 10-15 KB. Holders charge through an account and close it when their session ends
 * (nothing held, nothing more to charge): a stale ticket then keeps this small object alive, not
 * the session (issue 19: 10,000 connections given up one after the other kept 1,500 closed
 * sessions, 20 MB, alive through stale tickets).
 */
export class LedgerAccount implements BudgetHolder {
  private holder: BudgetHolder | null;
  constructor(holder: BudgetHolder) {
    this.holder = holder;
  }

  holds(ticket: number): boolean {
    return this.holder !== null && this.holder.holds(ticket);
  }

  giveUp(ticket: number): void {
    this.holder?.giveUp(ticket);
  }

  /** The holder holds nothing and will charge nothing more. */
  close(): void {
    this.holder = null;
  }
}

/**
 * One share of the budget with oldest-first give-up across all holders. charge() returns a
 * ticket (increasing over the process); the holder keeps it with the item and calls release()
 * with the same bytes when the item goes for any reason. When a charge takes the share over its
 * capacity, the oldest items still held are given up until it fits again.
 *
 * The queue of tickets is not told of releases (that would cost a search per answer): a
 * released ticket stays until it reaches the front, or until the queue holds more than twice
 * the live items, when it is compacted by asking each holder. Both are amortized O(1).
 */
export class MemoryLedger {
  readonly capacity: number;
  used = 0;
  /** Items given up so far. */
  givenUp = 0;
  private live = 0;
  private next = 1;
  /**
   * The queue: slots [head, tail) of both arrays. The arrays keep their length when the queue
   * shrinks (compaction and the consumed front move slots down in place): a full budget gives up
   * an item per charge, and arrays cut and grown again were a new backing store each round.
   */
  private holders: Array<BudgetHolder | undefined> = [];
  private tickets: number[] = [];
  private head = 0;
  private tail = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Charge `bytes` for a new item held by `holder`; returns its ticket. May give up older items (never this one). */
  charge(holder: BudgetHolder, bytes: number): number {
    // Compacted before the new ticket goes in: its holder does not hold it until this returns.
    if (this.tail - this.head > 2 * this.live + 4096) this.compact();
    const ticket = this.next++;
    this.used += bytes;
    this.live++;
    const t = this.tail++;
    if (t < this.tickets.length) {
      this.holders[t] = holder;
      this.tickets[t] = ticket;
    } else {
      this.holders.push(holder);
      this.tickets.push(ticket);
    }
    if (this.used > this.capacity) this.makeRoom(ticket);
    return ticket;
  }

  /** An item charged `bytes` is gone (answered, closed, given up). */
  release(bytes: number): void {
    this.used -= bytes;
    this.live--;
  }

  /**
   * `bytes` more for an item its holder charged before and still holds (a run of items that
   * leave together under one ticket: outbox.ts), without a new ticket in the queue. Past the
   * capacity the oldest items are given up, that one too when it is the oldest.
   */
  grow(bytes: number): void {
    this.used += bytes;
    if (this.used > this.capacity) this.makeRoom(0);
  }

  /** Part of an item's bytes are gone (grow's counterpart); the item is still held. */
  shrink(bytes: number): void {
    this.used -= bytes;
  }

  /** newest: the ticket being charged, never given up (0: none, from grow). */
  private makeRoom(newest: number): void {
    while (this.used > this.capacity && this.head < this.tail) {
      const ticket = this.tickets[this.head]!;
      if (ticket === newest) break;
      const holder = this.holders[this.head]!;
      this.holders[this.head] = undefined;
      this.head++;
      if (holder.holds(ticket)) {
        this.givenUp++;
        holder.giveUp(ticket);
      }
    }
    if (this.head > 4096 && this.head * 2 > this.tail) this.dropFront();
  }

  /**
   * The consumed front goes: the rest moves down. Unlike compact() it asks no holder (a budget
   * that is full gives up one item per charge, and compacting for that asked every live
   * ticket's holder again each time the front passed half the queue).
   */
  private dropFront(): void {
    // A loop, not copyWithin: V8's copyWithin on an array is its generic path, several times slower.
    const holders = this.holders;
    const tickets = this.tickets;
    let w = 0;
    for (let i = this.head; i < this.tail; i++, w++) {
      holders[w] = holders[i];
      tickets[w] = tickets[i]!;
    }
    this.shrinkTo(w);
  }

  /** Drop released tickets (and the consumed front) from the queue. */
  private compact(): void {
    let w = 0;
    for (let i = this.head; i < this.tail; i++) {
      const h = this.holders[i]!;
      const t = this.tickets[i]!;
      if (h.holds(t)) {
        this.holders[w] = h;
        this.tickets[w] = t;
        w++;
      }
    }
    this.shrinkTo(w);
  }

  /** The queue is slots [0, n) now: the slots after it let their holders go. */
  private shrinkTo(n: number): void {
    this.holders.fill(undefined, n, this.tail);
    this.head = 0;
    this.tail = n;
  }
}

/**
 * A byte count that is charged and released without give-up (kept rows: a query over its share
 * keeps no more values, and says so with row-limit).
 */
export class MemoryPool {
  readonly capacity: number;
  used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Take `bytes` if they fit; false (and nothing taken) when they do not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** The ledgers and pools of one pipeline (one per process in the CLI). */
export interface MemoryBudget {
  shares: MemoryShares;
  session: MemoryLedger;
  rows: MemoryPool;
}

export function memoryBudget(limitBytes = DEFAULT_MEMORY_LIMIT_MB * MiB): MemoryBudget {
  const shares = memoryShares(limitBytes);
  return { shares, session: new MemoryLedger(shares.session), rows: new MemoryPool(shares.rows) };
}

let processWide: MemoryBudget | null = null;

/** The default budget, one per process, for pipelines and trackers not given one. */
export function processBudget(): MemoryBudget {
  processWide ??= memoryBudget();
  return processWide;
}

/**
 * Keeps V8's heap where the budget planned it. The shares bound what pgsniff keeps live; V8
 * decides when to collect what it let go, and after a burst of short-lived state that reached the
 * old generation (120,000 connections opened and given up one after the other) it let the heap grow
 * to four times the live size before a full collection: 433 MB of heap for 108 MB live, a peak
 * resident size of 590 MB over the 512 MB limit. The guard asks for a full collection once the
 * heap in use passes three quarters of what the limit leaves after the runtime (312 MB at 512 MB):
 * the live state (at most half of it, by the shares) then fits with room. Should a collection
 * give back too little (live state over the plan: an estimate too small), the trigger moves up to
 * half again the live size, so the guard never collects over and over for nothing.
 *
 * check() is called every few thousand packets: a heap statistic read, no more. The collector is
 * V8's own full collection (exposed through --expose-gc, set at run time).
 */
const CHECK_PACKETS = 512;
const CHECK_BYTES = MiB / 2;

export class HeapGuard {
  private trigger: number;
  private readonly floor: number;
  /** Full collections the guard asked for. */
  collections = 0;
  private packets = 0;
  private bytes = 0;
  constructor(limitBytes: number) {
    this.floor = Math.max(32 * MiB, ((limitBytes - RUNTIME_BYTES) * 3) / 4);
    this.trigger = this.floor;
  }

  /**
   * Counts a packet: the heap is checked every CHECK_PACKETS packets or CHECK_BYTES of packet
   * data, whichever comes first (packets of 16 KB each grow the heap faster than small ones:
   * 4,096 of them are 64 MB of garbage at worst).
   */
  packet(bytes: number): void {
    this.bytes += bytes;
    if (++this.packets < CHECK_PACKETS && this.bytes < CHECK_BYTES) return;
    this.packets = 0;
    this.bytes = 0;
    this.check();
  }

  check(): void {
    if (getHeapStatistics().used_heap_size <= this.trigger) return;
    const gc = fullCollection();
    if (gc === null) return;
    gc();
    this.collections++;
    const live = getHeapStatistics().used_heap_size;
    this.trigger = Math.max(this.floor, live * 1.5);
  }
}

/**
 * One full collection now (false where V8's collector cannot be had): between two phases of a
 * command, so that what the first let go is given back before the second takes memory of its own.
 */
export function collectGarbage(): boolean {
  const gc = fullCollection();
  if (gc === null) return false;
  gc();
  return true;
}

let gcFn: (() => void) | null | undefined;
/** V8's full collection, or null where it cannot be had. */
function fullCollection(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}
