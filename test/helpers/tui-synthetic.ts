/**
 * A synthetic PostgreSQL conversation fed straight into a PipelineSink, for the TUI's tests
 * and demo without a capture or the rest of the pipeline: sessions running simple and
 * extended queries, a failing statement, and a query carrying ANSI escape sequences and
 * blessed tags (which the UI must show escaped). Bodies are real wire encodings, so the bytes
 * pane shows what a capture would.
 */
import type { PipelineSink, MessageRecord } from '../../src/pipeline/events.js';
import type { RawMessage, DecodedMessage } from '../../dissectors/types.js';
import { rawMessage } from '../../dissectors/raw-message.js';
import type { Direction } from '../../src/core/direction.js';
import { isoTime } from '../../src/core/time.js';

/** The hostile query: colour change, window title, a bell, cursor movement and blessed tags. */
export const HOSTILE_SQL = "SELECT '\x1b[31mRED\x1b]0;pwned\x07\x1b[2J{red-fg}tag{/red-fg}' AS x";

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}
function i16(n: number): Buffer { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; }
function i32(n: number): Buffer { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; }

interface Built { code: string | null; body: Buffer; decoded: DecodedMessage }

const B = {
  startup: (user: string, db: string): Built => ({
    code: null,
    body: Buffer.concat([i32(196608), cstr('user'), cstr(user), cstr('database'), cstr(db), cstr('application_name'), cstr('demo'), Buffer.from([0])]),
    decoded: { type: 'StartupMessage', protocolMajor: 3, protocolMinor: 0, parameters: { user, database: db, application_name: 'demo' } },
  }),
  authOk: (): Built => ({ code: 'R', body: i32(0), decoded: { type: 'AuthenticationOk', authType: 0 } }),
  ready: (): Built => ({ code: 'Z', body: Buffer.from('I'), decoded: { type: 'ReadyForQuery', status: 'I', transactionStatus: 'idle' } }),
  query: (sql: string): Built => ({ code: 'Q', body: cstr(sql), decoded: { type: 'Query', query: sql } }),
  parse: (name: string, sql: string): Built => ({
    code: 'P', body: Buffer.concat([cstr(name), cstr(sql), i16(0)]), decoded: { type: 'Parse', statement: name, query: sql, paramTypes: [] },
  }),
  bind: (value: string): Built => ({
    code: 'B',
    body: Buffer.concat([cstr(''), cstr(''), i16(0), i16(1), i32(Buffer.byteLength(value)), Buffer.from(value), i16(0)]),
    decoded: { type: 'Bind', portal: '', statement: '', paramFormats: [], params: [{ oid: 23, typeName: 'int4', format: 'text', value: Number(value) }], resultFormats: [] },
  }),
  execute: (): Built => ({ code: 'E', body: Buffer.concat([cstr(''), i32(0)]), decoded: { type: 'Execute', portal: '', maxRows: 0 } }),
  sync: (): Built => ({ code: 'S', body: Buffer.alloc(0), decoded: { type: 'Sync' } }),
  parseComplete: (): Built => ({ code: '1', body: Buffer.alloc(0), decoded: { type: 'ParseComplete' } }),
  bindComplete: (): Built => ({ code: '2', body: Buffer.alloc(0), decoded: { type: 'BindComplete' } }),
  rowDesc: (col: string): Built => ({
    code: 'T',
    body: Buffer.concat([i16(1), cstr(col), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)]),
    decoded: { type: 'RowDescription', fields: [{ name: col, tableOid: 0, columnNumber: 0, typeOid: 25, typeName: 'text', typeSize: -1, typeModifier: -1, format: 'text' }] },
  }),
  dataRow: (v: string): Built => ({
    code: 'D', body: Buffer.concat([i16(1), i32(Buffer.byteLength(v)), Buffer.from(v)]),
    decoded: { type: 'DataRow', values: [{ oid: 25, typeName: 'text', format: 'text', value: v }] },
  }),
  complete: (tag: string): Built => ({
    code: 'C', body: cstr(tag),
    decoded: { type: 'CommandComplete', tag, command: tag.split(' ')[0] ?? tag, rows: Number(tag.split(' ').pop()) || null },
  }),
  error: (state: string, msg: string): Built => ({
    code: 'E', body: Buffer.concat([cstr('SERROR'), cstr('VERROR'), cstr('C' + state), cstr('M' + msg), Buffer.from([0])]),
    decoded: { type: 'ErrorResponse', fields: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: state, message: msg } },
  }),
  notice: (state: string, msg: string): Built => ({
    code: 'N', body: Buffer.concat([cstr('SWARNING'), cstr('VWARNING'), cstr('C' + state), cstr('M' + msg), Buffer.from([0])]),
    decoded: { type: 'NoticeResponse', fields: { severity: 'WARNING', severityNonLocalized: 'WARNING', sqlstate: state, message: msg } },
  }),
  terminate: (): Built => ({ code: 'X', body: Buffer.alloc(0), decoded: { type: 'Terminate' } }),
};

