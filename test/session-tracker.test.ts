import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from './helpers/prng.js';
import type { DecodedMessage, RawMessage, TypedValue, ErrorFields } from '../dissectors/types.js';
import type { ConnectionInfo } from '../src/reassembly/types.js';
import type { Anomaly } from '../src/core/anomaly.js';
import { SessionTracker, MAX_AWAITING } from '../src/session/tracker.js';
import { SessionRegistry } from '../src/session/registry.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../src/session/schema.js';
import { bytes, commandComplete, cstring, describe, execute, msg, readyForQuery } from './helpers/pg-builder.js';
import { rawMessage } from '../dissectors/raw-message.js';

const FE: Record<string, string | null> = {
  StartupMessage: null, SSLRequest: null, GSSENCRequest: null, CancelRequest: null,
  Query: 'Q', Parse: 'P', Bind: 'B', Describe: 'D', Execute: 'E', Close: 'C', Sync: 'S', Flush: 'H', Terminate: 'X',
  FunctionCall: 'F', CopyData: 'd', CopyDone: 'c', CopyFail: 'f', PasswordMessage: 'p', SASLInitialResponse: 'p', SASLResponse: 'p',
};
const BE: Record<string, string | null> = {
  SSLResponse: null, GSSENCResponse: null, Authentication: 'R', BackendKeyData: 'K', ParameterStatus: 'S', ReadyForQuery: 'Z',
  ParseComplete: '1', BindComplete: '2', CloseComplete: '3', ParameterDescription: 't', RowDescription: 'T', NoData: 'n',
  DataRow: 'D', CommandComplete: 'C', EmptyQueryResponse: 'I', PortalSuspended: 's', ErrorResponse: 'E', NoticeResponse: 'N',
  NotificationResponse: 'A', CopyInResponse: 'G', CopyOutResponse: 'H', CopyBothResponse: 'W', CopyData: 'd', CopyDone: 'c',
  FunctionCallResponse: 'V', NegotiateProtocolVersion: 'v',
};

let nextSession = 0;

/**
 * The body of the messages the tracker reads from the wire rather than through `decode`
 * (Describe, Close, Execute, CommandComplete, ReadyForQuery); other messages get a dummy body.
 * Zeros are malformed for all of these, as a Malformed stand-in's body should be.
 */
function wireBody(d: DecodedMessage): Buffer | null {
  switch (d.type) {
    case 'Execute': return execute(d.portal, d.maxRows).subarray(5);
    case 'Describe': return describe(d.target === 'portal' ? 'P' : 'S', d.name).subarray(5);
    case 'Close': return msg('C', bytes(d.target === 'portal' ? 'P' : 'S'), cstring(d.name)).subarray(5);
    case 'CommandComplete': return commandComplete(d.tag).subarray(5);
    case 'ReadyForQuery': return readyForQuery(d.status).subarray(5);
    default: return null;
  }
}

/** Drives one tracker with synthetic messages; each message is its own frame unless `same` is set. */
class Wire {
  frame = 0;
  t = 1_700_000_000_000_000;
  readonly out: Array<QueryRecord | SessionRecord> = [];
  readonly tracker: SessionTracker;
  readonly conn: ConnectionInfo;
  decodes = 0;

  constructor(readonly registry = new SessionRegistry(), opts: { keepRows?: boolean; anomaly?: (a: Anomaly) => void } = {}) {
    this.conn = {
      id: nextSession++, client: { ip: '10.0.0.1', port: 40000 + nextSession }, server: { ip: '10.0.0.2', port: 5432 },
      serverBy: 'syn', sawSyn: true, startFrame: 1, startTimeUs: this.t,
    };
    this.tracker = new SessionTracker(this.conn, (r) => this.out.push(r), { registry, keepRows: opts.keepRows, anomaly: opts.anomaly });
  }

  private send(dir: 'frontend' | 'backend', d: DecodedMessage, o: { same?: boolean; dtUs?: number; bodyLen?: number; trailing?: Buffer }): void {
    if (!o.same) {
      this.frame++;
      this.t += o.dtUs ?? 1000;
    }
    const table = dir === 'frontend' ? FE : BE;
    const name = d.type === 'Malformed' ? d.name : d.type.startsWith('Authentication') ? 'Authentication' : d.type;
    assert.ok(name in table, `no code for ${dir} ${name}`);
    const code = table[name]!;
    const body = o.bodyLen !== undefined ? Buffer.alloc(o.bodyLen) : wireBody(d) ?? Buffer.alloc(10);
    let raw: RawMessage = rawMessage({
      dir, code, length: body.length + 4, body, offset: 0, firstFrame: this.frame, frame: this.frame,
      startTimeUs: this.t, timeUs: this.t,
    });
    // More bytes of the same segment after this message (as the framer hands them out).
    if (o.trailing) raw = { ...raw, source: Buffer.concat([body, o.trailing]) };
    this.tracker.message(raw, () => { this.decodes++; return d; });
  }

  fe(d: DecodedMessage, o: { same?: boolean; dtUs?: number; bodyLen?: number; trailing?: Buffer } = {}): this { this.send('frontend', d, o); return this; }
  be(d: DecodedMessage, o: { same?: boolean; dtUs?: number; bodyLen?: number; trailing?: Buffer } = {}): this { this.send('backend', d, o); return this; }

  /** A trust login with BackendKeyData. */
  login(pid = 1000 + nextSession, key = 'a1b2c3d4'): this {
    this.fe({ type: 'StartupMessage', protocolMajor: 3, protocolMinor: 0, parameters: { user: 'alice', database: 'shop', application_name: 'test' } });
    this.be({ type: 'AuthenticationOk', authType: 0 });
    this.be({ type: 'ParameterStatus', name: 'server_version', value: '18.0' }, { same: true });
    this.be({ type: 'ParameterStatus', name: 'standard_conforming_strings', value: 'on' }, { same: true });
    this.be({ type: 'BackendKeyData', processId: pid, secretKey: key }, { same: true });
    this.be(rfq('I'), { same: true });
    return this;
  }

  close(reason: 'fin' | 'capture-end' = 'fin'): this {
    this.frame++;
    this.t += 1000;
    this.tracker.close({ reason, frame: this.frame, timeUs: this.t });
    for (const r of this.out) {
      const s = r.kind === 'query' ? queryRecordSchema.safeParse(r) : sessionRecordSchema.safeParse(r);
      assert.ok(s.success, JSON.stringify(s.error?.issues));
    }
    return this;
  }

