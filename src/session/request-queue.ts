/**
 * The FIFO of requests waiting for the server's answer (see tracker.ts). An array with a head
 * index: shift is O(1) and the array is compacted now and then. Capped at MAX_PENDING: a
 * client that pipelines forever without answers (or a capture that lost the server side)
 * pushes the oldest request out, and the tracker reports it incomplete.
 *
 * Every request is also charged to the process-wide session budget (core/budget.ts) at its
 * estimated size: when all sessions together hold more than that share, the oldest requests of
 * any session are given up (the tracker reports them incomplete, with a memory-limit anomaly).
 * Tickets increase in push order and only the head ever leaves, so a ticket is still held
 * exactly when it is at or after the head's.
 */
import type { ColumnDescription } from '../../dissectors/types.js';
import { LedgerAccount, processBudget, type BudgetHolder, type MemoryLedger } from '../core/budget.js';
import { BackendCode } from './codes.js';
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
  /** The Query came (in part) in a segment with a wrong TCP checksum: every statement's record is marked badChecksum. */
  unconfirmed?: true;
  /** An answer came so before the execution it belongs to was made: that one is marked (simple-query.ts queryExec). */
  answerUnconfirmed?: boolean;
}

/** timeUs: capture time of the frame that completed the request (Query, Execute and FunctionCall have it on their execution). */
export type Request =
  /** frame: where the request began (a failed Parse, Bind or Describe is a record of its own). */
  | { kind: 'parse'; stmt: PreparedStatement; prev: PreparedStatement | undefined; timeUs: number; frame: number }
  | { kind: 'bind'; portal: Portal; prev: Portal | undefined; timeUs: number; frame: number }
  /** stmt, portal: what the name meant when the Describe was sent (a later Parse or Bind in the pipeline may replace it). */
  | { kind: 'describe'; target: 'statement' | 'portal'; name: string; stmt: PreparedStatement | undefined; portal: Portal | undefined; timeUs: number; frame: number }
  | { kind: 'close'; timeUs: number }
  /** seq: Syncs and Queries sent so far, this one included (see Portal.epoch). */
  | { kind: 'sync'; seq: number; timeUs: number }
  /**
   * portal: the one executed (undefined: bound before the capture), for columns a Describe
   * statement answered later; untyped: untypedColumns of its result formats, made when first needed.
   */
  | { kind: 'execute'; exec: Execution; portal: Portal | undefined; untyped?: ColumnDescription[] | null }
  /** resultFormat: what the FunctionCall asked its FunctionCallResponse to be in. */
  | { kind: 'function'; exec: Execution; seq: number; resultFormat: 'text' | 'binary' }
  | QueryRequest;

/** The pieces of a Query string that is one statement or none: sql-split.ts's own pieces then say nothing more (simple-query.ts reads the string). */
export const ONE_STATEMENT: SqlPiece[] = [];

/** A simple Query's request: every one is made here, so that all have one shape. */
export function queryRequest(sql: string, pieces: SqlPiece[], firstFrame: number, reqTimeUs: number, seq: number): QueryRequest {
  return { kind: 'query', sql, pieces, index: 0, exec: null, last: null, failed: false, firstFrame, reqTimeUs, seq };
}

export const MAX_PENDING = 10_000;

/** Heap an unanswered request holds besides its wire bytes (request object, its Execution or SQL pieces, queue slots). */
export const REQUEST_OVERHEAD = 320;
/** Each statement piece of a multi-statement Query (sql-split.ts). */
const PIECE_OVERHEAD = 96;

/** The bytes a request is charged: its message (`wireBytes`) twice over (as bytes, then decoded), and the objects around it. */
export function requestBytes(r: Request, wireBytes: number): number {
  return REQUEST_OVERHEAD + 2 * wireBytes + (r.kind === 'query' && r.pieces.length > 1 ? r.pieces.length * PIECE_OVERHEAD : 0);
}

export class RequestQueue implements BudgetHolder {
  /**
   * Slots [head, tail) hold the queue; the array keeps its size between rounds (no regrowth per
   * request). A slot holding a string is a simple Query of one statement (or none) not looked
   * at yet (pushQuery): its SQL, with its frame, time and seq in the arrays below. Such a Query
   * waits as a few numbers rather than objects, so that thousands waiting unanswered, and given
   * up by the budget long after, do not each cost a request object kept through garbage
   * collections (issue 19's floor: empty Queries never answered). It becomes its QueryRequest
   * when the queue hands it out (peek, at, shift).
   */
  private items: Array<Request | string | undefined> = [];
  /** Each slot's budget ticket and the bytes it was charged. */
  private tickets: number[] = [];
  private sizes: number[] = [];
  /** A string slot's Query: its first frame, request time and seq (QueryRequest's fields). */
  private frames: number[] = [];
  private times: number[] = [];
  private seqs: number[] = [];
  private head = 0;
  private tail = 0;
  private readonly account = new LedgerAccount(this);

  /** `onGiveUp`: a request the budget took away (already out of the queue). */
  constructor(
    private readonly ledger: MemoryLedger = processBudget().session,
    private readonly onGiveUp: (r: Request) => void = () => {},
  ) {}

  holds(ticket: number): boolean {
    return this.tail > this.head && ticket >= this.tickets[this.head]!;
  }

