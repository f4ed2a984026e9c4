/**
 * Scenarios that need the raw client (scripts/sample-raw-client.ts) because no driver here
 * speaks them: protocol 3.2 with its 32-byte cancel key and NegotiateProtocolVersion, logical
 * replication with pgoutput in CopyBoth mode, and the fast-path FunctionCall. Like the other
 * scenarios they record into the manifest what was sent and what the server answered, and stop
 * the generator when the server answers something else than the scenario expects.
 */
import { cstring, msg } from '../test/helpers/pg-builder.js';
import { md5, type SampleRecorder } from './sample-clients.js';
import type { ManifestChange, ManifestFunctionCall, ManifestStep, ManifestStreamMessage } from './sample-manifest.js';
import { PROTOCOL_3_0, PROTOCOL_3_2, RawClient, errorFields, type LoginOutcome, type QueryOutcome } from './sample-raw-client.js';
import type { Scenario, ScenarioContext } from './sample-scenario.js';

interface RawConn {
  client: RawClient;
  index: number;
  login: LoginOutcome;
}

interface RawLogin {
  version?: number;
  /** `_pq_.*` protocol options for the StartupMessage. */
  options?: Record<string, string>;
  /** More startup parameters (replication, GUCs). */
  params?: Record<string, string>;
}

function versionText(v: number): string {
  return `${v >>> 16}.${v & 0xffff}`;
}

/** Opens a raw connection, logs in with SCRAM as the main user and records the connection. */
async function rawLogin(rec: SampleRecorder, o: RawLogin = {}): Promise<RawConn> {
  const s = rec.server;
  const version = o.version ?? PROTOCOL_3_0;
  const client = await RawClient.open(s.host, s.port);
  const params = { database: s.database, application_name: rec.name, ...o.params, ...o.options };
  const index = rec.addConnection({
    client: 'raw',
    user: s.user,
    database: s.database,
    applicationName: rec.name,
    auth: 'scram-sha-256',
    clientPort: client.localPort,
    loginError: null,
  });
  rec.onClose(() => client.terminate());
  const login = await client.login(version, params, s.user, s.password);
  const c = rec.connections[index]!;
  if (version !== PROTOCOL_3_0) c.protocolVersion = versionText(version);
  if (o.options) c.protocolOptions = { ...o.options };
  if (o.params?.replication) c.replication = o.params.replication;
  if (login.negotiate) c.negotiate = login.negotiate;
  c.backendKey = { processId: login.processId, secretKey: login.secretKey.toString('hex') };
  return { client, index, login };
}

interface Expect {
  rows?: number;
  error?: string;
  note?: string;
}

/** Records a finished simple Query as a manifest step, after checking it went as expected. */
function recordQuery(rec: SampleRecorder, conn: RawConn, sql: string, o: QueryOutcome, expect: Expect = {}): ManifestStep {
  if (expect.error) {
    if (o.error?.sqlstate !== expect.error) throw new Error(`expected SQLSTATE ${expect.error}, got ${o.error?.sqlstate ?? 'success'} from: ${sql}`);
  } else if (o.error) throw new Error(`unexpected error ${o.error.sqlstate} (${o.error.message}) from: ${sql}`);
  if (expect.rows !== undefined && o.rows.length !== expect.rows) throw new Error(`expected ${expect.rows} rows, got ${o.rows.length} from: ${sql}`);
  const step: ManifestStep = { connection: conn.index, protocol: 'simple', sql, commands: o.commands, rows: o.rows.length };
  if (o.columns.length) {
    step.columns = o.columns;
    step.values = o.rows;
  }
  if (o.emptyQuery) step.emptyQuery = true;
  if (o.error) step.error = o.error;
  if (o.notices.length) step.notices = o.notices;
  if (expect.note) step.note = expect.note;
  rec.steps.push(step);
  return step;
}

async function rawQuery(rec: SampleRecorder, conn: RawConn, sql: string, expect: Expect = {}): Promise<QueryOutcome> {
  const o = await conn.client.query(sql);
  recordQuery(rec, conn, sql, o, expect);
  return o;
}