  get queries(): QueryRecord[] { return this.out.filter((r): r is QueryRecord => r.kind === 'query'); }
  get session(): SessionRecord {
    const s = this.out.find((r): r is SessionRecord => r.kind === 'session');
    assert.ok(s, 'no session record');
    return s;
  }
}

const rfq = (s: 'I' | 'T' | 'E'): DecodedMessage => ({ type: 'ReadyForQuery', status: s, transactionStatus: s === 'I' ? 'idle' : s === 'T' ? 'transaction' : 'failed' });
const cc = (tag: string): DecodedMessage => {
  const parts = tag.split(' ');
  const last = Number(parts[parts.length - 1]);
  return { type: 'CommandComplete', tag, command: parts[0]!, rows: Number.isFinite(last) && parts.length > 1 ? last : null };
};
const col = (name: string, typeOid = 23) => ({ name, tableOid: 0, columnNumber: 0, typeOid, typeName: 'int4', typeSize: 4, typeModifier: -1, format: 'text' as const });
const rowDesc = (...names: string[]): DecodedMessage => ({ type: 'RowDescription', fields: names.map((n) => col(n)) });
const row = (...vals: string[]): DecodedMessage => ({ type: 'DataRow', values: vals.map((v) => tv(v)) });
const tv = (v: string, oid = 23): TypedValue => ({ oid, typeName: 'int4', format: 'text', value: v });
const err = (sqlstate: string, message: string, extra: Partial<ErrorFields> = {}): DecodedMessage => ({
  type: 'ErrorResponse', fields: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate, message, ...extra },
});
const parse = (statement: string, query: string, paramTypes: number[] = []): DecodedMessage => ({ type: 'Parse', statement, query, paramTypes });
const bind = (statement: string, params: TypedValue[] = [], portal = ''): DecodedMessage => ({
  type: 'Bind', portal, statement, paramFormats: [], params, resultFormats: [],
});
const exec = (portal = ''): DecodedMessage => ({ type: 'Execute', portal, maxRows: 0 });
const sync: DecodedMessage = { type: 'Sync' };
/** Messages outside the DecodedMessage union's named shapes (OtherMessage-shaped). */
const other = (type: string, fields: Record<string, unknown> = {}): DecodedMessage => ({ type, ...fields }) as unknown as DecodedMessage;

test('simple query: record, timing, transaction status, session record', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select 1' });
  w.be(rowDesc('one'), { dtUs: 3000 }).be(row('1'), { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  w.fe({ type: 'Terminate' }).close();
  const [q] = w.queries;
  assert.ok(q);
  assert.equal(q.sql, 'select 1');
  assert.equal(q.protocol, 'simple');
  assert.equal(q.rows, 1);
  assert.equal(q.rowsReturned, 1);
  assert.equal(q.bytesReturned, 15);
  assert.equal(q.command, 'SELECT 1');
  assert.equal(q.durationMs, 3);
  assert.equal(q.firstRowMs, 3);
  assert.equal(q.transactionStatus, 'idle');
  assert.equal(q.error, null);
  assert.deepEqual(q.columns?.map((c) => c.name), ['one']);
  const s = w.session;
  assert.equal(s.user, 'alice');
  assert.equal(s.database, 'shop');
  assert.equal(s.applicationName, 'test');
  assert.equal(s.auth.method, 'trust');
  assert.equal(s.auth.outcome, 'success');
  assert.equal(s.serverVersion, '18.0');
  assert.equal(s.endedBy, 'terminate');
  assert.equal(s.queries, 1);
  assert.equal(s.protocolVersion, '3.0');
  assert.equal(s.frontend.messages, 3);
  assert.ok(s.backend.bytes > 0);
  // DataRows are counted without being decoded
  assert.equal(w.out.indexOf(q) < w.out.indexOf(s), true);
});

test('DataRow is not decoded unless rows are kept; kept rows are capped', () => {
  const w = new Wire().login();
  const before = w.decodes;
  w.fe({ type: 'Query', query: 'select g from generate_series(1,1500) g' });
  w.be(rowDesc('g'));
  for (let i = 0; i < 1500; i++) w.be(row(String(i)), { same: true });
  w.be(cc('SELECT 1500'), { same: true }).be(rfq('I'), { same: true }).close();
  assert.equal(w.decodes - before, 2); // Query, RowDescription (CommandComplete and ReadyForQuery are read from their bytes)
  assert.equal(w.queries[0]!.rows, 1500);
  assert.equal(w.queries[0]!.rowValues, undefined);

  const anomalies: Anomaly[] = [];
  const k = new Wire(undefined, { keepRows: true, anomaly: (a) => anomalies.push(a) }).login();
  k.fe({ type: 'Query', query: 'select g' }).be(rowDesc('g'));
  const rowsFrame = k.frame + 1;
  for (let i = 0; i < 1500; i++) k.be(row(String(i)), { same: i > 0 && i !== 1000 });
  k.be(cc('SELECT 1500')).be(rfq('I')).close();
  const q = k.queries[0]!;
  assert.equal(q.rowValues?.length, 1000);
  assert.deepEqual(q.rowValues?.[2], ['2']);
  assert.equal(q.rowValuesTruncated, true);
  // the cap reached is an anomaly: once for the query, at the first row dropped, with the count and bytes
  assert.equal(anomalies.length, 1);
  assert.equal(anomalies[0]!.code, 'row-limit');
  assert.equal(anomalies[0]!.frame, rowsFrame + 1);
  assert.equal(anomalies[0]!.skipped, 500 * 15);
  assert.match(anomalies[0]!.reason, /^500 DataRow/);
  assert.equal(k.session.anomalies, 1);
});

test('multi-statement Query: one record per statement with its own SQL', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: "select 1; select ';' as x;\n insert into t values (1)" });
  w.be(rowDesc('a'), { dtUs: 1000 }).be(row('1'), { same: true }).be(cc('SELECT 1'), { same: true });
  w.be(rowDesc('x'), { dtUs: 2000 }).be(row(';'), { same: true }).be(cc('SELECT 1'), { same: true });
  w.be(cc('INSERT 0 1'), { dtUs: 4000 }).be(rfq('I'), { same: true }).close();
  const qs = w.queries;
  assert.deepEqual(qs.map((q) => q.sql), ['select 1', "select ';' as x", 'insert into t values (1)']);
  assert.deepEqual(qs.map((q) => q.statementIndex), [0, 1, 2]);
  assert.deepEqual(qs.map((q) => q.statementCount), [3, 3, 3]);
  assert.deepEqual(qs.map((q) => q.command), ['SELECT 1', 'SELECT 1', 'INSERT 0 1']);
  assert.deepEqual(qs.map((q) => q.durationMs), [1, 2, 4]);
  assert.deepEqual(qs.map((q) => q.rows), [1, 1, 1]);
});

