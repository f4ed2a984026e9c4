/**
 * SessionTracker: one per PostgreSQL connection. It follows the protocol documentation's
 * "Message Flow" to turn the framed message stream into query records (one per statement the
 * server executed) and, at close, one session record.
 *
 * Pairing: the server answers requests strictly in order, so every frontend request that
 * expects an answer (Parse, Bind, Describe, Execute, Close, Sync, Query, FunctionCall) goes on
 * a FIFO, and each backend message is folded into the request at its head. That covers
 * pipelining (many Parse/Bind/Execute before one Sync, many Query messages sent without
 * waiting). After an ErrorResponse in the extended protocol the server skips everything up to
 * the next Sync: those requests are reported with `skipped: true`. A backend message the head
 * cannot take (capture began mid-request, lost bytes) is paired with the first request within
 * a short look-ahead that can take it, and the requests jumped over are reported incomplete;
 * with none, it is counted as unpaired and ignored.
 *
 * Records wait for the ReadyForQuery that follows them (outbox.ts), to carry the transaction
 * status after the statement, and while a transaction block is open, for its end (what a
 * rollback undid is marked: transaction.ts); answers completed in one frame form a batch. The simple Query protocol's statements are in simple-query.ts,
 * the start-up and authentication phase in startup.ts.
 */
import type {
  ColumnDescription, DecodedMessage, ErrorFields, RawMessage,
} from '../../dissectors/types.js';
import type { Anomaly } from '../core/anomaly.js';
import { processBudget, type MemoryBudget, type MemoryPool } from '../core/budget.js';
import type { ConnectionEnd, ConnectionInfo } from '../reassembly/types.js';
import { isoTime } from '../core/time.js';
import { Execution } from './execution.js';
import type { CancelLink, CancelSource, CancelTarget, SessionRegistry } from './registry.js';
import type { IncompleteReason, QueryRecord, SessionRecord, TransactionStatus } from './schema.js';
import { SessionInfo } from './session-info.js';
import type { TlsSummary } from '../pg/tls/summary.js';
import { StartupState } from './startup.js';
import { splitSql } from './sql-split.js';
import { BackendCode, FrontendCode, NO_CODE } from './codes.js';
import { bindNames, commandTag, executePortal, parseNames, parseRange, readyStatus, tagRows, targetName } from '../../dissectors/ranges.js';
import { keepBound } from './bound-params.js';
import { Outbox, type ExecutionWriter } from './outbox.js';
import { pieceExec, queryError, queryExec, secondCompletion, skipRest } from './simple-query.js';
import { StatementTable, statementColumns, untypedColumns, withFormats, MAX_STATEMENTS, MAX_STATEMENT_CHARS, type Portal, type PreparedStatement } from './statements.js';
import { RequestQueue, accepts, isSyncPoint, queryRequest, requestBytes, requestTime, MAX_PENDING, type Request } from './request-queue.js';
import { tagFits } from './tag-fit.js';
import type { PoolerLegs, SessionLeg } from './pooler.js';
import type { Direction } from '../core/direction.js';

export type { TlsSummary };

export interface TrackerOptions {
  /** Keep decoded DataRow values in query records (rowValues, capped), instead of counts only. */
  keepRows?: boolean;
  /**
   * 'summary': query records for consumers that aggregate them (stats, checks): Bind parameters
   * are not decoded (params is empty), `time` and `startTime` are empty strings and `columns`
   * is null; every other field is as in 'full' records (the default), which the JSON export,
   * the text view and the TUI need. With keepRows, messages are still decoded in full (kept
   * rows are typed by what Parse, Bind and RowDescription say) and params are kept.
   */
  detail?: 'full' | 'summary';
  /**
   * Summary records (without keepRows) keep each Bind's bytes, decoded only when a consumer asks
   * (bound-params.ts boundParams): the report's slowest executions show their parameters.
   */
  boundBytes?: boolean;
  showSecrets?: boolean;
  registry: SessionRegistry;
  /**
   * Told of protocol violations the session layer sees (a backend response no request asked
   * for), at most MAX_SESSION_ANOMALIES per session; all are counted in the session record.
   */
  anomaly?: (a: Anomaly) => void;
  /**
   * Full records only: finished executions are offered to it first (outbox.ts), and a record
   * object is made only when it declines (the NDJSON export writes them from the execution).
   */
  writeExecution?: ExecutionWriter;
  /** The process-wide memory budget (core/budget.ts); default: processBudget(). */
  budget?: MemoryBudget;
  /** Shared by the analysis' sessions: tells a pooler's server legs from its client legs (pooler.ts). */
  pooler?: PoolerLegs;
}

export type SessionEmit = (r: QueryRecord | SessionRecord) => void;

export { MAX_AWAITING } from './outbox.js';
export const MAX_SESSION_ANOMALIES = 10;
/** A Query string is split into at most this many statements; the rest is reported as one. */
export const MAX_STATEMENTS_PER_QUERY = 10_000;
/** How far past the head a backend message may look for its request (see the file comment). */
const LOOKAHEAD = 64;
/** How many waiting requests a ReadyForQuery after a loss is tested against (see recover()). */
const RECOVERY_SCAN = 1024;
/** lossTags entries for answers that are not CommandComplete tags (a tag never starts with NUL). */
const ERROR_MARK = '\0error';
const EMPTY_MARK = '\0empty';
const SUSPENDED_MARK = '\0suspended';
const FUNCTION_MARK = '\0function';
const NO_TAGS: string[] = [];

/** NoData's columns, shared (records are never mutated by their consumers). */
const NO_COLUMNS: ColumnDescription[] = [];

const EMPTY_ERROR: ErrorFields = { severity: null, severityNonLocalized: null, sqlstate: null, message: null };

/** The decoded message when it is of this type (a Malformed one is not: the tracker ignores it), else null. */
function asType<T extends DecodedMessage['type']>(d: DecodedMessage, type: T): Extract<DecodedMessage, { type: T }> | null {
  return d.type === type ? d as Extract<DecodedMessage, { type: T }> : null;
}

