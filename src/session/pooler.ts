/**
 * Connection poolers (PgBouncer, Odyssey, pgcat) in the capture: with `-p 6432` pgsniff decodes
 * both legs, the client connections to the pooler and the pooler's connections to the server,
 * and each statement crosses the wire twice. This module tells the legs apart so that a
 * statement is counted once (its client-leg record: what the application did), and links the
 * client-leg record to the server-leg session and backend that ran it.
 *
 * How a server leg is recognised. A pooler forwards a client's request after it arrived and
 * forwards the answer after the server gave it: the server leg's execution lies inside the
 * client leg's, with the same SQL (or, for a Bind of a statement the server leg does not know,
 * the same statement name). So when a session's record goes out (at its ReadyForQuery), a
 * request of another session with the same SQL, sent earlier and not answered yet, to another
 * server endpoint (the pooler's address, where this one goes to the server's), makes the first
 * session a pooler's server leg.
 *
 * Which server-leg execution a client-leg record links to is decided when the client's record
 * goes out: the pooler hands answers on in the order the server legs gave them, so it is the
 * first unclaimed server-leg execution of the same statement nested in its frames. (Deciding at
 * the server leg's answer could not: with clients queued behind a busy pool, several requests
 * of the same SQL wait, and which one the pooler sent is known only by whose answer follows.) The address rule alone (a connection whose client is the
 * pooler's address) cannot tell on one host: on loopback every client is 127.0.0.1. Two
 * applications that run the same SQL on two servers at the same moment would look alike once;
 * each match is counted per pair of endpoints (pooler -> server), and a session is never taken
 * for a server leg of the endpoint that pairs count as its own pooler's server.
 *
 * A server leg's first statements are often the pooler's own (PgBouncer's SET of its clients'
 * parameters on a fresh server connection), sent before the first one it forwards. While a
 * session is undecided and another endpoint has a request waiting for its answer, its records
 * are held back (at most MAX_HELD) until a match decides; without one they go out as they are.
 *
 * Nothing here runs until sessions to two different server endpoints are open at once: a capture
 * of one server pays one test per record.
 *
 * Records held back are charged to the session share of the memory budget (core/budget.ts), as
 * the outbox charges the records it holds: the outbox has let go of them (and of their charge)
 * when it wrote them here. When the budget gives one up, the session is decided a direct one,
 * as past MAX_HELD: its held records go out as they are, and the tracker reports memory-limit.
 * The index each session keeps for matching (its requests' entries, its server-leg records
 * waiting to be claimed) is charged to the same share, apart (LegIndex): when the budget gives
 * up one of them, it and the session's older ones are forgotten (a server leg's statement may
 * then go unrecognised, and count twice), and the tracker reports memory-limit.
 */
import type { TypedValue } from '../../dissectors/types.js';
import { valuesBytes } from './value-size.js';
import { LedgerAccount, type BudgetHolder, type MemoryLedger } from '../core/budget.js';
import { heldBytes } from './outbox.js';
import type { ConnectionInfo } from '../reassembly/types.js';
import type { Execution } from './execution.js';
import type { Request } from './request-queue.js';
import type { SessionRecord, TransactionStatus } from './schema.js';

/** Records an undecided session holds back, at most (PgBouncer sends a few SETs before the first statement it forwards). */
export const MAX_HELD = 16;
/** Named statements remembered from server legs (for a Bind on another server leg), at most. */
const MAX_PREPARED = 10_000;
/** Characters of their SQL, at most (the oldest go first): 10,000 texts of a megabyte would be 10 GB. */
export const MAX_PREPARED_CHARS = 8 * 1024 * 1024;
/** Requests a session keeps for matching, at most (they leave as their records go out). */
const MAX_ENTRIES = 4096;

/** A request that may be a client leg's: what a server leg's statement is matched against. */
interface Entry {
  leg: SessionLeg;
  /** The request's SQL (a Query's whole text); the key it is indexed by, with the statement name. */
  sql: string | null;
  /** A named prepared statement (never the unnamed one, which every request shares). */
  statement: string | null;
  reqTimeUs: number;
  firstFrame: number;
  /** Its first record went out: it was answered, and can no longer hold a server leg's statement. */
  out: boolean;
  /** Its budget ticket and the bytes charged (0: not charged, or released). */
  ticket: number;
  bytes: number;
}

