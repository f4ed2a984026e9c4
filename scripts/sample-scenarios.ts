/**
 * The scripted client sessions behind samples/*.pcap: one scenario per file. Each says what it
 * shows and what a decoder should make of it (both go into samples/README.md), and records
 * what the clients did into the manifest through SampleRecorder.
 *
 * SQL texts are fixed (no timestamps, no random names) so that regenerating the samples changes
 * only what the protocol itself randomises: ports, PIDs and cancel keys, SCRAM nonces, times.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { md5, type ParamSpec, type SampleRecorder } from './sample-clients.js';
import { RAW_SCENARIOS } from './sample-raw-scenarios.js';
import { DRIVER_SCENARIOS } from './sample-drivers.js';
import { POOLER_SCENARIOS } from './sample-pooler.js';
import type { Scenario } from './sample-scenario.js';

/** Parameters of many types, each cast in the SQL, with the column name telling the type. */
const TYPED: (ParamSpec & { column: string; send: string })[] = [
  { column: 'v_int2', type: 'int2', value: '-32768', send: 'int2send' },
  { column: 'v_int4', type: 'int4', value: '2147483647', send: 'int4send' },
  { column: 'v_int8', type: 'int8', value: '-9223372036854775808', send: 'int8send' },
  { column: 'v_numeric', type: 'numeric', value: '12345678901234567890.123456789', send: 'numeric_send' },
  { column: 'v_float8', type: 'float8', value: '3.141592653589793', send: 'float8send' },
  { column: 'v_float4', type: 'float4', value: '-1.5', send: 'float4send' },
  { column: 'v_bool', type: 'bool', value: 'true', send: 'boolsend' },
  { column: 'v_text', type: 'text', value: 'It\'s "quoted", back\\slash; naïve café, 日本語, 🐘', send: 'textsend' },
  { column: 'v_bytea', type: 'bytea', value: Buffer.from([0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff]), send: 'byteasend' },
  { column: 'v_uuid', type: 'uuid', value: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', send: 'uuid_send' },
  { column: 'v_date', type: 'date', value: '2024-02-29', send: 'date_send' },
  { column: 'v_timestamp', type: 'timestamp', value: '2024-02-29 13:45:56.789012', send: 'timestamp_send' },
  { column: 'v_timestamptz', type: 'timestamptz', value: '2024-02-29 13:45:56.789012+02', send: 'timestamptz_send' },
  { column: 'v_interval', type: 'interval', value: '1 year 2 mons 3 days 04:05:06.789', send: 'interval_send' },
  { column: 'v_json', type: 'json', value: '{"a": [1, 2.5, null], "b": "x"}', send: 'json_send' },
  { column: 'v_jsonb', type: 'jsonb', value: '{"b": "x", "a": [1, 2.5, null]}', send: 'jsonb_send' },
  { column: 'v_int4_array', type: 'int4[]', value: '{1,NULL,-3}', send: 'array_send' },
  { column: 'v_text_array', type: 'text[]', value: '{"a b","c,d",NULL,"q\\"uote"}', send: 'array_send' },
  { column: 'v_null', type: 'text', value: null, send: 'textsend' },
];

const typedParams = (): ParamSpec[] => TYPED.map((p) => ({ type: p.type, value: p.value }));

export const SCENARIOS: Scenario[] = [
  {
    name: 'simple-query',
    title: 'Simple query protocol',
    description:
      'pg (node-postgres), SCRAM-SHA-256 login. One Query with one statement; one Query holding four ' +
      'statements (CREATE TEMP TABLE; INSERT; SELECT; DROP TABLE), answered with one CommandComplete each ' +
      'and a single ReadyForQuery; an empty Query string, answered with EmptyQueryResponse.',
    decode: [
      'StartupMessage with user, database and application_name "simple-query"; AuthenticationSASL (SCRAM-SHA-256), SASLInitialResponse, AuthenticationSASLContinue, SASLResponse, AuthenticationSASLFinal, AuthenticationOk',
      'ParameterStatus messages (server_version 18.x, client_encoding UTF8, ...), BackendKeyData, ReadyForQuery idle',
      'three Query messages; the second yields four CommandComplete tags before one ReadyForQuery',
      'EmptyQueryResponse for the empty Query; Terminate at the end',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: 'SELECT 1 AS one', expectRows: 1 });
      await c.query({
        sql: "CREATE TEMP TABLE items (id int, name text); INSERT INTO items VALUES (1, 'apple'), (2, 'banana'); SELECT id, name FROM items ORDER BY id; DROP TABLE items",
        expectRows: 2,
      });
      await c.query({ sql: '', expectRows: 0 });
    },
  },
  {
    name: 'extended-query',
    title: 'Extended query protocol: unnamed and named statements',
    description:
      'pg, SCRAM login. Unnamed statements (Parse/Bind/Describe/Execute/Sync in one write) with and without ' +
      'parameters; the named statement "type_name" parsed once and executed three times (Bind to the ' +
      'statement name, no second Parse); the named statement "next_id" executed twice.',
    decode: [
      'Parse with an empty statement name and parameter type OIDs 0 (unspecified); ParseComplete, BindComplete, RowDescription, DataRow, CommandComplete, ReadyForQuery',
      'Parse "type_name" exactly once; three Bind messages naming "type_name"; results int4, text, bool',
      'a session tool should report "type_name" as prepared once, executed three times',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: 'SELECT $1::int + $2::int AS sum', params: [{ type: 'int4', value: '2' }, { type: 'int4', value: '3' }], expectRows: 1 });
      await c.query({ sql: 'SELECT current_database() AS db', extended: true, expectRows: 1 });
      for (const oid of ['23', '25', '16']) {
        await c.query({ sql: 'SELECT typname FROM pg_type WHERE oid = $1', name: 'type_name', params: [{ type: 'oid', value: oid }], expectRows: 1 });
      }
      for (const n of ['41', '99']) {
        await c.query({ sql: 'SELECT $1::int8 + 1 AS next', name: 'next_id', params: [{ type: 'int8', value: n }], expectRows: 1 });
      }
    },
  },
  {
    name: 'data-types',
    title: 'Parameters and results of many types, text and binary',
    description:
      'pg, SCRAM login. One statement with 19 parameters (int2, int4, int8, numeric, float8, float4, bool, ' +
      'text with quotes, backslash and non-ASCII, bytea, uuid, date, timestamp, timestamptz, interval, json, ' +
      'jsonb, int4[] and text[] with NULL elements, and a NULL), executed twice: results in text format, then ' +
      'in binary format. Parameters are sent as text except bytea, which pg sends in binary format. Server ' +
      'settings TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres.',
    decode: [
      'Bind parameter formats: text for all but the bytea parameter (binary); one NULL (length -1)',
      'first execution: RowDescription with text format codes; DataRow values equal to the manifest\'s values',
      'second execution: Bind asks for binary results; DataRow bytes equal to the manifest\'s binaryValues (from each type\'s send function)',
      'a typed decoder should turn the binary values into the same text as the first execution',
    ],
    async run(rec, ctx) {
      const c = await rec.pg();
      const sql = 'SELECT ' + TYPED.map((p, i) => `$${i + 1}::${p.type} AS ${p.column}`).join(', ');
      await c.query({ sql, params: typedParams(), expectRows: 1 });
      const hexSql = 'SELECT ' + TYPED.map((p, i) => `encode(${p.send}($${i + 1}::${p.type}), 'hex')`).join(', ');
      const expected = await ctx.admin.query({ text: hexSql, values: TYPED.map((p) => p.value), rowMode: 'array' });
      const binaryValues = (expected.rows as (string | null)[][]).map((r) => r.map((v) => (v === null ? null : String(v))));
      await c.query({ sql, params: typedParams(), binary: true, binaryValues, expectRows: 1 });
    },
  },
  {
    name: 'errors',
    title: 'Failing statements and an aborted transaction',
    description:
      'pg, SCRAM login. Division by zero (simple query, 22012); a syntax error (42601); a missing table in ' +
      'the extended protocol (42P01, reported at Parse); division by zero at Execute of a parameterised ' +
      'statement; a transaction where an error makes the next statement fail with 25P02 until ROLLBACK; ' +
      'then a statement that works.',
    decode: [
      'ErrorResponse fields: severity ERROR, SQLSTATE (C), message (M), position (P) for the syntax error',
      'ReadyForQuery transaction status: I, then T after BEGIN, E after the failure, I after ROLLBACK',
      'in the extended protocol the server skips messages up to Sync after an error',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: 'SELECT 1/0', expectError: '22012' });
      await c.query({ sql: 'SELEC 1', expectError: '42601' });
      await c.query({ sql: 'SELECT * FROM no_such_table WHERE id = $1', params: [{ type: 'int4', value: '1' }], expectError: '42P01' });
      await c.query({ sql: 'SELECT 10 / $1::int AS ratio', params: [{ type: 'int4', value: '0' }], expectError: '22012' });
      await c.query({ sql: 'BEGIN' });
      await c.query({ sql: "SELECT 'x'::int", expectError: '22P02' });
      await c.query({ sql: 'SELECT 1', expectError: '25P02' });
      await c.query({ sql: 'ROLLBACK' });
      await c.query({ sql: "SELECT 'still usable' AS ok", expectRows: 1 });
    },
  },
  {
    name: 'notice',
    title: 'NoticeResponse: RAISE in a DO block, and a server notice',
    description:
      'pg, SCRAM login. A DO block raising INFO, NOTICE and WARNING; DROP TABLE IF EXISTS of a missing ' +
      'table, which the server answers with a NOTICE before CommandComplete.',
    decode: [
      'three NoticeResponse messages (severity INFO, NOTICE, WARNING; SQLSTATE 00000, 00000, 01000) then CommandComplete "DO"',
      'NoticeResponse "table \\"no_such_table\\" does not exist, skipping" then CommandComplete "DROP TABLE"',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({
        sql: "DO $$BEGIN RAISE INFO 'info from %', 'pgsniff'; RAISE NOTICE 'hello from %', 'pgsniff'; RAISE WARNING 'careful: % rows', 3; END$$",
      });
      await c.query({ sql: 'DROP TABLE IF EXISTS no_such_table' });
    },
  },
  {
    name: 'listen-notify',
    title: 'LISTEN / NOTIFY between two connections',
    description:
      'Two pg connections. The first LISTENs on channel pgsniff_events; the second sends NOTIFY (simple query) ' +
      'and pg_notify() with a non-ASCII payload (extended query); the first receives two ' +
      'NotificationResponse messages while idle, then UNLISTENs.',
    decode: [
      'NotificationResponse messages on the first connection, outside any query, carrying the notifying backend\'s PID, channel and payload',
      'the PID in each NotificationResponse equals the BackendKeyData PID of the second connection',
    ],
    async run(rec) {
      const listener = await rec.pg();
      const notifier = await rec.pg();
      await listener.query({ sql: 'LISTEN pgsniff_events' });
      await notifier.query({ sql: "NOTIFY pgsniff_events, 'first payload'" });
      await notifier.query({
        sql: 'SELECT pg_notify($1, $2)',
        params: [{ type: 'text', value: 'pgsniff_events' }, { type: 'text', value: 'second payload: ünïcödé' }],
        expectRows: 1,
      });
      await listener.waitNotifications(2);
      await listener.query({ sql: 'UNLISTEN *' });
    },
  },
  {
    name: 'copy',
    title: 'COPY FROM STDIN and COPY TO STDOUT (postgres.js)',
    description:
      'postgres.js, one connection, SCRAM login. Creates a temporary table, loads 50 rows with COPY FROM ' +
      'STDIN (text format, one NULL every fifth row), reads them back with COPY TO STDOUT and counts them.',
    decode: [
      'CopyInResponse (text format, 3 columns), CopyData from the frontend, CopyDone, CommandComplete "COPY 50"',
      'CopyOutResponse, 50 rows of CopyData from the backend, CopyDone, CommandComplete "COPY 50"',
      'after the COPY FROM has completed, a stray CopyFail with message "null" from postgres.js (its writable stream is destroyed after finishing); the server ignores CopyFail outside copy mode, so the COPY still succeeded: a tool should not report it as failed',
    ],
    async run(rec) {
      const c = rec.postgresJs();
      await c.query({ sql: 'CREATE TEMP TABLE copy_demo (id int, name text, note text)' });
      const lines: string[] = [];
      for (let i = 1; i <= 50; i++) lines.push(`${i}\tname ${i}\t${i % 5 === 0 ? '\\N' : `note ${i}`}\n`);
      const data = lines.join('');
      const inSql = 'COPY copy_demo (id, name, note) FROM STDIN';
      const w = await c.sql.unsafe(inSql).writable();
      await pipeline(Readable.from(lines), w);
      c.pushStep({
        protocol: 'simple',
        sql: inSql,
        commands: ['COPY 50'],
        rows: 0,
        copy: { direction: 'in', format: 'text', rows: 50, bytes: Buffer.byteLength(data), md5: md5(data) },
        note: 'postgres.js sends CopyFail("null") after CopyDone and CommandComplete; the server ignores it',
      });
      const outSql = 'COPY copy_demo TO STDOUT';
      const r = await c.sql.unsafe(outSql).readable();
      const chunks: Buffer[] = [];
      for await (const chunk of r) chunks.push(Buffer.from(chunk as Buffer));
      const out = Buffer.concat(chunks);
      const outRows = out.toString('utf8').split('\n').length - 1;
      if (outRows !== 50) throw new Error(`COPY TO gave ${outRows} rows`);
      c.pushStep({ protocol: 'simple', sql: outSql, commands: ['COPY 50'], rows: 0, copy: { direction: 'out', format: 'text', rows: outRows, bytes: out.length, md5: md5(out) } });
      await c.query({ sql: 'SELECT count(*) AS n FROM copy_demo', expectRows: 1 });
    },
  },
  {
    name: 'transaction-savepoint',
    title: 'Transaction with a savepoint and a rollback to it',
    description:
      'pg, SCRAM login. BEGIN; an INSERT; SAVEPOINT; a duplicate-key INSERT (23505, extended protocol); ' +
      'ROLLBACK TO SAVEPOINT; another INSERT; RELEASE; COMMIT; then the two surviving rows.',
    decode: [
      'ReadyForQuery status I -> T -> E (after 23505) -> T (after ROLLBACK TO SAVEPOINT) -> I (after COMMIT)',
      'ErrorResponse 23505 with detail, schema, table and constraint fields',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: 'CREATE TEMP TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)' });
      await c.query({ sql: 'BEGIN' });
      await c.query({ sql: 'INSERT INTO accounts VALUES (1, 100)' });
      await c.query({ sql: 'SAVEPOINT before_duplicate' });
      await c.query({ sql: 'INSERT INTO accounts VALUES ($1, $2)', params: [{ type: 'int4', value: '1' }, { type: 'int4', value: '200' }], expectError: '23505' });
      await c.query({ sql: 'ROLLBACK TO SAVEPOINT before_duplicate' });
      await c.query({ sql: 'INSERT INTO accounts VALUES ($1, $2)', params: [{ type: 'int4', value: '2' }, { type: 'int4', value: '50' }] });
      await c.query({ sql: 'RELEASE SAVEPOINT before_duplicate' });
      await c.query({ sql: 'COMMIT' });
      await c.query({ sql: 'SELECT id, balance FROM accounts ORDER BY id', expectRows: 2 });
    },
  },
  {
    name: 'large-row',
    title: 'A DataRow larger than 256 KB',
    description:
      'pg, SCRAM login. SELECT of a 272,000-character text value: one DataRow message of about 266 KiB ' +
      'spread over several TCP segments (frames of up to about 64 KB: the loopback hands ' +
      'segmentation-offload super-packets to the capture).',
    decode: [
      'one RowDescription, one DataRow with length field 272010 (one column of 272,000 bytes), CommandComplete "SELECT 1"',
      'the value\'s md5 is in the manifest (values[0][0].md5); reassembly must join the DataRow from several segments',
    ],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: "SELECT repeat('0123456789abcdef', 17000) AS big", expectRows: 1 });
    },
  },
  {
    name: 'concurrent',
    title: 'Four concurrent connections',
    description:
      'Four pg connections opened at once, each running three parameterised queries, interleaved in time ' +
      '(the manifest lists the steps grouped by connection, not in time order).',
    decode: ['four sessions, each with its own startup, SCRAM exchange, BackendKeyData and three queries', 'query records attributed to the right session by TCP connection'],
    async run(rec) {
      const conns = await Promise.all([0, 1, 2, 3].map(() => rec.pg()));
      await Promise.all(
        conns.map(async (c, worker) => {
          for (let round = 1; round <= 3; round++) {
            await c.query({ sql: 'SELECT $1::int AS worker, $2::int AS round', params: [{ type: 'int4', value: String(worker) }, { type: 'int4', value: String(round) }], expectRows: 1 });
          }
        }),
      );
      // The interleaving differs from run to run; the manifest lists the steps by connection.
      rec.steps.sort((a, b) => a.connection - b.connection);
    },
  },
  {
    name: 'cancel',
    title: 'CancelRequest of a running pg_sleep (postgres.js)',
    description:
      'postgres.js, SCRAM login. SELECT pg_sleep(5) is cancelled after about 300 ms: postgres.js opens a second ' +
      'TCP connection that carries only a CancelRequest with the first connection\'s PID and secret key; the ' +
      'query fails with 57014; the first connection then runs another query.',
    decode: [
      'a second TCP connection whose only message is CancelRequest (code 80877102) with the PID and key of the first connection\'s BackendKeyData',
      'ErrorResponse 57014 "canceling statement due to user request" on the first connection',
    ],
    async run(rec) {
      const c = rec.postgresJs();
      await c.query({ sql: "SELECT 'connected' AS state", expectRows: 1 });
      const spec = { sql: 'SELECT pg_sleep(5)', expectError: '57014', note: 'cancelled by postgres.js query.cancel() after about 300 ms' };
      const q = c.sql.unsafe(spec.sql);
      const timer = setTimeout(() => void q.cancel(), 300);
      try {
        await q;
        c.record(spec, null, null);
      } catch (e) {
        c.record(spec, null, e);
      } finally {
        clearTimeout(timer);
      }
      const last = rec.steps[rec.steps.length - 1]!;
      last.cancelled = true;
      rec.cancelRequests++;
      await c.query({ sql: "SELECT 'after cancel' AS state", expectRows: 1 });
    },
  },
  {
    name: 'auth-methods',
    title: 'MD5 and cleartext password authentication, and a failed login',
    description:
      'Three pg connections: role md5_user (pg_hba md5, MD5-hashed password), role clear_user (pg_hba ' +
      'password: the password crosses the wire in clear), and md5_user with a wrong password (FATAL 28P01).',
    decode: [
      'AuthenticationMD5Password with a 4-byte salt, PasswordMessage "md5" + 32 hex digits, AuthenticationOk',
      'AuthenticationCleartextPassword, PasswordMessage with the password (a tool should redact it by default)',
      'ErrorResponse severity FATAL, SQLSTATE 28P01, then the server closes the connection',
    ],
    async run(rec, ctx) {
      const m = await rec.pg({ ...ctx.md5User, auth: 'md5' });
      await m.query({ sql: 'SELECT current_user AS who', expectRows: 1 });
      const p = await rec.pg({ ...ctx.clearUser, auth: 'password' });
      await p.query({ sql: 'SELECT current_user AS who', expectRows: 1 });
      const bad = await rec.pg({ user: ctx.md5User.user, password: 'wrong-password', auth: 'md5' });
      if (!bad.loginFailure || bad.loginFailure.sqlstate !== '28P01') throw new Error('the wrong password was accepted');
    },
  },
  {
    name: 'pipeline',
    title: 'Pipelined queries on one connection (postgres.js)',
    description:
      'postgres.js with one connection, SCRAM login. Five simple queries issued at once are sent without ' +
      'waiting for answers (several Query messages share a TCP segment); then five executions of one ' +
      'parameterised statement issued at once: postgres.js prepares it under a random name (Parse, ' +
      'Describe statement, Flush), then sends the Bind/Execute/Sync groups back to back.',
    decode: [
      'several Query messages in one TCP segment; the answers come back in order, each request paired with its response',
      'Parse with a generated statement name and Describe (statement), then Bind/Execute/Sync pipelined',
    ],
    async run(rec) {
      const c = rec.postgresJs();
      await Promise.all([1, 2, 3, 4, 5].map((i) => c.query({ sql: `SELECT ${i} AS n`, expectRows: 1 })));
      await Promise.all(
        [1, 2, 3, 4, 5].map((i) => c.query({ sql: 'SELECT $1::int * 2 AS doubled', params: [{ type: 'int4', value: String(i) }], prepare: true, expectRows: 1 })),
      );
    },
  },
  {
    name: 'n-plus-one',
    title: 'An N+1 query pattern',
    description:
      'pg, SCRAM login. One query returns ten ids; then the same parameterised statement (unnamed, extended ' +
      'protocol) runs once per id: eleven queries where one join would do.',
    decode: ['one SELECT returning 10 rows, then 10 executions of the same SQL text with parameter values 1..10', 'a tool counting queries by normalised SQL should see 1 + 10'],
    async run(rec) {
      const c = await rec.pg();
      const ids = await c.query({ sql: 'SELECT id FROM generate_series(1, 10) AS id ORDER BY id', expectRows: 10 });
      for (const [id] of ids) {
        await c.query({ sql: "SELECT $1::int AS author_id, 'book of author ' || $1::int AS title", params: [{ type: 'int4', value: id! }], expectRows: 1 });
      }
    },
  },
  {
    name: 'slow-query',
    title: 'Queries that take 200 ms (latency)',
    description: 'pg, SCRAM login. SELECT pg_sleep(0.2) with the simple protocol, then pg_sleep($1) with 0.2 in the extended protocol.',
    decode: ['each query\'s time from request to ReadyForQuery is at least 200 ms (manifest minDurationMs)'],
    async run(rec) {
      const c = await rec.pg();
      await c.query({ sql: 'SELECT pg_sleep(0.2)', expectRows: 1, minDurationMs: 200 });
      await c.query({ sql: 'SELECT pg_sleep($1)', params: [{ type: 'float8', value: '0.2' }], expectRows: 1, minDurationMs: 200 });
    },
  },
  {
    name: 'psql',
    title: 'A psql (libpq) session with an SSLRequest the server refuses',
    description:
      'psql 15 (libpq), sslmode=prefer against a server without TLS: SSLRequest answered with the single byte ' +
      '"N", then a plain StartupMessage, SCRAM login and one simple Query with two columns.',
    decode: [
      'SSLRequest (code 80877103), a one-byte "N" from the server, then StartupMessage on the same connection',
      'StartupMessage parameters user, database and application_name "psql" (libpq, not on a terminal)',
    ],
    async run(rec) {
      await rec.psql("SELECT 42 AS answer, 'psql' AS client", 1);
    },
  },
  // Protocol 3.2, logical replication and FunctionCall, which need the raw client.
  ...RAW_SCENARIOS,
  // The drivers users run, each in its own process (Python, Java).
  ...DRIVER_SCENARIOS,
  // A pooler in front of the server: both legs in one capture.
  ...POOLER_SCENARIOS,
];