export class SessionTracker implements CancelTarget {
  readonly sessionId: number;
  private readonly conn: ConnectionInfo;
  private readonly emit: SessionEmit;
  private readonly keepRows: boolean;
  /** Summary records without kept rows: messages are not decoded, the few fields those records need are read from the body range (dissectors/ranges.ts). */
  private readonly skipDecoding: boolean;
  /** skipDecoding, and Bind bodies are kept for boundParams (TrackerOptions.boundBytes). */
  private readonly keepBind: boolean;
  private readonly registry: SessionRegistry;
  private readonly onAnomaly: ((a: Anomaly) => void) | null;
  private readonly info = new SessionInfo();
  /**
   * The statement table, the request queue and the outbox are made at their first use (getters
   * below): a session that never gets past its start-up (a flood of StartupMessages, a SYN-only
   * connection ended at capture end) never needs them, and they are a kilobyte of its state.
   */
  private tablePart: StatementTable | null = null;
  private queuePart: RequestQueue | null = null;
  private outboxPart: Outbox | null = null;
  private readonly budget: MemoryBudget;
  private readonly summary: boolean;
  private readonly writer: ExecutionWriter | null;
  /** Kept rows' share of the budget (keepRows). */
  private readonly rowPool: MemoryPool;
  /** The last frame seen, for memory-limit anomalies raised while another session is decoded. */
  private lastFrame = 0;
  private lastTimeUs = 0;
  private readonly startup: StartupState;
  /** After an extended-protocol error, until the frontend's next Sync: the server ignores requests. */
  private skipping = false;
  private lastCompletionUs = 0;
  private copyExec: Execution | null = null;
  /**
   * CopyData the client sent before the server's CopyInResponse (asyncpg sends a binary COPY's
   * rows right after the Query): counted for the latest request, and handed to its COPY when
   * the CopyInResponse comes. The server ignores CopyData outside COPY, so nothing else gets it.
   */
  private early: { req: Request; messages: number; bytes: number } | null = null;
  /** The request and execution the last DataRow or CopyData went to (see message()). */
  private rowReq: Request | null = null;
  private rowExec: Execution | null = null;
  /**
   * This session as a pooler's leg (pooler.ts), made at its first record or request (legFor()):
   * null until then, and without a PoolerLegs. The session is counted for its endpoint at once.
   */
  private legPart: SessionLeg | null = null;
  private readonly pooler: PoolerLegs | null;
  private readonly endpoint: string;
  private backslashEscapes = false;
  /**
   * The last Parse and Bind the server skipped (sent after an error, before the Sync): they
   * change no statement or portal, but the Bind and Execute after them are reported with what
   * they named (their own SQL and parameters, not those of the statement or portal in force).
   */
  private readonly skipped: { stmt: PreparedStatement | null; portal: Portal | null } = { stmt: null, portal: null };
  /** Syncs and Queries the client sent: transaction-end points that portals are dated by. */
  private syncSeq = 0;
  private closed = false;
  /**
   * After a loss (tracker file comment, "After a loss"): pairing is uncertain, every execution
   * that ends is marked incomplete ("gap"), and lossTags collects the answers' tags since the
   * last ReadyForQuery, to find which request group a ReadyForQuery answers (recover()).
   */
  private lossy = false;
  private lossTags: string[] = NO_TAGS;
  /** Of lossTags, those whose Execute was answered and left the queue (tested against its SQL then). */
  private lossConsumed = 0;
  /**
   * What the client was seen to do while pairing was certain: wait for each ReadyForQuery before
   * sending more (waits), or send ahead of it (pipelines). A client that waits and never
   * pipelines is answered for its latest request group, which is what lets pairing resume.
   */
  private waits = false;
  private pipelines = false;
  /**
   * Requests given up before their answers came (budget or MAX_PENDING, see forget()): the
   * ReadyForQuery count the server still owes for the Syncs, Queries and FunctionCalls among
   * them, and whether the last one given up was not one (the rest of its group, up to its Sync,
   * is still queued or still to come). Until both are settled every answer is one of theirs.
   */
  private owedSyncs = 0;
  private owedPartial = false;
  /** Session-layer limits already reported (bits: 1 request queue, 2 statement table, 4 budget, 8 budget on waiting records, 16 on a pooler leg's held records, 32 on its index), and table evictions seen. */
  private limitsReported = 0;
  private evictionsSeen = 0;
  /**
   * The next message holds bytes from a segment with a wrong TCP checksum (unconfirmed()): 1 a
   * frontend one, 2 a backend one, else 0. While such a frontend message is handled,
   * frontendUnconfirmed is set: the requests, statements and portals it makes are marked.
   */
  private unconfirmedNext = 0;
  private frontendUnconfirmed = false;
  /**
   * While a backend message from unconfirmed bytes is handled: a failed Parse, Bind or Describe
   * it reports (no Execute after it), and the records a ReadyForQuery gives their transaction
   * status, are marked.
   */
  private backendUnconfirmed = false;

  constructor(conn: ConnectionInfo, emit: SessionEmit, opts: TrackerOptions) {
    this.conn = conn;
    this.sessionId = conn.id;
    this.emit = emit;
    this.keepRows = opts.keepRows ?? false;
    // Kept rows are typed by the statement's parameter and result formats: with them, messages are read in full.
    this.skipDecoding = opts.detail === 'summary' && !this.keepRows;
    this.keepBind = this.skipDecoding && opts.boundBytes === true;
    this.registry = opts.registry;
    this.onAnomaly = opts.anomaly ?? null;
    const summary = opts.detail === 'summary';
    const writer = summary ? null : opts.writeExecution ?? null;
    this.pooler = opts.pooler ?? null;
    this.endpoint = this.pooler?.opened(conn) ?? '';
    const budget = opts.budget ?? processBudget();
    this.budget = budget;
    this.summary = summary;
    this.writer = writer;
    this.startup = new StartupState(this.info, this.registry, conn.id);
    this.rowPool = budget.rows;
  }

  // The getters are on the per-message path: they hold no closure (a function that makes one
  // allocates its context at every call, made or not), the make* methods below do.
  private get table(): StatementTable {
    return this.tablePart ?? this.makeTable();
  }

  private get queue(): RequestQueue {
    return this.queuePart ?? this.makeQueue();
  }

  private get outbox(): Outbox {
    return this.outboxPart ?? this.makeOutbox();
  }

  private makeTable(): StatementTable {
    return (this.tablePart = new StatementTable(this.budget.session, () => this.givenUp(null)));
  }

  private makeQueue(): RequestQueue {
    return (this.queuePart = new RequestQueue(this.budget.session, (r) => this.givenUp(r)));
  }

  /** The pooler's leg, made now if not yet (null without a PoolerLegs). */
  private legFor(): SessionLeg | null {
    if (this.legPart !== null || this.pooler === null) return this.legPart;
    // Records pass the pooler's leg on their way out (it may mark them, or hold them back until it knows).
    return (this.legPart = this.pooler.leg(this.conn, this.endpoint, (exec, status) => this.writeRecord(exec, status),
      () => this.info.backendPid, this.budget.session, () => this.poolerHeldGivenUp(), () => this.poolerIndexGivenUp()));
  }

  /** A finished execution's record goes out (past the pooler's leg, when there is one). */
  private writeRecord(exec: Execution, status: TransactionStatus | null): void {
    const writer = this.writer;
    if (writer === null || !writer(exec, this.sessionId, status)) this.emit(exec.toRecord(this.sessionId, status, this.summary));
  }

  private makeOutbox(): Outbox {
    const pooler = this.pooler;
    return (this.outboxPart = new Outbox(this.sessionId, this.emit, this.info, this.onAnomaly, this.summary,
      pooler === null ? this.writer : (exec, _s, status) => {
        // Until matching runs (two server endpoints open at once) a leg writes records as they are
        // (SessionLeg.out): none is made for that (about 600 bytes per session of a flood).
        if (this.legPart === null && !pooler.active) this.writeRecord(exec, status);
        else this.legFor()!.out(exec, status);
        return true;
      },
      this.budget.session, () => this.heldGivenUp()));
  }

  // ---- what the dissectors read (DissectContext) ----

  statementParamTypes(name: string): readonly number[] | undefined {
    return this.table.getStatement(name)?.paramTypes ?? undefined;
  }

  resultColumns(): readonly ColumnDescription[] | undefined {
    const n = Math.min(this.queue.size, LOOKAHEAD);
    for (let i = 0; i < n; i++) {
      const r = this.queue.at(i)!;
      if (r.kind === 'query' || r.kind === 'function') return r.exec?.columns ?? undefined;
      if (r.kind !== 'execute') continue;
      if (r.exec.columns !== null || r.portal === undefined) return r.exec.columns ?? undefined;
      // Types unknown: a binary value must not read as text (untypedColumns).
      if (r.untyped === undefined) r.untyped = untypedColumns(r.portal.resultFormats);
      return r.untyped ?? undefined;
    }
    return undefined;
  }

  functionResultFormat(): 'text' | 'binary' | undefined {
    const r = this.queue.peek();
    return r?.kind === 'function' ? r.resultFormat : undefined;
  }

  // ---- input ----

