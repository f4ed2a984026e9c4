/**
 * Finished executions on their way out as query records. They wait for the ReadyForQuery that
 * follows them, to carry the transaction status after the statement, and, while that status
 * says a transaction block is open ('T' or 'E'), for the end of the block: a later ROLLBACK
 * (or an error ending it) undoes them, and a record already written cannot be changed
 * (transaction.ts marks them `rolledBack` while they wait here). At most MAX_AWAITING wait;
 * older ones go out first, then with `rollbackUnknown` when their transaction had not ended (a
 * client pipelining forever without Sync, a transaction of thousands of statements), as do the
 * waiting ones when the capture ends inside a transaction.
 *
 * Every waiting record is charged to the process-wide session budget (core/budget.ts) at its
 * estimated size (heldBytes), since thousands of connections each holding an open block of
 * answered statements would otherwise grow without a bound for the whole process (issue 19).
 * The charge is made by chargeHeld, which the tracker calls before it handles a message, not
 * inside complete(): a charge may give up a request of this very session, and the tracker is
 * then in the middle of pairing. The records waiting here are one item of the budget, under one
 * ticket taken by the first of them and grown by the others (a ticket per record was most of
 * what charging cost: docs/BENCHMARK.md): when the share is full and this outbox's first charged
 * record is the oldest item of any session, the charged records go out early together, as at
 * MAX_AWAITING (rollbackUnknown), reported once per session.
 *
 * Statements whose answers completed in the same frame (one flush of the server's output) join
 * one Batch here (execution.ts): the wire cannot split that frame's time between them.
 */
import type { Anomaly } from '../core/anomaly.js';
import { LedgerAccount, type BudgetHolder, type MemoryLedger } from '../core/budget.js';
import { Batch, MAX_KEPT_ROWS, MAX_KEPT_ROW_BYTES, type DroppedRows, type Execution } from './execution.js';
import type { QueryRecord, TransactionStatus } from './schema.js';
import type { SessionInfo } from './session-info.js';
import { TransactionState } from './transaction.js';
import { valuesBytes } from './value-size.js';

export const MAX_AWAITING = 1000;

/** Heap an execution waiting here holds besides its strings and values (the object's fields, its slot here and in transaction.ts). */
export const HELD_OVERHEAD = 480;
/** Each column of its RowDescription, and each error or notice (a fields object of a dozen strings). */
const COLUMN_BYTES = 160;
const FIELDS_BYTES = 640;

/** Estimated heap bytes of a waiting execution: its SQL, parameters, kept rows (counted in the rows share too), columns and errors. */
export function heldBytes(exec: Execution): number {
  let n = HELD_OVERHEAD + exec.keptBytes;
  if (exec.sql !== null) n += 24 + 2 * exec.sql.length;
  if (exec.params.length > 0) n += valuesBytes(exec.params);
  if (exec.columns !== null) n += COLUMN_BYTES * exec.columns.length;
  if (exec.error !== null) n += FIELDS_BYTES;
  if (exec.notices !== null) n += FIELDS_BYTES * exec.notices.length;
  return n;
}

/** No ticket: nothing waiting here is charged. */
const UNCHARGED = 0;

/**
 * Writes an execution's query record straight from the execution, as toRecord would make it
 * (the NDJSON export); true when it did, and then no record object is made.
 */
export type ExecutionWriter = (exec: Execution, session: number, status: TransactionStatus | null) => boolean;

export class Outbox implements BudgetHolder {
  /**
   * Slots [head, tail) wait; [head, settled) have had their ReadyForQuery (status in `statuses`),
   * [head, released) may go out (their transaction ended). The arrays keep their size from one
   * flush to the next: a JavaScript array emptied by `length = 0` gives its storage back, and
   * one allocation per query was most of what waiting cost.
   */
  private awaiting: Array<Execution | undefined> = [];
  private statuses: Array<TransactionStatus | null> = [];
  /** Each slot's bytes charged (0: none yet), and the one ticket of slots [head, charged) (UNCHARGED when there are none). */
  private sizes: number[] = [];
  private ticket = UNCHARGED;
  private head = 0;
  private tail = 0;
  private settled = 0;
  private released = 0;
  /** Slots [head, charged) are charged (under `ticket`), [charged, tail) not yet. */
  private charged = 0;
  /**
   * A ReadyForQuery released records while more of its frame was still to come (answers of the
   * next request group coalesced into the same segment): they go out when a message of another
   * frame arrives (frameEnded), so that an answer completed later in the same frame can still
   * join their batch. -1: none.
   */
  deferFrame = -1;
  private uncertain = false;
  /** The statements of the transaction open now, for `rolledBack`. */
  private readonly tx = new TransactionState();
  private readonly account = new LedgerAccount(this);