/** A server leg's record, waiting for the client-leg record it ran for (ServerOut.claimed). */
interface ServerOut {
  leg: SessionLeg;
  key: string;
  statementIndex: number;
  /** Bound parameters (full records only): a client's Bind is forwarded as it is. */
  params: readonly TypedValue[];
  firstFrame: number;
  lastFrame: number;
  claimed: boolean;
  /** As for Entry. */
  ticket: number;
  bytes: number;
}

/** Heap an entry or a waiting server-leg record holds besides its SQL and parameters (object, Set slots, array slot). */
const INDEX_OVERHEAD = 200;

/** Server-leg records a session keeps unclaimed, at most (the pooler's own, or a client leg the capture missed). */
const MAX_OUTS = 64;

/** Writes a record as the outbox would have. */
export type RecordOut = (exec: Execution, status: TransactionStatus | null) => void;

/** One per analysis, shared by its sessions (like the cancel registry). */
export class PoolerLegs {
  /** Open sessions per server endpoint; matching starts once two endpoints are open at once. */
  private readonly open = new Map<string, number>();
  active = false;
  private readonly bySql = new Map<string, Set<Entry>>();
  private readonly byName = new Map<string, Set<Entry>>();
  /** Server-leg records by statement (outKey), until a client-leg record claims them. */
  private readonly outs = new Map<string, Set<ServerOut>>();
  /** Requests not answered yet, per server endpoint. */
  private readonly waiting = new Map<string, number>();
  /** Matches per pair of endpoints, "front\0back": the pooler's address, the server's. */
  private readonly pairs = new Map<string, number>();
  /** Named statements' SQL seen on server legs, per server endpoint ("endpoint\0name"), latest last. */
  private readonly prepared = new Map<string, string>();
  private preparedChars = 0;

  /** @internal A server leg ran named statement `name` as `sql`. */
  prepare(endpoint: string, name: string, sql: string): void {
    const k = endpoint + '\0' + name;
    const was = this.prepared.get(k);
    if (was !== undefined) {
      this.prepared.delete(k);
      this.preparedChars -= was.length;
    }
    while (this.prepared.size > 0 && (this.prepared.size >= MAX_PREPARED || this.preparedChars + sql.length > MAX_PREPARED_CHARS)) {
      const [oldest, text] = this.prepared.entries().next().value!;
      this.prepared.delete(oldest);
      this.preparedChars -= text.length;
    }
    this.prepared.set(k, sql);
    this.preparedChars += sql.length;
  }

  /** @internal The SQL of named statement `name` on the pooler's other server legs to `endpoint`. */
  preparedOn(endpoint: string, name: string): string | null {
    return this.prepared.get(endpoint + '\0' + name) ?? null;
  }

  /**
   * A session's leg: `write` writes its records, `backendPid` tells its backend's process id when
   * asked; records held back are charged to `ledger` (none: not charged), and `onGiveUp` hears
   * that the budget made the leg let them go.
   */
  session(
    conn: ConnectionInfo, write: RecordOut, backendPid: () => number | null, ledger: MemoryLedger | null = null,
    onGiveUp: () => void = noop, onIndexGiveUp: () => void = noop,
  ): SessionLeg {
    return this.leg(conn, this.opened(conn), write, backendPid, ledger, onGiveUp, onIndexGiveUp);
  }

  /**
   * A session opens: counted for its server endpoint (returned), without its leg yet (leg(),
   * when the session first has a record or a request; one that has neither ends with closed()).
   * A flood of connections that never get past their start-up makes no leg.
   */
  opened(conn: ConnectionInfo): string {
    const endpoint = this.endpointOf(conn);
    this.open.set(endpoint, (this.open.get(endpoint) ?? 0) + 1);
    if (!this.active && this.open.size > 1) this.active = true;
    return endpoint;
  }

  /** The leg of a session already counted by opened() (see session() for the arguments). */
  leg(
    conn: ConnectionInfo, endpoint: string, write: RecordOut, backendPid: () => number | null, ledger: MemoryLedger | null = null,
    onGiveUp: () => void = noop, onIndexGiveUp: () => void = noop,
  ): SessionLeg {
    return new SessionLeg(this, conn, endpoint, write, backendPid, ledger, onGiveUp, onIndexGiveUp);
  }