  message(raw: RawMessage, decode: () => DecodedMessage): void {
    if (this.closed) return;
    if (this.unconfirmedNext !== 0) {
      this.unconfirmedMessage(raw, decode);
      return;
    }
    const str = raw.code;
    // The type byte as a number (codes.ts): every switch below is on it.
    const code = str === null ? NO_CODE : str.charCodeAt(0);
    const size = str === null ? raw.length : raw.length + 1;
    this.lastFrame = raw.frame;
    this.lastTimeUs = raw.timeUs;
    const outbox = this.outboxPart;
    if (outbox !== null) {
      if (outbox.deferFrame >= 0) outbox.frameEnded(raw.frame);
      // Records completed by the messages before are charged now, between two messages (outbox.ts);
      // a ReadyForQuery usually sends them out, so it does not charge them first.
      if (code !== BackendCode.ReadyForQuery) outbox.chargeHeld();
    }
    if (raw.dir === 'frontend') {
      this.info.feBytes += size;
      this.info.feMessages++;
      // COPY FROM STDIN sends its rows as CopyData by the million: counted before the dispatch.
      if (code === FrontendCode.CopyData) {
        const c = this.copyExec?.copy;
        if (c) { c.messagesIn++; c.bytesIn += raw.length - 4; } // not raw.body.length: see row()
        else this.copyAhead(raw.length - 4);
        return;
      }
      this.frontend(raw, code, decode);
    } else {
      this.info.beBytes += size;
      this.info.beMessages++;
      const exec = this.rowExec;
      // Rows come by the million: while the request that took the last one is still at the head
      // (and, for a Query, still on the same statement), the next goes to the same execution.
      if ((code === BackendCode.DataRow || code === BackendCode.CopyData) && exec !== null && this.queue.peek() === this.rowReq
        && (this.rowReq.kind !== 'query' || this.rowReq.exec === exec)) {
        this.row(exec, raw, code, decode, size);
        return;
      }
      this.backend(raw, code, decode, size);
    }
  }

  tls(info: TlsSummary): void {
    this.info.setTls(info);
    this.startup.encrypted();
  }

  encryption(kind: 'gss'): void {
    this.info.encryption = kind;
    this.startup.encrypted();
  }

  anomaly(a: Anomaly): void {
    void a;
    this.info.anomalies++;
  }

  /**
   * Bytes of this connection were lost or could not be framed (a reassembly gap, a resync, a
   * damaged or over-long message) in direction `dir`: pairing is uncertain from here.
   */
  lost(dir: Direction): void {
    if (this.closed) return;
    if (dir === 'frontend') this.table.frontendLoss();
    this.enterLossy();
  }

  /**
   * The next message holds bytes of direction `dir` from a segment with a wrong TCP checksum
   * (PgObserver.unconfirmed): the records built from it are marked badChecksum.
   */
  unconfirmed(dir: Direction): void {
    this.unconfirmedNext = dir === 'frontend' ? 1 : 2;
  }

  /**
   * A message from unconfirmed bytes. A request marks what it makes: a Query its statements'
   * records, a Parse its statement and a Bind its portal (and so every execution of them), an
   * Execute or FunctionCall its record, CopyData the COPY's. An answer marks the execution it
   * belongs to: that of the first request waiting with one, up to the request group's Sync; a
   * failed Parse, Bind or Describe reported on its own (failedRequest), and the records a
   * ReadyForQuery gives their transaction status (Outbox.unconfirmedReady), are marked too.
   */
  private unconfirmedMessage(raw: RawMessage, decode: () => DecodedMessage): void {
    const frontend = this.unconfirmedNext === 1;
    this.unconfirmedNext = 0;
    if (frontend) {
      this.frontendUnconfirmed = true;
      this.message(raw, decode);
      this.frontendUnconfirmed = false;
      if (raw.code === 'd' && this.copyExec !== null) this.copyExec.badChecksum = true;
      return;
    }
    const queue = this.queuePart;
    const n = queue === null ? 0 : Math.min(queue.size, LOOKAHEAD);
    for (let i = 0; i < n; i++) {
      const r = queue!.at(i)!;
      if (r.kind === 'sync') break;
      if (r.kind === 'execute' || r.kind === 'function') r.exec.badChecksum = true;
      else if (r.kind === 'query') {
        if (r.exec !== null) r.exec.badChecksum = true;
        else r.answerUnconfirmed = true;
      } else continue;
      break;
    }
    if (raw.code === 'd' && this.copyExec !== null) this.copyExec.badChecksum = true;
    this.backendUnconfirmed = true;
    this.message(raw, decode);
    this.backendUnconfirmed = false;
  }

  close(end: ConnectionEnd): void {
    if (this.closed) return;
    this.closed = true;
    const queue = this.queuePart;
    if (queue !== null) for (let r = queue.shift(); r; r = queue.shift()) this.abandon(r, 'connection-end');
    this.tablePart?.clear();
    // The server ends a session's open transaction with it (not known when only the capture ended).
    this.outboxPart?.flush(end.reason === 'fin' || end.reason === 'rst' || end.reason === 'port-reuse');
    // Nothing of this session is charged any more: the budget's queue must not keep it alive.
    this.queuePart?.retire();
    this.tablePart?.retire();
    this.outboxPart?.retire();
    if (this.info.backendPid !== null && this.info.backendKey !== null) {
      this.registry.unregister(this.info.backendPid, this.info.backendKey, this);
    }
    const rec = this.info.toRecord(this.conn, end);
    if (this.legPart !== null) this.legPart.close(rec);
    else this.pooler?.closed(this.endpoint);
    this.emit(rec);
  }

  /** CancelTarget: a CancelRequest with this session's key arrived. */
  cancelledBy(from: CancelSource): CancelLink['query'] {
    const exec = this.runningExec(true);
    if (!exec) return null;
    exec.cancelledBy = { session: from.session, frame: from.frame, time: isoTime(from.timeUs) };
    return { sql: exec.sql, firstFrame: exec.firstFrame };
  }

  // ---- frontend ----

