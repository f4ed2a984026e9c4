/**
 * Recording wrappers around the real clients the sample generator drives (pg, postgres.js,
 * psql): each call runs on the wire as usual and appends to the sample's manifest what was sent
 * and what came back, as the client saw it. An answer that differs from what the scenario
 * expects (rows, SQLSTATE) stops the generator: a manifest must not record a surprise.
 */
import pg from 'pg';
import postgres from 'postgres';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type {
  ManifestCancel,
  ManifestColumn,
  ManifestConnection,
  ManifestError,
  ManifestNotice,
  ManifestNotification,
  ManifestParam,
  ManifestPhysicalReplication,
  ManifestReplication,
  ManifestSample,
  ManifestStep,
  ManifestValue,
} from './sample-manifest.js';

interface ServerInfo {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

type AuthName = ManifestConnection['auth'];

/** A parameter as a scenario gives it: text, bytes (sent in binary format by pg) or NULL. */
export interface ParamSpec {
  type: string;
  value: string | Buffer | null;
}

interface StepSpec {
  sql: string;
  params?: ParamSpec[];
  /** Named prepared statement (pg sends Parse only the first time on a connection). */
  name?: string;
  /** Use the extended protocol even without parameters. */
  extended?: boolean;
  /** Ask for binary results (extended protocol). */
  binary?: boolean;
  /** For binary results: the expected bytes of each field, lowercase hex. */
  binaryValues?: (string | null)[][];
  expectError?: string;
  expectRows?: number;
  minDurationMs?: number;
  note?: string;
}

const MAX_LISTED_ROWS = 50;
const MAX_LISTED_CHARS = 200;

export function md5(s: string | Buffer): string {
  return createHash('md5').update(s).digest('hex');
}

function listValue(v: string | null): ManifestValue {
  if (v === null || v.length <= MAX_LISTED_CHARS) return v;
  return { length: v.length, md5: md5(v) };
}

function dbError(e: unknown): ManifestError | null {
  if (typeof e !== 'object' || e === null) return null;
  const o = e as { code?: unknown; severity?: unknown; message?: unknown };
  if (typeof o.code !== 'string' || !/^[0-9A-Z]{5}$/.test(o.code)) return null;
  return { sqlstate: o.code, severity: typeof o.severity === 'string' ? o.severity : '', message: typeof o.message === 'string' ? o.message : '' };
}

function checkOutcome(spec: StepSpec, error: ManifestError | null, rows: number): void {
  if (spec.expectError) {
    if (!error) throw new Error(`expected SQLSTATE ${spec.expectError} from: ${spec.sql}`);
    if (error.sqlstate !== spec.expectError) throw new Error(`expected SQLSTATE ${spec.expectError}, got ${error.sqlstate} (${error.message}) from: ${spec.sql}`);
  } else if (error) {
    throw new Error(`unexpected error ${error.sqlstate} (${error.message}) from: ${spec.sql}`);
  }
  if (spec.expectRows !== undefined && rows !== spec.expectRows) throw new Error(`expected ${spec.expectRows} rows, got ${rows} from: ${spec.sql}`);
}

/** Everything recorded for one sample. */
export class SampleRecorder {
  readonly connections: ManifestConnection[] = [];
  readonly steps: ManifestStep[] = [];
  cancelRequests = 0;
  /** CancelRequests whose key the scenario knows (the raw client's). */
  readonly cancels: ManifestCancel[] = [];
  replication: ManifestReplication | null = null;
  physicalReplication: ManifestPhysicalReplication | null = null;
  /** The pooler the connections went through (see ManifestSample.pooler). */
  pooler: ManifestSample['pooler'] | null = null;
  /** Parses of statements described and never executed (see ManifestSample.parsedOnly). */
  readonly parsedOnly: string[] = [];
  private readonly pids = new Map<number, number>();
  private readonly open: (() => Promise<void>)[] = [];

  constructor(
    readonly name: string,
    readonly server: ServerInfo,
  ) {}