test('multi-statement Query: a runtime error skips the rest', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select 1; select 1/0; select 3' });
  w.be(rowDesc('a')).be(row('1')).be(cc('SELECT 1')).be(err('22012', 'division by zero')).be(rfq('I')).close();
  const qs = w.queries;
  assert.equal(qs.length, 3);
  assert.equal(qs[0]!.error, null);
  assert.equal(qs[1]!.error?.sqlstate, '22012');
  assert.equal(qs[1]!.sql, 'select 1/0');
  assert.equal(qs[2]!.skipped, true);
  assert.equal(qs[2]!.durationMs, null);
  assert.equal(w.session.errors, 1);
  assert.equal(w.session.queries, 2);
});

test('multi-statement Query: an error, then the connection ends before ReadyForQuery', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select 1/0; select 2' }).be(err('22012', 'division by zero')).close();
  assert.deepEqual(w.queries.map((q) => [q.error?.sqlstate ?? null, q.skipped, q.incomplete]), [['22012', false, false], [null, true, false]]);
});

test('multi-statement Query: a syntax error in a later statement fails the string before anything ran', () => {
  const w = new Wire().login();
  const sql = 'select 1; select 2; selec 3';
  w.fe({ type: 'Query', query: sql });
  w.be(err('42601', 'syntax error at or near "selec"', { position: String(sql.lastIndexOf('selec') + 1) })).be(rfq('I')).close();
  const qs = w.queries;
  assert.deepEqual(qs.map((q) => q.skipped), [true, true, false]);
  assert.equal(qs[2]!.error?.sqlstate, '42601');
  assert.equal(qs[2]!.sql, 'selec 3');
});

test('empty Query gives one record with EmptyQueryResponse', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: '  ' }).be({ type: 'EmptyQueryResponse' }).be(rfq('I')).close();
  assert.equal(w.queries.length, 1);
  assert.equal(w.queries[0]!.command, null);
});

test('several Query messages sent without waiting pair FIFO; durations do not include queueing', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select 1' }).fe({ type: 'Query', query: 'select 2' }, { same: true });
  w.be(rowDesc('a'), { dtUs: 5000 }).be(row('1'), { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  w.be(rowDesc('a'), { dtUs: 2000 }).be(row('2'), { same: true }).be(row('2'), { same: true }).be(cc('SELECT 2'), { same: true }).be(rfq('T'), { same: true });
  w.close();
  const qs = w.queries;
  assert.deepEqual(qs.map((q) => q.sql), ['select 1', 'select 2']);
  assert.deepEqual(qs.map((q) => q.rows), [1, 2]);
  assert.deepEqual(qs.map((q) => q.durationMs), [5, 2]);
  assert.deepEqual(qs.map((q) => q.transactionStatus), ['idle', 'transaction']);
});

test('extended: named statement prepared once, executed twice, with typed params', () => {
  const w = new Wire().login();
  w.fe(parse('s1', 'select * from users where id = $1', [23]));
  assert.deepEqual(w.tracker.statementParamTypes('s1'), [23]);
  w.fe(bind('s1', [tv('7')]), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true }).be(row('7'), { same: true })
    .be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  w.fe(bind('s1', [tv('8')])).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'BindComplete' }).be(cc('SELECT 0'), { same: true }).be(rfq('I'), { same: true });
  w.close();
  const qs = w.queries;
  assert.equal(qs.length, 2);
  for (const q of qs) {
    assert.equal(q.sql, 'select * from users where id = $1');
    assert.equal(q.protocol, 'extended');
    assert.equal(q.statement, 's1');
    assert.equal(q.portal, '');
  }
  assert.deepEqual(qs.map((q) => q.params[0]!.value), ['7', '8']);
  assert.deepEqual(qs.map((q) => q.parsed), [true, false]);
  assert.deepEqual(qs.map((q) => q.rows), [1, 0]);
});

test('extended: ParseComplete and BindComplete sent with the result do not shorten the duration', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select 1')).fe(bind(''), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }, { dtUs: 5000 }).be({ type: 'BindComplete' }, { same: true }).be(row('1'), { same: true })
    .be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true }).close();
  assert.equal(w.queries[0]!.durationMs, 5);
  assert.equal(w.queries[0]!.firstRowMs, 5);
});

test('extended: Describe (portal) columns reach the Execute queued behind it', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select 1 as a')).fe(bind(''), { same: true }).fe({ type: 'Describe', target: 'portal', name: '' }, { same: true })
    .fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true }).be(rowDesc('a'), { same: true });
  assert.deepEqual(w.tracker.resultColumns()?.map((c) => c.name), ['a']);
  w.be(row('1'), { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true }).close();
  assert.deepEqual(w.queries[0]!.columns?.map((c) => c.name), ['a']);
});

test('extended: a portal bound after a Sync survives the ReadyForQuery of that Sync', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select 1')).fe(bind('', [], 'p1'), { same: true }).fe(exec('p1'), { same: true }).fe(sync, { same: true });
  // the client streams its next request before the answer to the first
  w.fe(parse('', 'select 2')).fe(bind('', [], 'p2'), { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  w.fe(exec('p2')).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  // and p1 is gone with its transaction
  w.fe(exec('p1')).fe(sync, { same: true }).be(err('34000', 'portal "p1" does not exist')).be(rfq('I')).close();
  assert.deepEqual(w.queries.map((q) => q.sql), ['select 1', 'select 2', null]);
});

test('a simple Query destroys the unnamed statement', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select $1::int', [23])).fe(sync, { same: true }).be({ type: 'ParseComplete' }).be(rfq('I'));
  assert.deepEqual(w.tracker.statementParamTypes(''), [23]);
  w.fe({ type: 'Query', query: 'select 1' }).be(cc('SELECT 1')).be(rfq('I'));
  assert.equal(w.tracker.statementParamTypes(''), undefined);
  w.close();
});

