/**
 * Finished executions on their way out as query records. They wait for the ReadyForQuery that
 * follows them, to carry the transaction status after the statement; at most MAX_AWAITING
 * wait, older ones go out without it (a client pipelining forever without Sync).
 */
import type { Anomaly } from '../core/anomaly.js';
import { MAX_KEPT_ROWS, type DroppedRows, type Execution } from './execution.js';
import type { QueryRecord, TransactionStatus } from './schema.js';
import type { SessionInfo } from './session-info.js';

export const MAX_AWAITING = 1000;

export class Outbox {
  private readonly awaiting: Execution[] = [];

  constructor(
    private readonly sessionId: number,
    private readonly emit: (r: QueryRecord) => void,
    private readonly info: SessionInfo,
    private readonly anomaly: ((a: Anomaly) => void) | null = null,
    /** Summary records (TrackerOptions.detail). */
    private readonly summary = false,
  ) {}

  /** An execution is over (done, failed, skipped or cut off): count it and queue its record. */
  complete(exec: Execution): void {
    if (!exec.skipped) {
      this.info.queries++;
      if (exec.error) this.info.errors++;
    }
    if (exec.dropped !== null) this.rowLimit(exec.dropped);
    this.awaiting.push(exec);
    if (this.awaiting.length > MAX_AWAITING) this.emit(this.awaiting.shift()!.toRecord(this.sessionId, null, this.summary));
  }

  /**
   * Kept rows hit their cap (keepRows): once per query, now that the number dropped is known.
   * The limit is a bound on memory, and a bound reached is reported, never silent.
   */
  private rowLimit(d: DroppedRows): void {
    this.info.anomalies++;
    this.anomaly?.({
      code: 'row-limit',
      reason: `${d.rows} DataRow(s) past the ${MAX_KEPT_ROWS}-row limit on kept rows: counted, values not kept (rowValuesTruncated)`,
      frame: d.frame, timeUs: d.timeUs, session: this.sessionId, dir: 'backend', skipped: d.bytes,
    });
  }

  skip(exec: Execution): void {
    exec.skipped = true;
    this.complete(exec);
  }

  /** The execution completed last, while its record has not gone out. */
  isPending(exec: Execution): boolean {
    return this.awaiting.length > 0 && this.awaiting[this.awaiting.length - 1] === exec;
  }

  /** A ReadyForQuery (status), or the end of the connection (null): every waiting record goes out. */
  flush(status: TransactionStatus | null): void {
    const list = this.awaiting;
    const n = list.length;
    if (n === 0) return;
    // One array for the life of the session: a new one per ReadyForQuery was most of what waiting cost.
    for (let i = 0; i < n; i++) this.emit(list[i]!.toRecord(this.sessionId, status, this.summary));
    list.length = 0;
  }
}
