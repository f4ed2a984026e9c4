/**
 * `pgsniff stats`: aggregates query and session records into per-query (normalized, see
 * stats-normalize.ts) calls, rows, errors and latency percentiles, per-session totals, errors
 * by SQLSTATE, and an authentication and encryption overview. A PipelineSink, so it runs in
 * the same streaming pass as everything else; memory is bounded by MAX_FINGERPRINTS and
 * MAX_SESSIONS (past them, records are folded into one "other" row / counted only), and by
 * LatencySketch per fingerprint.
 *
 * Records are grouped by SQL text while the pass runs and normalized once per text when the
 * report is made (see Group): the report is the one normalizing each record would give, and
 * test/stats-defer.test.ts holds the two to it. Past MAX_GROUPS texts, MAX_GROUP_CHARS of them
 * or MAX_HELD_SAMPLES latency samples held for the merge, the groups are resolved and every
 * later record is normalized as it comes.
 */
import type { Predicate } from '../filter/index.js';
import type { OutRecord, PipelineSink } from '../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../session/schema.js';
import { Coverage, Selection, type DamageSummary, type UndecodedSummary } from './check-scope.js';
import { LatencySketch } from './stats-latency.js';
import { collectGarbage } from '../core/budget.js';
import { createLazyNormalizer, createNormalizer, detach, firstWord, PARSE_LIMIT, type LazyNormalizer, type Normalized, type Normalizer } from './stats-normalize.js';

export const MAX_FINGERPRINTS = 10_000;
export const MAX_SESSIONS = 10_000;
export const OTHER_FINGERPRINT = 'other';
const EXAMPLE_LIMIT = 2000;

export interface QueryStats {
  fingerprint: string;
  /** Normalized text ($n for constants); for SQL unknown to the capture, a description in <>. */
  query: string;
  /** The first SQL text seen with this fingerprint (capped). */
  example: string | null;
  calls: number;
  rows: number;
  errors: number;
  skipped: number;
  incomplete: number;
  /** Executions a rollback undid (they succeeded, then their transaction did not). */
  rolledBack: number;
  /** Executions written before their transaction ended (rollbackUnknown): whether a rollback undid them is not known. */
  rollbackUnknown: number;
  /** Executions whose answers arrived together with others' (a batch): their time is the batch's, not in the percentiles. */
  batched: number;
  protocols: { simple: number; extended: number; function: number };
  /** Executions whose statement was Parsed for them (extended protocol), i.e. not reused. */
  parses: number;
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Percentiles are exact (false: from the log histogram, within 1%). */
  exact: boolean;
}

interface SessionStats {
  session: number;
  client: string;
  server: string;
  user: string | null;
  database: string | null;
  applicationName: string | null;
  authMethod: string | null;
  authOutcome: string;
  encryption: string;
  queries: number;
  errors: number;
  totalQueryMs: number;
  durationMs: number;
  endedBy: string;
  /** A CancelRequest connection: the session it targeted (null when unmatched). */
  cancelOf: number | null;
  isCancel: boolean;
}

interface ErrorStats {
  sqlstate: string;
  count: number;
  severity: string | null;
  /** The first message seen with this SQLSTATE. */
  message: string | null;
}

export interface StatsReport {
  totals: {
    queries: number; errors: number; skipped: number; incomplete: number; rolledBack: number;
    /** Executions whose transaction's end was not seen when they were written (rollbackUnknown). */
    rollbackUnknown: number;
    rows: number; totalMs: number;
    /** Batches (answers that arrived together), the statements in them and their time. */
    batches: number; batchedQueries: number; batchMs: number;
    /** Records of a pooler's server legs (poolerLeg): not counted above, where each statement counts once, on its client leg. */
    poolerServerLeg: number;
    sessions: number; fingerprints: number; parser: 'libpg-query' | 'fallback';
  };
  /** The capture lost data (null: nothing lost): every count below may be low and a record near the damage wrong. */
  damage: DamageSummary | null;
  /** True when damage or undecodable sessions mean the numbers are not the whole truth. */
  uncertain: boolean;
  /** Sessions whose queries could not be seen (TLS without keys, GSS encryption, never framed). */
  undecoded: UndecodedSummary;
  queries: QueryStats[];
  sessions: SessionStats[];
  /** Sessions past MAX_SESSIONS, counted in totals but not listed. */
  sessionsNotListed: number;
  errors: ErrorStats[];
  auth: {
    methods: Record<string, number>;
    outcomes: Record<string, number>;
    failures: Array<{ session: number; user: string | null; sqlstate: string | null; message: string | null }>;
    cleartextSessions: number;
  };
  encryption: Record<string, number>;
  cancels: number;
}