test('extended: the unnamed statement is replaced by the next unnamed Parse', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select 1')).fe(bind(''), { same: true }).fe(exec(), { same: true });
  w.fe(parse('', 'select 2'), { same: true }).fe(bind(''), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(row('1')).be(cc('SELECT 1'));
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(row('2')).be(cc('SELECT 1')).be(rfq('I')).close();
  assert.deepEqual(w.queries.map((q) => q.sql), ['select 1', 'select 2']);
  assert.deepEqual(w.queries.map((q) => q.parsed), [true, true]);
});

test('extended: Describe teaches parameter and result types; Close forgets', () => {
  const w = new Wire().login();
  w.fe(parse('q', 'select $1::int + 1 as n')).fe({ type: 'Describe', target: 'statement', name: 'q' }, { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'ParameterDescription', paramTypes: [23] }).be(rowDesc('n')).be(rfq('I'));
  assert.deepEqual(w.tracker.statementParamTypes('q'), [23]);
  w.fe(bind('q', [tv('1')])).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'BindComplete' });
  assert.deepEqual(w.tracker.resultColumns()?.map((c) => c.name), ['n']);
  w.be(row('2')).be(cc('SELECT 1')).be(rfq('I'));
  w.fe({ type: 'Close', target: 'statement', name: 'q' }).fe(sync, { same: true }).be({ type: 'CloseComplete' }).be(rfq('I'));
  assert.equal(w.tracker.statementParamTypes('q'), undefined);
  w.close();
  assert.equal(w.queries.length, 1);
  assert.deepEqual(w.queries[0]!.columns?.map((c) => c.name), ['n']);
});

test('pipeline: five Parse/Bind/Execute before one Sync pair in order', () => {
  const w = new Wire().login();
  for (let i = 1; i <= 5; i++) {
    w.fe(parse('', `select ${i} from t`), { same: i > 1 }).fe(bind('', [tv(String(i))]), { same: true }).fe(exec(), { same: true });
  }
  w.fe(sync, { same: true });
  for (let i = 1; i <= 5; i++) {
    w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true });
    for (let r = 0; r < i; r++) w.be(row(String(r)), { same: true });
    w.be(cc(`SELECT ${i}`), { same: true });
  }
  w.be(rfq('I'), { same: true }).close();
  const qs = w.queries;
  assert.equal(qs.length, 5);
  assert.deepEqual(qs.map((q) => q.sql), [1, 2, 3, 4, 5].map((i) => `select ${i} from t`));
  assert.deepEqual(qs.map((q) => q.rows), [1, 2, 3, 4, 5]);
  assert.deepEqual(qs.map((q) => q.params[0]!.value), ['1', '2', '3', '4', '5']);
  assert.ok(qs.every((q) => q.transactionStatus === 'idle' && !q.skipped && q.durationMs !== null));
});

test('pipeline: an error mid-pipeline makes the server skip to Sync', () => {
  const w = new Wire().login();
  for (let i = 1; i <= 5; i++) {
    w.fe(parse(`s${i}`, `select ${i}`), { same: i > 1 }).fe(bind(`s${i}`), { same: true }).fe(exec(), { same: true });
  }
  w.fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(cc('SELECT 1'));
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(err('22012', 'division by zero')).be(rfq('I'));
  // after the Sync the statements skipped were never created: s3 is unknown
  w.fe(bind('s3')).fe(exec(), { same: true }).fe(sync, { same: true }).be(err('26000', 'prepared statement "s3" does not exist')).be(rfq('I'));
  w.close();
  const qs = w.queries;
  assert.deepEqual(qs.map((q) => q.sql), ['select 1', 'select 2', 'select 3', 'select 4', 'select 5', null]);
  assert.deepEqual(qs.map((q) => q.skipped), [false, false, true, true, true, false]);
  assert.equal(qs[1]!.error?.sqlstate, '22012');
  assert.equal(qs[5]!.error?.sqlstate, '26000');
  assert.equal(w.session.errors, 2);
});

test('a Parse or Bind that fails is reported as the failure of the Execute that followed it', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select * from nope where id = $1')).fe(bind('', [tv('1')]), { same: true })
    .fe({ type: 'Describe', target: 'portal', name: '' }, { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be(err('42P01', 'relation "nope" does not exist'), { dtUs: 2000 }).be(rfq('I'), { same: true });
  w.fe(parse('', 'select 1')).fe(bind(''), { same: true }).fe({ type: 'Describe', target: 'statement', name: '' }, { same: true })
    .fe(sync, { same: true }).be(err('08P01', 'bind message supplies 0 parameters')).be(rfq('I')).close();
  const [q, q2] = w.queries;
  assert.equal(w.queries.length, 2);
  assert.equal(q!.sql, 'select * from nope where id = $1');
  assert.equal(q!.skipped, false);
  assert.equal(q!.error?.sqlstate, '42P01');
  assert.equal(q!.errorPhase, 'parse');
  assert.equal(q!.durationMs, 2);
  assert.deepEqual(q!.params.map((p) => p.value), ['1']);
  // an error with no Execute to pin it on is a failed record of its own (issue 13, section 2)
  assert.equal(q2!.sql, 'select 1');
  assert.equal(q2!.protocol, 'extended');
  assert.equal(q2!.error?.sqlstate, '08P01');
  assert.equal(q2!.errorPhase, 'parse');
  assert.equal(w.session.errors, 2);
});

test('an error arriving before the Sync was sent: later requests are skipped until it', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select bad')).fe(bind(''), { same: true }).fe({ type: 'Flush' }, { same: true });
  w.be(err('42703', 'column "bad" does not exist'));
  w.fe(exec()).fe(sync, { same: true }).be(rfq('I'));
  w.fe(parse('', 'select 1')).fe(bind('')).fe(exec()).fe(sync).be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(cc('SELECT 1')).be(rfq('I'));
  w.close();
  // The failed Parse is the record of the error; the Execute sent after it was skipped.
  assert.deepEqual(w.queries.map((q) => [q.sql, q.skipped, q.error?.sqlstate ?? null]), [['select bad', false, '42703'], [null, true, null], ['select 1', false, null]]);
});

