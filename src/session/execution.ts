/**
 * One statement execution being accumulated into a query record: everything the server sends
 * for it is folded in as it arrives (DataRows into counts, unless rows are kept, and then
 * capped), so memory per execution is bounded whatever the result size.
 *
 * Timing (documented in the record schema): a request is "complete" when the frame holding
 * its last message arrived (Query; Execute for the extended protocol, whose Sync usually
 * shares the frame; FunctionCall). Its duration runs from max(request complete, the previous
 * response on this connection complete) to the frame that completed its result
 * (CommandComplete, EmptyQueryResponse, PortalSuspended, ErrorResponse, FunctionCallResponse).
 * "The previous response" is the last of those or a ReadyForQuery; ParseComplete, BindComplete
 * and Describe's answers do not count, because the server buffers them until Sync or Flush.
 * The max() keeps pipelined requests from being charged for the time they waited behind
 * earlier ones: each duration is the server's time on that statement as seen on the wire. A
 * server that buffers several results into one frame (a pipeline with one Sync, a multi-statement
 * Query) cannot be split: those executions form a Batch (outbox.ts), which has the time, from
 * the first one's start to that frame, and none of them has a durationMs.
 */
import type { ColumnDescription, ErrorFields, PgValue, TypedValue } from '../../dissectors/types.js';
import { isoTime } from '../core/time.js';
import type { ErrorPhase, IncompleteReason, QueryRecord, TransactionStatus } from './schema.js';
import type { MemoryPool } from '../core/budget.js';
import { valueBytes } from './value-size.js';
import { BOUND, type BoundBytes } from './bound-params.js';

const MAX_NOTICES = 50;
/** Summary records without notices share it (records are never mutated by their consumers). */
const NO_NOTICES: ErrorFields[] = [];
export const MAX_KEPT_ROWS = 1000;
/**
 * Estimated heap of the row values kept for one query (value-size.ts); rows past it are counted,
 * not kept, as past MAX_KEPT_ROWS. The rows share of the memory budget (core/budget.ts) bounds
 * what all queries keep together in the same way.
 */
export const MAX_KEPT_ROW_BYTES = 4 * 1024 * 1024;

interface CopyState {
  direction: 'in' | 'out' | 'both';
  format: 'text' | 'binary';
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  failed: string | null;
}

/**
 * Statements whose answers completed in one frame (one flush of the server's output): shared
 * by their executions. The wire gives the batch a time, not each statement.
 */
export class Batch {
  size = 1;
  constructor(readonly id: number, readonly startUs: number, public endUs: number) {}
  durationMs(): number {
    return ms(this.endUs - this.startUs);
  }
}

export interface DroppedRows {
  rows: number;
  bytes: number;
  frame: number;
  timeUs: number;
}

/** Executions without parameters share it (records are never mutated by their consumers). */
const NO_PARAMS: TypedValue[] = [];

export class Execution {
  // request
  protocol: QueryRecord['protocol'];
  sql: string | null;
  statementIndex = 0;
  statementCount = 1;
  statement: string | null = null;
  portal: string | null = null;
  params: TypedValue[] = NO_PARAMS;
  /** The Bind's bytes, for summary records that keep them (TrackerOptions.boundBytes). */
  bound: BoundBytes | null = null;
  parsed = false;
  firstFrame: number;
  reqTimeUs: number;
  // response
  startUs = -1;
  firstRowUs = -1;
  endUs = -1;
  lastFrame: number;
  rowsReturned = 0;
  bytesReturned = 0;
  tagRows: number | null = null;
  command: string | null = null;
  columns: readonly ColumnDescription[] | null = null;
  error: ErrorFields | null = null;
  notices: ErrorFields[] | null = null;
  copy: CopyState | null = null;
  functionOid = 0;
  functionResult: TypedValue | null = null;
  isFunction = false;
  cancelledBy: QueryRecord['cancelledBy'] = null;
  rowValues: PgValue[][] | null = null;
  rowValuesTruncated = false;
  /** Bytes of kept rows taken from `rowPool`, given back when the record goes out (releaseRows). */
  keptBytes = 0;
  rowPool: MemoryPool | null = null;
  /** Rows past MAX_KEPT_ROWS (counted, values not kept): how many, their bytes, where the first arrived (for the row-limit anomaly). */
  dropped: DroppedRows | null = null;
  skipped = false;
  incomplete = false;
  /** Why incomplete (set with it). */
  incompleteReason: IncompleteReason | null = null;
  /** Built from bytes of a segment with a wrong TCP checksum (the record's badChecksum). */
  badChecksum = false;
  /** Extended protocol: the request whose ErrorResponse failed this execution. */
  errorPhase: ErrorPhase | null = null;
  batch: Batch | null = null;
  rolledBack = false;
  /** Written before its transaction ended (outbox.ts): whether it was rolled back is unknown. */
  rollbackUnknown = false;
  /** Sent by a pooler on its server leg (pooler.ts): not counted by stats and check. */
  poolerLeg = false;
  /** On a pooler's client leg: the server leg that ran it (pooler.ts). */
  serverLeg: NonNullable<QueryRecord['serverLeg']> | null = null;
  suspended = false;
  done = false;