/** The batch a statement's answer arrived in, when it shared it with others (null: its time is its own). */
export function batchOf(rec: QueryRecord): { key: string; size: number; durationMs: number | null } | null {
  const b = rec.batch;
  if (b === undefined || b.size <= 1) return null;
  return { key: String(b.id), size: b.size, durationMs: b.durationMs };
}

/** First words of statements that control a transaction or a session, or fetch from a cursor. */
const CONTROL = new Map<string, 'transaction' | 'cursor'>([
  ['begin', 'transaction'], ['start', 'transaction'], ['commit', 'transaction'], ['end', 'transaction'],
  ['rollback', 'transaction'], ['abort', 'transaction'], ['savepoint', 'transaction'], ['release', 'transaction'],
  ['set', 'transaction'], ['reset', 'transaction'], ['discard', 'transaction'],
  ['fetch', 'cursor'], ['move', 'cursor'], ['close', 'cursor'],
]);

/**
 * Transaction and session control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, SET, DISCARD, ...) and
 * cursor fetches, which a program repeats by design: never N+1. null for other statements.
 */
export function statementKind(sql: string | null): 'transaction' | 'cursor' | null {
  if (sql === null) return null;
  return CONTROL.get(firstWord(sql)) ?? null;
}

/** What the stats and check sinks key a query record by. */
export function queryKey(rec: QueryRecord, normalizer: Normalizer): Normalized {
  if (rec.sql !== null) return normalizer.normalize(rec.sql);
  const text = rec.protocol === 'function'
    ? `<function call oid ${rec.function?.oid ?? 0}>`
    : `<statement "${rec.statement ?? ''}" prepared before the capture>`;
  return { fingerprint: text, text, parsed: false, hasLiterals: false };
}

/**
 * What another sink keeps per statement beside stats's counts (the report's histogram and slowest
 * execution, report/sink.ts): held on stats's own aggregate, so that it is grouped exactly as
 * stats groups (by text while the pass runs, folded by fingerprint as the groups are resolved,
 * "other" past MAX_FINGERPRINTS), with no second lookup per record.
 */
export interface AggExtra {
  /** Folds o (of another group that has the same fingerprint) into this one. */
  merge(o: AggExtra): void;
}

class QueryAgg {
  calls = 0;
  rows = 0;
  errors = 0;
  skipped = 0;
  incomplete = 0;
  rolledBack = 0;
  rollbackUnknown = 0;
  batched = 0;
  parses = 0;
  simple = 0;
  extended = 0;
  fn = 0;
  latency = new LatencySketch();
  /** StatsSink.query's caller's extra (AggExtra). */
  extra: AggExtra | null = null;
  constructor(public fingerprint: string, public query: string, readonly example: string | null) {}

  /** Everything but the latency (merged apart, see StatsSink.resolve). */
  addCounts(o: QueryAgg): void {
    this.calls += o.calls;
    this.rows += o.rows;
    this.errors += o.errors;
    this.skipped += o.skipped;
    this.incomplete += o.incomplete;
    this.rolledBack += o.rolledBack;
    this.rollbackUnknown += o.rollbackUnknown;
    this.batched += o.batched;
    this.parses += o.parses;
    this.simple += o.simple;
    this.extended += o.extended;
    this.fn += o.fn;
    if (o.extra !== null) {
      if (this.extra === null) this.extra = o.extra;
      else this.extra.merge(o.extra);
    }
  }
}

