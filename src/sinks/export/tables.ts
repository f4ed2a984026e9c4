/**
 * The ClickHouse tables pgsniff exports to, each declared once: a column's name, its ClickHouse
 * type and how its value comes from a record. The DDL (`pgsniff export-schema clickhouse`) and
 * the rows inserted are both made from these declarations, so they cannot drift apart.
 *
 * Types are those every ClickHouse from Debian's 18.16 to current accepts: String, UInt*,
 * Float64, Nullable, DateTime, MergeTree with PARTITION BY and ORDER BY. Times are DateTime
 * (seconds, UTC) beside a UInt64 of microseconds since the epoch, since DateTime64 came later;
 * what a column cannot hold typed goes into `extra`, a JSON string.
 */
import type { OutRecord } from '../../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../../session/schema.js';
import type { Normalized } from '../stats-normalize.js';

/**
 * Who connected, from the session's StartupMessage and ParameterStatus: query rows carry it
 * before the session ends (the session row, at its end, has the addresses too).
 */
export interface SessionContext {
  user: string;
  database: string;
  application: string;
}

/** What every row carries besides its record. */
export interface RowContext {
  host: string;
  source: string;
  session: SessionContext | null;
  /** The query's normalized statement (query rows only). */
  normalized: Normalized | null;
  /** Bound parameters go out only when the user asks (--export-params). */
  params: boolean;
}

interface Column {
  name: string;
  type: string;
  value(rec: Record<string, unknown>, ctx: RowContext): unknown;
}

export interface Table {
  name: string;
  kind: 'query' | 'session' | 'anomaly' | 'message';
  columns: readonly Column[];
  orderBy: string;
  /** Record keys a typed column already holds: the rest goes into `extra`. */
  typedKeys: ReadonlySet<string>;
}

/** "2026-12-07T10:00:00.123456Z" -> microseconds since the epoch. */
function isoToMicros(iso: string): number {
  const ms = Date.parse(iso);
  const frac = /\.(\d{6})Z$/.exec(iso);
  return frac ? Math.floor(ms / 1000) * 1_000_000 + Number(frac[1]) : ms * 1000;
}

