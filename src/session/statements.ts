/**
 * Prepared statements and portals of one session, by name ('' is the unnamed one), as the
 * protocol documentation's "Extended Query" section defines their lifetimes: Parse creates a
 * statement (replacing the unnamed one), Bind creates a portal, Close destroys either, and
 * the end of a transaction destroys every portal. Both tables are capped: a client that
 * prepares without ever closing cannot grow our memory without bound (the oldest entry goes,
 * and a later reference to it reads as "prepared before the capture": sql null).
 *
 * Both are also charged to the process-wide session budget (core/budget.ts), at an estimate of
 * their size: when all sessions together hold more than that share, the oldest statements and
 * portals of any session (with the oldest pending requests) are given up, and the tracker
 * reports a memory-limit anomaly. A statement given up reads as one prepared before the capture.
 */
import type { ColumnDescription, TypedValue } from '../../dissectors/types.js';
import { LedgerAccount, processBudget, type BudgetHolder, type MemoryLedger } from '../core/budget.js';
import { valuesBytes } from './value-size.js';
import type { BoundBytes } from './bound-params.js';

export interface PreparedStatement {
  name: string;
  /** null: prepared before the capture began (or evicted), known only by name. */
  sql: string | null;
  /** Parse's OIDs (0 = let the server infer), replaced by ParameterDescription when one comes. */
  paramTypes: number[] | null;
  /** RowDescription from a Describe of the statement; null when not described (or NoData: []). */
  columns: ColumnDescription[] | null;
  /** A Parse for it came after its last execution. */
  parsedSinceExec: boolean;
  /** Set by the table: its budget ticket and the bytes charged (0: not charged). */
  ticket?: number;
  bytes?: number;
  /** Frontend bytes were lost since it was made: a lost Parse or Close may have replaced it. */
  uncertain?: boolean;
  /** Its Parse came (in part) in a segment with a wrong TCP checksum: its executions are marked badChecksum. */
  unconfirmed?: true;
}

export interface Portal {
  name: string;
  /** Syncs and Queries the client had sent before this Bind: which transaction end destroys it. */
  epoch: number;
  statement: PreparedStatement;
  params: TypedValue[];
  /** Summary records with TrackerOptions.boundBytes: the Bind's bytes, decoded on demand (bound-params.ts). */
  bound?: BoundBytes;
  resultFormats: Array<'text' | 'binary'>;
  /** RowDescription from a Describe of the portal. */
  columns: ColumnDescription[] | null;
  /** Set by the table, as for statements. */
  ticket?: number;
  bytes?: number;
  /** Frontend bytes were lost since it was bound, or its statement is uncertain. */
  uncertain?: boolean;
  /** Its Bind, or its statement's Parse, came in a segment with a wrong TCP checksum (PreparedStatement.unconfirmed). */
  unconfirmed?: true;
}

/** Heap a statement or portal holds besides its text and values (object, Map entry, arrays). */
const ENTRY_OVERHEAD = 240;

function statementBytes(s: PreparedStatement): number {
  return ENTRY_OVERHEAD + 2 * (s.sql?.length ?? 0) + 8 * (s.paramTypes?.length ?? 0);
}

function portalBytes(p: Portal): number {
  return ENTRY_OVERHEAD + (p.params.length === 0 ? 0 : valuesBytes(p.params)) + 8 * p.resultFormats.length + (p.bound?.body.length ?? 0);
}

export const MAX_STATEMENTS = 10_000;
export const MAX_PORTALS = 10_000;
/** SQL text kept over all statements of a session (UTF-16 units); past it the oldest statements go. */
export const MAX_STATEMENT_CHARS = 32 * 1024 * 1024;

export class StatementTable implements BudgetHolder {
  /**
   * The maps are made at their first use (a session that never prepares a statement, such as
   * the many a connection flood opens, has none: three empty Maps are half a kilobyte): the
   * getters below make them, clear() and the counts read the fields.
   */
  private statementMap: Map<string, PreparedStatement> | null = null;
  private portalMap: Map<string, Portal> | null = null;
  /** What the budget has charged for, by ticket. */
  private chargedMap: Map<number, PreparedStatement | Portal> | null = null;
  private get statements(): Map<string, PreparedStatement> {
    return (this.statementMap ??= new Map());
  }
  private get portals(): Map<string, Portal> {
    return (this.portalMap ??= new Map());
  }
  private get charged(): Map<number, PreparedStatement | Portal> {
    return (this.chargedMap ??= new Map());
  }
  private sqlChars = 0;
  /**
   * The name set last in each map (null: not known). Replacing that entry in place keeps the
   * insertion order that eviction goes by, and spares the Map a delete and a re-insert, which
   * shrink and regrow its table: the unnamed statement and portal are replaced at every
   * request of a client that does not name them.
   */
  private lastStatement: string | null = null;
  private lastPortal: string | null = null;
  /** Statements and portals pushed out by the caps so far (the tracker reports the first as an anomaly). */
  evictions = 0;
  /** Frontend bytes were lost at some point: a statement known only by name may be one a lost Parse made. */
  frontendLost = false;
  /**
   * A statement or portal was given up (memory budget) or pushed out (caps) at some point: one
   * known only by name, or not at all, may be one the capture saw made: its records say so.
   */
  forgotten = false;