/** Waits until the backend with this PID sleeps in pg_sleep, so the cancel cannot come too early. */
async function waitSleeping(ctx: ScenarioContext, pid: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const r = await ctx.admin.query<{ wait_event: string | null }>('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (r.rows[0]?.wait_event === 'PgSleep') return;
    if (Date.now() - start > 5000) throw new Error(`backend ${pid} never reached pg_sleep`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const protocol32: Scenario = {
  name: 'protocol-32',
  title: 'Protocol 3.2: 32-byte cancel key, CancelRequest, NegotiateProtocolVersion',
  description:
    'The raw client (scripts/sample-raw-client.ts), SCRAM login. Connection 0 asks for protocol 3.2 ' +
    '(196610): PostgreSQL 18 answers with a BackendKeyData whose secret key is 32 bytes; one query; ' +
    'SELECT pg_sleep(5) is cancelled by a CancelRequest on a TCP connection of its own carrying the ' +
    '32-byte key (3.2 makes the key variable-length), then another query. Connection 1 asks for 3.9 ' +
    'with the unknown protocol option _pq_.pgsniff_option: the server answers NegotiateProtocolVersion ' +
    '(version 3.2, the option unrecognised) and goes on in 3.2. Connection 2 asks for 3.0 with the ' +
    'option _pq_.another_option: NegotiateProtocolVersion with version 3.0, then a 4-byte key. The ' +
    'documentation calls NegotiateProtocolVersion\'s Int32 the newest minor version; PostgreSQL 18 sends ' +
    'the whole version code there (196610 for 3.2, 196608 for 3.0).',
  decode: [
    'StartupMessage protocol 3.2 (196610); BackendKeyData with a 32-byte secret key (message length 40)',
    'a CancelRequest of length 44: code 80877102, the PID and the same 32-byte key; ErrorResponse 57014 on connection 0',
    'NegotiateProtocolVersion (v) after the StartupMessage of 3.9: version Int32 196610 (3.2), one unrecognised option "_pq_.pgsniff_option"; a 32-byte key follows',
    'NegotiateProtocolVersion on connection 2: 196608 (3.0), option "_pq_.another_option"; its BackendKeyData key is 4 bytes',
  ],
  async run(rec, ctx) {
    const a = await rawLogin(rec, { version: PROTOCOL_3_2 });
    if (a.login.secretKey.length !== 32) throw new Error(`3.2 cancel key of ${a.login.secretKey.length} bytes, expected 32`);
    await rawQuery(rec, a, "SELECT 'protocol 3.2' AS greeting", { rows: 1 });

    const sleep = 'SELECT pg_sleep(5)';
    a.client.send(msg('Q', cstring(sleep)));
    await waitSleeping(ctx, a.login.processId);
    await RawClient.cancel(rec.server.host, rec.server.port, a.login.processId, a.login.secretKey);
    rec.cancelRequests++;
    rec.cancels.push({ processId: a.login.processId, secretKey: a.login.secretKey.toString('hex'), target: a.index });
    const cancelled = recordQuery(rec, a, sleep, await a.client.collect(), { error: '57014', note: 'cancelled by a 3.2 CancelRequest with the 32-byte key' });
    cancelled.cancelled = true;
    await rawQuery(rec, a, "SELECT 'after cancel' AS state", { rows: 1 });

    const b = await rawLogin(rec, { version: (3 << 16) | 9, options: { '_pq_.pgsniff_option': 'on' } });
    const nb = b.login.negotiate;
    if (!nb || nb.version !== PROTOCOL_3_2 || nb.unrecognized.join() !== '_pq_.pgsniff_option') throw new Error(`unexpected NegotiateProtocolVersion ${JSON.stringify(nb)}`);
    await rawQuery(rec, b, "SELECT 'negotiated down to 3.2' AS state", { rows: 1 });

    const c = await rawLogin(rec, { version: PROTOCOL_3_0, options: { '_pq_.another_option': '1' } });
    const nc = c.login.negotiate;
    if (!nc || nc.version !== PROTOCOL_3_0 || nc.unrecognized.join() !== '_pq_.another_option') throw new Error(`unexpected NegotiateProtocolVersion ${JSON.stringify(nc)}`);
    if (c.login.secretKey.length !== 4) throw new Error(`3.0 cancel key of ${c.login.secretKey.length} bytes`);
    await rawQuery(rec, c, "SELECT 'still 3.0' AS state", { rows: 1 });
  },
};

/** FunctionCall cases: OID, arguments, result format, expected result (text or hex) or SQLSTATE. */
const CALLS: { oid: number; args: (string | Buffer | null)[]; resultFormat: 'text' | 'binary'; result: string | null; error?: string }[] = [
  // lower(text) would be the obvious text function, but a fast-path call has no collation and
  // lower() needs one (42P22); md5(text) needs none.
  { oid: 2311, args: ['PgSniff FunctionCall'], resultFormat: 'text', result: md5('PgSniff FunctionCall') },
  { oid: 177, args: [Buffer.from('00000028', 'hex'), Buffer.from('00000002', 'hex')], resultFormat: 'binary', result: '0000002a' },
  { oid: 2311, args: [null], resultFormat: 'text', result: null },
  { oid: 4000000000, args: ['x'], resultFormat: 'text', result: null, error: '42883' },
];

const functionCall: Scenario = {
  name: 'function-call',
  title: 'Fast-path FunctionCall and FunctionCallResponse',
  description:
    'The raw client, protocol 3.0, SCRAM login. FunctionCall of md5(text) (OID 2311) with a text argument ' +
    'and a text result; int4pl (OID 177) with two binary int4 arguments (40, 2) and a binary result (42); ' +
    'md5(NULL): the function is strict, so the result is NULL (length -1); a call of a function OID ' +
    'that does not exist (ErrorResponse 42883); then a simple query.',
  decode: [
    'FunctionCall with function OID 2311 (md5), one argument format code 0 (text), argument "PgSniff FunctionCall", result format 0; FunctionCallResponse with the 32 hex digits of its md5',
    'FunctionCall OID 177 with two binary arguments 00000028 and 00000002, result format 1; FunctionCallResponse 0000002a (42)',
    'FunctionCall OID 2311 with a NULL argument (length -1); FunctionCallResponse with a NULL result (length -1)',
    'FunctionCall of OID 4000000000: ErrorResponse 42883, then ReadyForQuery',
    'a session tool should report each FunctionCall as one request paired with its response (protocol "function")',
  ],
  async run(rec, ctx) {
    const conn = await rawLogin(rec);
    for (const call of CALLS) {
      const name = (await ctx.admin.query<{ name: string | null }>('SELECT (SELECT oid::regprocedure::text FROM pg_proc WHERE oid = $1) AS name', [call.oid])).rows[0]?.name ?? '(none)';
      conn.client.functionCall(call.oid, call.args, call.resultFormat);
      let result: string | null = null;
      let error: ReturnType<typeof errorFields> | null = null;
      for (;;) {
        const m = await conn.client.next();
        if (m.code === 'V') {
          const len = m.body.readInt32BE(0);
          if (len >= 0) result = call.resultFormat === 'binary' ? m.body.subarray(4, 4 + len).toString('hex') : m.body.toString('utf8', 4, 4 + len);
        } else if (m.code === 'E') error = errorFields(m.body);
        else if (m.code === 'Z') break;
      }
      if ((error?.sqlstate ?? undefined) !== call.error) throw new Error(`FunctionCall ${call.oid}: expected ${call.error ?? 'success'}, got ${error?.sqlstate ?? 'success'}`);
      if (result !== call.result) throw new Error(`FunctionCall ${call.oid}: result ${result}, expected ${call.result}`);
      const fc: ManifestFunctionCall = {
        oid: call.oid,
        name,
        args: call.args.map((v) => (v === null ? { format: 'text', value: null } : Buffer.isBuffer(v) ? { format: 'binary', value: v.toString('hex') } : { format: 'text', value: v })),
        resultFormat: call.resultFormat,
        result,
      };
      const step: ManifestStep = { connection: conn.index, protocol: 'function', sql: '', functionCall: fc, rows: 0 };
      if (error) step.error = error;
      rec.steps.push(step);
    }
    await rawQuery(rec, conn, "SELECT 'after function calls' AS state", { rows: 1 });
  },
};

const SLOT = 'pgsniff_slot';
const PUBLICATION = 'pgsniff_pub';
const TABLE = 'repl_items';
const REPLICATION_OPTIONS: Record<string, string> = { proto_version: '4', publication_names: PUBLICATION, messages: 'true', streaming: 'off' };
/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946684800000000n;

function lsnText(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

function standbyStatus(lsn: bigint, replyRequested: boolean): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(lsn, 1);
  b.writeBigUInt64BE(lsn, 9);
  b.writeBigUInt64BE(lsn, 17);
  b.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_US, 25);
  b.writeUInt8(replyRequested ? 1 : 0, 33);
  return b;
}

/** HotStandbyFeedback ('h'): client time, xmin and its epoch, catalog xmin and its epoch. */
function hotStandbyFeedback(xmin: number, epoch: number): Buffer {
  const b = Buffer.alloc(25);
  b.write('h', 0, 'latin1');
  b.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_US, 1);
  b.writeUInt32BE(xmin, 9);
  b.writeUInt32BE(epoch, 13);
  b.writeUInt32BE(xmin, 17);
  b.writeUInt32BE(epoch, 21);
  return b;
}

/** The writes of the replication scenario, with what pgoutput should stream for each. */
const WRITES: { sql: string; changes: ManifestChange[]; rows?: number }[] = [
  {
    sql: `INSERT INTO ${TABLE} (id, name, qty) VALUES (1, 'apple', 3), (2, 'pear', NULL)`,
    changes: [
      { kind: 'insert', relation: TABLE, values: { id: '1', name: 'apple', qty: '3' } },
      { kind: 'insert', relation: TABLE, values: { id: '2', name: 'pear', qty: null } },
    ],
  },
  { sql: `UPDATE ${TABLE} SET qty = 7 WHERE id = 1`, changes: [{ kind: 'update', relation: TABLE, values: { id: '1', name: 'apple', qty: '7' } }] },
  { sql: `DELETE FROM ${TABLE} WHERE id = 2`, changes: [{ kind: 'delete', relation: TABLE, key: { id: '2' } }] },
  { sql: `TRUNCATE ${TABLE}`, changes: [{ kind: 'truncate', relation: TABLE }] },
  {
    sql: "SELECT pg_logical_emit_message(true, 'pgsniff', 'hello from pgsniff') IS NOT NULL AS emitted",
    changes: [{ kind: 'message', transactional: true, prefix: 'pgsniff', content: 'hello from pgsniff' }],
    rows: 1,
  },
  {
    sql: "SELECT pg_logical_emit_message(false, 'pgsniff', 'outside any transaction') IS NOT NULL AS emitted",
    changes: [{ kind: 'message', transactional: false, prefix: 'pgsniff', content: 'outside any transaction' }],
    rows: 1,
  },
];

/** One logical replication capture: the slot, START_REPLICATION's options, more startup parameters. */
interface LogicalVariant {
  slot: string;
  options: Record<string, string>;
  params: Record<string, string>;
}

async function runLogical(rec: SampleRecorder, ctx: ScenarioContext, v: LogicalVariant): Promise<void> {
  await ctx.admin.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}`);
  await ctx.admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await ctx.admin.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, name text NOT NULL, qty int)`);
  await ctx.admin.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${TABLE}`);

  const r = await rawLogin(rec, { params: { replication: 'database', wal_sender_timeout: '2s', ...v.params } });
  const writer = await rec.pg();
  await rawQuery(rec, r, 'IDENTIFY_SYSTEM', { rows: 1 });
  await rawQuery(rec, r, `CREATE_REPLICATION_SLOT ${v.slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing')`, { rows: 1 });

  const options = Object.entries(v.options).map(([k, val]) => `${k} '${val}'`).join(', ');
  const startSql = `START_REPLICATION SLOT ${v.slot} LOGICAL 0/0 (${options})`;
  r.client.send(msg('Q', cstring(startSql)));
  const first = await r.client.next();
  if (first.code !== 'W') throw new Error(`START_REPLICATION answered ${first.code}, not CopyBothResponse`);

  const stream: ManifestStreamMessage[] = [];
  const expectedCommits = WRITES.filter((w) => w.changes.some((c) => c.kind !== 'message' || c.transactional)).length;
  const expectedLoose = WRITES.length - expectedCommits;
  let commits = 0;
  let inStream = false;
  let loose = 0;
  let keepalives = 0;
  let lastEnd = 0n;
  const sendStatus = (replyRequested: boolean) => {
    r.client.send(msg('d', standbyStatus(lastEnd, replyRequested)));
    const l = lsnText(lastEnd);
    stream.push({ dir: 'frontend', kind: 'StandbyStatusUpdate', written: l, flushed: l, applied: l, replyRequested });
  };
  /** Takes one backend message of the stream; false when it was not CopyData. */
  const take = (m: { code: string; body: Buffer }): boolean => {
    if (m.code !== 'd') return false;
    const b = m.body;
    const tag = String.fromCharCode(b[0]!);
    if (tag === 'w') {
      const walStart = b.readBigUInt64BE(1);
      const walEnd = b.readBigUInt64BE(9);
      const logical = String.fromCharCode(b[25]!);
      stream.push({ dir: 'backend', kind: 'XLogData', walStart: lsnText(walStart), walEnd: lsnText(walEnd), logical });
      if (walEnd > lastEnd) lastEnd = walEnd;
      // Stream Start / Stop bracket a streamed transaction's changes, which carry its xid first.
      if (logical === 'S') inStream = true;
      else if (logical === 'E') inStream = false;
      else if (logical === 'C' || logical === 'c') {
        commits++;
        sendStatus(false);
      } else if (logical === 'M' && !inStream && b[26] === 0) loose++;
    } else if (tag === 'k') {
      const walEnd = b.readBigUInt64BE(1);
      const replyRequested = b[17] === 1;
      stream.push({ dir: 'backend', kind: 'PrimaryKeepalive', walEnd: lsnText(walEnd), replyRequested });
      keepalives++;
      if (walEnd > lastEnd) lastEnd = walEnd;
      if (replyRequested) sendStatus(false);
    } else throw new Error(`unexpected replication message ${tag}`);
    return true;
  };

  // Read the stream while the other connection writes, so that the status updates follow the
  // commits they confirm. Done once every change has streamed and a keepalive has asked for a
  // reply (the 2 s wal_sender_timeout brings one a second after the last status update).
  const done = () => commits >= expectedCommits && loose >= expectedLoose && stream.some((s) => s.kind === 'PrimaryKeepalive' && s.replyRequested);
  const pump = (async () => {
    const deadline = Date.now() + 8000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`replication stream incomplete: ${commits} commits, ${loose} messages, ${keepalives} keepalives`);
      const m = await r.client.poll(200);
      if (m && !take(m)) throw new Error(`unexpected ${m.code} during streaming`);
    }
  })();
  const changes: ManifestChange[] = [];
  try {
    for (const w of WRITES) {
      await writer.query({ sql: w.sql, expectRows: w.rows });
      changes.push(...w.changes);
    }
  } finally {
    await pump;
  }
  r.client.send(msg('c'));
  const tail: { code: string; body: Buffer }[] = [];
  for (;;) {
    const m = await r.client.next();
    if (take(m)) continue;
    tail.push(m);
    if (m.code === 'c') break;
  }
  recordQuery(rec, r, startSql, await r.client.collect(tail), { note: 'CopyBoth: the replication stream is in the sample\'s replication.stream' });

  rec.replication = {
    connection: r.index,
    slot: v.slot,
    plugin: 'pgoutput',
    publication: PUBLICATION,
    options: v.options,
    relation: { namespace: 'public', name: TABLE, columns: ['id', 'name', 'qty'], key: ['id'] },
    changes,
    stream,
  };
}

