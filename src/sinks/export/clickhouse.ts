/**
 * `--export clickhouse://HOST:8123/DATABASE`: query, session and anomaly records (message
 * records with --export-messages) inserted into ClickHouse in batches, with the official
 * client (@clickhouse/client, HTTP, JSONEachRow).
 *
 * Delivery never blocks the capture: record() turns the record into its row and queues it.
 * A batch goes out when a table has BATCH_ROWS rows waiting or FLUSH_MS after its first row,
 * one insert at a time. When ClickHouse is slow or down, the insert is retried with backoff
 * and rows keep queuing up to a byte bound; past it the oldest waiting rows are dropped and
 * counted (stderr, the capture summary, the pgsniff_export_dropped_rows_total metric). Reading
 * a file waits for the queue instead (ready()), so a file's export is whole unless ClickHouse
 * stays unreachable for the give-up time. end() flushes, within that time.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { UserError } from '../../core/errors.js';
import type { DecodedMessage, DissectContext, RawMessage } from '../../../dissectors/types.js';
import type { OutRecord, PipelineSink, SinkNeeds } from '../../pipeline/events.js';
import type { Normalizer } from '../stats-normalize.js';
import { SessionContexts } from './session-context.js';
import { addMissingColumnsSql, ident, literal, rowOf, schemaSql, tableOf, TABLES, type RowContext, type Table } from './tables.js';

interface ClickHouseTarget {
  /** http://host:port, as the client wants it. */
  url: string;
  database: string;
  username: string;
  password: string;
}