  /** Index of the connection whose backend has this PID, or -1. */
  connectionOfPid(pid: number): number {
    return this.pids.get(pid) ?? -1;
  }

  addConnection(c: ManifestConnection): number {
    this.connections.push(c);
    return this.connections.length - 1;
  }

  /** A pg client, connected; application_name is the scenario name. */
  async pg(login: { user?: string; password?: string; auth?: AuthName; port?: number } = {}): Promise<PgConn> {
    const user = login.user ?? this.server.user;
    const client = new pg.Client({
      host: this.server.host,
      // another port: a pooler in front of the server
      port: login.port ?? this.server.port,
      user,
      password: login.password ?? this.server.password,
      database: this.server.database,
      application_name: this.name,
      // Field values arrive untouched, so the manifest holds the server's text exactly.
      types: { getTypeParser: () => (v: string) => v },
      connectionTimeoutMillis: 10000,
    });
    client.on('error', () => undefined);
    const index = this.addConnection({
      client: 'pg',
      user,
      database: this.server.database,
      applicationName: this.name,
      auth: login.auth ?? 'scram-sha-256',
      clientPort: null,
      loginError: null,
    });
    const conn = new PgConn(this, index, client);
    try {
      await client.connect();
    } catch (e) {
      const err = dbError(e);
      if (!err) throw e;
      this.connections[index]!.loginError = err.sqlstate;
      conn.loginFailure = err;
      return conn;
    }
    const stream = (client as unknown as { connection: { stream: { localPort?: number } } }).connection.stream;
    this.connections[index]!.clientPort = stream.localPort ?? null;
    const pid = (client as unknown as { processID: number | null }).processID;
    if (pid !== null) this.pids.set(pid, index);
    this.open.push(() => conn.end());
    return conn;
  }

  /** A postgres.js client with one connection (so its queries pipeline on it). */
  postgresJs(): PgJsConn {
    const index = this.addConnection({
      client: 'postgres.js',
      user: this.server.user,
      database: this.server.database,
      applicationName: this.name,
      auth: 'scram-sha-256',
      clientPort: null,
      loginError: null,
    });
    const conn = new PgJsConn(this, index);
    this.open.push(() => conn.end());
    return conn;
  }

  /** Runs psql 15 -c SQL; psql's sslmode=prefer sends an SSLRequest first, which the server refuses. */
  async psql(sql: string, expectRows: number): Promise<void> {
    const index = this.addConnection({
      client: 'psql',
      user: this.server.user,
      database: this.server.database,
      applicationName: this.name,
      auth: 'scram-sha-256',
      clientPort: null,
      loginError: null,
      sslRequest: true,
    });
    const args = ['-X', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-h', this.server.host, '-p', String(this.server.port), '-U', this.server.user, '-d', this.server.database, '-c', sql];
    const env = { ...process.env, PGPASSWORD: this.server.password, PGAPPNAME: this.name, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'prefer', PGGSSENCMODE: 'disable' };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('psql', args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`psql exited ${code}: ${stderr.trim()}`))));
    });
    const lines = out.replace(/\n$/, '').split('\n');
    const values = lines.map((l) => l.split('\t').map((v) => listValue(v)));
    checkOutcome({ sql, expectRows }, null, values.length);
    this.steps.push({ connection: index, protocol: 'simple', sql, commands: [`SELECT ${values.length}`], rows: values.length, values });
  }

  /** Registers a client of a scenario's own (the raw client) for closeAll. */
  onClose(end: () => Promise<void>): void {
    this.open.push(end);
  }

  /** Closes every client still open (Terminate, then the TCP close). */
  async closeAll(): Promise<void> {
    for (const end of this.open.splice(0)) await end();
  }
}

/** One pg connection; records CommandComplete tags, notices and notifications as they arrive. */
class PgConn {
  loginFailure: ManifestError | null = null;
  private tags: string[] = [];
  private notices: ManifestNotice[] = [];
  private emptyQuery = false;
  private readonly parsed = new Set<string>();
  private ended = false;
  readonly notifications: ManifestNotification[] = [];