test('COPY FROM STDIN and TO STDOUT: rows and bytes each way', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'copy t from stdin' });
  w.be({ type: 'CopyInResponse', format: 'text', columnFormats: ['text'] });
  for (let i = 0; i < 3; i++) w.fe(other('CopyData'), { bodyLen: 6 });
  w.fe(other('CopyDone')).be(cc('COPY 3')).be(rfq('I'));
  w.fe({ type: 'Query', query: 'copy t to stdout' });
  w.be({ type: 'CopyOutResponse', format: 'text', columnFormats: ['text'] });
  w.be(other('CopyData'), { bodyLen: 4 }).be(other('CopyData'), { bodyLen: 4 }).be(other('CopyDone')).be(cc('COPY 2')).be(rfq('I'));
  w.close();
  const [cin, cout] = w.queries;
  assert.deepEqual(cin?.copy, { direction: 'in', format: 'text', messagesIn: 3, bytesIn: 18, messagesOut: 0, bytesOut: 0, failed: null });
  assert.equal(cin?.rows, 3);
  assert.deepEqual(cout?.copy, { direction: 'out', format: 'text', messagesIn: 0, bytesIn: 0, messagesOut: 2, bytesOut: 8, failed: null });
  assert.equal(cout?.rows, 2);
  assert.equal(cout?.bytesReturned, 8);
});

test('START_REPLICATION: CopyBoth, then COPY 0 and its own tag, one record', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'START_REPLICATION SLOT s LOGICAL 0/0' });
  w.be({ type: 'CopyBothResponse', format: 'binary', columnFormats: [] });
  w.be(other('CopyData'), { bodyLen: 30 }).fe(other('CopyData'), { bodyLen: 34 }).fe(other('CopyDone'));
  w.be(other('CopyDone')).be(cc('COPY 0')).be(cc('START_REPLICATION')).be(rfq('I')).close();
  assert.equal(w.queries.length, 1);
  const q = w.queries[0]!;
  assert.equal(q.command, 'START_REPLICATION');
  assert.deepEqual([q.copy?.direction, q.copy?.messagesIn, q.copy?.messagesOut], ['both', 1, 1]);
  assert.equal(w.session.unpairedResponses, 0);
});

test('FunctionCall: oid, arguments, result', () => {
  const w = new Wire().login();
  w.fe({ type: 'FunctionCall', functionOid: 1598, args: [tv('5')], resultFormat: 'text' });
  w.be({ type: 'FunctionCallResponse', result: tv('0.5', 701), resultFormat: 'text' }).be(rfq('I')).close();
  const q = w.queries[0]!;
  assert.equal(q.protocol, 'function');
  assert.equal(q.sql, null);
  assert.equal(q.function?.oid, 1598);
  assert.equal(q.function?.result?.value, '0.5');
  assert.equal(q.params[0]!.value, '5');
});

test('CancelRequest links to the session and the query it cancelled', () => {
  const registry = new SessionRegistry();
  const a = new Wire(registry).login(4242, 'deadbeef');
  a.fe({ type: 'Query', query: 'select pg_sleep(10)' });
  const b = new Wire(registry);
  b.frame = a.frame;
  b.t = a.t;
  b.fe({ type: 'CancelRequest', processId: 4242, secretKey: 'deadbeef' }).close();
  assert.deepEqual(b.session.cancel, {
    processId: 4242, frame: b.frame - 1, targetSession: a.conn.id, targetQuery: { sql: 'select pg_sleep(10)', firstFrame: a.frame },
  });
  a.be(err('57014', 'canceling statement due to user request')).be(rfq('I')).close();
  const q = a.queries[0]!;
  assert.equal(q.error?.sqlstate, '57014');
  assert.equal(q.cancelledBy?.session, b.conn.id);
  // an unknown key is reported unmatched
  const c = new Wire(registry);
  c.fe({ type: 'CancelRequest', processId: 1, secretKey: '00' }).close();
  assert.equal(c.session.cancel?.targetSession, null);
});

test('a statement prepared before the capture: unknown by name, learns types from Describe', () => {
  const w = new Wire();
  // no startup seen: the capture began mid-connection
  w.fe(bind('S_9', [tv('1')])).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'BindComplete' }).be(cc('UPDATE 1')).be(rfq('T'));
  assert.equal(w.tracker.statementParamTypes('S_9'), undefined);
  w.fe({ type: 'Describe', target: 'statement', name: 'S_9' }).fe(sync, { same: true });
  w.be({ type: 'ParameterDescription', paramTypes: [20] }).be({ type: 'NoData' }).be(rfq('T'));
  assert.deepEqual(w.tracker.statementParamTypes('S_9'), [20]);
  w.close();
  const q = w.queries[0]!;
  assert.equal(q.sql, null);
  assert.equal(q.statement, 'S_9');
  assert.equal(q.rows, 1);
  assert.equal(q.transactionStatus, 'transaction');
  assert.equal(w.session.auth.method, null);
  assert.equal(w.session.auth.outcome, 'unknown');
});

test('responses with no request (capture began mid-query) are counted, not paired', () => {
  const seen: Anomaly[] = [];
  const w = new Wire(undefined, { anomaly: (a) => seen.push(a) });
  w.be(row('1')).be(cc('SELECT 1')).be(rfq('I'));
  w.fe({ type: 'Query', query: 'select 2' }).be(cc('SELECT 1')).be(rfq('I')).close();
  assert.equal(w.session.unpairedResponses, 2);
  assert.deepEqual(seen.map((a) => [a.code, a.frame, a.session]), [['protocol-violation', 1, w.conn.id], ['protocol-violation', 2, w.conn.id]]);
  assert.deepEqual(w.queries.map((q) => q.sql), ['select 2']);
});

