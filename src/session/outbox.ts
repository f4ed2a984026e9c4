/**
 * Finished executions on their way out as query records. They wait for the ReadyForQuery that
 * follows them, to carry the transaction status after the statement; at most MAX_AWAITING
 * wait, older ones go out without it (a client pipelining forever without Sync).
 */
import type { Anomaly } from '../core/anomaly.js';
import { MAX_KEPT_ROWS, MAX_KEPT_ROW_BYTES, type DroppedRows, type Execution } from './execution.js';
import type { QueryRecord, TransactionStatus } from './schema.js';
import type { SessionInfo } from './session-info.js';

export const MAX_AWAITING = 1000;

/**
 * Writes an execution's query record straight from the execution, as toRecord would make it
 * (the NDJSON export); true when it did, and then no record object is made.
 */
export type ExecutionWriter = (exec: Execution, session: number, status: TransactionStatus | null) => boolean;

export class Outbox {
  /**
   * Slots [head, tail) wait. The array keeps its size from one ReadyForQuery to the next: a
   * JavaScript array emptied by `length = 0` gives its storage back, and one allocation per
   * query was most of what waiting cost.
   */
  private awaiting: Array<Execution | undefined> = [];
  private head = 0;
  private tail = 0;
  /** Pairing is uncertain (tracker.ts, "after a loss"): every execution that ends now is marked. */
  lossy = false;

  constructor(
    private readonly sessionId: number,
    private readonly emit: (r: QueryRecord) => void,
    private readonly info: SessionInfo,
    private readonly anomaly: ((a: Anomaly) => void) | null = null,
    /** Summary records (TrackerOptions.detail). */
    private readonly summary = false,
    private readonly writer: ExecutionWriter | null = null,
  ) {}

  private out(exec: Execution, status: TransactionStatus | null): void {
    exec.releaseRows();
    if (this.writer === null || !this.writer(exec, this.sessionId, status)) this.emit(exec.toRecord(this.sessionId, status, this.summary));
  }

  /** An execution is over (done, failed, skipped or cut off): count it and queue its record. */
  complete(exec: Execution): void {
    if (this.lossy) exec.markIncomplete('gap');
    if (!exec.skipped) {
      this.info.queries++;
      if (exec.error) this.info.errors++;
    }
    if (exec.dropped !== null) this.rowLimit(exec.dropped);
    const list = this.awaiting;
    if (this.tail < list.length) list[this.tail] = exec;
    else list.push(exec);
    this.tail++;
    if (this.tail - this.head > MAX_AWAITING) {
      const oldest = list[this.head]!;
      list[this.head++] = undefined;
      if (this.head >= MAX_AWAITING) {
        // A client that never syncs: move the waiting ones to the front now and then.
        this.awaiting = list.slice(this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      }
      this.out(oldest, null);
    }
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
   * Bytes were lost: the executions still waiting were paired before the loss was known, and a
   * loss is found later than it happened (a hole waits for its retransmission), so mark them too.
   */
  markWaiting(): void {
    for (let i = this.head; i < this.tail; i++) this.awaiting[i]!.markIncomplete('gap');
  }

  /** The execution completed last, while its record has not gone out. */
  isPending(exec: Execution): boolean {
    return this.tail > this.head && this.awaiting[this.tail - 1] === exec;
  }

  /** A ReadyForQuery (status), or the end of the connection (null): every waiting record goes out. */
  flush(status: TransactionStatus | null): void {
    const list = this.awaiting;
    const end = this.tail;
    if (end === this.head) return;
    for (let i = this.head; i < end; i++) {
      const exec = list[i]!;
      list[i] = undefined;
      this.out(exec, status);
    }
    this.head = 0;
    this.tail = 0;
    if (list.length > 64) this.awaiting = [];
  }
}