  /**
   * A session that ends without a byte (SYN-only, or empty): what session() and its leg's close()
   * would do to the pool, without making the leg (a connection flood's hundreds of thousands).
   */
  passing(conn: ConnectionInfo): void {
    if (this.active || this.open.size === 0) return;
    if (this.open.size > 1 || !this.open.has(`${conn.server.ip}:${conn.server.port}`)) this.active = true;
  }

  /** The last endpoint's key, kept: most sessions go to the server the one before went to (no string each). */
  private lastServer: ConnectionInfo['server'] | null = null;
  private lastEndpoint = '';

  private endpointOf(conn: ConnectionInfo): string {
    const s = conn.server;
    const last = this.lastServer;
    if (last !== null && (last === s || (last.ip === s.ip && last.port === s.port))) return this.lastEndpoint;
    this.lastServer = s;
    return (this.lastEndpoint = `${s.ip}:${s.port}`);
  }

  /** A session counted by opened() ends (its leg's close() calls it, or the tracker when it made none). */
  closed(endpoint: string): void {
    const n = (this.open.get(endpoint) ?? 1) - 1;
    if (n <= 0) this.open.delete(endpoint);
    else this.open.set(endpoint, n);
  }

  /** @internal */
  add(e: Entry): void {
    if (e.sql !== null) setOf(this.bySql, e.sql).add(e);
    if (e.statement !== null) setOf(this.byName, e.statement).add(e);
    this.waiting.set(e.leg.endpoint, (this.waiting.get(e.leg.endpoint) ?? 0) + 1);
  }

  /** @internal The entry was answered (out) or is forgotten. */
  retire(e: Entry): void {
    if (!e.out) {
      e.out = true;
      this.waiting.set(e.leg.endpoint, (this.waiting.get(e.leg.endpoint) ?? 1) - 1);
    }
  }

  /** @internal The entry leaves the index. */
  remove(e: Entry): void {
    this.retire(e);
    if (e.sql !== null) unset(this.bySql, e.sql, e);
    if (e.statement !== null) unset(this.byName, e.statement, e);
  }

  /** @internal Whether a request to another endpoint waits for its answer. */
  othersWaiting(endpoint: string): boolean {
    for (const [ep, n] of this.waiting) if (n > 0 && ep !== endpoint) return true;
    return false;
  }

  private pair(front: string, back: string): number {
    return this.pairs.get(front + '\0' + back) ?? 0;
  }

  /** @internal Whether a session to `endpoint` may still be a pooler's server leg (no pair has it as a pooler only). */
  mayBeBack(endpoint: string): boolean {
    let front = false;
    for (const [k, n] of this.pairs) {
      if (n <= 0) continue;
      const [f, b] = k.split('\0');
      if (b === endpoint) return true;
      if (f === endpoint) front = true;
    }
    return !front;
  }

  /**
   * A request of another session that `exec` (a record of `leg`, whose request is `own` when
   * known) may run on the server for: same SQL (or statement name), sent before it, not answered
   * yet, to another endpoint, and not against the pairs seen so far; the earliest such.
   */
  /** @internal */
  match(leg: SessionLeg, exec: Execution, own: Entry | null): Entry | null {
    const sql = own !== null ? own.sql : exec.statementCount > 1 ? null : exec.sql;
    const name = exec.statement !== null && exec.statement !== '' ? exec.statement : null;
    const set = sql !== null ? this.bySql.get(sql) : name !== null ? this.byName.get(name) : undefined;
    if (set === undefined) return null;
    let best: Entry | null = null;
    for (const c of set) {
      if (c.out || c.leg.endpoint === leg.endpoint) continue;
      if (c.reqTimeUs > exec.reqTimeUs || c.firstFrame > exec.firstFrame) continue;
      // The endpoints' pairs so far say the pooler is on the other side.
      if (this.pair(leg.endpoint, c.leg.endpoint) > this.pair(c.leg.endpoint, leg.endpoint)) continue;
      if (best === null || c.firstFrame < best.firstFrame) best = c;
    }
    if (best !== null) {
      const k = best.leg.endpoint + '\0' + leg.endpoint;
      this.pairs.set(k, (this.pairs.get(k) ?? 0) + 1);
    }
    return best;
  }

  /** @internal A server leg's record, for a client-leg record to claim. */
  addOut(o: ServerOut): void {
    setOf(this.outs, o.key).add(o);
  }