  constructor(
    private readonly sessionId: number,
    private readonly emit: (r: QueryRecord) => void,
    private readonly info: SessionInfo,
    private readonly anomaly: ((a: Anomaly) => void) | null = null,
    /** Summary records (TrackerOptions.detail). */
    private readonly summary = false,
    private readonly writer: ExecutionWriter | null = null,
    /** The session share of the budget; null: records are not charged. */
    private readonly ledger: MemoryLedger | null = null,
    /** The budget gave up waiting records of this session (they went out early). */
    private readonly onGiveUp: (() => void) | null = null,
  ) {}

  /**
   * Pairing is uncertain (tracker.ts, "after a loss"): every execution that ends now is marked,
   * and which transaction a waiting record was in is no longer known.
   */
  get lossy(): boolean {
    return this.uncertain;
  }

  set lossy(v: boolean) {
    if (v && !this.uncertain) this.tx.forget();
    this.uncertain = v;
  }

  private out(exec: Execution, status: TransactionStatus | null): void {
    exec.releaseRows();
    if (this.writer === null || !this.writer(exec, this.sessionId, status)) this.emit(exec.toRecord(this.sessionId, status, this.summary));
  }

  /** The record at slot i goes out: before its transaction ended, it says so. */
  private outAt(i: number): void {
    const exec = this.awaiting[i]!;
    this.awaiting[i] = undefined;
    if (this.sizes[i]! > 0) {
      this.ledger!.shrink(this.sizes[i]!);
      this.sizes[i] = 0;
    }
    if (i >= this.released) {
      if (!exec.skipped && !exec.incomplete && exec.error === null && !exec.rolledBack) exec.rollbackUnknown = true;
      // Its transaction may still end, and nothing can mark a record written: the transaction forgets it (and the memory with it).
      if (!this.uncertain) this.tx.written(exec);
    }
    this.out(exec, i < this.settled ? this.statuses[i]! : null);
  }

  /** The oldest waiting record goes out before its time (MAX_AWAITING, or the budget). */
  private outEarly(): void {
    this.outAt(this.head++);
    if (this.released < this.head) this.released = this.head;
    if (this.settled < this.head) this.settled = this.head;
    if (this.charged <= this.head) {
      this.charged = this.head;
      this.endTicket();
    }
    if (this.head === this.tail) this.reset();
    else if (this.head >= MAX_AWAITING) {
      // A client that never syncs (or a transaction that never ends): move the waiting ones to the front now and then.
      const h = this.head;
      this.awaiting = this.awaiting.slice(h, this.tail);
      this.sizes = this.sizes.slice(h, this.tail);
      this.statuses = this.statuses.slice(h, this.settled);
      this.tail -= h;
      this.settled -= h;
      this.released -= h;
      this.charged -= h;
      this.head = 0;
    }
  }

  holds(ticket: number): boolean {
    return ticket === this.ticket && ticket !== UNCHARGED;
  }

  /** The budget takes the charged waiting records: they go out now, with rollbackUnknown when their transaction is still open. */
  giveUp(ticket: number): void {
    if (!this.holds(ticket)) return;
    while (this.charged > this.head) this.outEarly();
    this.onGiveUp?.();
  }

  /** No charged record waits any more: the ticket's item is gone (its bytes left with each record). */
  private endTicket(): void {
    if (this.ticket === UNCHARGED) return;
    this.ticket = UNCHARGED;
    this.ledger!.release(0);
  }

  /**
   * Charge the records completed since the last call (see the file comment: called where the
   * tracker is between two messages). A charge may give up older records of this outbox, or
   * flush it (a request of this session given up).
   */
  chargeHeld(): void {
    // Called before every message: the test stays small enough to be inlined there, the loop apart.
    if (this.charged < this.tail && this.ledger !== null) this.chargeNew(this.ledger);
  }

  private chargeNew(ledger: MemoryLedger): void {
    while (this.charged < this.tail) {
      const i = this.charged++;
      const bytes = heldBytes(this.awaiting[i]!);
      this.sizes[i] = bytes;
      if (this.ticket !== UNCHARGED) {
        ledger.grow(bytes);
        continue;
      }
      const ticket = ledger.charge(this.account, bytes);
      // The charge may have flushed this outbox (a request of this session given up): the record
      // is out, its bytes shrunk from the share, and the ticket holds nothing.
      if (this.charged > this.head) this.ticket = ticket;
      else ledger.release(0);
    }
  }

  /** An execution is over (done, failed, skipped or cut off): count it and queue its record. */
  complete(exec: Execution): void {
    if (this.uncertain) exec.markIncomplete('gap');
    else this.tx.completed(exec);
    if (!exec.skipped) {
      this.info.queries++;
      if (exec.error) this.info.errors++;
    }
    if (exec.dropped !== null) this.rowLimit(exec.dropped);
    const list = this.awaiting;
    if (this.tail > this.head) this.joinBatch(list[this.tail - 1]!, exec);
    const t = this.tail;
    if (t < list.length) {
      list[t] = exec;
      this.sizes[t] = 0;
    } else {
      list.push(exec);
      this.sizes.push(0);
    }
    this.tail++;
    if (this.tail - this.head > MAX_AWAITING) this.outEarly();
  }