  constructor(
    private readonly rec: SampleRecorder,
    readonly index: number,
    readonly client: pg.Client,
  ) {
    const wire = (client as unknown as { connection: EventEmitter }).connection;
    wire.on('commandComplete', (m: { text: string }) => this.tags.push(m.text));
    wire.on('emptyQuery', () => (this.emptyQuery = true));
    client.on('notice', (n) => this.notices.push({ severity: n.severity ?? '', sqlstate: n.code ?? '', message: n.message ?? '' }));
    client.on('notification', (n) => {
      const note = { channel: n.channel, payload: n.payload ?? '', from: rec.connectionOfPid(n.processId) };
      this.notifications.push(note);
      const c = rec.connections[index]!;
      (c.notifications ??= []).push(note);
    });
  }

  /** The backend PID (for pg_cancel_backend-style checks and notifications). */
  get pid(): number | null {
    return (this.client as unknown as { processID: number | null }).processID;
  }

  async query(spec: StepSpec): Promise<string[][]> {
    this.tags = [];
    this.notices = [];
    this.emptyQuery = false;
    const extended = !!(spec.params?.length || spec.name || spec.extended || spec.binary);
    const config = {
      text: spec.sql,
      values: spec.params?.map((p) => p.value),
      name: spec.name,
      binary: spec.binary,
      rowMode: 'array' as const,
      queryMode: extended ? ('extended' as const) : undefined,
    };
    let error: ManifestError | null = null;
    let results: pg.QueryArrayResult<string[]>[] = [];
    const started = Date.now();
    try {
      const r = (await this.client.query(config)) as pg.QueryArrayResult<string[]> | pg.QueryArrayResult<string[]>[];
      results = Array.isArray(r) ? r : [r];
    } catch (e) {
      error = dbError(e);
      if (!error) throw e;
    }
    const elapsed = Date.now() - started;
    if (spec.minDurationMs !== undefined && !error && elapsed < spec.minDurationMs) {
      throw new Error(`${spec.sql} took ${elapsed} ms, expected at least ${spec.minDurationMs}`);
    }
    const rows = results.reduce((n, r) => n + r.rows.length, 0);
    checkOutcome(spec, error, rows);

    const step: ManifestStep = { connection: this.index, protocol: extended ? 'extended' : 'simple', sql: spec.sql };
    if (extended) {
      step.statement = spec.name ?? '';
      step.parse = spec.name ? !this.parsed.has(spec.name) : true;
      if (spec.name && !error) this.parsed.add(spec.name);
      step.params = (spec.params ?? []).map(
        (p): ManifestParam =>
          p.value === null
            ? { type: p.type, format: 'text', value: null }
            : Buffer.isBuffer(p.value)
              ? { type: p.type, format: 'binary', value: p.value.toString('hex') }
              : { type: p.type, format: 'text', value: p.value },
      );
      step.resultFormat = spec.binary ? 'binary' : 'text';
    }
    step.commands = [...this.tags];
    step.rows = rows;
    // Columns of the last statement that returned any (a multi-statement Query may end in DDL).
    const last = results.filter((r) => r.fields.length > 0).pop();
    if (last) {
      step.columns = last.fields.map(
        (f): ManifestColumn => ({ name: f.name, typeOid: f.dataTypeID, format: (f as unknown as { format: string }).format === 'binary' ? 'binary' : 'text' }),
      );
      if (spec.binary) step.binaryValues = spec.binaryValues;
      else if (rows <= MAX_LISTED_ROWS) step.values = results.flatMap((r) => r.rows.map((row) => row.map((v) => listValue(v))));
    }
    if (this.emptyQuery) step.emptyQuery = true;
    if (error) step.error = error;
    if (this.notices.length) step.notices = [...this.notices];
    if (spec.minDurationMs !== undefined) step.minDurationMs = spec.minDurationMs;
    if (spec.note) step.note = spec.note;
    this.rec.steps.push(step);
    return results.flatMap((r) => r.rows);
  }

