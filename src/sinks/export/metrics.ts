/**
 * `--metrics HOST:PORT`: Prometheus metrics of what the capture shows, from the same records as
 * every other output (prom-client, served by metrics-server.ts).
 *
 * Label cardinality stays bounded whatever the traffic: the `statement` label names at most
 * `top` normalized statements, those with the most total time (and up to `top` more that held
 * a label before); the rest share "other". A
 * statement that overtakes one of them takes its place (the one it displaces continues as
 * "other"; its series stay, up to `top` such statements, then the oldest are removed). database, user and application come from the
 * StartupMessage; sqlstate has the few hundred codes PostgreSQL defines.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DecodedMessage, DissectContext, RawMessage } from '../../../dissectors/types.js';
import type { OutRecord, PipelineSink, SinkNeeds } from '../../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../../session/schema.js';
import type { Normalizer } from '../stats-normalize.js';
import { SessionContexts } from './session-context.js';

/** What the capture layer knows and the records do not (live capture; zero when reading a file). */
export interface CaptureFigures {
  packets: number;
  bytes: number;
  kernelDrops: number | null;
  pgsniffDrops: number;
  backlogBytes: number;
  backlogSeconds: number;
  exportDroppedRows: number;
}

interface MetricsSinkOptions {
  normalizer: Normalizer;
  /** Statements with a label of their own; default DEFAULT_TOP. */
  top?: number;
  capture?: () => CaptureFigures;
}

const DEFAULT_TOP = 50;
/** Fingerprints whose totals are remembered for the ranking; past it the oldest unlabelled go. */
const MAX_RANKED = 10_000;
const STATEMENT_LABEL_CHARS = 120;
const OTHER = 'other';

/** Log-spaced, 100 µs to 60 s: OLTP statements and reports in one histogram. */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const QUERY_LABELS = ['statement', 'fingerprint', 'database', 'user', 'application'] as const;
type QueryLabels = Record<(typeof QUERY_LABELS)[number], string>;

interface Ranked {
  totalSeconds: number;
  text: string;
  labelled: boolean;
  /** The label sets its series were made with, to remove them if it loses its label. */
  series: Map<string, QueryLabels & { outcome?: string }>;
}

export class MetricsSink implements PipelineSink {
  readonly registry = new Registry();
  private readonly who = new SessionContexts();
  private readonly top: number;
  private readonly ranked = new Map<string, Ranked>();
  private labelled = 0;
  private sinceRerank = 0;
  private readonly retired: Ranked[] = [];

  private readonly queries: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly rows: Counter<string>;
  private readonly batches: Histogram<string>;
  private readonly errors: Counter<string>;
  private readonly opened: Counter<string>;
  private readonly closed: Counter<string>;
  private readonly authFailures: Counter<string>;
  private readonly sessionsByEncryption: Counter<string>;
  private readonly messages: Counter<string>;
  private readonly bytes: Counter<string>;
  private readonly anomalies: Counter<string>;

  /** Messages are counted from their bytes: no record is built for them. */
  readonly needs: SinkNeeds = { messages: 'raw' };