/**
 * The records of one SQL text (or of one key known without the parser: SQL too long to parse,
 * function calls, statements prepared before the capture) while the pass runs. libpg-query runs
 * once per group, when the report is made: its memory then does not add to the pipeline's, and
 * a statement executed 100,000 times is parsed once.
 */
class Group {
  /** Record sequence numbers of the latency samples, while they are all kept (exact): for an exact merge. */
  seqs: number[] | null = [];
  constructor(readonly sql: string | null, readonly norm: Normalized | null, readonly agg: QueryAgg) {}
}

/** Distinct SQL texts held for the end, and their total length (UTF-16 units): past either, normalize as records come. */
export const MAX_GROUPS = 10_000;
const MAX_GROUP_CHARS = 8 * 1024 * 1024;
/** Record sequence numbers kept beside exact latency samples, over all groups (8 bytes each). */
export const MAX_HELD_SAMPLES = 1_000_000;

export class StatsSink implements PipelineSink {
  private readonly byFingerprint = new Map<string, QueryAgg>();
  /** SQL text (or "\0" + a key known without the parser) -> its group, in order of first appearance. */
  private readonly groups = new Map<string, Group>();
  private groupChars = 0;
  /** Past MAX_GROUPS or MAX_GROUP_CHARS: every record is normalized as it comes, as the groups were. */
  private eager = false;
  private seq = 0;
  private heldSamples = 0;
  private readonly sessions = new Map<number, SessionStats>();
  /** Query time per session, from query records (they come before their session record). */
  private readonly sessionQueryMs = new Map<number, { ms: number }>();
  private sessionsNotListed = 0;
  private sessionCount = 0;
  private readonly errors = new Map<string, ErrorStats>();
  private readonly methods: Record<string, number> = {};
  private readonly outcomes: Record<string, number> = {};
  private readonly failures: StatsReport['auth']['failures'] = [];
  private readonly encryption: Record<string, number> = {};
  private cleartext = 0;
  private cancels = 0;
  private totals = { queries: 0, errors: 0, skipped: 0, incomplete: 0, rolledBack: 0, rollbackUnknown: 0, rows: 0, totalMs: 0, batches: 0, batchedQueries: 0, batchMs: 0, poolerServerLeg: 0 };
  private readonly coverage = new Coverage();
  private readonly selection: Selection | null;
  /** Batches seen (session + id), to count each batch's time once; bounded, oldest forgotten. */
  private readonly batchesSeen = new Set<string>();
  /** Portals left suspended (session + portal name): the call so far, completed by the next Execute. */
  private readonly openPortals = new Map<string, { ms: number; timed: boolean; agg: QueryAgg; group: Group | null; sql: string | null }>();

  /** The normalizer when its parser is loaded on demand (StatsSink.create lazyParser). */
  private readonly lazy: LazyNormalizer | null;

  /** `defer: false` normalizes every record as it comes (the groups' reference behaviour, for tests). */
  constructor(private readonly normalizer: Normalizer | LazyNormalizer, opts: { defer?: boolean; filter?: Predicate } = {}) {
    this.lazy = 'load' in normalizer && !normalizer.loaded ? normalizer : null;
    this.eager = opts.defer === false;
    if (this.eager && this.lazy !== null) throw new Error('StatsSink: defer: false needs a loaded normalizer');
    this.selection = opts.filter ? new Selection(opts.filter) : null;
  }

  /**
   * A sink whose normalizer is ready. With `lazyParser`, libpg-query is loaded only when the sink
   * needs it: when the pass holds more texts than it may (then the file source waits for it:
   * ready()), or by loadParser() before report(), after the pass has let its memory go. The pass
   * then runs without the parser's WebAssembly memory (`stats --memory-limit`: README, limits).
   */
  static async create(opts: { parser?: boolean; defer?: boolean; filter?: Predicate; lazyParser?: boolean } = {}): Promise<StatsSink> {
    if (opts.lazyParser === true && opts.defer !== false) return new StatsSink(createLazyNormalizer(opts), opts);
    return new StatsSink(await createNormalizer(opts), opts);
  }

  /** PipelineSink: while the parser the groups wait for is loading, a file source waits for it. */
  ready(): Promise<void> | null {
    const lazy = this.lazy;
    return lazy !== null && !lazy.loaded && this.parserWanted ? lazy.load() : null;
  }