  giveUp(ticket: number): void {
    if (!this.holds(ticket)) return;
    const r = this.shift();
    if (r) this.onGiveUp(r);
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** The session ended (the queue emptied): its budget account closes (LedgerAccount). */
  retire(): void {
    this.account.close();
  }

  /**
   * Append, charging `bytes` (requestBytes) to the budget, which may give up older requests of
   * any session first; returns the request pushed out when this queue was full (MAX_PENDING).
   */
  push(r: Request, bytes: number): Request | undefined {
    return this.put(r, bytes);
  }

  /**
   * push() for a simple Query whose string is one statement or none (pieces ONE_STATEMENT),
   * not marked unconfirmed: it waits as its SQL and three numbers (see `items`).
   */
  pushQuery(sql: string, firstFrame: number, reqTimeUs: number, seq: number, wireBytes: number): Request | undefined {
    // requestBytes of its QueryRequest (no pieces of its own).
    const dropped = this.put(sql, REQUEST_OVERHEAD + 2 * wireBytes);
    const t = this.tail - 1;
    if (t < this.frames.length) {
      this.frames[t] = firstFrame;
      this.times[t] = reqTimeUs;
      this.seqs[t] = seq;
    } else {
      // The number arrays grow with `items`, a slot at a time (put made slot t).
      while (this.frames.length < t) {
        this.frames.push(0);
        this.times.push(0);
        this.seqs.push(0);
      }
      this.frames.push(firstFrame);
      this.times.push(reqTimeUs);
      this.seqs.push(seq);
    }
    return dropped;
  }

  private put(r: Request | string, bytes: number): Request | undefined {
    let dropped: Request | undefined;
    if (this.size >= MAX_PENDING) dropped = this.shift();
    const ticket = this.ledger.charge(this.account, bytes);
    const t = this.tail;
    if (t < this.items.length) {
      this.items[t] = r;
      this.tickets[t] = ticket;
      this.sizes[t] = bytes;
    } else {
      this.items.push(r);
      this.tickets.push(ticket);
      this.sizes.push(bytes);
    }
    this.tail++;
    return dropped;
  }

  /** The request at slot i, made an object if it waited as a string (pushQuery). */
  private request(i: number): Request {
    const r = this.items[i]!;
    if (typeof r !== 'string') return r;
    const q = queryRequest(r, ONE_STATEMENT, this.frames[i]!, this.times[i]!, this.seqs[i]!);
    this.items[i] = q;
    return q;
  }

  peek(): Request | undefined {
    return this.head < this.tail ? this.request(this.head) : undefined;
  }

  at(i: number): Request | undefined {
    return i >= 0 && this.head + i < this.tail ? this.request(this.head + i) : undefined;
  }

  shift(): Request | undefined {
    if (this.head >= this.tail) return undefined;
    const r = this.request(this.head);
    this.items[this.head] = undefined;
    this.ledger.release(this.sizes[this.head]!);
    this.head++;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      // a burst of pipelined requests is over: give its slots back
      if (this.items.length > 64) {
        this.items = [];
        this.tickets = [];
        this.sizes = [];
        this.frames = [];
        this.times = [];
        this.seqs = [];
      }
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      // Many waiting behind a long-gone head: move them to the front.
      // A loop, not copyWithin (V8's generic path for arrays, several times slower: a queue the
      // budget takes from at the front moves here every thousand requests). The number arrays
      // only matter at string slots, which pushQuery made long enough.
      const { items, tickets, sizes, frames, times, seqs } = this;
      const numbers = Math.min(this.tail, frames.length);
      for (let i = this.head, w = 0; i < this.tail; i++, w++) {
        items[w] = items[i];
        tickets[w] = tickets[i]!;
        sizes[w] = sizes[i]!;
        if (i < numbers) {
          frames[w] = frames[i]!;
          times[w] = times[i]!;
          seqs[w] = seqs[i]!;
        }
      }
      items.fill(undefined, this.tail - this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return r;
  }
}

/** When the request was complete on the wire (its last byte's frame). */
export function requestTime(r: Request): number {
  switch (r.kind) {
    case 'query': return r.reqTimeUs;
    case 'execute': case 'function': return r.exec.reqTimeUs;
    default: return r.timeUs;
  }
}

/** Requests that end with a ReadyForQuery: the points where pairing can be made certain again. */
export function isSyncPoint(r: Request): boolean {
  return r.kind === 'sync' || r.kind === 'query' || r.kind === 'function';
}

/** Which backend messages (by type byte, codes.ts) can answer which request. */
export function accepts(r: Request, code: number): boolean {
  switch (r.kind) {
    case 'parse': return code === BackendCode.ParseComplete;
    case 'bind': return code === BackendCode.BindComplete;
    case 'close': return code === BackendCode.CloseComplete;
    case 'describe': return code === BackendCode.ParameterDescription || code === BackendCode.RowDescription || code === BackendCode.NoData;
    case 'sync': return code === BackendCode.ReadyForQuery;
    case 'execute':
      switch (code) {
        case BackendCode.DataRow: case BackendCode.CommandComplete: case BackendCode.EmptyQueryResponse: case BackendCode.PortalSuspended: case BackendCode.CopyInResponse:
        case BackendCode.CopyOutResponse: case BackendCode.CopyBothResponse: case BackendCode.CopyData: case BackendCode.CopyDone:
          return true;
        default:
          return false;
      }
    case 'query':
      switch (code) {
        case BackendCode.RowDescription: case BackendCode.DataRow: case BackendCode.CommandComplete: case BackendCode.EmptyQueryResponse: case BackendCode.CopyInResponse:
        case BackendCode.CopyOutResponse: case BackendCode.CopyBothResponse: case BackendCode.CopyData: case BackendCode.CopyDone: case BackendCode.ReadyForQuery:
          return true;
        default:
          return false;
      }
    case 'function': return code === BackendCode.FunctionCallResponse || code === BackendCode.ReadyForQuery;
  }
}