  private readonly account = new LedgerAccount(this);

  /** `onGiveUp`: the budget took a statement or portal away (already out of the table). */
  constructor(private readonly ledger: MemoryLedger = processBudget().session, private readonly onGiveUp: () => void = () => {}) {}

  holds(ticket: number): boolean {
    return this.chargedMap?.has(ticket) ?? false;
  }

  giveUp(ticket: number): void {
    const e = this.charged.get(ticket);
    if (!e) return;
    this.forgotten = true;
    if ('statement' in e) {
      if (this.portals.get(e.name) === e) this.deletePortal(e.name);
      else this.uncharge(e);
    } else if (this.statements.get(e.name) === e) this.removeStatement(e.name, e);
    else this.uncharge(e);
    this.onGiveUp();
  }

  private charge(e: PreparedStatement | Portal, bytes: number): void {
    e.bytes = bytes;
    // Set first: the charge may give up older entries, never this one.
    e.ticket = this.ledger.charge(this.account, bytes);
    this.charged.set(e.ticket, e);
  }

  private uncharge(e: PreparedStatement | Portal): void {
    if (e.ticket === undefined || !this.charged.delete(e.ticket)) return;
    this.ledger.release(e.bytes ?? 0);
    e.ticket = undefined;
  }

  getStatement(name: string): PreparedStatement | undefined {
    return this.statements.get(name);
  }

  /** The statement by name, creating an unknown one (prepared before the capture) when absent. */
  statementOrUnknown(name: string): PreparedStatement {
    let s = this.statements.get(name);
    if (!s) {
      s = { name, sql: null, paramTypes: null, columns: null, parsedSinceExec: false, uncertain: this.frontendLost };
      this.putStatement(s);
    }
    return s;
  }

  /** Store a statement; returns what it replaced (to restore it if the server rejects or skips the Parse). */
  putStatement(s: PreparedStatement): PreparedStatement | undefined {
    const prev = this.statements.get(s.name);
    if (prev && s.name === this.lastStatement) {
      this.sqlChars -= prev.sql?.length ?? 0;
      this.uncharge(prev);
    } else if (prev) this.removeStatement(s.name, prev);
    else if (this.statements.size >= MAX_STATEMENTS) this.evictStatement();
    this.statements.set(s.name, s);
    this.lastStatement = s.name;
    this.sqlChars += s.sql?.length ?? 0;
    this.charge(s, statementBytes(s));
    while (this.sqlChars > MAX_STATEMENT_CHARS && this.statements.size > 1) this.evictStatement();
    return prev;
  }

  /** Put back what a rejected Parse replaced (or remove the new one when it replaced nothing). */
  restoreStatement(name: string, current: PreparedStatement, prev: PreparedStatement | undefined): void {
    if (this.statements.get(name) !== current) return;
    this.removeStatement(name, current);
    if (prev) {
      this.statements.set(name, prev);
      this.lastStatement = name;
      this.sqlChars += prev.sql?.length ?? 0;
      this.charge(prev, statementBytes(prev));
    }
  }

  closeStatement(name: string): void {
    const s = this.statements.get(name);
    if (s) this.removeStatement(name, s);
  }

  private removeStatement(name: string, s: PreparedStatement): void {
    this.statements.delete(name);
    if (name === this.lastStatement) this.lastStatement = null;
    this.sqlChars -= s.sql?.length ?? 0;
    this.uncharge(s);
  }

  private evictStatement(): void {
    this.evictions++;
    this.forgotten = true;
    const first = this.statements.entries().next();
    if (!first.done) this.removeStatement(first.value[0], first.value[1]);
  }

  getPortal(name: string): Portal | undefined {
    return this.portals.get(name);
  }

  putPortal(p: Portal): Portal | undefined {
    const prev = this.portals.get(p.name);
    if (prev && p.name !== this.lastPortal) this.portals.delete(p.name);
    else if (!prev && this.portals.size >= MAX_PORTALS) {
      this.evictions++;
      this.forgotten = true;
      this.deletePortal(this.portals.keys().next().value!);
    }
    if (prev) this.uncharge(prev);
    this.portals.set(p.name, p);
    this.lastPortal = p.name;
    this.charge(p, portalBytes(p));
    return prev;
  }

  /** Put back what a rejected or skipped Bind replaced (or remove the new portal when it replaced nothing). */
  restorePortal(name: string, current: Portal, prev: Portal | undefined): void {
    if (this.portals.get(name) !== current) return;
    if (prev) {
      this.uncharge(current);
      this.portals.set(name, prev);
      this.charge(prev, portalBytes(prev));
    } else this.deletePortal(name);
  }