  /**
   * Loads the parser, if it was put off (lazyParser), for report(): after a full collection, so
   * that the pipeline's memory, which the pass has let go, is given back before the parser's
   * WebAssembly module takes its own.
   */
  async loadParser(): Promise<void> {
    const lazy = this.lazy;
    if (lazy === null || lazy.loaded) return;
    collectGarbage();
    await lazy.load();
  }

  /** The groups need the parser now (lazyParser): loading starts, and ready() makes the file source wait. */
  private parserWanted = false;

  record(rec: OutRecord): void {
    this.coverage.record(rec);
    if (rec.kind === 'query') this.query(rec as unknown as QueryRecord);
    else if (rec.kind === 'session') this.session(rec as unknown as SessionRecord);
  }

  /**
   * Counts one query record; returns the aggregate it went to, whose `extra` slot a caller may
   * use (AggExtra), or null when it is not counted (-Y, a pooler's server leg).
   */
  query(rec: QueryRecord): { extra: AggExtra | null } | null {
    if (this.selection && !this.selection.query(rec)) return null;
    // A pooler sent it on to the server: its client leg's record counts the statement.
    if (rec.poolerLeg === 'server') {
      this.totals.poolerServerLeg++;
      return null;
    }
    const seq = this.seq++;
    const sql = rec.sql;
    let agg: QueryAgg;
    let group: Group | null = null;
    if (this.eager) agg = this.aggFor(queryKey(rec, this.normalizer), sql);
    else {
      // Texts the parser would see are grouped by text; the rest get their key now (no parser needed).
      // (Keys known now start with "\0", and so does a text that itself starts with NUL: "\0\0" + it.)
      const byText = sql !== null && sql.length <= PARSE_LIMIT;
      const nul = byText && sql.charCodeAt(0) === 0;
      let key: Normalized | null = null;
      const mapKey = byText ? (nul ? '\0\0' + sql : sql) : '\0' + (key = queryKey(rec, this.normalizer)).fingerprint;
      group = this.groups.get(mapKey) ?? null;
      if (group === null) {
        // A key known now keeps only what its aggregate will show: the fallback's text of a 60 MB
        // statement is as long as the statement.
        const norm = key === null ? null : { ...key, text: detach(key.text.slice(0, EXAMPLE_LIMIT)) };
        group = new Group(byText ? detach(sql) : null, norm, new QueryAgg('', '', sql === null ? null : detach(sql.slice(0, EXAMPLE_LIMIT))));
        this.groups.set(byText ? (nul ? '\0\0' + group.sql! : group.sql!) : mapKey, group);
        this.groupChars += byText ? sql.length : mapKey.length;
      }
      agg = group.agg;
    }
    if (rec.skipped) {
      agg.skipped++;
      this.totals.skipped++;
    } else {
      this.count(agg, rec, group, seq);
    }
    if (group !== null && (this.groups.size >= MAX_GROUPS || this.groupChars > MAX_GROUP_CHARS || this.heldSamples > MAX_HELD_SAMPLES)) {
      if (this.lazy !== null && !this.lazy.loaded) {
        // The parser is still to load: the groups grow until it has (a file source waits for it
        // after this chunk of the capture: ready()).
        this.parserWanted = true;
        void this.lazy.load();
      } else {
        // Too many distinct texts to hold: what they do is decided now, and from here on per record.
        this.resolve();
        this.eager = true;
      }
    }
    return agg;
  }

  /** After report(): the extra held for a fingerprint (StatsReport.queries[].fingerprint). */
  extraOf(fingerprint: string): AggExtra | null {
    return this.byFingerprint.get(fingerprint)?.extra ?? null;
  }

