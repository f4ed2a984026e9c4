/**
 * A query record written straight from its Execution (src/session/execution.ts), member by
 * member in the order toRecord builds it, with its keys pre-encoded: no record object, no
 * time strings (through Object.keys and key lookups, query records were a large share of
 * `read --json`'s time and their objects of what it allocated: docs/BENCHMARK.md, "NDJSON
 * writers"). The bytes are JSON.stringify's of toRecord's record (test/ndjson-fast.test.ts
 * compares the two on every sample and public capture, with and without --rows); the rare
 * nested parts (errors, notices, COPY, function results, kept rows) go through the generic
 * writer.
 */
import type { ColumnDescription } from '../../../dissectors/types.js';
import type { Execution } from '../../session/execution.js';
import type { TransactionStatus } from '../../session/schema.js';
import { typedValue } from './message-writer.js';
import type { JsonWriter } from './writer.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
/** `,"key":` (the first key carries the record's opening brace instead). */
const key = (k: string): Buffer => enc(`,${JSON.stringify(k)}:`);

/** The query record's keys (src/session/schema.ts queryRecordSchema), as the COLUMN and BATCH tables below hold a column's and a batch's. */
const RECORD = {
  start: enc('{"kind":"query","session":'),
  time: key('time'), frame: key('frame'), protocol: key('protocol'), sql: key('sql'), statementIndex: key('statementIndex'),
  statementCount: key('statementCount'), statement: key('statement'), portal: key('portal'), params: key('params'),
  parsed: key('parsed'), durationMs: key('durationMs'), firstRowMs: key('firstRowMs'), rows: key('rows'),
  rowsReturned: key('rowsReturned'), bytesReturned: key('bytesReturned'), command: key('command'), error: key('error'),
  notices: key('notices'), transactionStatus: key('transactionStatus'), skipped: key('skipped'), incomplete: key('incomplete'),
  suspended: key('suspended'), firstFrame: key('firstFrame'), lastFrame: key('lastFrame'), startTime: key('startTime'),
  columns: key('columns'), copy: key('copy'), function: key('function'), cancelledBy: key('cancelledBy'),
  rowValues: key('rowValues'), rowValuesTruncated: key('rowValuesTruncated'),
  incompleteReason: key('incompleteReason'), badChecksum: key('badChecksum'), errorPhase: key('errorPhase'), batch: key('batch'), rolledBack: key('rolledBack'), rollbackUnknown: key('rollbackUnknown'),
  poolerLeg: key('poolerLeg'), serverLeg: key('serverLeg'),
};
const SERVER_LEG = { session: enc('{"session":'), backendPid: key('backendPid') };
const POOLER_SERVER = enc('"server"');
const BATCH = { id: enc('{"id":'), size: key('size'), durationMs: key('durationMs') };
const COLUMN = {
  name: enc('{"name":'), tableOid: key('tableOid'), columnNumber: key('columnNumber'), typeOid: key('typeOid'),
  typeName: key('typeName'), typeSize: key('typeSize'), typeModifier: key('typeModifier'), format: key('format'),
};
const NULL = enc('null');
const TRUE = enc('true');
const FALSE = enc('false');
const EMPTY_ARRAY = enc('[]');

function nullableString(w: JsonWriter, s: string | null): void {
  if (s === null) w.raw(NULL);
  else w.string(s);
}

function nullableMillis(w: JsonWriter, n: number | null): void {
  if (n === null) w.raw(NULL);
  else w.millis(n);
}

function bool(w: JsonWriter, b: boolean): void {
  w.raw(b ? TRUE : FALSE);
}

function column(w: JsonWriter, c: ColumnDescription): void {
  w.raw(COLUMN.name); w.string(c.name);
  w.raw(COLUMN.tableOid); w.number(c.tableOid);
  w.raw(COLUMN.columnNumber); w.number(c.columnNumber);
  w.raw(COLUMN.typeOid); w.number(c.typeOid);
  w.raw(COLUMN.typeName); nullableString(w, c.typeName);
  w.raw(COLUMN.typeSize); w.number(c.typeSize);
  w.raw(COLUMN.typeModifier); w.number(c.typeModifier);
  w.raw(COLUMN.format); w.string(c.format);
  w.byte(0x7d);
}

/** A rarely present part: null, or the generic writer's JSON of it. */
function nullableValue(w: JsonWriter, v: unknown): void {
  if (v === null) w.raw(NULL);
  else w.value(v, 1);
}