  constructor(protocol: QueryRecord['protocol'], sql: string | null, firstFrame: number, reqTimeUs: number) {
    this.protocol = protocol;
    this.sql = sql;
    this.firstFrame = firstFrame;
    this.lastFrame = firstFrame;
    this.reqTimeUs = reqTimeUs;
  }

  /** First response for this execution: its clock starts (see the file comment). */
  touch(lastCompletionUs: number): void {
    if (this.startUs < 0) this.startUs = Math.max(this.reqTimeUs, lastCompletionUs);
  }

  dataRow(bytes: number, timeUs: number): void {
    if (this.firstRowUs < 0) this.firstRowUs = timeUs;
    this.rowsReturned++;
    this.bytesReturned += bytes;
  }

  /**
   * Keep a decoded DataRow's values; past MAX_KEPT_ROWS rows, MAX_KEPT_ROW_BYTES, or what `pool`
   * (the budget's rows share) has left, only count what was dropped (`bytes`: the message's size).
   */
  keepRow(values: readonly TypedValue[], frame: number, timeUs: number, bytes: number, pool: MemoryPool | null = null): void {
    if (!this.rowValues) this.rowValues = [];
    let rowBytes = 0;
    if (this.dropped === null && this.rowValues.length < MAX_KEPT_ROWS) {
      const room = MAX_KEPT_ROW_BYTES - this.keptBytes;
      rowBytes = 32 + 8 * values.length;
      for (let i = 0; i < values.length && rowBytes <= room; i++) rowBytes += valueBytes(values[i]!.value, room - rowBytes);
      if (rowBytes > room || (pool !== null && !pool.take(rowBytes))) rowBytes = -1;
      else if (pool !== null) this.rowPool = pool;
    }
    if (this.dropped !== null || this.rowValues.length >= MAX_KEPT_ROWS || rowBytes < 0) {
      if (this.dropped === null) {
        this.rowValuesTruncated = true;
        this.dropped = { rows: 0, bytes: 0, frame, timeUs };
      }
      this.dropped.rows++;
      this.dropped.bytes += bytes;
      return;
    }
    this.keptBytes += rowBytes;
    const row: PgValue[] = new Array<PgValue>(values.length);
    for (let i = 0; i < values.length; i++) row[i] = values[i]!.value;
    this.rowValues.push(row);
  }

  /** The record went out: the bytes its kept rows took from the budget are free again. */
  releaseRows(): void {
    if (this.rowPool !== null) {
      this.rowPool.give(this.keptBytes);
      this.rowPool = null;
      this.keptBytes = 0;
    }
  }

  notice(f: ErrorFields): void {
    if (!this.notices) this.notices = [];
    if (this.notices.length < MAX_NOTICES) this.notices.push(f);
  }

  finish(frame: number, timeUs: number, lastCompletionUs: number): void {
    this.touch(lastCompletionUs);
    this.lastFrame = frame;
    this.endUs = timeUs;
    this.done = true;
  }