  /** The aggregate of a fingerprint, created at its first record (past MAX_FINGERPRINTS: "other"). */
  private aggFor(key: Normalized, sql: string | null): QueryAgg {
    let agg = this.byFingerprint.get(key.fingerprint);
    if (!agg) {
      if (this.byFingerprint.size >= MAX_FINGERPRINTS) {
        agg = this.byFingerprint.get(OTHER_FINGERPRINT);
        if (!agg) {
          agg = new QueryAgg(OTHER_FINGERPRINT, '<other queries, past the fingerprint limit>', null);
          this.byFingerprint.set(OTHER_FINGERPRINT, agg);
        }
      } else {
        agg = new QueryAgg(key.fingerprint, detach(key.text.slice(0, EXAMPLE_LIMIT)), sql === null ? null : detach(sql.slice(0, EXAMPLE_LIMIT)));
        this.byFingerprint.set(key.fingerprint, agg);
      }
    }
    return agg;
  }

  private count(agg: QueryAgg, rec: QueryRecord, group: Group | null, seq: number): void {
    // Executes of a portal after PortalSuspended fetch more of one execution: one call, as
    // pg_stat_statements counts it, whose time is the sum of its fetches (one latency sample).
    const pk = rec.portal !== null ? rec.session + '\0' + rec.portal : null;
    // (A new Bind replaces a portal of the same name: a continuation runs the same SQL.)
    let open = pk !== null ? this.openPortals.get(pk) : undefined;
    if (open !== undefined) {
      this.openPortals.delete(pk!);
      if (open.sql !== rec.sql) {
        if (open.timed) this.sample(open.agg, open.ms, open.group, seq);
        open = undefined;
      }
    }
    if (open === undefined) {
      agg.calls++;
      this.totals.queries++;
    }
    agg.rows += rec.rows;
    this.totals.rows += rec.rows;
    if (rec.protocol === 'simple') agg.simple++;
    else if (rec.protocol === 'extended') agg.extended++;
    else agg.fn++;
    if (rec.parsed) agg.parses++;
    if (rec.incomplete) {
      agg.incomplete++;
      this.totals.incomplete++;
    }
    if (rec.rolledBack === true) {
      agg.rolledBack++;
      this.totals.rolledBack++;
    }
    if (rec.rollbackUnknown === true) {
      agg.rollbackUnknown++;
      this.totals.rollbackUnknown++;
    }
    const batch = batchOf(rec);
    if (batch !== null) {
      // The batch's time is nobody's alone: counted once for the batch, never as a statement's latency.
      agg.batched++;
      this.totals.batchedQueries++;
      const k = rec.session + '\0' + batch.key;
      if (!this.batchesSeen.has(k)) {
        if (this.batchesSeen.size >= MAX_SESSIONS) this.batchesSeen.delete(this.batchesSeen.values().next().value!);
        this.batchesSeen.add(k);
        this.totals.batches++;
        if (batch.durationMs !== null) {
          this.totals.batchMs += batch.durationMs;
          this.totals.totalMs += batch.durationMs;
          this.addSessionMs(rec.session, batch.durationMs);
        }
      }
    } else if (rec.durationMs !== null) {
      this.totals.totalMs += rec.durationMs;
      this.addSessionMs(rec.session, rec.durationMs);
    }
    const ms = (open?.ms ?? 0) + (batch === null && rec.durationMs !== null ? rec.durationMs : 0);
    const timed = (open?.timed ?? false) || (batch === null && rec.durationMs !== null);
    if (rec.suspended && pk !== null && this.openPortals.size < MAX_SESSIONS) {
      this.openPortals.set(pk, { ms, timed, agg, group, sql: rec.sql });
    } else if (timed) {
      this.sample(agg, ms, group, seq);
    }
    if (rec.error) {
      agg.errors++;
      this.totals.errors++;
      this.countError(rec.error.sqlstate ?? '?????', rec.error.severityNonLocalized ?? rec.error.severity, rec.error.message);
    }
  }

  private sample(agg: QueryAgg, ms: number, group: Group | null, seq: number): void {
    if (agg.latency.add(ms) && group !== null && group.seqs !== null) {
      if (agg.latency.isExact) {
        group.seqs.push(seq);
        this.heldSamples++;
      } else {
        this.heldSamples -= group.seqs.length;
        group.seqs = null;
      }
    }
  }