  constructor(private readonly opts: MetricsSinkOptions) {
    this.top = opts.top ?? DEFAULT_TOP;
    const registers = [this.registry];
    this.queries = new Counter({
      name: 'pgsniff_queries_total', help: 'Statements executed, by normalized statement and outcome (ok, error, incomplete, skipped)',
      labelNames: [...QUERY_LABELS, 'outcome'], registers,
    });
    this.duration = new Histogram({
      name: 'pgsniff_query_duration_seconds', help: 'Statement latency on the wire (statements whose answers came in a batch are in pgsniff_batch_duration_seconds)',
      labelNames: [...QUERY_LABELS], buckets: DURATION_BUCKETS, registers,
    });
    this.rows = new Counter({ name: 'pgsniff_query_rows_total', help: 'Rows returned or affected, by normalized statement', labelNames: [...QUERY_LABELS], registers });
    this.batches = new Histogram({
      name: 'pgsniff_batch_duration_seconds', help: 'Batches of statements whose answers arrived together: the time of the whole batch',
      labelNames: ['database', 'user', 'application'], buckets: DURATION_BUCKETS, registers,
    });
    this.errors = new Counter({ name: 'pgsniff_errors_total', help: 'Failed statements by SQLSTATE', labelNames: ['sqlstate', 'database', 'user', 'application'], registers });
    this.opened = new Counter({ name: 'pgsniff_sessions_opened_total', help: 'Connections whose StartupMessage was seen', registers });
    this.closed = new Counter({ name: 'pgsniff_sessions_closed_total', help: 'Connections ended, by how', labelNames: ['ended_by'], registers });
    this.authFailures = new Counter({ name: 'pgsniff_auth_failures_total', help: 'Failed authentications by method', labelNames: ['method'], registers });
    this.sessionsByEncryption = new Counter({
      name: 'pgsniff_sessions_total', help: 'Ended connections by encryption (tls, gss, none, unknown)', labelNames: ['encryption'], registers,
    });
    this.messages = new Counter({ name: 'pgsniff_messages_total', help: 'PostgreSQL messages by direction', labelNames: ['direction'], registers });
    this.bytes = new Counter({ name: 'pgsniff_message_bytes_total', help: 'PostgreSQL message bytes by direction', labelNames: ['direction'], registers });
    this.anomalies = new Counter({ name: 'pgsniff_anomalies_total', help: 'Anomalies by code (gap, malformed-message, ...)', labelNames: ['code'], registers });
    const capture = opts.capture;
    if (capture) {
      const counterFrom = (name: string, help: string, pick: (f: CaptureFigures) => number | null): void => {
        // A counter set from a running total: the capture layer counts, the scrape reads.
        new Counter({
          name, help, registers,
          collect(this: Counter<string>) { this.reset(); const v = pick(capture()); if (v !== null) this.inc(v); },
        });
      };
      counterFrom('pgsniff_packets_total', 'Packets captured', (f) => f.packets);
      counterFrom('pgsniff_capture_bytes_total', 'Bytes captured', (f) => f.bytes);
      counterFrom('pgsniff_kernel_dropped_packets_total', 'Packets the kernel dropped (libpcap ps_drop)', (f) => f.kernelDrops);
      counterFrom('pgsniff_dropped_packets_total', 'Packets pgsniff dropped itself (its capture buffer was full)', (f) => f.pgsniffDrops);
      counterFrom('pgsniff_export_dropped_rows_total', 'Rows the ClickHouse export had to drop', (f) => f.exportDroppedRows);
      new Gauge({ name: 'pgsniff_backlog_bytes', help: 'Captured bytes not yet decoded', registers, collect(this: Gauge<string>) { this.set(capture().backlogBytes); } });
      new Gauge({ name: 'pgsniff_backlog_seconds', help: 'How far decoding is behind the capture', registers, collect(this: Gauge<string>) { this.set(capture().backlogSeconds); } });
    }
  }

  rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, _ctx: DissectContext, _tls: boolean): void {
    if (raw.code === null && raw.dir === 'frontend' && this.who.get(session) === null) {
      this.who.message(session, raw, decode);
      if (this.who.get(session) !== null) this.opened.inc();
    } else {
      this.who.message(session, raw, decode);
    }
    this.messages.inc({ direction: raw.dir });
    this.bytes.inc({ direction: raw.dir }, raw.length + (raw.code === null ? 0 : 1));
  }

  record(rec: OutRecord): void {
    if (rec.kind === 'query') this.query(rec as unknown as QueryRecord);
    else if (rec.kind === 'session') this.session(rec as unknown as SessionRecord);
    else if (rec.kind === 'anomaly') this.anomalies.inc({ code: String((rec as { code: string }).code) });
  }

  private query(q: QueryRecord): void {
    const c = this.who.get(q.session);
    const who = { database: c?.database ?? '', user: c?.user ?? '', application: c?.application ?? '' };
    const n = q.sql === null ? null : this.opts.normalizer.normalize(q.sql);
    const seconds = q.durationMs === null ? 0 : q.durationMs / 1000;
    const labels: QueryLabels = { ...who, ...this.statementLabels(n?.fingerprint ?? '', n?.text ?? '', seconds) };
    const outcome = q.skipped ? 'skipped' : q.error ? 'error' : q.incomplete ? 'incomplete' : 'ok';
    this.note(labels, outcome);
    this.queries.inc({ ...labels, outcome });
    if (q.durationMs !== null && !q.skipped) this.duration.observe(labels, seconds);
    if (q.rows > 0) this.rows.inc(labels, q.rows);
    if (q.batch) this.noteBatch(q, who);
    if (q.error) this.errors.inc({ sqlstate: q.error.sqlstate ?? '', ...who });
  }

  /** The batch last observed: its statements' records come one after another, and it counts once. */
  private lastBatch = '';

  private noteBatch(q: QueryRecord, who: { database: string; user: string; application: string }): void {
    const key = `${q.session}:${q.batch!.id}`;
    if (key === this.lastBatch) return;
    this.lastBatch = key;
    this.batches.observe(who, q.batch!.durationMs / 1000);
  }

  private session(s: SessionRecord): void {
    this.closed.inc({ ended_by: s.endedBy });
    this.sessionsByEncryption.inc({ encryption: s.encryption });
    if (s.auth.outcome === 'failure') this.authFailures.inc({ method: s.auth.method ?? 'unknown' });
    this.who.end(s.session);
  }

  /** The statement's labels: its own while it is among the top by total time, else "other". */
  private statementLabels(fingerprint: string, text: string, seconds: number): { statement: string; fingerprint: string } {
    let r = this.ranked.get(fingerprint);
    if (!r) {
      if (this.ranked.size >= MAX_RANKED) this.forgetUnlabelled();
      r = { totalSeconds: 0, text: text.slice(0, STATEMENT_LABEL_CHARS), labelled: false, series: new Map() };
      this.ranked.set(fingerprint, r);
    }
    r.totalSeconds += seconds;
    if (!r.labelled && this.labelled < this.top) {
      r.labelled = true;
      this.labelled++;
    }
    if (++this.sinceRerank >= 1000) this.rerank();
    return r.labelled ? { statement: r.text, fingerprint } : { statement: OTHER, fingerprint: OTHER };
  }

  private note(labels: QueryLabels, outcome: string): void {
    if (labels.fingerprint === OTHER) return;
    const r = this.ranked.get(labels.fingerprint);
    if (!r) return;
    const key = `${labels.database}\0${labels.user}\0${labels.application}\0${outcome}`;
    if (!r.series.has(key)) r.series.set(key, { ...labels, outcome });
  }

  /** Statements outside the top that now have more total time than one inside take its place. */
  private rerank(): void {
    this.sinceRerank = 0;
    const inside = [...this.ranked.entries()].filter(([, r]) => r.labelled).sort((a, b) => a[1].totalSeconds - b[1].totalSeconds);
    const outside = [...this.ranked.entries()].filter(([, r]) => !r.labelled).sort((a, b) => b[1].totalSeconds - a[1].totalSeconds);
    for (let i = 0; i < outside.length && i < inside.length; i++) {
      const [, out] = outside[i]!;
      const [, low] = inside[i]!;
      if (out.totalSeconds <= low.totalSeconds) break;
      low.labelled = false;
      this.retire(low);
      out.labelled = true;
    }
  }

  /**
   * A statement that lost its label keeps its series (their counts stay in every sum) while at
   * most `top` such statements do; past that the oldest one's series are removed.
   */
  private retire(r: Ranked): void {
    this.retired.push(r);
    if (this.retired.length <= this.top) return;
    const old = this.retired.shift()!;
    if (old.labelled) return;
    for (const labels of old.series.values()) {
      const { outcome, ...q } = labels;
      this.queries.remove({ ...q, outcome: outcome ?? 'ok' });
      this.duration.remove(q);
      this.rows.remove(q);
    }
    old.series.clear();
  }

  private forgetUnlabelled(): void {
    let n = this.ranked.size - Math.floor(MAX_RANKED * 0.8);
    for (const [fp, r] of this.ranked) {
      if (n <= 0) break;
      if (r.labelled) continue;
      this.ranked.delete(fp);
      n--;
    }
  }

  /** The text exposition, as /metrics serves it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