  /**
   * `exec` completed in the same frame as `prev`, the execution completed before it: one flush
   * of the server's output held both answers, so neither has a time of its own (the batch has it).
   */
  private joinBatch(prev: Execution, exec: Execution): void {
    if (!exec.hasEnd() || !prev.hasEnd() || prev.lastFrame !== exec.lastFrame) return;
    let b = prev.batch;
    if (b === null) {
      b = new Batch(prev.lastFrame, prev.recordStartUs(), prev.endUs);
      prev.batch = b;
    }
    b.size++;
    if (exec.endUs > b.endUs) b.endUs = exec.endUs;
    exec.batch = b;
  }

  /**
   * Kept rows hit their cap (keepRows): once per query, now that the number dropped is known.
   * The limit is a bound on memory, and a bound reached is reported, never silent.
   */
  private rowLimit(d: DroppedRows): void {
    this.info.anomalies++;
    this.anomaly?.({
      code: 'row-limit',
      reason: `${d.rows} DataRow(s) past the limit on kept rows (${MAX_KEPT_ROWS} rows or ${MAX_KEPT_ROW_BYTES / 1048576} MiB a query, `
        + 'and the --memory-limit share over all queries): counted, values not kept (rowValuesTruncated)',
      frame: d.frame, timeUs: d.timeUs, session: this.sessionId, dir: 'backend', skipped: d.bytes,
    });
  }

  skip(exec: Execution): void {
    exec.skipped = true;
    this.complete(exec);
  }

  /**
   * Bytes were lost: the executions still waiting for their ReadyForQuery were paired before
   * the loss was known, and a loss is found later than it happened (a hole waits for its
   * retransmission), so mark them too. Those a ReadyForQuery already answered are certain.
   */
  markWaiting(): void {
    for (let i = this.settled; i < this.tail; i++) this.awaiting[i]!.markIncomplete('gap');
  }

  /** The session ended (after flush()): its budget account closes (LedgerAccount). */
  retire(): void {
    this.account.close();
  }

  /** The execution completed last, while its record has not gone out. */
  isPending(exec: Execution): boolean {
    return this.tail > this.head && this.awaiting[this.tail - 1] === exec;
  }

  /**
   * The ReadyForQuery about to be given to ready() came from bytes with a wrong TCP checksum: the
   * records it gives a transaction status (and may release) say so (badChecksum).
   */
  unconfirmedReady(): void {
    for (let i = this.settled; i < this.tail; i++) this.awaiting[i]!.badChecksum = true;
  }

  /**
   * A ReadyForQuery: the waiting executions get its status. When it says idle (or cannot be
   * read), every transaction they were in has ended and their records go out; 'T' and 'E'
   * keep them until the block ends.
   */
  ready(status: TransactionStatus | null, deferToFrame = -1): void {
    if (!this.uncertain) this.tx.ready(status);
    const st = this.statuses;
    while (st.length < this.settled) st.push(null);
    for (let i = this.settled; i < this.tail; i++) {
      if (i < st.length) st[i] = status;
      else st.push(status);
    }
    this.settled = this.tail;
    if (status === 'idle' || status === null) {
      this.released = this.tail;
      if (deferToFrame >= 0) this.deferFrame = deferToFrame;
      else this.release();
    }
  }

  /** A message of `frame` arrived: records a ReadyForQuery released in an earlier frame go out. */
  frameEnded(frame: number): void {
    if (frame === this.deferFrame) return;
    this.deferFrame = -1;
    this.release();
  }

  /** An ErrorResponse: the transaction open now is aborted (transaction.ts). */
  error(): void {
    if (!this.uncertain) this.tx.error();
  }

  /** Records whose transaction ended go out. */
  private release(): void {
    this.deferFrame = -1;
    const end = this.released;
    for (let i = this.head; i < end; i++) this.outAt(i);
    this.head = end;
    if (this.charged <= end) {
      this.charged = end;
      this.endTicket();
    }
    if (this.head === this.tail) this.reset();
  }

  private reset(): void {
    this.endTicket();
    this.deferFrame = -1;
    this.head = 0;
    this.tail = 0;
    this.settled = 0;
    this.released = 0;
    this.charged = 0;
    if (this.awaiting.length > 64) {
      this.awaiting = [];
      this.statuses = [];
      this.sizes = [];
    }
  }

  /**
   * Every waiting record goes out now: at the end of the connection (`ended`: the server ended
   * it, and with it any transaction), at the end of the capture or at a limit (not ended: those
   * whose transaction was still open say so, rollbackUnknown).
   */
  flush(ended: boolean): void {
    if (ended) {
      if (!this.uncertain) this.tx.connectionEnded();
      this.released = this.tail;
    }
    for (let i = this.head; i < this.tail; i++) this.outAt(i);
    this.reset();
  }
}