  private frontend(raw: RawMessage, code: number, decode: () => DecodedMessage): void {
    switch (code) {
      case NO_CODE: return this.startup.frontend(raw, decode());
      case FrontendCode.Query: {
        const d = decode();
        if (d.type === 'Query') this.query(raw, d.query);
        return;
      }
      case FrontendCode.Parse: {
        // Summary records need no parameter types (unless they keep Bind bytes to decode later, bound-params.ts):
        // the names are read from the range (dissectors/ranges.ts).
        const p = !this.skipDecoding ? asType(decode(), 'Parse')
          : this.keepBind ? parseRange(raw.source, raw.bodyStart, raw.bodyEnd) : parseNames(raw.source, raw.bodyStart, raw.bodyEnd);
        if (p === null) return;
        const stmt: PreparedStatement = { name: p.statement, sql: p.query, paramTypes: p.paramTypes, columns: null, parsedSinceExec: true };
        if (this.frontendUnconfirmed) stmt.unconfirmed = true;
        if (this.skipping) {
          this.skipped.stmt = stmt;
          return;
        }
        const prev = this.table.putStatement(stmt);
        this.push({ kind: 'parse', stmt, prev, timeUs: raw.timeUs, frame: raw.firstFrame }, raw);
        return;
      }
      case FrontendCode.Bind: {
        // Summary records leave the values out, and decoding them is most of what a Bind costs.
        const b = this.skipDecoding ? bindNames(raw.source, raw.bodyStart, raw.bodyEnd) : asType(decode(), 'Bind');
        if (b === null) return;
        const statement = this.skipping ? this.skippedStatement(b.statement) : this.table.statementOrUnknown(b.statement);
        const portal: Portal = {
          name: b.portal, epoch: this.syncSeq, statement, params: b.params,
          resultFormats: b.resultFormats, columns: null,
        };
        if (statement.uncertain === true) portal.uncertain = true;
        if (this.frontendUnconfirmed || statement.unconfirmed === true) portal.unconfirmed = true;
        if (this.keepBind) portal.bound = keepBound(raw.source, raw.bodyStart, raw.bodyEnd, statement.paramTypes);
        if (this.skipping) {
          this.skipped.portal = portal;
          return;
        }
        const prev = this.table.putPortal(portal);
        this.push({ kind: 'bind', portal, prev, timeUs: raw.timeUs, frame: raw.firstFrame }, raw);
        return;
      }
      case FrontendCode.Describe: {
        const d = targetName(raw.source, raw.bodyStart, raw.bodyEnd);
        if (d === null || this.skipping) return;
        const stmt = d.target === 'statement' ? this.table.getStatement(d.name) : undefined;
        const portal = d.target === 'portal' ? this.table.getPortal(d.name) : undefined;
        this.push({ kind: 'describe', target: d.target, name: d.name, stmt, portal, timeUs: raw.timeUs, frame: raw.firstFrame }, raw);
        return;
      }
      case FrontendCode.Execute: {
        const portal = executePortal(raw.source, raw.bodyStart, raw.bodyEnd);
        if (portal !== null) this.execute(raw, portal);
        return;
      }
      case FrontendCode.Close: {
        const d = decode();
        if (d.type !== 'Close' || this.skipping) return;
        if (d.target === 'statement') this.table.closeStatement(d.name);
        else this.table.closePortal(d.name);
        this.push({ kind: 'close', timeUs: raw.timeUs }, raw);
        return;
      }
      case FrontendCode.Sync:
        this.endSkipping();
        this.push({ kind: 'sync', seq: ++this.syncSeq, timeUs: raw.timeUs }, raw);
        return;
      case FrontendCode.FunctionCall: {
        const d = decode();
        if (d.type !== 'FunctionCall') return;
        const exec = new Execution('function', null, raw.firstFrame, raw.timeUs);
        exec.isFunction = true;
        exec.functionOid = d.functionOid;
        exec.params = d.args;
        if (this.frontendUnconfirmed) exec.badChecksum = true;
        if (this.skipping) return this.outbox.skip(exec);
        this.push({ kind: 'function', exec, seq: ++this.syncSeq, resultFormat: d.resultFormat }, raw);
        return;
      }
      case FrontendCode.CopyFail: {
        const c = this.copyExec?.copy;
        if (c) {
          const d = decode();
          c.failed = d.type === 'CopyFail' ? d.message : '';
        }
        return;
      }
      case FrontendCode.PasswordMessage:
        this.startup.authResponse(decode());
        return;
      case FrontendCode.Terminate:
        this.info.terminated = true;
        return;
      default:
        return; // Flush, CopyDone and others need no bookkeeping
    }
  }

  private query(raw: RawMessage, sql: string): void {
    const seq = ++this.syncSeq;
    // A string without `;` is one statement (or none): it waits in the queue as a few numbers
    // (RequestQueue.pushQuery), unless something must be kept on its request object.
    const plain = !this.skipping && !this.frontendUnconfirmed && sql.indexOf(';') < 0 && this.pooler?.active !== true;
    const q = plain ? null : queryRequest(sql, splitSql(sql, this.backslashEscapes, MAX_STATEMENTS_PER_QUERY), raw.firstFrame, raw.timeUs, seq);
    if (q !== null && this.frontendUnconfirmed) q.unconfirmed = true;
    if (q !== null && this.skipping) {
      skipRest(this.outbox, q);
      return;
    }
    // "A simple Query message also destroys the unnamed statement" (and the unnamed portal).
    this.table.closeStatement('');
    this.table.closePortal('');
    if (q !== null) this.push(q, raw);
    else this.pushed(this.queue.pushQuery(sql, raw.firstFrame, raw.timeUs, seq, raw.length), raw);
  }

  private execute(raw: RawMessage, portalName: string): void {
    const sp = this.skipping ? this.skipped.portal : null;
    const portal = sp !== null && sp.name === portalName ? sp : this.table.getPortal(portalName);
    const exec = new Execution('extended', null, raw.firstFrame, raw.timeUs);
    exec.portal = portalName;
    if (this.frontendUnconfirmed || portal?.unconfirmed === true) exec.badChecksum = true;
    if (portal === undefined) {
      // Bound before the capture began, or by a Bind lost (or forgotten) since.
      if (this.table.frontendLost) exec.markIncomplete('gap');
      else if (this.table.forgotten) exec.markIncomplete('limit');
    } else {
      if (portal.uncertain === true) exec.markIncomplete('gap');
      const stmt = portal.statement;
      if (stmt.sql === null && this.table.forgotten) exec.markIncomplete('limit');
      exec.sql = stmt.sql;
      exec.statement = stmt.name;
      exec.params = portal.params;
      if (portal.bound !== undefined) exec.bound = portal.bound;
      exec.columns = portal.columns ?? withFormats(stmt.columns, portal.resultFormats);
      if (!this.skipping) {
        exec.parsed = stmt.parsedSinceExec;
        stmt.parsedSinceExec = false;
      }
    }
    if (this.skipping) return this.outbox.skip(exec);
    this.push({ kind: 'execute', exec, portal }, raw);
  }

  // ---- backend ----

  private backend(raw: RawMessage, code: number, decode: () => DecodedMessage, size: number): void {
    if ((this.owedSyncs > 0 || this.owedPartial) && this.owedAnswer(raw, code, decode)) return;
    switch (code) {
      case NO_CODE: return this.startup.encryptionAnswer(decode());
      case BackendCode.Authentication: return this.startup.authentication(decode());
      case BackendCode.BackendKeyData: return this.backendKeyData(decode);
      case BackendCode.ParameterStatus: return this.parameterStatus(decode);
      case BackendCode.NegotiateProtocolVersion: {
        const d = decode();
        if (d.type === 'NegotiateProtocolVersion') this.info.protocolVersion = '3.' + d.newestMinor;
        return;
      }
      case BackendCode.NotificationResponse:
        this.info.notifications++;
        return;
      case BackendCode.ReadyForQuery: return this.readyForQuery(raw, readyStatus(raw.source, raw.bodyStart, raw.bodyEnd));
      case BackendCode.ErrorResponse: return this.errorResponse(raw, decode());
      case BackendCode.NoticeResponse: return this.noticeResponse(decode);
      default:
        return this.response(raw, code, decode, size);
    }
  }

  /** BackendKeyData: the session's cancel key, registered so that a CancelRequest finds it. */
  private backendKeyData(decode: () => DecodedMessage): void {
    const d = decode();
    if (d.type !== 'BackendKeyData') return;
    this.info.backendPid = d.processId;
    this.info.backendKey = d.secretKey;
    this.registry.register(d.processId, d.secretKey, this);
  }

  /** ParameterStatus: kept for the session record; standard_conforming_strings decides how Query strings split (sql-split.ts). */
  private parameterStatus(decode: () => DecodedMessage): void {
    const d = decode();
    if (d.type !== 'ParameterStatus') return;
    this.info.parameterStatus(d.name, d.value);
    if (d.name === 'standard_conforming_strings') this.backslashEscapes = d.value === 'off';
  }

  /** NoticeResponse: a notice of the statement running, if one is. */
  private noticeResponse(decode: () => DecodedMessage): void {
    const d = decode();
    if (d.type !== 'NoticeResponse') return;
    const exec = this.runningExec(true);
    if (exec) exec.notice(d.fields);
  }