test('authentication outcomes', () => {
  const md5 = new Wire();
  md5.fe({ type: 'StartupMessage', protocolMajor: 3, protocolMinor: 0, parameters: { user: 'bob' } });
  md5.be({ type: 'AuthenticationMD5Password', authType: 5, salt: '01020304' });
  md5.fe(other('PasswordMessage', { password: '<redacted>' }));
  md5.be({ type: 'ErrorResponse', fields: { severity: 'FATAL', severityNonLocalized: 'FATAL', sqlstate: '28P01', message: 'password authentication failed' } });
  md5.close();
  assert.equal(md5.session.auth.method, 'md5');
  assert.equal(md5.session.auth.outcome, 'failure');
  assert.equal(md5.session.auth.sqlstate, '28P01');
  assert.equal(md5.session.database, 'bob');
  assert.equal(md5.session.endedBy, 'fin');
  assert.ok(!JSON.stringify(md5.session).includes('redacted'));

  const scram = new Wire();
  scram.fe({ type: 'SSLRequest' }).be({ type: 'SSLResponse', accepted: false });
  scram.fe({ type: 'StartupMessage', protocolMajor: 3, protocolMinor: 2, parameters: { user: 'carol', database: 'db' } });
  scram.be({ type: 'AuthenticationSASL', authType: 10, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
  scram.fe(other('SASLInitialResponse', { mechanism: 'SCRAM-SHA-256', data: '<redacted>' }));
  scram.be({ type: 'AuthenticationSASLContinue', authType: 11, dataLength: 10, data: '<redacted>' }).fe(other('SASLResponse', { data: '<redacted>' }));
  scram.be({ type: 'AuthenticationSASLFinal', authType: 12, dataLength: 10, data: '<redacted>' }).be({ type: 'AuthenticationOk', authType: 0 });
  scram.be(rfq('I')).close();
  const s = scram.session.auth;
  assert.deepEqual([s.method, s.mechanism, s.outcome], ['sasl', 'SCRAM-SHA-256', 'success']);
  assert.deepEqual(s.mechanismsOffered, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  assert.equal(scram.session.sslRequested, true);
  assert.equal(scram.session.encryption, 'none');
  assert.equal(scram.session.protocolVersion, '3.2');

  // AuthenticationOk, then the database does not exist: authentication succeeded, the session's FATAL says why it ended
  const nodb = new Wire();
  nodb.fe({ type: 'StartupMessage', protocolMajor: 3, protocolMinor: 0, parameters: { user: 'dan', database: 'nope' } });
  nodb.be({ type: 'AuthenticationCleartextPassword', authType: 3 }).fe(other('PasswordMessage', { password: '<redacted>' }));
  nodb.be({ type: 'AuthenticationOk', authType: 0 });
  nodb.be({ type: 'ErrorResponse', fields: { severity: 'FATAL', severityNonLocalized: 'FATAL', sqlstate: '3D000', message: 'database "nope" does not exist' } });
  nodb.close();
  assert.deepEqual([nodb.session.auth.method, nodb.session.auth.outcome, nodb.session.auth.sqlstate], ['cleartext', 'success', null]);
  assert.equal(nodb.session.auth.error, null);
  assert.equal(nodb.session.endedBy, 'fatal');
  assert.equal(nodb.session.fatal?.sqlstate, '3D000');
  assert.equal(nodb.session.fatal?.message, 'database "nope" does not exist');
  // counted as every FATAL outside a request is (cf. 57P01 when idle)
  assert.equal(nodb.session.errors, 1);

  const tls = new Wire();
  tls.fe({ type: 'SSLRequest' }).be({ type: 'SSLResponse', accepted: true });
  tls.tracker.tls({ version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', sni: null, alpn: null, decrypted: false });
  tls.close();
  assert.equal(tls.session.encryption, 'tls');
  assert.equal(tls.session.tls?.version, 'TLSv1.3');
  assert.equal(tls.session.auth.outcome, 'unknown');
});

test('notices attach to the running statement; FATAL ends the session', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'do $$ begin raise notice $q$hi;$q$; end $$' });
  w.be({ type: 'NoticeResponse', fields: { severity: 'NOTICE', severityNonLocalized: 'NOTICE', sqlstate: '00000', message: 'hi;' } });
  w.be(cc('DO')).be(rfq('I'));
  w.be({ type: 'ErrorResponse', fields: { severity: 'FATAL', severityNonLocalized: 'FATAL', sqlstate: '57P01', message: 'terminating connection due to administrator command' } });
  w.close();
  assert.equal(w.queries.length, 1);
  assert.equal(w.queries[0]!.notices[0]!.message, 'hi;');
  assert.equal(w.session.endedBy, 'fatal');
  assert.equal(w.session.fatal?.sqlstate, '57P01');
});

test('capture end with a query running: reported incomplete', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select pg_sleep(100)' }).close();
  const q = w.queries[0]!;
  assert.equal(q.incomplete, true);
  assert.equal(q.durationMs, null);
  assert.equal(q.transactionStatus, null);
});

test('Execute with a row limit: PortalSuspended, then the rest', () => {
  const w = new Wire().login();
  w.fe(parse('', 'select g from generate_series(1,3) g')).fe(bind('', [], 'c1'), { same: true })
    .fe({ type: 'Execute', portal: 'c1', maxRows: 2 }, { same: true }).fe({ type: 'Flush' }, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }).be(row('1')).be(row('2')).be({ type: 'PortalSuspended' });
  w.fe({ type: 'Execute', portal: 'c1', maxRows: 2 }).fe(sync, { same: true });
  w.be(row('3')).be(cc('SELECT 1')).be(rfq('I')).close();
  const qs = w.queries;
  assert.deepEqual(qs.map((q) => [q.portal, q.rows, q.suspended]), [['c1', 2, true], ['c1', 1, false]]);
  assert.deepEqual(qs.map((q) => q.transactionStatus), ['idle', 'idle']);
});