/** `,"protocol":…,"sql":` per protocol. */
const PROTOCOL: Record<string, Buffer> = {};
for (const p of ['simple', 'extended', 'function']) PROTOCOL[p] = enc(`,"protocol":"${p}","sql":`);
const FIRST_STATEMENT = enc(',"statementIndex":0,"statementCount":1,"statement":');
const NO_PARAMS_PARSED = enc(',"params":[],"parsed":');
const AFTER_PARSED = { true: enc('true,"durationMs":'), false: enc('false,"durationMs":') };
const NO_FIRST_ROW = enc(',"firstRowMs":null,"rows":');
const NOTHING_RETURNED = enc(',"rowsReturned":0,"bytesReturned":0,"command":');
const NO_ERROR_NO_NOTICES = enc(',"error":null,"notices":[],"transactionStatus":');
const STATUS: Record<string, Buffer> = {};
for (const t of ['idle', 'transaction', 'failed']) STATUS[t] = enc(`"${t}"`);
const NOT_FLAGGED = enc(',"skipped":false,"incomplete":false,"suspended":false,"firstFrame":');
const PLAIN_END = enc(',"copy":null,"function":null,"cancelledBy":null}\n');

/**
 * `,"protocol":…,"sql":…,"statementIndex":…,"statementCount":…,"statement":…,"portal":…`:
 * the same for every execution of a prepared statement, so kept per SQL text (the statement
 * table hands out one string per text, whose hash a Map already knows) for the statement and
 * portal it was made with. Bounded: the texts come from the wire.
 */
interface StatementRun {
  protocol: string;
  statement: string | null;
  portal: string | null;
  statementIndex: number;
  statementCount: number;
  bytes: Buffer;
}
const RUNS = new Map<string, StatementRun>();
const MAX_RUNS = 4096;
/** Longer SQL is written each time: a copy of it would cost as much, and the cache stays small. */
const MAX_RUN_SQL = 2048;

/** What the statement run is made of (an Execution's fields of the same names). */
type StatementFields = Pick<Execution, 'protocol' | 'sql' | 'statement' | 'portal' | 'statementIndex' | 'statementCount'>;

function writeStatementFields(w: JsonWriter, r: StatementFields): void {
  const protocol = PROTOCOL[r.protocol];
  if (protocol !== undefined) w.raw(protocol);
  else { w.raw(RECORD.protocol); w.string(r.protocol); w.raw(RECORD.sql); }
  nullableString(w, r.sql);
  if (r.statementIndex === 0 && r.statementCount === 1) w.raw(FIRST_STATEMENT);
  else {
    w.raw(RECORD.statementIndex); w.number(r.statementIndex);
    w.raw(RECORD.statementCount); w.number(r.statementCount);
    w.raw(RECORD.statement);
  }
  nullableString(w, r.statement);
  w.raw(RECORD.portal); nullableString(w, r.portal);
}

function statementRun(w: JsonWriter, r: StatementFields): void {
  const sql = r.sql;
  if (sql === null || sql.length > MAX_RUN_SQL) {
    writeStatementFields(w, r);
    return;
  }
  const run = RUNS.get(sql);
  if (run !== undefined && run.statement === r.statement && run.portal === r.portal && run.protocol === r.protocol
    && run.statementIndex === r.statementIndex && run.statementCount === r.statementCount) {
    w.raw(run.bytes);
    return;
  }
  const start = w.pos;
  writeStatementFields(w, r);
  if (RUNS.size >= MAX_RUNS) RUNS.clear();
  RUNS.set(sql, {
    protocol: r.protocol, statement: r.statement, portal: r.portal, statementIndex: r.statementIndex, statementCount: r.statementCount,
    bytes: Buffer.from(w.buf.subarray(start, w.pos)),
  });
}

/**
 * The query record of `r` (toRecord's, full detail) and its newline. Constant runs that most
 * records share (no error, no notices, not skipped, nothing after columns) are one copy each:
 * a copy of a few dozen bytes costs hardly more than of a few.
 */