  /**
   * Responses that belong to the request at the head of the FIFO: the switch only sorts them by
   * what they answer, each group's work is a small method below (small enough for V8 to inline;
   * the DataRows after a result's first skip all this, see message()).
   */
  private response(raw: RawMessage, code: number, decode: () => DecodedMessage, size: number): void {
    const req = this.headFor(code, raw.timeUs);
    if (!req) {
      this.unpaired(raw);
      return;
    }
    switch (code) {
      case BackendCode.ParseComplete: case BackendCode.BindComplete: case BackendCode.CloseComplete:
        return this.acknowledged(code);
      case BackendCode.ParameterDescription: return this.parameterDescription(req, decode);
      case BackendCode.RowDescription: case BackendCode.NoData: return this.rowDescription(req, raw, code, decode);
      case BackendCode.DataRow: case BackendCode.CopyData: return this.firstRow(req, raw, code, decode, size);
      case BackendCode.CommandComplete: case BackendCode.EmptyQueryResponse: case BackendCode.PortalSuspended:
        return this.completion(req, raw, code, decode);
      case BackendCode.CopyInResponse: case BackendCode.CopyOutResponse: case BackendCode.CopyBothResponse:
        return this.copyResponse(req, raw, code, decode);
      case BackendCode.CopyDone: return;
      case BackendCode.FunctionCallResponse: return this.functionCallResponse(req, raw, decode);
      default: return this.unpaired(raw);
    }
  }

  /**
   * ParseComplete, BindComplete, CloseComplete: the request is answered. They (and Describe's
   * answers) do not move lastCompletionUs: the server holds them in its output buffer until Sync
   * or Flush, so their frame says nothing about when the next Execute began.
   */
  private acknowledged(code: number): void {
    // A CloseComplete while pairing is uncertain may answer a Close the capture lost.
    if (code === BackendCode.CloseComplete && this.lossy && this.table.frontendLost) this.table.closedUnseen();
    this.queue.shift();
  }

  /** A Describe (statement)'s parameter types, kept only where they can end up somewhere (full records, or bound parameters kept). */
  private parameterDescription(req: Request, decode: () => DecodedMessage): void {
    if ((this.skipDecoding && !this.keepBind) || req.kind !== 'describe' || req.target !== 'statement') return;
    const d = decode();
    if (d.type === 'ParameterDescription') (req.stmt ?? this.table.statementOrUnknown(req.name)).paramTypes = d.paramTypes;
  }

  /** RowDescription or NoData: the columns of a Describe's statement or portal, or of a simple Query's current statement. */
  private rowDescription(req: Request, raw: RawMessage, code: number, decode: () => DecodedMessage): void {
    // NoData: no columns, whatever its body. A RowDescription is only decoded when its columns
    // can end up somewhere: full records, or rows kept (their values are typed by it).
    let cols: ColumnDescription[] | null = null;
    if (code === BackendCode.NoData) cols = NO_COLUMNS;
    else if (!this.skipDecoding) {
      const d = decode();
      if (d.type === 'RowDescription') cols = d.fields;
    }
    if (req.kind === 'describe') {
      if (req.target === 'statement') this.describedStatement(req.stmt ?? this.table.statementOrUnknown(req.name), cols);
      else this.describedPortal(req.portal ?? this.table.getPortal(req.name), req.name, cols);
      this.queue.shift();
    } else if (req.kind === 'query') {
      const exec = queryExec(req);
      this.touch(exec, raw);
      exec.columns = cols;
    }
  }

  private describedStatement(stmt: PreparedStatement, cols: ColumnDescription[] | null): void {
    stmt.columns = cols;
    // Describe (statement) travels with Bind and Execute too (postgres.js sends Parse,
    // Describe, Bind, Execute, Sync at once): their Executes were queued without columns.
    const n = Math.min(this.queue.size, LOOKAHEAD);
    for (let i = 1; i < n; i++) {
      const r = this.queue.at(i)!;
      if (r.kind === 'execute' && r.exec.columns === null && r.portal?.statement === stmt) {
        r.exec.columns = withFormats(cols, r.portal.resultFormats);
      }
    }
  }

  private describedPortal(p: Portal | undefined, name: string, cols: ColumnDescription[] | null): void {
    if (p) {
      p.columns = cols;
      // The statement's columns too: a later Bind of it without a Describe (pgJDBC) is typed by them.
      if (p.statement.columns === null) p.statement.columns = statementColumns(cols);
    }
    // Describe (portal) usually travels with its Execute, which was queued before the
    // answer came: hand the columns on to it.
    const n = Math.min(this.queue.size, LOOKAHEAD);
    for (let i = 1; i < n; i++) {
      const r = this.queue.at(i)!;
      if (r.kind === 'execute' && r.exec.portal === name && r.exec.columns === null) r.exec.columns = cols;
      if (r.kind === 'bind' && r.portal.name === name) break;
    }
  }

  /** The first DataRow or CopyData of a result: it starts the clock, and the rows after it go straight to row() (message()). */
  private firstRow(req: Request, raw: RawMessage, code: number, decode: () => DecodedMessage, size: number): void {
    const exec = req.kind === 'query' ? queryExec(req) : req.kind === 'execute' ? req.exec : null;
    if (!exec) return;
    this.touch(exec, raw);
    this.rowReq = req;
    this.rowExec = exec;
    this.row(exec, raw, code, decode, size);
  }

  /** CommandComplete, EmptyQueryResponse, PortalSuspended: a statement's result ends, and its record is made. */
  private completion(req: Request, raw: RawMessage, code: number, decode: () => DecodedMessage): void {
    const t = raw.timeUs;
    if (req.kind === 'query' && secondCompletion(this.outbox, req, raw, code, decode)) {
      this.lastCompletionUs = t;
      return;
    }
    // Read from the bytes in every mode: the tag and its row count are what the dissector would give.
    const tag = code !== BackendCode.CommandComplete ? null : commandTag(raw.source, raw.bodyStart, raw.bodyEnd);
    if (this.lossy) this.lossTags.push(tag ?? (code === BackendCode.EmptyQueryResponse ? EMPTY_MARK : code === BackendCode.PortalSuspended ? SUSPENDED_MARK : ''));
    const exec = req.kind === 'query' ? queryExec(req) : req.kind === 'execute' ? req.exec : null;
    if (!exec) return;
    if (tag !== null) {
      exec.command = tag;
      exec.tagRows = tagRows(tag);
      // A tag that cannot answer this statement: the answers are not this request's.
      if (!tagFits(exec.sql, tag)) {
        this.enterLossy();
        exec.markIncomplete('gap');
      }
    } else if (code === BackendCode.PortalSuspended) exec.suspended = true;
    exec.lastFrame = raw.frame;
    exec.finish(raw.frame, t, this.lastCompletionUs);
    this.complete(exec);
    if (req.kind === 'query') {
      req.last = exec;
      req.exec = null;
      req.index++;
    } else {
      this.queue.shift();
      if (this.lossy) this.lossConsumed++;
    }
    this.lastCompletionUs = t;
  }

  /** CopyInResponse, CopyOutResponse, CopyBothResponse: the statement's COPY begins (with the CopyData the client sent ahead of it). */
  private copyResponse(req: Request, raw: RawMessage, code: number, decode: () => DecodedMessage): void {
    const exec = req.kind === 'query' ? queryExec(req) : req.kind === 'execute' ? req.exec : null;
    if (!exec) return;
    this.touch(exec, raw);
    const d = decode();
    const format = 'format' in d && d.format === 'binary' ? 'binary' : 'text';
    exec.copy = {
      direction: code === BackendCode.CopyInResponse ? 'in' : code === BackendCode.CopyOutResponse ? 'out' : 'both', format,
      messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0, failed: null,
    };
    if (this.early !== null && this.early.req === req && code !== BackendCode.CopyOutResponse) {
      exec.copy.messagesIn = this.early.messages;
      exec.copy.bytesIn = this.early.bytes;
      this.early = null;
    }
    this.copyExec = exec;
  }

  /** A FunctionCall's result: its record ends here (the ReadyForQuery after it closes the request). */
  private functionCallResponse(req: Request, raw: RawMessage, decode: () => DecodedMessage): void {
    const t = raw.timeUs;
    if (this.lossy) this.lossTags.push(FUNCTION_MARK);
    if (req.kind !== 'function') return;
    const d = decode();
    if (d.type === 'FunctionCallResponse') req.exec.functionResult = d.result;
    req.exec.finish(raw.frame, t, this.lastCompletionUs);
    this.complete(req.exec);
    this.lastCompletionUs = t;
  }