test('pg_sleep(0.2) latency: about 200 ms', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select pg_sleep(0.2)' });
  w.be(rowDesc('pg_sleep'), { dtUs: 200_350 }).be(row(''), { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  w.close();
  assert.equal(w.queries[0]!.durationMs, 200.35);
});

test('hostile: unanswered requests and random sequences stay bounded and never throw', () => {
  const w = new Wire().login();
  for (let i = 0; i < 30_000; i++) w.fe(exec('p' + (i % 7)), { same: true });
  w.close();
  assert.equal(w.queries.length, 30_000);
  assert.ok(w.queries.every((q) => q.incomplete));

  const msgs: Array<['fe' | 'be', DecodedMessage]> = [
    ['fe', { type: 'Query', query: "select 1; select 'x'" }], ['fe', parse('', 'select $1', [23])], ['fe', parse('a', 'select 2')],
    ['fe', bind('')], ['fe', bind('a', [], 'p')], ['fe', exec()], ['fe', exec('p')], ['fe', sync], ['fe', { type: 'Flush' }],
    ['fe', { type: 'Describe', target: 'portal', name: '' }], ['fe', { type: 'Close', target: 'portal', name: 'p' }],
    ['fe', other('CopyData')], ['fe', other('CopyDone')], ['fe', { type: 'FunctionCall', functionOid: 1, args: [], resultFormat: 'text' }],
    ['be', { type: 'ParseComplete' }], ['be', { type: 'BindComplete' }], ['be', { type: 'CloseComplete' }], ['be', rowDesc('a')],
    ['be', row('1')], ['be', cc('SELECT 1')], ['be', err('XX000', 'x')], ['be', rfq('I')], ['be', rfq('E')], ['be', { type: 'NoData' }],
    ['be', { type: 'ParameterDescription', paramTypes: [] }], ['be', { type: 'CopyInResponse', format: 'text', columnFormats: [] }],
    ['be', { type: 'CopyOutResponse', format: 'binary', columnFormats: [] }], ['be', other('CopyData')], ['be', { type: 'PortalSuspended' }],
    ['be', { type: 'EmptyQueryResponse' }], ['be', { type: 'FunctionCallResponse', result: tv('1'), resultFormat: null }],
    ['be', { type: 'Malformed', name: 'CommandComplete', reason: 'x', fault: 'invalid', raw: '', size: 0, offset: 0, partial: {} }],
    ['be', { type: 'NoticeResponse', fields: { severity: null, severityNonLocalized: null, sqlstate: null, message: null } }],
  ];
  const random = prng(12345);
  const rand = () => Math.floor(random() * 0x7fffffff);
  for (let run = 0; run < 20; run++) {
    const r = new Wire(undefined, { keepRows: run % 2 === 0 });
    if (run % 3 === 0) r.login();
    for (let i = 0; i < 2000; i++) {
      const [dir, m] = msgs[rand() % msgs.length]!;
      if (dir === 'fe') r.fe(m); else r.be(m);
    }
    r.close();
    assert.ok(r.session);
  }
});

test('a client that pipelines past MAX_AWAITING without a Sync: oldest records go out first, without a status, all in order', () => {
  const n = MAX_AWAITING * 2 + 300;
  for (const syncEvery of [0, 700]) {
    const w = new Wire().login();
    w.fe(parse('', 'select $1'));
    w.be({ type: 'ParseComplete' });
    for (let i = 0; i < n; i++) {
      w.fe(bind('', [tv(String(i))])).fe(exec(), { same: true });
      w.be({ type: 'BindComplete' }).be(cc('SELECT 1'), { same: true });
      if (syncEvery > 0 && (i + 1) % syncEvery === 0) w.fe(sync).be(rfq('T'));
      if (syncEvery === 0) assert.equal(w.queries.length, Math.max(0, i + 1 - MAX_AWAITING), `after ${i + 1}`);
    }
    w.fe(sync).be(rfq('I')).close();
    const qs = w.queries;
    assert.equal(qs.length, n);
    assert.deepEqual(qs.map((q) => q.params[0]!.value), Array.from({ length: n }, (_, i) => String(i)));
    const statuses = qs.map((q) => q.transactionStatus);
    if (syncEvery === 0) {
      assert.equal(statuses.filter((t) => t === null).length, n - MAX_AWAITING);
      assert.ok(statuses.slice(n - MAX_AWAITING).every((t) => t === 'idle'));
    } else {
      const lastSynced = n - (n % syncEvery);
      assert.ok(statuses.slice(0, lastSynced).every((t) => t === 'transaction'));
      assert.ok(statuses.slice(lastSynced).every((t) => t === 'idle'));
    }
  }
});

// ---- issue 13 sections 3 and 4: batches and rollbacks (test/session-batch.test.ts has the real drivers) ----

/** One simple Query answered with its tag and ReadyForQuery in one frame. */
function simple(w: Wire, sql: string, tag: string, status: 'I' | 'T' | 'E', dtUs = 1000): void {
  w.fe({ type: 'Query', query: sql });
  if (tag.startsWith('!')) w.be(err(tag.slice(1), 'failed'), { dtUs });
  else w.be(cc(tag), { dtUs });
  w.be(rfq(status), { same: true });
}

const marks = (qs: QueryRecord[]): Array<[string | null, boolean, boolean]> =>
  qs.map((q) => [q.sql, q.rolledBack === true, q.rollbackUnknown === true]);

test('batch: results completed in one frame share it; answered apart, each its own time', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'select 1; select pg_sleep(0.4); select 3' });
  w.be(cc('SELECT 1'), { dtUs: 400_000 }).be(cc('SELECT 1'), { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  // Apart: the second frame completes the second statement 5 ms after the first.
  w.fe({ type: 'Query', query: 'select 4; select 5' });
  w.be(cc('SELECT 1'), { dtUs: 2000 }).be(cc('SELECT 1'), { dtUs: 5000 }).be(rfq('I'), { same: true }).close();
  const qs = w.queries;
  const b = qs[0]!.batch!;
  assert.deepEqual(b, { id: qs[0]!.frame, size: 3, durationMs: 400 });
  assert.deepEqual(qs.slice(0, 3).map((q) => [q.durationMs, q.firstRowMs, q.batch]), [[null, null, b], [null, null, b], [null, null, b]]);
  assert.deepEqual(qs.slice(3).map((q) => [q.durationMs, q.batch]), [[2, undefined], [5, undefined]]);
});

test('rolledBack: an error in a multi-statement Query undoes what ran before it, not what COMMIT kept', () => {
  const w = new Wire().login();
  w.fe({ type: 'Query', query: 'insert into t values (1); commit; insert into t values (2); select 1/0' });
  w.be(cc('INSERT 0 1')).be(cc('COMMIT')).be(cc('INSERT 0 1')).be(err('22012', 'division by zero')).be(rfq('I')).close();
  assert.deepEqual(marks(w.queries), [
    ['insert into t values (1)', false, false], ['commit', false, false], ['insert into t values (2)', true, false], ['select 1/0', false, false],
  ]);
  assert.equal(w.session.queries, 4);
});

