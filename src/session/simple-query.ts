/**
 * The simple Query protocol's side of pairing: one Query message, several statements (split by
 * sql-split.ts), one execution each, answered in order and closed by one ReadyForQuery
 * (protocol documentation, "Simple Query" and "Multiple Statements in a Simple Query").
 */
import type { DecodedMessage, ErrorFields, RawMessage } from '../../dissectors/types.js';
import { BackendCode } from './codes.js';
import { Execution } from './execution.js';
import type { Outbox } from './outbox.js';
import type { QueryRequest } from './request-queue.js';

/** The execution of the statement the server answers now (created at its first answer). */
export function queryExec(q: QueryRequest): Execution {
  if (!q.exec) {
    q.exec = pieceExec(q, q.index);
    if (q.answerUnconfirmed === true) {
      q.exec.badChecksum = true;
      q.answerUnconfirmed = false;
    }
  }
  return q.exec;
}

export function pieceExec(q: QueryRequest, index: number): Execution {
  const pieces = q.pieces;
  // One statement: its SQL is the Query's text as sent; several: each its own slice.
  const sql = pieces.length <= 1 ? (index === 0 ? q.sql : null) : pieces[index]?.text ?? null;
  const exec = new Execution('simple', sql, q.firstFrame, q.reqTimeUs);
  exec.statementIndex = index;
  exec.statementCount = Math.max(1, pieces.length, index + 1);
  if (q.unconfirmed === true) exec.badChecksum = true;
  return exec;
}

/** The rest of a Query after an error (or all of it, sent while the server was skipping). */
export function skipRest(out: Outbox, q: QueryRequest): void {
  const count = Math.max(1, q.pieces.length);
  for (; q.index < count; q.index++) out.skip(pieceExec(q, q.index));
}

/**
 * An error inside a Query. Its position, when given, names the statement that failed: a syntax
 * error anywhere fails the whole string before any statement ran, so statements before the
 * failing one that produced nothing are reported skipped, not failed.
 */
export function queryError(out: Outbox, q: QueryRequest, fields: ErrorFields, raw: RawMessage, lastCompletionUs: number): void {
  if (!q.exec && fields.position !== undefined && q.pieces.length > 1) {
    const pos = Number.parseInt(fields.position, 10) - 1;
    let j = q.index;
    for (let k = q.index; k < q.pieces.length; k++) {
      const next = q.pieces[k + 1];
      if (!next || pos < next.start) { j = k; break; }
    }
    while (q.index < j) {
      out.skip(pieceExec(q, q.index));
      q.index++;
    }
  }
  const exec = queryExec(q);
  exec.error = fields;
  exec.finish(raw.frame, raw.timeUs, lastCompletionUs);
  out.complete(exec);
  q.exec = null;
  q.index++;
  q.failed = true;
}

/**
 * START_REPLICATION ends its stream with "COPY 0" (logical) or "START_STREAMING" (physical)
 * and then completes itself: two CommandCompletes for one statement. When a CommandComplete
 * comes after the last statement, and that statement was a COPY whose record has not gone out
 * yet, it is the same statement's final tag, not a statement of its own. Returns whether it was.
 */
export function secondCompletion(out: Outbox, q: QueryRequest, raw: RawMessage, code: number, decode: () => DecodedMessage): boolean {
  const last = q.last;
  if (code !== BackendCode.CommandComplete || q.exec !== null || q.index < Math.max(1, q.pieces.length) || !last || !last.copy) return false;
  if (!out.isPending(last)) return false;
  const d = decode();
  if (d.type === 'CommandComplete') last.command = d.tag;
  last.lastFrame = raw.frame;
  last.endUs = raw.timeUs;
  return true;
}