  /** A DataRow or a CopyData of the result `exec` is collecting (its clock already started). */
  private row(exec: Execution, raw: RawMessage, code: number, decode: () => DecodedMessage, size: number): void {
    const t = raw.timeUs;
    exec.lastFrame = raw.frame;
    if (code === BackendCode.DataRow) {
      exec.dataRow(size, t);
      if (this.keepRows) {
        const d = decode();
        if (d.type === 'DataRow') exec.keepRow(d.values, raw.frame, t, size, this.rowPool);
      }
      return;
    }
    if (exec.firstRowUs < 0) exec.firstRowUs = t;
    // A typed message's body is its length field less the field itself: reading `body` would
    // make a Buffer view of each of what may be millions of CopyData messages.
    exec.bytesReturned += raw.length - 4;
    if (exec.copy) { exec.copy.messagesOut++; exec.copy.bytesOut += raw.length - 4; }
  }

  /** `status`: null when the message is malformed (it still closes the request it answers). */
  private readyForQuery(raw: RawMessage, status: TransactionStatus | null): void {
    const t = raw.timeUs;
    this.startup.ready();
    if (this.lossy) this.recover(t);
    const req = this.headFor(BackendCode.ReadyForQuery, t);
    // The rows' fast path ends with its request: kept past it, an idle session would hold the
    // last request's SQL and execution, outside every budget share (issue 19).
    this.rowReq = null;
    this.rowExec = null;
    let epoch = this.syncSeq + 1;
    if (req) {
      if (req.kind === 'sync' || req.kind === 'query' || req.kind === 'function') epoch = req.seq;
      this.queue.shift();
      if (req.kind === 'query') {
        if (req.exec && !req.exec.done) {
          this.abandonExec(req.exec, 'gap');
          req.exec = null;
          req.index++;
        }
        if (req.failed) skipRest(this.outbox, req);
        else {
          // Statements the server never answered: their answers were lost (or not this Query's).
          for (const count = Math.max(1, req.pieces.length); req.index < count; req.index++) this.abandonExec(pieceExec(req, req.index), 'gap');
        }
      } else if (req.kind === 'function' && !req.exec.done) {
        this.abandonExec(req.exec, 'gap');
      }
    }
    if (!this.lossy) {
      // What the client does while pairing is certain (see `waits`).
      const next = this.queue.peek();
      if (next === undefined) this.waits = true;
      else if (requestTime(next) < t) this.pipelines = true;
    }
    // A ReadyForQuery always means the server is past any error-skipping.
    this.endSkipping();
    this.copyExec = null;
    this.lastCompletionUs = t;
    // A message after it in this segment (answers of the next request group coalesced into the
    // same frame) may complete in this frame too: its batch would hold these (outbox deferFrame).
    // The source may run past the segment (a link-layer trailer): a message is at least 5 bytes
    // and starts with a type byte, padding with zeros.
    const src = raw.source;
    const more = src.length - raw.bodyEnd >= 5 && src[raw.bodyEnd]! >= 0x31 && src[raw.bodyEnd]! <= 0x7a;
    if (this.backendUnconfirmed) this.outbox.unconfirmedReady();
    this.outbox.ready(status, more ? raw.frame : -1);
    if (status === 'idle') this.table.endTransaction(epoch);
    // Records kept for an open block are charged now, not at the session's next message: an idle
    // session would hold its last record uncharged for the rest of the capture (issue 19: 1,000
    // sessions, 16 MB outside the share). The tracker is done with this message.
    this.outbox.chargeHeld();
  }

  private errorResponse(raw: RawMessage, d: DecodedMessage): void {
    const fields = d.type === 'ErrorResponse' ? d.fields : EMPTY_ERROR;
    const t = raw.timeUs;
    const severity = fields.severityNonLocalized ?? fields.severity;
    if (this.startup.error(fields)) return;
    // Whatever it answers, an error aborts the transaction open on the server (transaction.ts).
    this.outbox.error();
    if (severity === 'FATAL' || severity === 'PANIC') this.info.fatal = fields;
    if (this.lossy) {
      this.lossTags.push(ERROR_MARK);
      this.jumpToLatest(t);
    }
    const req = this.queue.peek();
    if (req !== undefined && requestTime(req) > t) {
      // Older than every request waiting: it answers one the capture lost.
      this.info.errors++;
      this.unpaired(raw);
      return;
    }
    if (!req || req.kind === 'sync') {
      // e.g. a deferred constraint failing at the implicit commit of Sync, or a FATAL when idle
      this.info.errors++;
      return;
    }
    this.copyExec = null;
    switch (req.kind) {
      case 'query': {
        queryError(this.outbox, req, fields, raw, this.lastCompletionUs);
        break;
      }
      case 'function':
        req.exec.error = fields;
        req.exec.finish(raw.frame, t, this.lastCompletionUs);
        this.complete(req.exec);
        break;
      default: {
        this.queue.shift();
        // The error is the query's: when Parse, Bind or Describe failed, the Execute that
        // followed them (before Sync) is the statement that failed, not one that was skipped.
        let failed = req.kind === 'execute' ? req.exec : null;
        if (!failed) this.undo(req);
        const phase = req.kind === 'parse' || req.kind === 'bind' || req.kind === 'describe' ? req.kind : 'execute';
        const fail = (exec: Execution): void => {
          exec.error = fields;
          exec.errorPhase = phase;
          exec.finish(raw.frame, t, this.lastCompletionUs);
          this.complete(exec);
        };
        if (failed) fail(failed);
        // The server now discards messages until Sync.
        let next = this.queue.peek();
        while (next && next.kind !== 'sync') {
          this.queue.shift();
          if (!failed && next.kind === 'execute') {
            failed = next.exec;
            fail(failed);
          } else {
            this.abandon(next, 'skipped');
          }
          next = this.queue.peek();
        }
        // No Execute followed (a driver preparing: Parse, Describe, Flush or Sync): the failed
        // request is the record, with the statement's SQL.
        if (!failed && phase !== 'execute') fail(this.failedRequest(req, raw));
        else if (!failed && req.kind !== 'close') this.info.errors++;
        if (!next) this.skipping = true;
      }
    }
    this.lastCompletionUs = t;
  }

  // ---- helpers ----

  private endSkipping(): void {
    this.skipping = false;
    this.skipped.stmt = null;
    this.skipped.portal = null;
  }

  /** What a Bind the server skips names: a statement parsed (and skipped) just before, or one in force. */
  private skippedStatement(name: string): PreparedStatement {
    const s = this.skipped.stmt;
    if (s !== null && s.name === name) return s;
    return this.table.getStatement(name) ?? { name, sql: null, paramTypes: null, columns: null, parsedSinceExec: false, uncertain: this.table.frontendLost };
  }

  /** A CopyData before its CopyInResponse (see `early`). */
  private copyAhead(bytes: number): void {
    const req = this.queue.at(this.queue.size - 1);
    if (req === undefined || (req.kind !== 'query' && req.kind !== 'execute')) return;
    if (this.early === null || this.early.req !== req) this.early = { req, messages: 0, bytes: 0 };
    this.early.messages++;
    this.early.bytes += bytes;
  }

