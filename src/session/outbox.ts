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
 * Statements whose answers completed in the same frame (one flush of the server's output) join
 * one Batch here (execution.ts): the wire cannot split that frame's time between them.
 */
import type { Anomaly } from '../core/anomaly.js';
import { Batch, MAX_KEPT_ROWS, MAX_KEPT_ROW_BYTES, type DroppedRows, type Execution } from './execution.js';
import type { QueryRecord, TransactionStatus } from './schema.js';
import type { SessionInfo } from './session-info.js';
import { TransactionState } from './transaction.js';

export const MAX_AWAITING = 1000;

/**
 * Writes an execution's query record straight from the execution, as toRecord would make it
 * (the NDJSON export); true when it did, and then no record object is made.
 */
export type ExecutionWriter = (exec: Execution, session: number, status: TransactionStatus | null) => boolean;

export class Outbox {
  /**
   * Slots [head, tail) wait; [head, settled) have had their ReadyForQuery (status in `statuses`),
   * [head, released) may go out (their transaction ended). The arrays keep their size from one
   * flush to the next: a JavaScript array emptied by `length = 0` gives its storage back, and
   * one allocation per query was most of what waiting cost.
   */
  private awaiting: Array<Execution | undefined> = [];
  private statuses: Array<TransactionStatus | null> = [];
  private head = 0;
  private tail = 0;
  private settled = 0;
  private released = 0;
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

  constructor(
    private readonly sessionId: number,
    private readonly emit: (r: QueryRecord) => void,
    private readonly info: SessionInfo,
    private readonly anomaly: ((a: Anomaly) => void) | null = null,
    /** Summary records (TrackerOptions.detail). */
    private readonly summary = false,
    private readonly writer: ExecutionWriter | null = null,
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
    if (i >= this.released && !exec.skipped && !exec.incomplete && exec.error === null && !exec.rolledBack) exec.rollbackUnknown = true;
    this.out(exec, i < this.settled ? this.statuses[i]! : null);
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
    if (this.tail < list.length) list[this.tail] = exec;
    else list.push(exec);
    this.tail++;
    if (this.tail - this.head > MAX_AWAITING) {
      this.outAt(this.head++);
      if (this.released < this.head) this.released = this.head;
      if (this.settled < this.head) this.settled = this.head;
      if (this.head >= MAX_AWAITING) {
        // A client that never syncs (or a transaction that never ends): move the waiting ones to the front now and then.
        const h = this.head;
        this.awaiting = list.slice(h, this.tail);
        this.statuses = this.statuses.slice(h, this.settled);
        this.tail -= h;
        this.settled -= h;
        this.released -= h;
        this.head = 0;
      }
    }
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

  /** The execution completed last, while its record has not gone out. */
  isPending(exec: Execution): boolean {
    return this.tail > this.head && this.awaiting[this.tail - 1] === exec;
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
    if (this.head === this.tail) this.reset();
  }

  private reset(): void {
    this.deferFrame = -1;
    this.head = 0;
    this.tail = 0;
    this.settled = 0;
    this.released = 0;
    if (this.awaiting.length > 64) {
      this.awaiting = [];
      this.statuses = [];
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