  /** Waits (up to maxMs) until this connection has received n notifications. */
  async waitNotifications(n: number, maxMs = 5000): Promise<void> {
    const start = Date.now();
    while (this.notifications.length < n) {
      if (Date.now() - start > maxMs) throw new Error(`only ${this.notifications.length} of ${n} notifications arrived`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async end(): Promise<void> {
    if (this.ended || this.loginFailure) return;
    this.ended = true;
    await this.client.end();
  }
}

type PgJsRow = Record<string, unknown>;

/** One postgres.js client limited to one connection. */
class PgJsConn {
  readonly sql: postgres.Sql;
  private notices: ManifestNotice[] = [];
  private ended = false;

  constructor(
    private readonly rec: SampleRecorder,
    readonly index: number,
  ) {
    const s = rec.server;
    this.sql = postgres({
      host: s.host,
      port: s.port,
      user: s.user,
      password: s.password,
      database: s.database,
      max: 1,
      // No catalog query for array types at connect: the capture shows only the scenario.
      fetch_types: false,
      connection: { application_name: rec.name },
      connect_timeout: 10,
      onnotice: (n) => this.notices.push({ severity: String(n.severity ?? ''), sqlstate: String(n.code ?? ''), message: String(n.message ?? '') }),
    });
  }

  /** Records a finished postgres.js query (simple when it has no parameters). */
  record(spec: StepSpec & { prepare?: boolean }, result: postgres.RowList<PgJsRow[]> | null, error: unknown): PgJsRow[] {
    const err = error === null ? null : dbError(error);
    if (error !== null && !err) throw error;
    const rows = result ? result.length : 0;
    checkOutcome(spec, err, rows);
    const extended = !!spec.params?.length || !!spec.extended;
    const step: ManifestStep = { connection: this.index, protocol: extended ? 'extended' : 'simple', sql: spec.sql };
    if (extended) {
      step.statement = spec.prepare ? '(generated)' : '';
      // the unnamed statement is parsed at every execution
      if (!spec.prepare) step.parse = true;
      step.params = (spec.params ?? []).map((p) => ({ type: p.type, format: 'text', value: p.value === null ? null : String(p.value) }));
      step.resultFormat = 'text';
    }
    if (result && result.command) {
      const count = result.count as number | null;
      step.commands = [count === null ? result.command : result.command === 'INSERT' ? `INSERT 0 ${count}` : `${result.command} ${count}`];
    }
    step.rows = rows;
    if (result && result.columns && result.columns.length > 0) {
      step.columns = result.columns.map((c) => ({ name: c.name, typeOid: c.type, format: 'text' }));
      const listed = result.map((row) => result.columns.map((c) => row[c.name]));
      // postgres.js parses values; only strings and integers convert back to the wire text exactly.
      if (rows <= MAX_LISTED_ROWS && listed.every((r) => r.every((v) => v === null || typeof v === 'string' || Number.isInteger(v)))) {
        step.values = listed.map((r) => r.map((v) => listValue(v === null ? null : String(v))));
      }
    }
    if (err) step.error = err;
    if (this.notices.length) step.notices = this.notices.splice(0);
    if (spec.minDurationMs !== undefined) step.minDurationMs = spec.minDurationMs;
    if (spec.note) step.note = spec.note;
    this.rec.steps.push(step);
    return result ? [...result] : [];
  }

  /** Runs sql.unsafe(text, params) and records it. */
  async query(spec: StepSpec & { prepare?: boolean }): Promise<PgJsRow[]> {
    const params = (spec.params ?? []).map((p) => (p.value === null ? null : String(p.value)));
    try {
      // postgres.js uses the simple protocol for a query without parameters unless told otherwise
      const r = await this.sql.unsafe<PgJsRow[]>(spec.sql, params, { prepare: spec.prepare ?? false, ...(spec.extended ? { simple: false } : {}) });
      return this.record(spec, r, null);
    } catch (e) {
      return this.record(spec, null, e);
    }
  }

  pushStep(step: Omit<ManifestStep, 'connection'>): void {
    this.rec.steps.push({ connection: this.index, ...step });
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.sql.end({ timeout: 5 });
  }
}