  /** The execution a failed Parse, Bind or Describe is reported as (no Execute followed it). */
  private failedRequest(req: Request, raw: RawMessage): Execution {
    let stmt: PreparedStatement | undefined;
    let portal: string | null = null;
    if (req.kind === 'parse') stmt = req.stmt;
    else if (req.kind === 'bind') { stmt = req.portal.statement; portal = req.portal.name; }
    else if (req.kind === 'describe') {
      if (req.target === 'statement') stmt = this.table.getStatement(req.name);
      else { portal = req.name; stmt = this.table.getPortal(req.name)?.statement; }
    }
    const exec = new Execution('extended', stmt?.sql ?? null, req.kind === 'parse' || req.kind === 'bind' || req.kind === 'describe' ? req.frame : raw.frame, requestTime(req));
    exec.statement = stmt?.name ?? null;
    exec.portal = portal;
    if (req.kind === 'parse') exec.parsed = true;
    if (req.kind === 'bind') {
      exec.params = req.portal.params;
      if (req.portal.bound !== undefined) exec.bound = req.portal.bound;
    }
    if (exec.sql === null && this.table.forgotten) exec.markIncomplete('limit');
    // Its error, its statement or its portal came from unconfirmed bytes (unconfirmedMessage).
    if (this.backendUnconfirmed || stmt?.unconfirmed === true || (req.kind === 'bind' && req.portal.unconfirmed === true)) exec.badChecksum = true;
    return exec;
  }

  private unpaired(raw: RawMessage): void {
    // An answer with no request: something before it was lost or is not where we think it is.
    this.enterLossy();
    if (raw.code === '3') this.table.closedUnseen();
    if (this.info.unpaired++ >= MAX_SESSION_ANOMALIES || !this.onAnomaly) return;
    this.onAnomaly({
      code: 'protocol-violation', reason: `backend message '${raw.code ?? '?'}' answers no request seen on this connection`,
      frame: raw.frame, timeUs: raw.timeUs, session: this.sessionId, dir: 'backend',
    });
  }

  private push(r: Request, raw: RawMessage): void {
    const dropped = this.queue.push(r, requestBytes(r, raw.length));
    // Indexed only once matching runs (SessionLeg.request): no leg is made for it before.
    if (this.pooler?.active === true) this.legFor()!.request(r);
    this.pushed(dropped, raw);
  }

  /** After a push: the request it pushed out (MAX_PENDING), and statements the table evicted, are reported. */
  private pushed(dropped: Request | undefined, raw: RawMessage): void {
    if (dropped) {
      this.forget(dropped);
      this.limit('request-limit', `more than ${MAX_PENDING} requests waiting for an answer: the oldest are reported incomplete`, raw);
    }
    if (this.table.evictions !== this.evictionsSeen) {
      this.evictionsSeen = this.table.evictions;
      this.limit('statement-limit', `prepared statements or portals past ${MAX_STATEMENTS} each (or ${MAX_STATEMENT_CHARS / 1048576} MiB of SQL): the oldest forgotten, later uses read as prepared before the capture`, raw);
    }
  }

  /** A session-layer bound was reached: reported once per session and kind (a flood would say nothing more). */
  private limit(code: 'request-limit' | 'statement-limit' | 'memory-limit', reason: string, raw: { frame: number; timeUs: number }, kind = 0): void {
    const bit = kind !== 0 ? kind : code === 'request-limit' ? 1 : code === 'statement-limit' ? 2 : 4;
    if ((this.limitsReported & bit) !== 0) return;
    this.limitsReported |= bit;
    this.info.anomalies++;
    this.onAnomaly?.({ code, reason, frame: raw.frame, timeUs: raw.timeUs, session: this.sessionId, dir: 'frontend' });
  }

  /**
   * The process-wide session budget took a pending request (r) or a statement or portal (null)
   * of this session away, the oldest of all sessions'. A request is reported incomplete at
   * once (its record and those waiting with it go out without a transaction status: records
   * waiting here would hold memory the budget does not count).
   */
  private givenUp(r: Request | null): void {
    if (r !== null) {
      this.forget(r);
      this.outbox.flush(false);
    }
    this.limit('memory-limit', 'the memory budget for pending requests, statements and portals over all sessions is spent (--memory-limit): '
      + 'the oldest were given up (requests reported incomplete, statements read as prepared before the capture)', { frame: this.lastFrame, timeUs: this.lastTimeUs });
  }

  /** The budget sent waiting records of this session out before their transaction ended (outbox.ts). */
  private poolerHeldGivenUp(): void {
    this.limit('memory-limit', 'the memory budget over all sessions is spent (--memory-limit): query records held back to tell a pooler\'s '
      + 'server legs from its client legs were written before that was known (this session is taken for a direct one)', { frame: this.lastFrame, timeUs: this.lastTimeUs }, 16);
  }

  private poolerIndexGivenUp(): void {
    this.limit('memory-limit', 'the memory budget over all sessions is spent (--memory-limit): the oldest requests and server-leg records kept to '
      + 'tell a pooler\'s server legs from its client legs were forgotten (a statement run through the pooler may go unlinked and count twice)', { frame: this.lastFrame, timeUs: this.lastTimeUs }, 32);
  }

  private heldGivenUp(): void {
    this.limit('memory-limit', 'the memory budget over all sessions is spent (--memory-limit): the oldest query records waiting for the end '
      + 'of their transaction were written early, rollbackUnknown', { frame: this.lastFrame, timeUs: this.lastTimeUs }, 8);
  }

  /**
   * A request left the queue unanswered (given up by the budget, or pushed out by MAX_PENDING):
   * reported incomplete, and its answers, still to come, must not pair with the requests after
   * it. The server answers every Sync, Query and FunctionCall with one ReadyForQuery, so counting
   * them tells where its answers end (owedAnswer).
   */
  private forget(r: Request): void {
    this.abandon(r, 'limit');
    if (isSyncPoint(r)) {
      this.owedSyncs++;
      this.owedPartial = false;
    } else this.owedPartial = true;
    this.rowReq = null;
    this.rowExec = null;
    this.copyExec = null;
  }

  /**
   * A backend message while answers of forgotten requests are owed (see owedSyncs): true when it
   * is one of theirs (dropped; a ReadyForQuery settles one of them), false when it answers no
   * request (ParameterStatus, NotificationResponse, ...) and is handled as usual.
   */
  private owedAnswer(raw: RawMessage, code: number, decode: () => DecodedMessage): boolean {
    switch (code) {
      case BackendCode.ReadyForQuery: {
        if (this.owedSyncs > 0) this.owedSyncs--;
        else {
          // It answers the Sync ending the group a forgotten request began: that group's
          // requests still queued get no answer of their own.
          this.owedPartial = false;
          const n = this.queue.size;
          let end = -1;
          for (let i = 0; i < n; i++) if (isSyncPoint(this.queue.at(i)!)) { end = i; break; }
          if (end < 0 || requestTime(this.queue.at(end)!) > raw.timeUs) {
            // No Sync was sent before it: the pairing cannot be trusted.
            this.enterLossy();
            end = -1;
          }
          for (let k = 0; k <= end; k++) this.abandon(this.queue.shift()!, 'limit');
        }
        this.endSkipping();
        this.copyExec = null;
        this.lastCompletionUs = raw.timeUs;
        if (this.backendUnconfirmed) this.outbox.unconfirmedReady();
        this.outbox.ready(readyStatus(raw.source, raw.bodyStart, raw.bodyEnd));
        return true;
      }
      case BackendCode.ErrorResponse: {
        const d = decode();
        this.outbox.error();
        if (d.type === 'ErrorResponse') {
          const severity = d.fields.severityNonLocalized ?? d.fields.severity;
          if (severity === 'FATAL' || severity === 'PANIC') this.info.fatal = d.fields;
        }
        return true;
      }
      case BackendCode.ParseComplete: case BackendCode.BindComplete: case BackendCode.CloseComplete: case BackendCode.ParameterDescription: case BackendCode.RowDescription:
      case BackendCode.NoData: case BackendCode.DataRow: case BackendCode.CommandComplete: case BackendCode.EmptyQueryResponse: case BackendCode.PortalSuspended:
      case BackendCode.CopyInResponse: case BackendCode.CopyOutResponse: case BackendCode.CopyBothResponse: case BackendCode.CopyData: case BackendCode.CopyDone:
      case BackendCode.FunctionCallResponse: case BackendCode.NoticeResponse:
        return true;
      default:
        return false;
    }
  }