const replication: Scenario = {
  name: 'replication',
  title: 'Logical replication: pgoutput over CopyBoth, keepalives, standby status updates',
  description:
    `The raw client on a walsender connection (replication=database, protocol 3.0, SCRAM login): IDENTIFY_SYSTEM; ` +
    `CREATE_REPLICATION_SLOT ${SLOT} TEMPORARY LOGICAL pgoutput; START_REPLICATION with pgoutput protocol ` +
    `version 4, publication ${PUBLICATION}, messages on, streaming off: CopyBothResponse, then CopyData both ways. ` +
    `A pg connection meanwhile INSERTs two rows into ${TABLE} (one with a NULL), UPDATEs one, DELETEs one, ` +
    `TRUNCATEs the table and emits two logical decoding messages (transactional and not). The walsender ` +
    `streams them as XLogData carrying pgoutput Begin / Relation / Insert / Update / Delete / Truncate / ` +
    `Message / Commit, and primary keepalives; the client answers with standby status updates (wal_sender_timeout ` +
    `is 2 s on this connection so that a keepalive asks for a reply), then ends the stream with CopyDone. ` +
    `The table and the publication are made beforehand over the uncaptured Unix socket.`,
  decode: [
    'StartupMessage with replication "database"; IDENTIFY_SYSTEM and CREATE_REPLICATION_SLOT as Query messages answered with one row each',
    'START_REPLICATION ... LOGICAL 0/0 (proto_version \'4\', ...): CopyBothResponse (W), then backend CopyData: XLogData (w) with WAL start / end LSNs and primary keepalives (k)',
    `pgoutput inside XLogData: Begin, Relation public.${TABLE} (id, name, qty; key id), Insert (1, apple, 3), Insert (2, pear, NULL), Update id 1 qty 7, Delete key id 2, Truncate, Message prefix "pgsniff", Commit`,
    'frontend CopyData: standby status updates (r) with written / flushed / applied LSNs',
    'frontend CopyDone, backend CopyDone, CommandComplete "START_REPLICATION", ReadyForQuery; tshark shows the CopyData only as bytes',
  ],
  run: (rec, ctx) => runLogical(rec, ctx, { slot: SLOT, options: REPLICATION_OPTIONS, params: {} }),
};