/** A record's value as a string column ('' when absent), never undefined for ClickHouse. */
function str(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function nullableNum(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Milliseconds (as records give them, to the microsecond) as whole microseconds: integers
 * survive every ClickHouse exactly, where older releases parse some decimals to a neighbouring
 * double.
 */
function micros(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(v * 1000) : null;
}

function flag(v: unknown): number {
  return v === true ? 1 : 0;
}

/** The longest SQL text a row keeps; longer is cut and `sql_truncated` says so. */
const MAX_SQL = 256 * 1024;

const envelope: Column[] = [
  { name: 'time', type: 'DateTime', value: (r) => Math.floor(isoToMicros(String(r.time)) / 1_000_000) },
  { name: 'time_us', type: 'UInt64', value: (r) => isoToMicros(String(r.time)) },
  { name: 'host', type: 'String', value: (_r, c) => c.host },
  { name: 'source', type: 'String', value: (_r, c) => c.source },
];

const who: Column[] = [
  { name: 'user', type: 'String', value: (_r, c) => c.session?.user ?? '' },
  { name: 'database', type: 'String', value: (_r, c) => c.session?.database ?? '' },
  { name: 'application', type: 'String', value: (_r, c) => c.session?.application ?? '' },
];

function extraOf(rec: Record<string, unknown>, typed: ReadonlySet<string>, ctx: RowContext): string {
  const rest: Record<string, unknown> = {};
  for (const k of Object.keys(rec)) {
    if (typed.has(k) || (k === 'params' && !ctx.params)) continue;
    rest[k] = rec[k];
  }
  return JSON.stringify(rest);
}

function table(name: string, kind: Table['kind'], orderBy: string, columns: Column[], typedKeys: string[]): Table {
  const typed = new Set(['kind', 'time', ...typedKeys]);
  return {
    name, kind, orderBy, typedKeys: typed,
    columns: [...columns, { name: 'extra', type: 'String', value: (r, c) => extraOf(r, typed, c) }],
  };
}

const queryError = (r: Record<string, unknown>): QueryRecord['error'] => (r as QueryRecord).error;

const QUERIES = table('pgsniff_queries', 'query', '(fingerprint, host, time)', [
  ...envelope,
  { name: 'session', type: 'UInt32', value: (r) => num(r.session) },
  { name: 'frame', type: 'UInt64', value: (r) => num(r.frame) },
  { name: 'first_frame', type: 'UInt64', value: (r) => num(r.firstFrame) },
  { name: 'start_us', type: 'UInt64', value: (r) => isoToMicros(String(r.startTime)) },
  ...who,
  { name: 'protocol', type: 'String', value: (r) => str(r.protocol) },
  { name: 'statement_name', type: 'Nullable(String)', value: (r) => (r.statement ?? null) },
  { name: 'portal', type: 'Nullable(String)', value: (r) => (r.portal ?? null) },
  { name: 'fingerprint', type: 'String', value: (_r, c) => c.normalized?.fingerprint ?? '' },
  { name: 'normalized', type: 'String', value: (_r, c) => (c.normalized?.text ?? '').slice(0, MAX_SQL) },
  { name: 'sql', type: 'Nullable(String)', value: (r) => (typeof r.sql === 'string' ? r.sql.slice(0, MAX_SQL) : null) },
  { name: 'sql_truncated', type: 'UInt8', value: (r) => (typeof r.sql === 'string' && r.sql.length > MAX_SQL ? 1 : 0) },
  { name: 'duration_us', type: 'Nullable(UInt64)', value: (r) => micros(r.durationMs) },
  { name: 'first_row_us', type: 'Nullable(UInt64)', value: (r) => micros(r.firstRowMs) },
  { name: 'batch_id', type: 'Nullable(UInt64)', value: (r) => (r as QueryRecord).batch?.id ?? null },
  { name: 'batch_size', type: 'UInt32', value: (r) => (r as QueryRecord).batch?.size ?? 0 },
  { name: 'batch_duration_us', type: 'Nullable(UInt64)', value: (r) => micros((r as QueryRecord).batch?.durationMs) },
  { name: 'rows', type: 'UInt64', value: (r) => num(r.rows) },
  { name: 'rows_returned', type: 'UInt64', value: (r) => num(r.rowsReturned) },
  { name: 'bytes_returned', type: 'UInt64', value: (r) => num(r.bytesReturned) },
  { name: 'command', type: 'String', value: (r) => str(r.command) },
  { name: 'sqlstate', type: 'String', value: (r) => queryError(r)?.sqlstate ?? '' },
  { name: 'error_severity', type: 'String', value: (r) => queryError(r)?.severityNonLocalized ?? queryError(r)?.severity ?? '' },
  { name: 'error_message', type: 'String', value: (r) => queryError(r)?.message ?? '' },
  { name: 'error_phase', type: 'String', value: (r) => str(r.errorPhase) },
  { name: 'skipped', type: 'UInt8', value: (r) => flag(r.skipped) },
  { name: 'incomplete', type: 'UInt8', value: (r) => flag(r.incomplete) },
  { name: 'incomplete_reason', type: 'String', value: (r) => str(r.incompleteReason) },
  { name: 'rolled_back', type: 'UInt8', value: (r) => flag(r.rolledBack) },
  { name: 'suspended', type: 'UInt8', value: (r) => flag(r.suspended) },
  { name: 'bad_checksum', type: 'UInt8', value: (r) => flag(r.badChecksum) },
  { name: 'transaction_status', type: 'String', value: (r) => str(r.transactionStatus) },
  { name: 'params', type: 'String', value: (r, c) => (c.params ? JSON.stringify(r.params ?? []) : '') },
], ['session', 'frame', 'firstFrame', 'startTime', 'protocol', 'statement', 'portal', 'sql', 'durationMs', 'firstRowMs',
  'batch', 'rows', 'rowsReturned', 'bytesReturned', 'command', 'errorPhase', 'skipped', 'incomplete', 'incompleteReason',
  'rolledBack', 'suspended', 'badChecksum', 'transactionStatus', 'params']);

const sess = (r: Record<string, unknown>): SessionRecord => r as unknown as SessionRecord;
const endpoint = (e: { ip: string; port: number } | undefined): string => (e ? (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`) : '');

const SESSIONS = table('pgsniff_sessions', 'session', '(host, time)', [
  ...envelope,
  { name: 'session', type: 'UInt32', value: (r) => num(r.session) },
  { name: 'frame', type: 'UInt64', value: (r) => num(r.frame) },
  { name: 'client', type: 'String', value: (r) => endpoint(sess(r).client) },
  { name: 'server', type: 'String', value: (r) => endpoint(sess(r).server) },
  { name: 'user', type: 'String', value: (r) => str(sess(r).user) },
  { name: 'database', type: 'String', value: (r) => str(sess(r).database) },
  { name: 'application', type: 'String', value: (r) => str(sess(r).applicationName) },
  { name: 'protocol_version', type: 'String', value: (r) => str(sess(r).protocolVersion) },
  { name: 'auth_method', type: 'String', value: (r) => str(sess(r).auth?.method) },
  { name: 'auth_mechanism', type: 'String', value: (r) => str(sess(r).auth?.mechanism) },
  { name: 'auth_outcome', type: 'String', value: (r) => str(sess(r).auth?.outcome) },
  { name: 'auth_sqlstate', type: 'String', value: (r) => str(sess(r).auth?.sqlstate) },
  { name: 'encryption', type: 'String', value: (r) => str(sess(r).encryption) },
  { name: 'tls_version', type: 'String', value: (r) => str(sess(r).tls?.version) },
  { name: 'tls_cipher', type: 'String', value: (r) => str(sess(r).tls?.cipher) },
  { name: 'tls_decrypted', type: 'UInt8', value: (r) => flag(sess(r).tls?.decrypted) },
  { name: 'server_version', type: 'String', value: (r) => str(sess(r).serverVersion) },
  { name: 'backend_pid', type: 'Nullable(UInt32)', value: (r) => (typeof sess(r).backendPid === 'number' ? sess(r).backendPid! >>> 0 : null) },
  { name: 'start_us', type: 'UInt64', value: (r) => isoToMicros(sess(r).start) },
  { name: 'end_us', type: 'UInt64', value: (r) => isoToMicros(sess(r).end) },
  { name: 'duration_us', type: 'UInt64', value: (r) => micros(sess(r).durationMs) ?? 0 },
  { name: 'ended_by', type: 'String', value: (r) => str(sess(r).endedBy) },
  { name: 'fatal_sqlstate', type: 'String', value: (r) => str(sess(r).fatal?.sqlstate) },
  { name: 'frontend_bytes', type: 'UInt64', value: (r) => num(sess(r).frontend?.bytes) },
  { name: 'backend_bytes', type: 'UInt64', value: (r) => num(sess(r).backend?.bytes) },
  { name: 'frontend_messages', type: 'UInt64', value: (r) => num(sess(r).frontend?.messages) },
  { name: 'backend_messages', type: 'UInt64', value: (r) => num(sess(r).backend?.messages) },
  { name: 'queries', type: 'UInt64', value: (r) => num(sess(r).queries) },
  { name: 'errors', type: 'UInt64', value: (r) => num(sess(r).errors) },
  { name: 'anomalies', type: 'UInt64', value: (r) => num(sess(r).anomalies) },
], ['session', 'frame', 'client', 'server', 'user', 'database', 'applicationName', 'protocolVersion', 'auth', 'encryption',
  'tls', 'serverVersion', 'backendPid', 'start', 'end', 'durationMs', 'endedBy', 'frontend', 'backend', 'queries',
  'errors', 'anomalies']);

const ANOMALIES = table('pgsniff_anomalies', 'anomaly', '(host, time)', [
  ...envelope,
  { name: 'session', type: 'Nullable(UInt32)', value: (r) => nullableNum(r.session) },
  { name: 'frame', type: 'Nullable(UInt64)', value: (r) => nullableNum(r.frame) },
  ...who,
  { name: 'code', type: 'String', value: (r) => str(r.code) },
  { name: 'reason', type: 'String', value: (r) => str(r.reason) },
  { name: 'dir', type: 'String', value: (r) => str(r.dir) },
  { name: 'skipped', type: 'UInt64', value: (r) => num(r.skipped) },
], ['session', 'frame', 'code', 'reason', 'dir', 'skipped']);

const MESSAGES = table('pgsniff_messages', 'message', '(host, session, time)', [
  ...envelope,
  { name: 'session', type: 'UInt32', value: (r) => num(r.session) },
  { name: 'frame', type: 'UInt64', value: (r) => num(r.frame) },
  { name: 'dir', type: 'String', value: (r) => str(r.dir) },
  { name: 'type', type: 'String', value: (r) => str(r.type) },
  { name: 'code', type: 'String', value: (r) => str(r.code) },
  { name: 'length', type: 'UInt32', value: (r) => num(r.length) },
], ['session', 'frame', 'dir', 'type', 'code', 'length']);

export const TABLES: readonly Table[] = [QUERIES, SESSIONS, ANOMALIES, MESSAGES];

/** The table a record goes to. */
export function tableOf(kind: OutRecord['kind']): Table | undefined {
  return TABLES.find((t) => t.kind === kind);
}

/** One record as a JSONEachRow line's object, column by column. */
export function rowOf(t: Table, rec: Record<string, unknown>, ctx: RowContext): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const c of t.columns) row[c.name] = c.value(rec, ctx);
  return row;
}

/** A ClickHouse identifier (database or table name) as written in DDL. */
export function ident(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** A ClickHouse string literal. */
export function literal(text: string): string {
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * CREATE TABLE statements for one server: MergeTree, a partition a day, ordered for the usual
 * questions (by statement and time for queries, by host and time for the rest). `engine`
 * replaces the engine clause (a cluster's ReplicatedMergeTree, see README).
 */
function createTableSql(database: string, t: Table, engine = 'MergeTree()'): string {
  const cols = t.columns.map((c) => `  ${ident(c.name)} ${c.type}`).join(',\n');
  return `CREATE TABLE IF NOT EXISTS ${ident(database)}.${ident(t.name)}\n(\n${cols}\n)\n` +
    `ENGINE = ${engine}\nPARTITION BY toDate(time)\nORDER BY ${t.orderBy}`;
}

/**
 * What makes a table made by an older pgsniff hold every column declared now: for each column
 * `existing` (the table's column names) lacks, an ALTER TABLE that adds it after its declared
 * predecessor. An added column reads 0 / '' / NULL in the rows inserted before. (ClickHouse
 * 18.16 has no ADD COLUMN IF NOT EXISTS, hence the list of what exists.)
 */
export function addMissingColumnsSql(database: string, t: Table, existing: ReadonlySet<string>): string[] {
  const out: string[] = [];
  t.columns.forEach((c, i) => {
    if (existing.has(c.name)) return;
    const after = i > 0 ? ` AFTER ${ident(t.columns[i - 1]!.name)}` : '';
    out.push(`ALTER TABLE ${ident(database)}.${ident(t.name)} ADD COLUMN ${ident(c.name)} ${c.type}${after}`);
  });
  return out;
}

export function schemaSql(database: string): string {
  return [`CREATE DATABASE IF NOT EXISTS ${ident(database)}`, ...TABLES.map((t) => createTableSql(database, t))]
    .map((s) => s + ';\n').join('\n');
}