  /** The request this backend message (at time t) answers: the head, or within LOOKAHEAD when the head cannot take it. */
  private headFor(code: number, t: number): Request | null {
    // An answer cannot come before its request: one older than every request waiting answers
    // one the capture lost (or held back behind a hole, and delivered later).
    const head = this.queue.peek();
    if (head !== undefined && requestTime(head) > t) return null;
    if (this.lossy) this.jumpToLatest(t);
    const n = Math.min(this.queue.size, LOOKAHEAD);
    for (let i = 0; i < n; i++) {
      const r = this.queue.at(i)!;
      if (accepts(r, code)) {
        if (i > 0) this.enterLossy();
        for (let k = 0; k < i; k++) this.abandon(this.queue.shift()!, 'gap');
        return r;
      }
    }
    return null;
  }

  // ---- after a loss ----

  /** Pairing is uncertain from here (see `lossy`). */
  private enterLossy(): void {
    if (!this.lossy) {
      this.lossy = true;
      this.outbox.lossy = true;
    }
    // The answers already counted for the group in progress may have lost some: it cannot anchor.
    this.lossTags = [];
    this.lossConsumed = 0;
    this.outbox.markWaiting();
    // DataRows go through the slow path again (jumpToLatest may move the head).
    this.rowReq = null;
    this.rowExec = null;
  }

  /**
   * A client that waits for each ReadyForQuery (and was never seen to send ahead of one) has
   * one request group outstanding: the latest it sent before time t. What came before it was
   * answered, in bytes the capture lost or before the requests were seen (a hole in the
   * frontend direction holds the requests after it back until it is given up).
   */
  private jumpToLatest(t: number): void {
    if (!this.waits || this.pipelines) return;
    const n = Math.min(this.queue.size, RECOVERY_SCAN);
    let m = -1;
    for (let i = 0; i < n; i++) {
      if (requestTime(this.queue.at(i)!) > t) break;
      m = i;
    }
    let start = 0;
    for (let i = m - 1; i >= 0; i--) {
      if (isSyncPoint(this.queue.at(i)!)) { start = i + 1; break; }
    }
    for (let k = 0; k < start; k++) this.abandon(this.queue.shift()!, 'gap');
  }

  /**
   * A ReadyForQuery while pairing is uncertain: it answers one of the Syncs, Queries or
   * FunctionCalls sent before it (time t). When exactly one of those request groups fits the
   * answers seen since the last ReadyForQuery (lossTags: as many results as statements, each
   * tag one the statement can give, an error only last), or the client waits and its latest
   * group fits, that is the one: the requests before it are reported incomplete and pairing is
   * certain again from the next request on.
   */
  private recover(t: number): void {
    const tags = this.lossTags;
    const consumed = this.lossConsumed;
    this.lossTags = [];
    this.lossConsumed = 0;
    const latestOnly = this.waits && !this.pipelines;
    const n = Math.min(this.queue.size, RECOVERY_SCAN);
    let start = 0;
    let found = -1;
    let fits = 0;
    for (let i = 0; i < n; i++) {
      const r = this.queue.at(i)!;
      if (requestTime(r) > t) break;
      if (!isSyncPoint(r)) continue;
      const ok = this.groupFits(start, i, tags, start === 0 ? consumed : 0);
      if (latestOnly) {
        found = ok ? i : -1;
        fits = ok ? 1 : 0;
      } else if (ok) {
        fits++;
        found = i;
      }
      start = i + 1;
    }
    if (fits !== 1 || found < 0) return;
    for (let k = 0; k < found; k++) this.abandon(this.queue.shift()!, 'gap');
    this.lossy = false;
    this.outbox.lossy = false;
    this.lossTags = NO_TAGS;
  }

  /**
   * Whether the answers `tags` fit the statements of the requests queued at [start, end] (see
   * recover()); the first `consumed` answered Executes of this group that already left the queue.
   */
  private groupFits(start: number, end: number, tags: readonly string[], consumed: number): boolean {
    let ti = consumed;
    // An error ended the group: what followed it up to the Sync was skipped (and left the queue).
    if (consumed > 0 && ti >= tags.length - 1 && tags[tags.length - 1] === ERROR_MARK) return true;
    for (let i = start; i <= end; i++) {
      const r = this.queue.at(i)!;
      let count = 0;
      if (r.kind === 'execute' || r.kind === 'function') count = 1;
      else if (r.kind === 'query') count = Math.max(1, r.pieces.length);
      for (let k = 0; k < count; k++) {
        if (ti === tags.length) return false;
        const tag = tags[ti++]!;
        if (tag === ERROR_MARK) return ti === tags.length; // the rest was skipped
        if (r.kind === 'function') {
          if (tag !== FUNCTION_MARK) return false;
          continue;
        }
        if (tag === FUNCTION_MARK) return false;
        if (tag === EMPTY_MARK || tag === SUSPENDED_MARK || tag === '') continue;
        const sql = r.kind === 'execute' ? r.exec.sql : r.kind !== 'query' ? null : r.pieces.length <= 1 ? r.sql : r.pieces[k]!.text;
        if (!tagFits(sql, tag)) return false;
      }
    }
    // An error at Sync (a deferred constraint at the implicit commit) may follow the results.
    return ti === tags.length || (ti === tags.length - 1 && tags[ti] === ERROR_MARK);
  }

  /** The execution the server is running now, or will run next (for cancels, notices, DataRow types). */
  private runningExec(create: boolean): Execution | null {
    const n = Math.min(this.queue.size, LOOKAHEAD);
    for (let i = 0; i < n; i++) {
      const r = this.queue.at(i)!;
      if (r.kind === 'execute' || r.kind === 'function') return r.exec;
      if (r.kind === 'query') return create ? queryExec(r) : r.exec;
    }
    return null;
  }

  private touch(exec: Execution, raw: RawMessage): void {
    exec.touch(this.lastCompletionUs);
    exec.lastFrame = raw.frame;
  }

  private complete(exec: Execution): void {
    if (this.copyExec === exec) this.copyExec = null;
    this.outbox.complete(exec);
  }

  /** A request that will get no answer: skipped by the server after an error, or lost (incomplete). */
  private abandon(r: Request, how: 'skipped' | IncompleteReason): void {
    const skipped = how === 'skipped';
    switch (r.kind) {
      case 'execute': case 'function':
        if (!r.exec.done) this.abandonExec(r.exec, how);
        return;
      case 'query':
        // after an error, the rest of the string was skipped; otherwise the statement running is cut off
        if (skipped || (r.failed && !r.exec)) skipRest(this.outbox, r);
        else if (r.index < Math.max(1, r.pieces.length) || r.exec) this.abandonExec(queryExec(r), how);
        return;
      case 'parse': case 'bind':
        if (skipped) this.undo(r);
        return;
      default:
        return;
    }
  }

  private abandonExec(exec: Execution, how: 'skipped' | IncompleteReason): void {
    if (how === 'skipped') exec.skipped = true;
    else exec.markIncomplete(how);
    exec.done = true;
    this.complete(exec);
  }

  /** A Parse or Bind the server rejected or skipped: what it replaced is back in force. */
  private undo(r: Request): void {
    if (r.kind === 'parse') this.table.restoreStatement(r.stmt.name, r.stmt, r.prev);
    else if (r.kind === 'bind') this.table.restorePortal(r.portal.name, r.portal, r.prev);
  }
}