export function writeExecution(w: JsonWriter, r: Execution, session: number, status: TransactionStatus | null): void {
  w.raw(RECORD.start); w.number(session);
  w.raw(RECORD.time); w.isoTime(r.recordEndUs());
  w.raw(RECORD.frame); w.number(r.lastFrame);
  statementRun(w, r);
  const params = r.params;
  if (params.length === 0) w.raw(NO_PARAMS_PARSED);
  else {
    w.raw(RECORD.params);
    w.byte(0x5b);
    for (let i = 0; i < params.length; i++) {
      if (i > 0) w.byte(0x2c);
      typedValue(w, params[i]!);
    }
    w.byte(0x5d);
    w.raw(RECORD.parsed);
  }
  w.raw(r.parsed ? AFTER_PARSED.true : AFTER_PARSED.false);
  nullableMillis(w, r.durationMs());
  const firstRowMs = r.firstRowMs();
  if (firstRowMs === null) w.raw(NO_FIRST_ROW);
  else {
    w.raw(RECORD.firstRowMs); w.millis(firstRowMs);
    w.raw(RECORD.rows);
  }
  w.number(r.tagRows ?? r.rowsReturned);
  if (r.rowsReturned === 0 && r.bytesReturned === 0) w.raw(NOTHING_RETURNED);
  else {
    w.raw(RECORD.rowsReturned); w.number(r.rowsReturned);
    w.raw(RECORD.bytesReturned); w.number(r.bytesReturned);
    w.raw(RECORD.command);
  }
  nullableString(w, r.command);
  const notices = r.notices;
  if (r.error === null && (notices === null || notices.length === 0)) w.raw(NO_ERROR_NO_NOTICES);
  else {
    w.raw(RECORD.error); nullableValue(w, r.error);
    w.raw(RECORD.notices);
    if (notices === null || notices.length === 0) w.raw(EMPTY_ARRAY);
    else w.value(notices, 1);
    w.raw(RECORD.transactionStatus);
  }
  const statusBytes = status === null ? undefined : STATUS[status];
  if (statusBytes !== undefined) w.raw(statusBytes);
  else nullableString(w, status);
  if (!r.skipped && !r.incomplete && !r.suspended) w.raw(NOT_FLAGGED);
  else {
    w.raw(RECORD.skipped); bool(w, r.skipped);
    w.raw(RECORD.incomplete); bool(w, r.incomplete);
    w.raw(RECORD.suspended); bool(w, r.suspended);
    w.raw(RECORD.firstFrame);
  }
  w.number(r.firstFrame);
  w.raw(RECORD.lastFrame); w.number(r.lastFrame);
  w.raw(RECORD.startTime); w.isoTime(r.recordStartUs());
  w.raw(RECORD.columns);
  const columns = r.columns;
  if (columns === null) w.raw(NULL);
  else {
    w.byte(0x5b);
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) w.byte(0x2c);
      column(w, columns[i]!);
    }
    w.byte(0x5d);
  }
  const reason = r.incomplete ? r.incompleteReason : null;
  if (r.copy === null && !r.isFunction && r.cancelledBy === null && r.rowValues === null && reason === null && !r.badChecksum && r.errorPhase === null
    && r.batch === null && !r.rolledBack && !r.rollbackUnknown && !r.poolerLeg && r.serverLeg === null) {
    w.raw(PLAIN_END);
    return;
  }
  w.raw(RECORD.copy); nullableValue(w, r.copy);
  w.raw(RECORD.function); nullableValue(w, r.isFunction ? { oid: r.functionOid, result: r.functionResult } : null);
  w.raw(RECORD.cancelledBy); nullableValue(w, r.cancelledBy);
  if (reason !== null) { w.raw(RECORD.incompleteReason); w.string(reason); }
  if (r.badChecksum) { w.raw(RECORD.badChecksum); w.raw(TRUE); }
  if (r.errorPhase !== null) { w.raw(RECORD.errorPhase); w.string(r.errorPhase); }
  const batch = r.batch;
  if (batch !== null) {
    w.raw(RECORD.batch);
    w.raw(BATCH.id); w.number(batch.id);
    w.raw(BATCH.size); w.number(batch.size);
    w.raw(BATCH.durationMs); w.millis(batch.durationMs());
    w.byte(0x7d);
  }
  if (r.rolledBack) { w.raw(RECORD.rolledBack); w.raw(TRUE); }
  if (r.rollbackUnknown) { w.raw(RECORD.rollbackUnknown); w.raw(TRUE); }
  if (r.poolerLeg) { w.raw(RECORD.poolerLeg); w.raw(POOLER_SERVER); }
  const leg = r.serverLeg;
  if (leg) {
    w.raw(RECORD.serverLeg);
    w.raw(SERVER_LEG.session); w.number(leg.session);
    w.raw(SERVER_LEG.backendPid);
    if (leg.backendPid === null) w.raw(NULL);
    else w.number(leg.backendPid);
    w.byte(0x7d);
  }
  if (r.rowValues !== null) {
    w.raw(RECORD.rowValues); w.value(r.rowValues, 1);
    w.raw(RECORD.rowValuesTruncated); bool(w, r.rowValuesTruncated);
  }
  w.byte(0x7d);
  w.byte(0x0a);
}