  closePortal(name: string): void {
    if (this.portals.size > 0) this.deletePortal(name);
  }

  private deletePortal(name: string): void {
    const p = this.portals.get(name);
    if (p === undefined) return;
    this.portals.delete(name);
    this.uncharge(p);
    if (name === this.lastPortal) this.lastPortal = null;
  }

  /**
   * End of transaction (ReadyForQuery idle): the portals bound before the Sync or Query it
   * answers are gone. Portals of requests the client pipelined after that Sync stay.
   */
  endTransaction(epoch: number): void {
    if (this.portals.size === 0) return;
    for (const p of this.portals.values()) if (p.epoch < epoch) this.deletePortal(p.name);
  }

  /** The session is over: everything goes, and its bytes go back to the budget. */
  clear(): void {
    // (Map.clear() allocates a new table: only maps that hold something are cleared)
    const charged = this.chargedMap;
    if (charged !== null && charged.size > 0) {
      for (const e of charged.values()) {
        this.ledger.release(e.bytes ?? 0);
        e.ticket = undefined;
      }
      charged.clear();
    }
    if (this.statementMap !== null && this.statementMap.size > 0) this.statementMap.clear();
    if (this.portalMap !== null && this.portalMap.size > 0) this.portalMap.clear();
    this.lastStatement = null;
    this.lastPortal = null;
    this.sqlChars = 0;
  }

  /** The session ended (after clear()): its budget account closes (LedgerAccount). */
  retire(): void {
    this.account.close();
  }

  /**
   * Frontend bytes were lost: a Parse or Bind may have been among them. Only the unnamed
   * statement and portal can be replaced without a Close ("Extended Query": a named one must be
   * closed first, and the server answers a Close with CloseComplete: see closedUnseen), so they
   * may be stale until a new Parse or Bind names them again; a name unknown from now on may be
   * one a lost Parse or Bind made.
   */
  frontendLoss(): void {
    this.frontendLost = true;
    const s = this.statements.get('');
    if (s) s.uncertain = true;
    const p = this.portals.get('');
    if (p) p.uncertain = true;
  }

  /** A Close the capture did not see was answered: any named statement or portal may be gone or replaced. */
  closedUnseen(): void {
    this.frontendLost = true;
    for (const s of this.statements.values()) s.uncertain = true;
    for (const p of this.portals.values()) p.uncertain = true;
  }

  get statementCount(): number {
    return this.statementMap?.size ?? 0;
  }

  get portalCount(): number {
    return this.portalMap?.size ?? 0;
  }
}

/**
 * A statement's RowDescription (from Describe) carries format 0 for every column, since the
 * formats are chosen at Bind: apply the Bind's result formats (none: text; one: all; else per column).
 */
export function withFormats(cols: ColumnDescription[] | null, formats: ReadonlyArray<'text' | 'binary'>): ColumnDescription[] | null {
  if (!cols || formats.length === 0) return cols;
  let same = true;
  for (let i = 0; i < cols.length; i++) {
    const f = formats.length === 1 ? formats[0]! : formats[i] ?? 'text';
    if (cols[i]!.format !== f) { same = false; break; }
  }
  if (same) return cols;
  return cols.map((c, i) => ({ ...c, format: formats.length === 1 ? formats[0]! : formats[i] ?? 'text' }));
}

/**
 * A portal's RowDescription as its statement's: the same columns, in format 0 (the statement
 * does not have formats: each Bind chooses them). Lets a later Bind of the statement without
 * a Describe (pgJDBC re-executing S_n) type its rows.
 */
export function statementColumns(cols: ColumnDescription[] | null): ColumnDescription[] | null {
  if (!cols || cols.every((c) => c.format === 'text')) return cols;
  return cols.map((c) => (c.format === 'text' ? c : { ...c, format: 'text' }));
}

/** Most columns a result can have (MaxTupleAttributeNumber): an untyped all-binary result is described this wide. */
const MAX_COLUMNS = 1664;

function untypedColumn(format: 'text' | 'binary'): ColumnDescription {
  return { name: '', tableOid: 0, columnNumber: 0, typeOid: 0, typeName: null, typeSize: 0, typeModifier: 0, format };
}

let allBinary: ColumnDescription[] | null = null;

/**
 * What types the rows of a portal whose column types are unknown (its statement was described
 * before the capture, or never): type 0, in the formats its Bind asked for, so a binary value
 * reads as hex of unknown type and never as text. Null when every column is text (oid 0 text
 * is what a missing description gives already).
 */
export function untypedColumns(formats: ReadonlyArray<'text' | 'binary'>): ColumnDescription[] | null {
  if (!formats.includes('binary')) return null;
  if (formats.length === 1) return (allBinary ??= Array.from({ length: MAX_COLUMNS }, () => untypedColumn('binary')));
  return formats.map(untypedColumn);
}