const STREAM_OPTIONS: Record<string, string> = { ...REPLICATION_OPTIONS, streaming: 'on' };

const replicationStreaming: Scenario = {
  name: 'replication-streaming',
  title: 'Logical replication with streamed transactions (Stream Start / Stop / Commit)',
  description:
    `As replication.pcap, with streaming 'on' in START_REPLICATION and the developer setting ` +
    `debug_logical_replication_streaming=immediate on the walsender connection, so that every transaction is ` +
    `streamed while in progress however small: each change comes between Stream Start and Stream Stop ` +
    `with the transaction's xid before its fields, and Stream Commit ends the transaction (no Begin / Commit). ` +
    `The non-transactional message is not part of a transaction and comes as a plain Message.`,
  decode: [
    'START_REPLICATION ... LOGICAL 0/0 (proto_version \'4\', ..., streaming \'on\'); CopyBothResponse',
    'pgoutput Stream Start (xid, first segment), Relation / Insert / Update / Delete / Truncate / Message each carrying the xid, Stream Stop, then Stream Commit with the same xid',
    'the row values and names as in replication.pcap; a decoder must read the xid inside a stream and not outside it',
  ],
  run: (rec, ctx) => runLogical(rec, ctx, { slot: 'pgsniff_stream_slot', options: STREAM_OPTIONS, params: { debug_logical_replication_streaming: 'immediate' } }),
};