/** Parses clickhouse://[user[:password]@]host[:port]/database (http:// and https:// too). */
export function parseClickHouseUrl(text: string): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UserError('BAD_ARGUMENT', `--export: not a URL: ${text} (expected clickhouse://HOST:8123/DATABASE)`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (!['clickhouse', 'http', 'https'].includes(scheme)) {
    throw new UserError('BAD_ARGUMENT', `--export: unsupported scheme ${scheme}: (expected clickhouse://HOST:8123/DATABASE)`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'default';
  if (database.includes('/')) throw new UserError('BAD_ARGUMENT', `--export: database name ${database} contains "/"`);
  const port = u.port || '8123';
  return {
    url: `${scheme === 'https' ? 'https' : 'http'}://${u.hostname}:${port}`,
    database,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
  };
}

interface ClickHouseSinkOptions {
  target: ClickHouseTarget;
  host: string;
  source: string;
  normalizer: Normalizer;
  messages: boolean;
  params: boolean;
  /** Live capture: drop past the bound rather than wait. */
  live: boolean;
  batchRows?: number;
  flushMs?: number;
  /** Bytes of rows waiting, all tables together. */
  maxQueuedBytes?: number;
  /** How long delivery keeps trying with ClickHouse unreachable before end() or ready() gives up. */
  giveUpMs?: number;
  /** Warnings (ClickHouse down, rows dropped) go here; default stderr. */
  warn?: (line: string) => void;
}

const BATCH_ROWS = 10_000;
const FLUSH_MS = 1000;
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;
const GIVE_UP_MS = 60_000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];

interface Queue {
  table: Table;
  /** JSONEachRow lines (without the newline), oldest first, from `head`. */
  rows: string[];
  head: number;
}

interface ExportCounts {
  written: number;
  dropped: number;
  retries: number;
  lastError: string | null;
}

export class ClickHouseSink implements PipelineSink {
  readonly counts: ExportCounts = { written: 0, dropped: 0, retries: 0, lastError: null };
  private readonly client: ClickHouseClient;
  private readonly who = new SessionContexts();
  private readonly queues = new Map<Table, Queue>();
  private queuedBytes = 0;
  private tablesReady = false;
  private sending: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failingSince: number | null = null;
  private gaveUp = false;
  private warnedDown = false;
  private lastDropWarning = 0;
  private ending = false;
  private readonly batchRows: number;
  private readonly flushMs: number;
  private readonly maxQueuedBytes: number;
  private readonly giveUpMs: number;
  private readonly warn: (line: string) => void;

  /** Every message's bytes (who connected, from its StartupMessage); message rows need the records too. */
  readonly needs: SinkNeeds;

  constructor(private readonly opts: ClickHouseSinkOptions) {
    this.needs = { messages: opts.messages ? 'both' : 'raw' };
    this.batchRows = opts.batchRows ?? BATCH_ROWS;
    this.flushMs = opts.flushMs ?? FLUSH_MS;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    this.giveUpMs = opts.giveUpMs ?? GIVE_UP_MS;
    this.warn = opts.warn ?? ((l) => { process.stderr.write(l + '\n'); });
    this.client = createClient({
      url: opts.target.url,
      username: opts.target.username,
      password: opts.target.password,
      request_timeout: 30_000,
      // Failures are reported once, in pgsniff's own words (warn), not per retry with a stack.
      log: { level: ClickHouseLogLevel.OFF },
      // Rows are serialized once, when queued: the client sends those lines as they are.
      json: { parse: JSON.parse, stringify: (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)) },
    });
    for (const t of TABLES) if (t.kind !== 'message' || opts.messages) this.queues.set(t, { table: t, rows: [], head: 0 });
  }

  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, _ctx: DissectContext, _tls: boolean): void {
    this.who.message(session, raw, decode);
  }

  record(rec: OutRecord): void {
    const t = tableOf(rec.kind);
    const q = t && this.queues.get(t);
    if (q) {
      const r = rec as unknown as Record<string, unknown>;
      const ctx: RowContext = {
        host: this.opts.host,
        source: this.opts.source,
        session: rec.kind === 'session' ? null : this.who.get(rec.session),
        normalized: rec.kind === 'query' && typeof r.sql === 'string' ? this.opts.normalizer.normalize(r.sql) : null,
        params: this.opts.params,
      };
      this.push(q, JSON.stringify(rowOf(t, r, ctx)));
    }
    if (rec.kind === 'session' && rec.session !== null) this.who.end(rec.session);
  }

  private push(q: Queue, line: string): void {
    q.rows.push(line);
    this.queuedBytes += line.length;
    if (this.queuedBytes > this.maxQueuedBytes && (this.opts.live || this.gaveUp)) this.dropOldest();
    if (q.rows.length - q.head >= this.batchRows) this.kick();
    else if (this.timer === null && !this.ending) this.timer = setTimeout(() => { this.timer = null; this.kick(); }, this.flushMs);
  }

  /** Over the bound: the oldest waiting rows go, table by table, and are counted. */
  private dropOldest(): void {
    for (const q of this.queues.values()) {
      while (this.queuedBytes > this.maxQueuedBytes * 0.9 && q.head < q.rows.length) {
        const line = q.rows[q.head]!;
        q.rows[q.head++] = '';
        this.queuedBytes -= line.length;
        this.counts.dropped++;
      }
      compact(q);
    }
    const now = Date.now();
    if (now - this.lastDropWarning >= 10_000) {
      this.lastDropWarning = now;
      this.warn(`pgsniff: export: ClickHouse is behind; ${this.counts.dropped} rows dropped so far (${this.counts.lastError ?? 'slow inserts'})`);
    }
  }

  /** Starts sending unless an insert is already on its way (it sends the rest when done). */
  private kick(): void {
    if (this.sending === null) this.sending = this.sendAll().finally(() => { this.sending = null; });
  }

  private async sendAll(): Promise<void> {
    for (;;) {
      const q = [...this.queues.values()].find((x) => x.rows.length > x.head);
      if (!q) return;
      const n = Math.min(this.batchRows, q.rows.length - q.head);
      const batch = q.rows.slice(q.head, q.head + n);
      try {
        await this.ensureTables();
        await this.client.insert({ table: `${ident(this.opts.target.database)}.${ident(q.table.name)}`, values: batch, format: 'JSONEachRow' });
        this.failingSince = null;
        this.warnedDown = false;
      } catch (e) {
        this.counts.lastError = (e as Error).message.split('\n')[0]!.slice(0, 200);
        this.counts.retries++;
        const now = Date.now();
        this.failingSince ??= now;
        if (!this.warnedDown) {
          this.warnedDown = true;
          this.warn(`pgsniff: export: ClickHouse insert failed (${this.counts.lastError}); retrying`);
        }
        if (now - this.failingSince >= this.giveUpMs) {
          this.gaveUp = true;
          this.dropAll(`ClickHouse unreachable for ${Math.round(this.giveUpMs / 1000)} s`);
          return;
        }
        await sleep(BACKOFF_MS[Math.min(this.counts.retries - 1, BACKOFF_MS.length - 1)]!);
        continue;
      }
      // Only now are the rows out of the queue (an insert that failed is sent again whole).
      let bytes = 0;
      for (let i = q.head; i < q.head + n; i++) {
        bytes += q.rows[i]!.length;
        q.rows[i] = '';
      }
      q.head += n;
      this.queuedBytes -= bytes;
      this.counts.written += n;
      compact(q);
    }
  }

  private dropAll(why: string): void {
    let n = 0;
    for (const q of this.queues.values()) {
      n += q.rows.length - q.head;
      q.rows = [];
      q.head = 0;
    }
    this.queuedBytes = 0;
    this.counts.dropped += n;
    if (n > 0) this.warn(`pgsniff: export: ${why}; ${n} rows dropped`);
  }

  private async ensureTables(): Promise<void> {
    if (this.tablesReady) return;
    const db = this.opts.target.database;
    for (const stmt of schemaSql(db).split(';\n').map((s) => s.trim()).filter(Boolean)) {
      await this.client.command({ query: stmt });
    }
    // A table an older pgsniff made lacks the columns added since (bad_checksum): add them.
    for (const t of this.queues.keys()) {
      const cols = await this.client.query({
        // A literal, not a query parameter: 18.16 has none.
        query: `SELECT name FROM system.columns WHERE database = ${literal(db)} AND table = ${literal(t.name)}`,
        format: 'JSONEachRow',
      });
      const existing = new Set((await cols.json<{ name: string }>()).map((c) => c.name));
      for (const stmt of addMissingColumnsSql(db, t, existing)) await this.client.command({ query: stmt });
    }
    this.tablesReady = true;
  }

  /** Reading a file: wait while the queue is over its bound (live capture never waits). */
  ready(): Promise<void> | null {
    if (this.opts.live || this.gaveUp || this.queuedBytes <= this.maxQueuedBytes) return null;
    this.kick();
    return this.sending;
  }

  /** Delivers every row queued so far (or gives up in its time): then `counts` are final for them. */
  async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while ([...this.queues.values()].some((q) => q.rows.length > q.head) && !this.gaveUp) {
      this.kick();
      await this.sending;
    }
  }

  async end(): Promise<void> {
    this.ending = true;
    await this.drain();
    await this.client.close();
  }

  /** The line for stderr at the end. */
  summary(): string {
    const c = this.counts;
    return `pgsniff: export: ${c.written} rows written to ClickHouse ${this.opts.target.url}/${this.opts.target.database}` +
      (c.dropped > 0 ? `, ${c.dropped} dropped (${c.lastError ?? 'ClickHouse behind'})` : '') +
      (c.retries > 0 ? `, ${c.retries} inserts retried` : '');
  }
}

function compact(q: Queue): void {
  if (q.head > 4096 && q.head * 2 > q.rows.length) {
    q.rows = q.rows.slice(q.head);
    q.head = 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