interface SyntheticOptions {
  sessions?: number;
  /** Query rounds per session (each round: a simple query, an extended query, sometimes a failure). */
  rounds?: number;
  /** Extra filler frames (bare ACKs) to reach a size, for scale runs. */
  fillerFrames?: number;
  /** Yield to the event loop every this many frames (0: never). */
  yieldEvery?: number;
  /** Microseconds between frames. */
  stepUs?: number;
  /** Adds, after the hostile query, one whose text and result hold wide and zero-width characters (WIDE_SQL) and a notice. */
  wide?: boolean;
}

/** East Asian wide characters, an emoji, a combining accent, a zero-width space, a tab and a backslash. */
export const WIDE_SQL = "SELECT '日本語🐘 cafe\u0301 a\u200bb\tc\\d' AS \"名前\"";

export async function feedSynthetic(sink: PipelineSink, signal: AbortSignal, opts: SyntheticOptions = {}): Promise<void> {
  const sessions = opts.sessions ?? 3;
  const rounds = opts.rounds ?? 4;
  const step = opts.stepUs ?? 700;
  const yieldEvery = opts.yieldEvery ?? 0;
  let frame = 0;
  let t = Date.UTC(2024, 4, 1, 12, 0, 0) * 1000;
  let sinceYield = 0;
  const offsets = new Map<string, number>();

  const tick = async (): Promise<void> => {
    if (yieldEvery > 0 && frame - sinceYield >= yieldEvery) {
      sinceYield = frame;
      await new Promise((r) => setImmediate(r));
    }
  };
  const client = (s: number) => `10.0.0.${10 + s}:${50000 + s}`;
  const server = '10.0.0.1:5432';

  /** One frame carrying `msgs` in one direction; returns its frame number. */
  const send = (s: number, dir: Direction, msgs: Built[]): number => {
    frame++;
    t += step;
    const len = msgs.reduce((n, m) => n + m.body.length + (m.code ? 5 : 4), 0);
    sink.frame?.({
      frame, timeUs: t, fileOffset: -1, length: len + 66, capLen: len + 66,
      src: dir === 'frontend' ? client(s) : server, dst: dir === 'frontend' ? server : client(s), session: s,
    });
    const key = `${s}${dir}`;
    for (const m of msgs) {
      const off = offsets.get(key) ?? 0;
      const length = m.body.length + 4;
      offsets.set(key, off + length + (m.code ? 1 : 0));
      const raw = rawMessage({ dir, code: m.code, length, body: m.body, offset: off, firstFrame: frame, frame, startTimeUs: t, timeUs: t });
      const rec = { kind: 'message', session: s, time: isoTime(t), frame, dir, code: m.code, length, ...m.decoded } as MessageRecord;
      sink.message?.(rec, raw, m.decoded);
      sink.record(rec);
    }
    return frame;
  };
  const query = (s: number, first: number, startUs: number, sql: string, protocol: string, rows: number | null,
    error: { sqlstate: string; message: string } | null, params: unknown[] = []) => {
    sink.record({
      kind: 'query', session: s, time: isoTime(t), frame, protocol, sql, statement: protocol === 'extended' ? '' : null,
      portal: protocol === 'extended' ? '' : null, params, durationMs: (t - startUs) / 1000, rows: rows ?? 0,
      command: error ? null : rows === null ? 'SELECT 0' : `SELECT ${rows}`,
      error: error ? { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: error.sqlstate, message: error.message } : null,
      firstFrame: first, lastFrame: frame, startTime: isoTime(startUs), incomplete: false, skipped: false,
    });
  };

  for (let s = 0; s < sessions; s++) {
    send(s, 'frontend', [B.startup(`user${s}`, 'shop')]);
    send(s, 'backend', [B.authOk(), B.ready()]);
  }
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < sessions; s++) {
      if (signal.aborted) return;
      let t0 = t + step;
      let f0 = send(s, 'frontend', [B.query(`SELECT name FROM users WHERE id = ${r}`)]);
      send(s, 'backend', [B.rowDesc('name'), B.dataRow(`alice${r}`), B.dataRow(`bob${r}`), B.complete('SELECT 2'), B.ready()]);
      query(s, f0, t0, `SELECT name FROM users WHERE id = ${r}`, 'simple', 2, null);

      t0 = t + step;
      f0 = send(s, 'frontend', [B.parse('', 'SELECT * FROM orders WHERE id = $1'), B.bind(String(r)), B.execute(), B.sync()]);
      t += step * (s + 1) * 3;
      send(s, 'backend', [B.parseComplete(), B.bindComplete(), B.dataRow(`order${r}`), B.complete('SELECT 1'), B.ready()]);
      query(s, f0, t0, 'SELECT * FROM orders WHERE id = $1', 'extended', 1, null, [{ oid: 23, typeName: 'int4', format: 'text', value: r }]);

      if ((r + s) % 3 === 1) {
        t0 = t + step;
        f0 = send(s, 'frontend', [B.query('SELECT * FROM missing_table')]);
        send(s, 'backend', [B.error('42P01', 'relation "missing_table" does not exist'), B.ready()]);
        query(s, f0, t0, 'SELECT * FROM missing_table', 'simple', null, { sqlstate: '42P01', message: 'relation "missing_table" does not exist' });
      }
      await tick();
    }
  }
  // The hostile query, in session 0.
  let t0 = t + step;
  let f0 = send(0, 'frontend', [B.query(HOSTILE_SQL)]);
  send(0, 'backend', [B.rowDesc('x\x1b[7m'), B.dataRow('RED\x1b]0;pwned\x07'), B.complete('SELECT 1'), B.ready()]);
  query(0, f0, t0, HOSTILE_SQL, 'simple', 1, null);

  if (opts.wide) {
    t0 = t + step;
    f0 = send(0, 'frontend', [B.query(WIDE_SQL)]);
    const value = WIDE_SQL.slice(WIDE_SQL.indexOf("'") + 1, WIDE_SQL.lastIndexOf("'"));
    send(0, 'backend', [B.notice('01000', 'wide text ahead'), B.rowDesc('名前'), B.dataRow(value), B.complete('SELECT 1'), B.ready()]);
    query(0, f0, t0, WIDE_SQL, 'simple', 1, null);
  }

  // Two frames per filler round: a query and its answer.
  for (let k = 0; k < (opts.fillerFrames ?? 0); k += 2) {
    if (signal.aborted) return;
    t0 = t + step;
    const s = k % sessions;
    f0 = send(s, 'frontend', [B.query(`SELECT ${k}`)]);
    send(s, 'backend', [B.rowDesc('?column?'), B.dataRow(String(k)), B.complete('SELECT 1'), B.ready()]);
    query(s, f0, t0, `SELECT ${k}`, 'simple', 1, null);
    await tick();
  }

  for (let s = 0; s < sessions; s++) {
    send(s, 'frontend', [B.terminate()]);
    sink.record({
      kind: 'session', session: s, time: isoTime(t), frame, client: { ip: `10.0.0.${10 + s}`, port: 50000 + s },
      server: { ip: '10.0.0.1', port: 5432 }, user: `user${s}`, database: 'shop', applicationName: 'demo',
      auth: { method: 'trust' }, encryption: 'none', tls: null,
    });
  }
  await sink.end?.();
}