  /** @internal */
  removeOut(o: ServerOut): void {
    unsetOut(this.outs, o.key, o);
  }

  /**
   * The server-leg record that `exec` (a record of `leg`) was run as: same statement (and
   * parameters, when both records have them), nested in its frames (sent on after its request,
   * answered before its answer), on another endpoint, unclaimed; of several, the one that fits
   * closest (a pooler sends a request on as it gets it and hands the answer back as it gets it,
   * but reads its sockets in its own order), then the first answered.
   */
  /** @internal */
  claim(leg: SessionLeg, exec: Execution): ServerOut | null {
    const set = this.outs.get(outKey(exec));
    if (set === undefined) return null;
    let best: ServerOut | null = null;
    let bestGap = Infinity;
    for (const o of set) {
      if (o.claimed || o.leg.endpoint === leg.endpoint || o.statementIndex !== exec.statementIndex) continue;
      if (o.firstFrame < exec.firstFrame || o.lastFrame > exec.lastFrame) continue;
      if (!sameParams(o.params, exec.params)) continue;
      const gap = (o.firstFrame - exec.firstFrame) + (exec.lastFrame - o.lastFrame);
      if (gap < bestGap || (gap === bestGap && o.lastFrame < best!.lastFrame)) {
        best = o;
        bestGap = gap;
      }
    }
    if (best !== null) {
      best.claimed = true;
      this.removeOut(best);
      best.leg.index.release(best);
    }
    return best;
  }
}

/** Whether two records' parameters can be the same Bind's (either unknown, e.g. summary records: yes). */
function sameParams(a: readonly TypedValue[], b: readonly TypedValue[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!.value;
    const y = b[i]!.value;
    if (x !== y && (typeof x !== 'object' || typeof y !== 'object' || JSON.stringify(x) !== JSON.stringify(y))) return false;
  }
  return true;
}

/** The key a server-leg record and its client-leg record share: the statement's text, else its name. */
function outKey(exec: Execution): string {
  return exec.sql ?? '\0' + (exec.statement ?? '');
}

/** A record held back (SessionLeg.out), with its budget ticket (UNCHARGED until charged) and the bytes charged. */
interface Held {
  exec: Execution;
  status: TransactionStatus | null;
  ticket: number;
  bytes: number;
}

const UNCHARGED = Number.MAX_SAFE_INTEGER;
const noop = (): void => undefined;

/**
 * A session's matching index as a holder of the budget (apart from its held records, which
 * SessionLeg holds): its entries and its waiting server-leg records, each charged when made and
 * released when it leaves. Both lists are in ticket order and leave from the front, but for
 * claimed records (released at once, dropped from the list later), so a ticket is held when it
 * is at or after the first charged one of either list; giving one up forgets it with every
 * older one of the session's (the budget gives up the oldest first anyway).
 */
class LegIndex implements BudgetHolder {
  private readonly account = new LedgerAccount(this);
  constructor(private readonly leg: SessionLeg, private readonly ledger: MemoryLedger | null, private readonly onGiveUp: () => void) {}

  charge(item: Entry | ServerOut, bytes: number): void {
    if (this.ledger === null) return;
    item.bytes = bytes;
    item.ticket = this.ledger.charge(this.account, bytes);
  }

  release(item: Entry | ServerOut): void {
    if (item.bytes === 0) return;
    this.ledger!.release(item.bytes);
    item.bytes = 0;
    item.ticket = UNCHARGED;
  }

  holds(ticket: number): boolean {
    return this.leg.oldestIndexTicket() <= ticket;
  }

  giveUp(ticket: number): void {
    if (this.leg.forgetIndex(ticket)) this.onGiveUp();
  }

  close(): void {
    this.account.close();
  }
}

/** One session's side: its requests (entries), whether it is a server leg, the records it holds back. */
export class SessionLeg implements BudgetHolder {
  readonly id: number;
  readonly clientIp: string;
  readonly serverIp: string;
  private state: 'undecided' | 'server' | 'direct' = 'undecided';
  /** One of its records was linked to a server leg: it is a pooler's client leg. */
  private linked = false;
  private readonly entries: Entry[] = [];
  /** Its records as a server leg, not claimed yet (oldest first). */
  private outs: ServerOut[] = [];
  private held: Held[] = [];
  private readonly account = new LedgerAccount(this);
  /** @internal Its entries' and waiting records' charges (LegIndex). */
  readonly index: LegIndex;