  /** Portals still suspended (the capture ended, or the groups are resolved): their time so far is their sample. */
  private flushPortals(): void {
    // a sequence number of now: the groups' samples stay in the order they were added
    for (const p of this.openPortals.values()) if (p.timed) this.sample(p.agg, p.ms, p.group, this.seq++);
    this.openPortals.clear();
  }

  private addSessionMs(session: number, ms: number): void {
    // a holder per session: a number stored in a Map is a new heap object at every update
    const held = this.sessionQueryMs.get(session);
    if (held !== undefined) held.ms += ms;
    else if (this.sessionQueryMs.size < MAX_SESSIONS) this.sessionQueryMs.set(session, { ms });
  }

  /**
   * Normalize each group's text (libpg-query) and fold the groups into per-fingerprint aggregates,
   * in the order the groups first appeared: the same aggregates, text, example and order as
   * normalizing every record as it came. Latency samples of groups that share a fingerprint are
   * replayed in record order, so even the floating-point sum is the same; only when a group
   * holds more than EXACT_LIMIT samples (no longer kept one by one) are they merged as a
   * histogram, the sum then added in another order (its last bit may differ).
   */
  private resolve(): void {
    this.flushPortals();
    if (this.groups.size === 0) return;
    const into = new Map<QueryAgg, Group[]>();
    for (const g of this.groups.values()) {
      const key = g.norm ?? this.normalizer.normalize(g.sql!);
      const agg = this.aggFor(key, g.sql ?? g.agg.example);
      const list = into.get(agg);
      if (list) list.push(g);
      else into.set(agg, [g]);
    }
    this.groups.clear();
    this.groupChars = 0;
    this.heldSamples = 0;
    for (const [agg, list] of into) {
      for (const g of list) agg.addCounts(g.agg);
      mergeLatency(agg, list);
    }
  }

  session(rec: SessionRecord): void {
    if (this.selection && !this.selection.session(rec)) return;
    this.sessionCount++;
    this.encryption[rec.encryption] = (this.encryption[rec.encryption] ?? 0) + 1;
    // a CancelRequest connection authenticates nothing: counted apart
    if (rec.cancel) this.cancels++;
    else {
      const method = rec.auth.method ?? 'not seen';
      this.methods[method] = (this.methods[method] ?? 0) + 1;
      this.outcomes[rec.auth.outcome] = (this.outcomes[rec.auth.outcome] ?? 0) + 1;
    }
    if (rec.auth.method === 'cleartext') this.cleartext++;
    if (rec.auth.outcome === 'failure') {
      if (this.failures.length < 100) {
        this.failures.push({ session: rec.session, user: rec.user, sqlstate: rec.auth.sqlstate, message: rec.auth.error?.message ?? null });
      }
      if (rec.auth.error) this.countError(rec.auth.error.sqlstate ?? '?????', rec.auth.error.severityNonLocalized ?? rec.auth.error.severity, rec.auth.error.message);
    }
    const queryMs = this.sessionQueryMs.get(rec.session)?.ms ?? 0;
    this.sessionQueryMs.delete(rec.session);
    if (this.sessions.size >= MAX_SESSIONS) {
      this.sessionsNotListed++;
      return;
    }
    this.sessions.set(rec.session, {
      session: rec.session,
      client: endpoint(rec.client),
      server: endpoint(rec.server),
      user: rec.user,
      database: rec.database,
      applicationName: rec.applicationName,
      authMethod: rec.auth.method,
      authOutcome: rec.auth.outcome,
      encryption: rec.encryption,
      queries: rec.queries,
      errors: rec.errors,
      totalQueryMs: round3(queryMs),
      durationMs: round3(rec.durationMs),
      endedBy: rec.endedBy,
      cancelOf: rec.cancel?.targetSession ?? null,
      isCancel: rec.cancel !== null,
    });
  }

  private countError(sqlstate: string, severity: string | null, message: string | null): void {
    const e = this.errors.get(sqlstate);
    if (e) e.count++;
    else if (this.errors.size < MAX_FINGERPRINTS) this.errors.set(sqlstate, { sqlstate, count: 1, severity, message });
  }