function parseLsn(text: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(text);
  if (!m) throw new Error(`not an LSN: ${text}`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

const physicalReplication: Scenario = {
  name: 'physical-replication',
  title: 'Physical replication: raw WAL in XLogData',
  description:
    'The raw client on a physical walsender connection (replication=true, protocol 3.0, SCRAM login): ' +
    'IDENTIFY_SYSTEM, then START_REPLICATION PHYSICAL from its xlogpos (no slot). A pg connection emits a ' +
    'flushed non-transactional logical message; the walsender streams the WAL up to it as XLogData whose ' +
    'payload is raw WAL records. The client confirms with a standby status update, sends hot standby ' +
    'feedback (the xmin of a current snapshot) and ends the stream with CopyDone. The START_REPLICATION text names the start LSN, so it changes from one generation to the next.',
  decode: [
    'StartupMessage with replication "true"; IDENTIFY_SYSTEM answered with one row (systemid, timeline, xlogpos, dbname)',
    'START_REPLICATION PHYSICAL: CopyBothResponse, then XLogData (w) whose WAL start and end LSNs the manifest lists (and primary keepalives (k) if the walsender sent any)',
    'XLogData payloads are WAL records, not pgoutput: a decoder should show them as bytes and not invent logical messages',
    'a standby status update (r) and a hot standby feedback message (h, xmin and catalog xmin with epochs) from the client; CopyDone both ways; CommandComplete "START_STREAMING" then "START_REPLICATION" (one statement), ReadyForQuery',
  ],
  async run(rec, ctx) {
    const r = await rawLogin(rec, { params: { replication: 'true' } });
    const writer = await rec.pg();
    const id = await rawQuery(rec, r, 'IDENTIFY_SYSTEM', { rows: 1 });
    const startLsn = id.rows[0]![2]!;
    const startSql = `START_REPLICATION PHYSICAL ${startLsn}`;
    r.client.send(msg('Q', cstring(startSql)));
    const first = await r.client.next();
    if (first.code !== 'W') throw new Error(`START_REPLICATION answered ${first.code}, not CopyBothResponse`);

    await writer.query({ sql: "SELECT pg_logical_emit_message(false, 'pgsniff', 'physical replication', true) IS NOT NULL AS emitted", expectRows: 1 });
    const target = parseLsn((await ctx.admin.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0]!.lsn);

    const stream: ManifestStreamMessage[] = [];
    let received = 0n;
    let walBytes = 0;
    const status = () => {
      r.client.send(msg('d', standbyStatus(received, false)));
      const l = lsnText(received);
      stream.push({ dir: 'frontend', kind: 'StandbyStatusUpdate', written: l, flushed: l, applied: l, replyRequested: false });
    };
    const take = (m: { code: string; body: Buffer }): boolean => {
      if (m.code !== 'd') return false;
      const b = m.body;
      const tag = String.fromCharCode(b[0]!);
      if (tag === 'w') {
        const walStart = b.readBigUInt64BE(1);
        const payload = b.length - 25;
        stream.push({ dir: 'backend', kind: 'XLogData', walStart: lsnText(walStart), walEnd: lsnText(b.readBigUInt64BE(9)) });
        walBytes += payload;
        const end = walStart + BigInt(payload);
        if (end > received) received = end;
      } else if (tag === 'k') {
        const replyRequested = b[17] === 1;
        stream.push({ dir: 'backend', kind: 'PrimaryKeepalive', walEnd: lsnText(b.readBigUInt64BE(1)), replyRequested });
        if (replyRequested) status();
      } else throw new Error(`unexpected replication message ${tag}`);
      return true;
    };
    const deadline = Date.now() + 8000;
    while (received < target) {
      if (Date.now() > deadline) throw new Error(`WAL up to ${lsnText(target)} not streamed (got ${lsnText(received)})`);
      const m = await r.client.poll(200);
      if (m && !take(m)) throw new Error(`unexpected ${m.code} during streaming`);
    }
    status();
    // Hot standby feedback with the oldest xmin of a current snapshot (a real, recent xid, so the
    // walsender takes it rather than ignoring it), as a standby running queries would send.
    const xid8 = BigInt((await ctx.admin.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin')).rows[0]!.xmin);
    const xmin = Number(xid8 & 0xffffffffn);
    const xminEpoch = Number(xid8 >> 32n);
    r.client.send(msg('d', hotStandbyFeedback(xmin, xminEpoch)));
    stream.push({ dir: 'frontend', kind: 'HotStandbyFeedback', xmin, xminEpoch, catalogXmin: xmin, catalogXminEpoch: xminEpoch });
    r.client.send(msg('c'));
    const tail: { code: string; body: Buffer }[] = [];
    for (;;) {
      const m = await r.client.next();
      if (take(m)) continue;
      tail.push(m);
      if (m.code === 'c') break;
    }
    recordQuery(rec, r, startSql, await r.client.collect(tail), { note: 'CopyBoth: the WAL stream is in the sample\'s physicalReplication.stream' });
    rec.physicalReplication = { connection: r.index, startLsn, walBytes, stream };
  },
};

export const RAW_SCENARIOS: Scenario[] = [protocol32, replication, replicationStreaming, physicalReplication, functionCall];