test('rolledBack: ROLLBACK TO a quoted savepoint after RELEASE of an inner one; COMMIT keeps the rest', () => {
  const w = new Wire().login();
  simple(w, 'BEGIN', 'BEGIN', 'T');
  simple(w, 'insert into t values (1)', 'INSERT 0 1', 'T');
  simple(w, 'SAVEPOINT "Outer"', 'SAVEPOINT', 'T');
  simple(w, 'insert into t values (2)', 'INSERT 0 1', 'T');
  simple(w, 'savepoint inner', 'SAVEPOINT', 'T');
  simple(w, 'update t set x = 1', 'UPDATE 1', 'T');
  simple(w, 'release inner', 'RELEASE', 'T');
  simple(w, 'insert into t values (2)', '!23505', 'E');
  // Nothing went out while the block was open.
  assert.equal(w.queries.length, 0);
  simple(w, 'rollback to savepoint "Outer"', 'ROLLBACK', 'T');
  simple(w, 'insert into t values (3)', 'INSERT 0 1', 'T');
  simple(w, 'COMMIT', 'COMMIT', 'I');
  w.close();
  assert.deepEqual(w.queries.map((q) => [q.sql, q.rolledBack === true]), [
    ['BEGIN', false], ['insert into t values (1)', false], ['SAVEPOINT "Outer"', false], ['insert into t values (2)', true],
    ['savepoint inner', false], ['update t set x = 1', true], ['release inner', false], ['insert into t values (2)', false],
    ['rollback to savepoint "Outer"', false], ['insert into t values (3)', false], ['COMMIT', false],
  ]);
  assert.deepEqual(w.queries.map((q) => q.transactionStatus), ['transaction', 'transaction', 'transaction', 'transaction', 'transaction', 'transaction', 'transaction', 'failed', 'transaction', 'transaction', 'idle']);
});

test('rolledBack: COMMIT of a failed block (tag ROLLBACK), an error at Sync (deferred constraint), the server ending the connection', () => {
  const w = new Wire().login();
  simple(w, 'begin', 'BEGIN', 'T');
  simple(w, 'insert into t values (1)', 'INSERT 0 1', 'T');
  simple(w, 'select 1/0', '!22012', 'E');
  simple(w, 'commit', 'ROLLBACK', 'I');
  // Extended protocol, no block: the implicit transaction fails at its commit (Sync).
  w.fe(parse('', 'insert into d values (1)')).fe(bind(''), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }).be({ type: 'BindComplete' }, { same: true }).be(cc('INSERT 0 1'), { same: true });
  w.be(err('23503', 'violates foreign key constraint'), { same: true }).be(rfq('I'), { same: true });
  simple(w, 'begin', 'BEGIN', 'T');
  simple(w, 'delete from t', 'DELETE 3', 'T');
  w.close('fin');
  assert.deepEqual(marks(w.queries).map(([sql, rb]) => [sql, rb]), [
    ['begin', false], ['insert into t values (1)', true], ['select 1/0', false], ['commit', false],
    ['insert into d values (1)', true], ['begin', false], ['delete from t', true],
  ]);
});

test('rollbackUnknown: the capture ends inside a block; a block longer than MAX_AWAITING goes out early, saying so', () => {
  const w = new Wire().login();
  simple(w, 'begin', 'BEGIN', 'T');
  simple(w, 'insert into t values (1)', 'INSERT 0 1', 'T');
  w.close('capture-end');
  assert.deepEqual(marks(w.queries), [['begin', false, true], ['insert into t values (1)', false, true]]);

  const v = new Wire().login();
  simple(v, 'begin', 'BEGIN', 'T');
  for (let i = 0; i < MAX_AWAITING + 10; i++) simple(v, `insert into t values (${i})`, 'INSERT 0 1', 'T');
  assert.equal(v.queries.length, 11);
  simple(v, 'rollback', 'ROLLBACK', 'I');
  v.close();
  const qs = v.queries;
  assert.equal(qs.length, MAX_AWAITING + 12);
  // The eleven that went out early cannot be changed: they say their fate is unknown; the rest are marked.
  assert.deepEqual(qs.slice(0, 11).map((q) => [q.rolledBack ?? false, q.rollbackUnknown ?? false]), Array.from({ length: 11 }, () => [false, true]));
  assert.ok(qs.slice(11, -1).every((q) => q.rolledBack === true && q.rollbackUnknown === undefined));
});

test('batch: two Sync groups answered in one segment form one batch; a link-layer trailer after ReadyForQuery does not hold records', () => {
  const w = new Wire().login();
  // Two pipelined groups whose answers the server's send queue coalesced into one frame.
  w.fe(parse('', 'select pg_sleep(0.2)')).fe(bind(''), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.fe(parse('', 'select 2')).fe(bind(''), { same: true }).fe(exec(), { same: true }).fe(sync, { same: true });
  w.be({ type: 'ParseComplete' }, { dtUs: 200_000 }).be({ type: 'BindComplete' }, { same: true }).be(cc('SELECT 1'), { same: true });
  w.be(rfq('I'), { same: true, trailing: Buffer.from('1\0\0\0\x04') });
  assert.equal(w.queries.length, 0, 'held to the end of the frame');
  w.be({ type: 'ParseComplete' }, { same: true }).be({ type: 'BindComplete' }, { same: true }).be(cc('SELECT 1'), { same: true }).be(rfq('I'), { same: true });
  // A trailer of zeros (Ethernet padding, FCS) is not a message: the records go out at once.
  w.fe({ type: 'Query', query: 'select 3' }).be(cc('SELECT 1'), { dtUs: 3000 }).be(rfq('I'), { same: true, trailing: Buffer.alloc(6) });
  assert.equal(w.queries.length, 3);
  w.close();
  const [a, b, c] = w.queries as [QueryRecord, QueryRecord, QueryRecord];
  assert.deepEqual(a.batch, { id: a.frame, size: 2, durationMs: 201 }); // from the first request (1 ms before the second)
  assert.deepEqual(b.batch, a.batch);
  assert.deepEqual([a.durationMs, b.durationMs, a.transactionStatus, b.transactionStatus], [null, null, 'idle', 'idle']);
  assert.deepEqual([c.durationMs, c.batch], [3, undefined]);
});