  report(): StatsReport {
    if (this.lazy !== null && !this.lazy.loaded) throw new Error('StatsSink: report() before loadParser()');
    this.resolve();
    const queries: QueryStats[] = [];
    for (const a of this.byFingerprint.values()) {
      const l = a.latency;
      queries.push({
        fingerprint: a.fingerprint, query: a.query, example: a.example,
        calls: a.calls, rows: a.rows, errors: a.errors, skipped: a.skipped, incomplete: a.incomplete, rolledBack: a.rolledBack,
        rollbackUnknown: a.rollbackUnknown, batched: a.batched,
        protocols: { simple: a.simple, extended: a.extended, function: a.fn }, parses: a.parses,
        totalMs: round3(l.sumMs), meanMs: round3(l.meanMs), p50Ms: round3(l.quantile(0.5)), p95Ms: round3(l.quantile(0.95)),
        p99Ms: round3(l.quantile(0.99)), maxMs: round3(l.maxMs), exact: l.isExact,
      });
    }
    queries.sort((x, y) => y.totalMs - x.totalMs || y.calls - x.calls || (x.query < y.query ? -1 : 1));
    const errors = [...this.errors.values()].sort((x, y) => y.count - x.count || (x.sqlstate < y.sqlstate ? -1 : 1));
    const damage = this.coverage.damage();
    const undecoded = this.coverage.undecoded();
    return {
      totals: {
        ...this.totals, totalMs: round3(this.totals.totalMs), batchMs: round3(this.totals.batchMs), sessions: this.sessionCount,
        fingerprints: this.byFingerprint.size, parser: this.normalizer.usesParser ? 'libpg-query' : 'fallback',
      },
      damage,
      uncertain: damage !== null || undecoded.sessions > 0,
      undecoded,
      queries,
      sessions: [...this.sessions.values()].sort((x, y) => x.session - y.session),
      sessionsNotListed: this.sessionsNotListed,
      errors,
      auth: { methods: this.methods, outcomes: this.outcomes, failures: this.failures, cleartextSessions: this.cleartext },
      encryption: this.encryption,
      cancels: this.cancels,
    };
  }
}

/** Fold the groups' latency sketches into agg's (see StatsSink.resolve). */
function mergeLatency(agg: QueryAgg, list: Group[]): void {
  const target = agg.latency;
  if (target.count === 0 && list.length === 1) {
    agg.latency = list[0]!.agg.latency;
    return;
  }
  if (!list.every((g) => g.seqs !== null && g.agg.latency.samplesInOrder() !== null)) {
    for (const g of list) target.merge(g.agg.latency);
    return;
  }
  // Replay in record order, after what agg holds already (from earlier records than the groups'):
  // the very additions normalizing record by record would have made. Each group's samples are
  // in record order already: merged two runs at a time, O(n log groups).
  let runs: Run[] = list.map((g) => ({ seqs: g.seqs!, values: g.agg.latency.samplesInOrder()! }));
  while (runs.length > 1) {
    const next: Run[] = [];
    for (let i = 0; i + 1 < runs.length; i += 2) next.push(mergeRuns(runs[i]!, runs[i + 1]!));
    if (runs.length % 2 === 1) next.push(runs[runs.length - 1]!);
    runs = next;
  }
  const values = runs[0]!.values;
  for (let i = 0; i < values.length; i++) target.add(values[i]!);
}

/** Latency samples with the sequence numbers of their records, ascending. */
interface Run {
  seqs: readonly number[];
  values: readonly number[];
}

function mergeRuns(a: Run, b: Run): Run {
  const seqs: number[] = [];
  const values: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.seqs.length && j < b.seqs.length) {
    if (a.seqs[i]! < b.seqs[j]!) {
      seqs.push(a.seqs[i]!);
      values.push(a.values[i++]!);
    } else {
      seqs.push(b.seqs[j]!);
      values.push(b.values[j++]!);
    }
  }
  for (; i < a.seqs.length; i++) { seqs.push(a.seqs[i]!); values.push(a.values[i]!); }
  for (; j < b.seqs.length; j++) { seqs.push(b.seqs[j]!); values.push(b.values[j]!); }
  return { seqs, values };
}

function endpoint(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
