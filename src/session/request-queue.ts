/**
 * The FIFO of requests waiting for the server's answer (see tracker.ts). An array with a head
 * index: shift is O(1) and the array is compacted now and then. Capped at MAX_PENDING: a
 * client that pipelines forever without answers (or a capture that lost the server side)
 * pushes the oldest request out, and the tracker reports it incomplete.
 */
import { Be } from './codes.js';
import type { Execution } from './execution.js';
import type { SqlPiece } from './sql-split.js';
import type { Portal, PreparedStatement } from './statements.js';

export interface QueryRequest {
  kind: 'query';
  sql: string;
  pieces: SqlPiece[];
  /** The statement whose results come next. */
  index: number;
  /** Its execution, once the server began answering it. */
  exec: Execution | null;
  /** The statement completed last, for a second CommandComplete of the same statement (START_REPLICATION). */
  last: Execution | null;
  /** An error ended the string: the statements after it are skipped. */
  failed: boolean;
  firstFrame: number;
  reqTimeUs: number;
  seq: number;
}

export type Request =
  | { kind: 'parse'; stmt: PreparedStatement; prev: PreparedStatement | undefined }
  | { kind: 'bind'; portal: Portal; prev: Portal | undefined }
  | { kind: 'describe'; target: 'statement' | 'portal'; name: string }
  | { kind: 'close' }
  /** seq: Syncs and Queries sent so far, this one included (see Portal.epoch). */
  | { kind: 'sync'; seq: number }
  | { kind: 'execute'; exec: Execution }
  | { kind: 'function'; exec: Execution; seq: number }
  | QueryRequest;

export const MAX_PENDING = 10_000;

export class RequestQueue {
  /** Slots [head, tail) hold the queue; the array keeps its size between rounds (no regrowth per request). */
  private items: Array<Request | undefined> = [];
  private head = 0;
  private tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  /** Append; returns the request pushed out when the queue was full. */
  push(r: Request): Request | undefined {
    let dropped: Request | undefined;
    if (this.size >= MAX_PENDING) dropped = this.shift();
    if (this.tail < this.items.length) this.items[this.tail] = r;
    else this.items.push(r);
    this.tail++;
    return dropped;
  }

  peek(): Request | undefined {
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  at(i: number): Request | undefined {
    return i >= 0 && this.head + i < this.tail ? this.items[this.head + i] : undefined;
  }

  shift(): Request | undefined {
    if (this.head >= this.tail) return undefined;
    const r = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      // a burst of pipelined requests is over: give its slots back
      if (this.items.length > 64) this.items = [];
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      // Many waiting behind a long-gone head: move them to the front.
      this.items.copyWithin(0, this.head, this.tail);
      this.items.fill(undefined, this.tail - this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return r;
  }
}

/** Which backend messages (by type byte, codes.ts) can answer which request. */
export function accepts(r: Request, code: number): boolean {
  switch (r.kind) {
    case 'parse': return code === Be.ParseComplete;
    case 'bind': return code === Be.BindComplete;
    case 'close': return code === Be.CloseComplete;
    case 'describe': return code === Be.ParameterDescription || code === Be.RowDescription || code === Be.NoData;
    case 'sync': return code === Be.ReadyForQuery;
    case 'execute':
      switch (code) {
        case Be.DataRow: case Be.CommandComplete: case Be.EmptyQueryResponse: case Be.PortalSuspended: case Be.CopyInResponse:
        case Be.CopyOutResponse: case Be.CopyBothResponse: case Be.CopyData: case Be.CopyDone:
          return true;
        default:
          return false;
      }
    case 'query':
      switch (code) {
        case Be.RowDescription: case Be.DataRow: case Be.CommandComplete: case Be.EmptyQueryResponse: case Be.CopyInResponse:
        case Be.CopyOutResponse: case Be.CopyBothResponse: case Be.CopyData: case Be.CopyDone: case Be.ReadyForQuery:
          return true;
        default:
          return false;
      }
    case 'function': return code === Be.FunctionCallResponse || code === Be.ReadyForQuery;
  }
}