  /** Whether the record has an end (time): the execution ended and was not skipped. */
  hasEnd(): boolean {
    return this.endUs >= 0 && !this.skipped;
  }

  /** Mark the record as possibly wrong, keeping the first reason given. */
  markIncomplete(reason: IncompleteReason): void {
    this.incomplete = true;
    if (this.incompleteReason === null) this.incompleteReason = reason;
  }

  /** When the record's clock starts (startTime): the first response, else the request. */
  recordStartUs(): number {
    return this.startUs >= 0 ? this.startUs : this.reqTimeUs;
  }

  /** The record's time: its end, else when it started, else the request. */
  recordEndUs(): number {
    return this.hasEnd() ? this.endUs : this.recordStartUs();
  }

  /** The record's durationMs: none in a batch (the batch has the time). */
  durationMs(): number | null {
    return this.hasEnd() && this.batch === null ? ms(this.endUs - this.recordStartUs()) : null;
  }

  /** The record's firstRowMs: none in a batch when the first row came in the batch's frame (the wire gives it no time of its own). */
  firstRowMs(): number | null {
    if (this.firstRowUs < 0 || (this.batch !== null && this.firstRowUs >= this.batch.endUs)) return null;
    return ms(this.firstRowUs - this.recordStartUs());
  }

  /**
   * The query record. `summary`: no timestamps as text, no columns (TrackerOptions.detail).
   * src/sinks/json/query-writer.ts writes the same record's JSON straight from the execution:
   * a change here is a change there.
   */
  toRecord(session: number, txStatus: TransactionStatus | null, summary = false): QueryRecord {
    const rec: QueryRecord = {
      kind: 'query',
      session,
      time: summary ? '' : isoTime(this.recordEndUs()),
      frame: this.lastFrame,
      protocol: this.protocol,
      sql: this.sql,
      statementIndex: this.statementIndex,
      statementCount: this.statementCount,
      statement: this.statement,
      portal: this.portal,
      params: this.params,
      parsed: this.parsed,
      durationMs: this.durationMs(),
      firstRowMs: this.firstRowMs(),
      rows: this.tagRows ?? this.rowsReturned,
      rowsReturned: this.rowsReturned,
      bytesReturned: this.bytesReturned,
      command: this.command,
      error: this.error,
      notices: this.notices ?? (summary ? NO_NOTICES : []),
      transactionStatus: txStatus,
      skipped: this.skipped,
      incomplete: this.incomplete,
      suspended: this.suspended,
      firstFrame: this.firstFrame,
      lastFrame: this.lastFrame,
      startTime: summary ? '' : isoTime(this.recordStartUs()),
      columns: this.columns && !summary ? this.columns.slice() : null,
      copy: this.copy ? { ...this.copy } : null,
      function: this.isFunction ? { oid: this.functionOid, result: this.functionResult } : null,
      cancelledBy: this.cancelledBy,
    };
    if (this.incomplete && this.incompleteReason !== null) rec.incompleteReason = this.incompleteReason;
    if (this.badChecksum) rec.badChecksum = true;
    if (this.errorPhase !== null) rec.errorPhase = this.errorPhase;
    if (this.batch !== null) rec.batch = { id: this.batch.id, size: this.batch.size, durationMs: this.batch.durationMs() };
    if (this.rolledBack) rec.rolledBack = true;
    if (this.rollbackUnknown) rec.rollbackUnknown = true;
    if (this.poolerLeg) rec.poolerLeg = 'server';
    if (this.serverLeg !== null) rec.serverLeg = { ...this.serverLeg };
    if (this.bound !== null) (rec as QueryRecord & { [BOUND]?: BoundBytes })[BOUND] = this.bound;
    if (this.rowValues) {
      rec.rowValues = this.rowValues;
      rec.rowValuesTruncated = this.rowValuesTruncated;
    }
    return rec;
  }
}

/** Milliseconds with microsecond resolution (capture time is integer µs). */
function ms(us: number): number {
  return Math.max(0, us) / 1000;
}