  constructor(
    private readonly pool: PoolerLegs,
    conn: ConnectionInfo,
    readonly endpoint: string,
    private readonly write: RecordOut,
    private readonly backendPid: () => number | null,
    private readonly ledger: MemoryLedger | null = null,
    private readonly onGiveUp: () => void = noop,
    onIndexGiveUp: () => void = noop,
  ) {
    this.id = conn.id;
    this.clientIp = conn.client.ip;
    this.serverIp = conn.server.ip;
    this.index = new LegIndex(this, ledger, onIndexGiveUp);
  }

  /** @internal The oldest ticket its index still holds (UNCHARGED: none). */
  oldestIndexTicket(): number {
    let t = UNCHARGED;
    for (const e of this.entries) if (e.bytes > 0) { t = e.ticket; break; }
    for (const o of this.outs) if (o.bytes > 0) { if (o.ticket < t) t = o.ticket; break; }
    return t;
  }

  /** @internal The budget gave up index ticket `ticket`: it and every older entry and waiting record go. Returns whether any did. */
  forgetIndex(ticket: number): boolean {
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.ticket <= ticket) n++;
    for (let k = 0; k < n; k++) this.drop(this.entries[k]!);
    this.entries.splice(0, n);
    let m = 0;
    while (m < this.outs.length && (this.outs[m]!.claimed || this.outs[m]!.ticket <= ticket)) m++;
    for (let k = 0; k < m; k++) this.dropOut(this.outs[k]!);
    this.outs.splice(0, m);
    return n + m > 0;
  }

  private drop(e: Entry): void {
    this.pool.remove(e);
    this.index.release(e);
  }

  private dropOut(o: ServerOut): void {
    if (!o.claimed) this.pool.removeOut(o);
    this.index.release(o);
  }

  /** The tracker queued a request (request-queue.ts): statements are indexed for matching. */
  request(r: Request): void {
    if (!this.pool.active) return;
    let sql: string | null;
    let statement: string | null = null;
    let reqTimeUs: number;
    let firstFrame: number;
    if (r.kind === 'execute') {
      sql = r.exec.sql;
      statement = r.exec.statement !== null && r.exec.statement !== '' ? r.exec.statement : null;
      reqTimeUs = r.exec.reqTimeUs;
      firstFrame = r.exec.firstFrame;
    } else if (r.kind === 'query') {
      sql = r.sql;
      reqTimeUs = r.reqTimeUs;
      firstFrame = r.firstFrame;
    } else return;
    if (sql === null && statement === null) return;
    const e: Entry = { leg: this, sql, statement, reqTimeUs, firstFrame, out: false, ticket: UNCHARGED, bytes: 0 };
    if (this.entries.length >= MAX_ENTRIES) this.drop(this.entries.shift()!);
    this.entries.push(e);
    this.pool.add(e);
    // Pushed first: the charge may give up this leg's older entries, never this one.
    this.index.charge(e, INDEX_OVERHEAD + (sql === null ? 0 : 2 * sql.length) + (statement === null ? 0 : 2 * statement.length));
  }

  /** The outbox's writer: a finished execution's record, with the transaction status after it. */
  readonly out = (exec: Execution, status: TransactionStatus | null): void => {
    if (!this.pool.active && this.state === 'undecided') {
      this.write(exec, status);
      return;
    }
    const own = this.entryOf(exec);
    // As a client leg: the server leg's record of this statement went out before this one.
    const o = this.pool.claim(this, exec);
    if (o !== null) {
      exec.serverLeg = { session: o.leg.id, backendPid: o.leg.backendPid() };
      this.linked = true;
    }
    // As a server leg: a client's request of this statement waits for its answer.
    const c = this.pool.match(this, exec, own);
    if (c !== null) {
      // A Bind of a statement this server connection never prepared: the client's statement.
      if (exec.sql === null) exec.sql = c.sql;
      this.state = 'server';
    }
    if (this.state === 'server') {
      this.release(true);
      this.served(exec);
    } else if (this.state === 'undecided') {
      if (this.held.length < MAX_HELD && this.pool.othersWaiting(this.endpoint) && this.pool.mayBeBack(this.endpoint)) {
        const h: Held = { exec, status, ticket: UNCHARGED, bytes: 0 };
        this.held.push(h);
        if (this.ledger !== null) {
          // Pushed first: the charge may give up this leg's older records, and with them this one (giveUp).
          const bytes = heldBytes(exec);
          const ticket = this.ledger.charge(this.account, bytes);
          if (this.held.includes(h)) {
            h.ticket = ticket;
            h.bytes = bytes;
          } else this.ledger.release(bytes);
        }
        return;
      }
      this.state = 'direct';
      this.release(false);
    }
    this.write(exec, status);
  };

  holds(ticket: number): boolean {
    return this.held.length > 0 && ticket >= this.held[0]!.ticket;
  }

  /** The budget takes a held record: the session is decided a direct one (as past MAX_HELD), and every held record goes out. */
  giveUp(ticket: number): void {
    if (!this.holds(ticket) || this.state !== 'undecided') return;
    this.state = 'direct';
    this.release(false);
    this.onGiveUp();
  }

  /** The session ends: held records go out, and its record says which leg it was. */
  close(rec: SessionRecord): void {
    this.release(this.state === 'server');
    this.account.close();
    for (const e of this.entries) this.drop(e);
    this.entries.length = 0;
    for (const o of this.outs) this.dropOut(o);
    this.outs = [];
    this.index.close();
    this.pool.closed(this.endpoint);
    if (this.state === 'server') rec.poolerLeg = 'server';
    else if (this.linked) rec.poolerLeg = 'client';
  }

  private release(server: boolean): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const h of held) {
      if (h.bytes > 0) this.ledger!.release(h.bytes);
      if (server) this.served(h.exec);
      this.write(h.exec, h.status);
    }
  }

  /** A record of this server leg: marked, and kept for the client-leg record that will claim it. */
  private served(exec: Execution): void {
    exec.poolerLeg = true;
    const name = exec.statement;
    if (name !== null && name !== '') {
      // Prepared on another server connection of the pool (same server): its Parse text there.
      if (exec.sql === null) exec.sql = this.pool.preparedOn(this.endpoint, name);
      else this.pool.prepare(this.endpoint, name, exec.sql);
    }
    if (this.outs.length > 0 && this.outs[0]!.claimed) this.outs = this.outs.filter((x) => !x.claimed);
    if (this.outs.length >= MAX_OUTS) this.dropOut(this.outs.shift()!);
    const o: ServerOut = {
      leg: this, key: outKey(exec), statementIndex: exec.statementIndex, params: exec.params, firstFrame: exec.firstFrame, lastFrame: exec.lastFrame,
      claimed: false, ticket: UNCHARGED, bytes: 0,
    };
    this.outs.push(o);
    this.pool.addOut(o);
    // The key holds the SQL once the record went out; the parameters likewise.
    this.index.charge(o, INDEX_OVERHEAD + 2 * o.key.length + (o.params.length > 0 ? valuesBytes(o.params) : 0));
  }

  /**
   * The request `exec` answers (requests are answered in order: those before it are done), or
   * null for a record of no indexed request (a failed Parse, a request before matching began).
   */
  private entryOf(exec: Execution): Entry | null {
    const list = this.entries;
    let i = 0;
    for (; i < list.length; i++) {
      const e = list[i]!;
      if (e.firstFrame === exec.firstFrame && e.reqTimeUs === exec.reqTimeUs && (!e.out || exec.statementIndex > 0)) break;
    }
    if (i === list.length) return null;
    for (let k = 0; k < i; k++) this.drop(list[k]!);
    list.splice(0, i);
    const e = list[0]!;
    // A record given up or cut off (incomplete) was not answered: its request may still be on a server leg.
    if (!exec.incomplete) this.pool.retire(e);
    return e;
  }
}

function setOf<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let s = map.get(key);
  if (s === undefined) {
    s = new Set();
    map.set(key, s);
  }
  return s;
}

function unsetOut(map: Map<string, Set<ServerOut>>, key: string, o: ServerOut): void {
  const s = map.get(key);
  if (s === undefined) return;
  s.delete(o);
  if (s.size === 0) map.delete(key);
}

function unset(map: Map<string, Set<Entry>>, key: string, e: Entry): void {
  const s = map.get(key);
  if (s === undefined) return;
  s.delete(e);
  if (s.size === 0) map.delete(key);
}
