/**
 * `pgsniff check`: evaluates CheckRules (check-rules.ts) over query and session records as
 * they stream by. Per-fingerprint state is a few counters (plus a LatencySketch when a p95
 * budget is set, and a handful of SQL hashes for the inlined-literals rule), capped at
 * MAX_FINGERPRINTS; session rules are decided at each session record. Violations are data
 * ({rule, message, ...}); `result()` gives {ok, violations} for the CLI to turn into exit 1/0.
 *
 * A check never passes on what it could not see (DESIGN.md, "What a query record may claim"):
 * sessions that could not be decoded are a violation unless allowUndecoded, and damage to the
 * capture is said in the result (a violation with strict). Statements are grouped as
 * pg_stat_statements groups them (stats-normalize.ts), and a violation quotes the statement
 * that made it. Answers that arrived together form a batch: latency rules judge the batch's
 * time and name the batch, never its first statement.
 */
import { escapeTerminal } from '../core/escape.js';
import type { Predicate } from '../filter/index.js';
import type { OutRecord, PipelineSink } from '../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../session/schema.js';
import { QUALIFIERS, type CheckRules } from './check-rules.js';
import { Coverage, Selection, describeDamage, describeUndecoded, type DamageSummary, type UndecodedSummary } from './check-scope.js';
import { LatencySketch } from './stats-latency.js';
import { createNormalizer, detach, type Normalizer } from './stats-normalize.js';
import { queryKey, batchOf, statementKind, MAX_FINGERPRINTS, OTHER_FINGERPRINT } from './stats.js';

type RuleName = keyof CheckRules;
/** Rules of the check itself: undecodable sessions, and damage under strict. */
type ViolationRule = RuleName | 'undecoded' | 'damaged';

interface Violation {
  rule: ViolationRule;
  message: string;
  fingerprint?: string;
  /** Normalized query text. */
  query?: string;
  /** The statement that violated the rule, as sent (capped). */
  sql?: string;
  session?: number;
  frame?: number;
  count?: number;
  limit?: number;
}

export interface CheckResult {
  ok: boolean;
  violations: Violation[];
  /** Violations past MAX_VIOLATIONS, counted but not listed. */
  notListed: number;
  checked: { queries: number; sessions: number; excluded: number };
  /** What the capture lost (null: nothing): the counts the rules saw may be low. */
  damage: DamageSummary | null;
  /** Sessions whose queries could not be seen. */
  undecoded: UndecodedSummary;
  /** What the verdict could not judge (e.g. an export without session records). */
  notes: string[];
  rules: CheckRules;
}

interface CheckSinkOptions {
  parser?: boolean;
  /** `-Y`: only matching query records (and their sessions) are checked. */
  filter?: Predicate;
}

const MAX_VIOLATIONS = 1000;
const MAX_PREPARE_KEYS = 100_000;
/** Distinct SQL texts remembered per fingerprint for the inlined-literals rule: two are enough to decide. */
const VARIANTS = 4;
/** SQL kept to quote in a violation. */
const QUOTE_LIMIT = 2000;
/** Portals left suspended (fetched again by a later Execute), remembered to count their fetches as one call. */
const MAX_SUSPENDED = 100_000;
/** Batches waiting for their last statement. */
const MAX_OPEN_BATCHES = 10_000;

function quote(sql: string | null): string | undefined {
  return sql === null ? undefined : detach(sql.slice(0, QUOTE_LIMIT));
}

class FpState {
  calls = 0;
  firstFrame = 0;
  firstSession = 0;
  firstSql: string | undefined;
  maxMs = -1;
  maxFrame = 0;
  maxSql: string | undefined;
  latency: LatencySketch | null = null;
  errors: Map<string, { count: number; frame: number; message: string | null; sql: string | undefined }> | null = null;
  variants: Set<string> | null = null;
  variantFrame = 0;
  variantSql: string | undefined;
  /** Transaction control and cursor fetches: repeated by design, never N+1. */
  control = false;
  constructor(readonly fingerprint: string, readonly text: string) {}
}

/** A batch's statements as they arrive: judged once, by its own time, when the last one is in. */
interface OpenBatch {
  size: number;
  seen: number;
  durationMs: number | null;
  session: number;
  frame: number;
  texts: string[];
  fps: string[];
}

export class CheckSink implements PipelineSink {
  private readonly fps = new Map<string, FpState>();
  private readonly prepares = new Map<string, { count: number; frame: number; session: number; fingerprint: string }>();
  private readonly violations: Violation[] = [];
  private notListed = 0;
  private queries = 0;
  private sessions = 0;
  private excluded = 0;
  private readonly allowed: Set<string>;
  private readonly exclude: RegExp[];
  private readonly selection: Selection | null;
  readonly coverage = new Coverage();
  /** Suspended portals (session + name) and the SQL they run. */
  private readonly suspended = new Map<string, string | null>();
  private readonly batches = new Map<string, OpenBatch>();
  /** Batches judged by maxP95Ms, grouped by their statements' fingerprints. */
  private readonly batchGroups = new Map<string, { text: string; latency: LatencySketch; maxMs: number; maxFrame: number }>();
  private readonly notes: string[] = [];

  constructor(readonly rules: CheckRules, private readonly normalizer: Normalizer, opts: CheckSinkOptions = {}) {
    this.allowed = new Set(rules.allowSqlstates ?? []);
    this.exclude = (rules.exclude ?? []).map((x) => new RegExp(x, 'i'));
    this.selection = opts.filter ? new Selection(opts.filter) : null;
  }

  static async create(rules: CheckRules, opts: CheckSinkOptions = {}): Promise<CheckSink> {
    return new CheckSink(rules, await createNormalizer(opts), opts);
  }

  record(rec: OutRecord): void {
    this.coverage.record(rec);
    if (rec.kind === 'query') this.query(rec as unknown as QueryRecord);
    else if (rec.kind === 'session') this.session(rec as unknown as SessionRecord);
  }

  /** Something the verdict could not judge, said with it (e.g. by the NDJSON reader). */
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  query(rec: QueryRecord): void {
    // Skipped by the server; or sent on by a pooler, whose client leg's record is the statement.
    if (rec.skipped || rec.poolerLeg === 'server') return;
    if (this.selection && !this.selection.query(rec)) return;
    const r = this.rules;
    const key = queryKey(rec, this.normalizer);
    if (this.exclude.length > 0 && this.isExcluded(rec.sql, key.text)) {
      this.excluded++;
      return;
    }
    // Execute after Execute of one portal (PortalSuspended between them) fetches one execution's
    // rows in parts: the later fetches are not calls of their own.
    // (A new Bind replaces a portal of the same name: a continuation runs the same SQL.)
    const portalKey = rec.portal !== null ? rec.session + '\0' + rec.portal : null;
    const held = portalKey !== null ? this.suspended.get(portalKey) : undefined;
    if (held !== undefined) this.suspended.delete(portalKey!);
    const continued = held !== undefined && held === rec.sql;
    if (portalKey !== null && rec.suspended && this.suspended.size < MAX_SUSPENDED) this.suspended.set(portalKey, rec.sql);
    if (!continued) this.queries++;
    let fp = this.fps.get(key.fingerprint);
    if (!fp) {
      if (this.fps.size >= MAX_FINGERPRINTS) {
        fp = this.fps.get(OTHER_FINGERPRINT);
        if (!fp) {
          fp = new FpState(OTHER_FINGERPRINT, '<other queries, past the fingerprint limit>');
          this.fps.set(OTHER_FINGERPRINT, fp);
        }
      } else {
        fp = new FpState(key.fingerprint, detach(key.text.slice(0, 2000)));
        fp.control = statementKind(rec.sql) !== null;
        this.fps.set(key.fingerprint, fp);
      }
      fp.firstFrame = rec.firstFrame;
      fp.firstSession = rec.session;
      fp.firstSql = quote(rec.sql);
    }
    if (!continued) fp.calls++;
    const batch = batchOf(rec);
    if (batch !== null) this.inBatch(rec, batch, key.fingerprint, key.text);
    else if (rec.durationMs !== null) {
      if (rec.durationMs > fp.maxMs) {
        fp.maxMs = rec.durationMs;
        fp.maxFrame = rec.frame;
        fp.maxSql = quote(rec.sql);
      }
      if (r.maxP95Ms !== undefined) (fp.latency ??= new LatencySketch()).add(rec.durationMs);
    }
    if (r.noErrors && rec.error) {
      const state = rec.error.sqlstate ?? '?????';
      if (!this.allowed.has(state)) {
        fp.errors ??= new Map();
        const e = fp.errors.get(state);
        if (e) e.count++;
        else fp.errors.set(state, { count: 1, frame: rec.frame, message: rec.error.message, sql: quote(rec.sql) });
      }
    }
    // The unnamed statement is parsed again for every execution by design (libpq, most drivers):
    // only named statements can be prepared once.
    if (r.preparedOnce && rec.parsed && rec.statement !== null && rec.statement !== '') {
      const k = rec.session + ':' + key.fingerprint;
      const p = this.prepares.get(k);
      if (p) p.count++;
      else if (this.prepares.size < MAX_PREPARE_KEYS) this.prepares.set(k, { count: 1, frame: rec.frame, session: rec.session, fingerprint: key.fingerprint });
    }
    if (r.noInlinedLiterals && rec.protocol === 'simple' && rec.sql !== null && key.hasLiterals) {
      fp.variants ??= new Set();
      if (fp.variants.size < VARIANTS && !fp.variants.has(rec.sql)) {
        fp.variants.add(detach(rec.sql.length > 4096 ? rec.sql.slice(0, 4096) + rec.sql.length : rec.sql));
        if (fp.variants.size === 2) {
          fp.variantFrame = rec.frame;
          fp.variantSql = quote(rec.sql);
        }
      }
    }
  }

  private isExcluded(sql: string | null, normalized: string): boolean {
    const head = sql === null ? null : sql.length > 100_000 ? sql.slice(0, 100_000) : sql;
    return this.exclude.some((re) => (head !== null && re.test(head)) || re.test(normalized));
  }

  /** A statement of a batch: the batch is judged once its last statement is in (or at the end). */
  private inBatch(rec: QueryRecord, batch: { key: string; size: number; durationMs: number | null }, fingerprint: string, text: string): void {
    const k = rec.session + '\0' + batch.key;
    let b = this.batches.get(k);
    if (!b) {
      if (this.batches.size >= MAX_OPEN_BATCHES) this.closeBatch(this.batches.keys().next().value!);
      b = { size: batch.size, seen: 0, durationMs: batch.durationMs, session: rec.session, frame: rec.frame, texts: [], fps: [] };
      this.batches.set(k, b);
    }
    b.seen++;
    b.frame = rec.frame;
    if (batch.durationMs !== null) b.durationMs = batch.durationMs;
    if (b.texts.length < 3) b.texts.push(detach(text.slice(0, 200)));
    if (b.fps.length < 64) b.fps.push(fingerprint);
    if (b.seen >= b.size) this.closeBatch(k);
  }

  private closeBatch(k: string): void {
    const b = this.batches.get(k);
    if (!b) return;
    this.batches.delete(k);
    if (b.durationMs === null) return;
    const r = this.rules;
    const name = `a batch of ${b.size} statements whose answers arrived together (${b.texts.join('; ')}${b.size > b.texts.length ? '; ...' : ''})`;
    if (r.maxLatencyMs !== undefined && b.durationMs > r.maxLatencyMs) {
      this.add({ rule: 'maxLatencyMs', limit: r.maxLatencyMs, frame: b.frame, session: b.session, query: name,
        message: `${escapeTerminal(name)} took ${b.durationMs.toFixed(3)} ms up to frame ${b.frame} (session ${b.session}), over the ${r.maxLatencyMs} ms budget; the wire cannot split that time between them` });
    }
    if (r.maxP95Ms !== undefined) {
      const gk = b.fps.join(',');
      let g = this.batchGroups.get(gk);
      if (!g) {
        if (this.batchGroups.size >= MAX_FINGERPRINTS) return;
        g = { text: name, latency: new LatencySketch(), maxMs: -1, maxFrame: 0 };
        this.batchGroups.set(gk, g);
      }
      g.latency.add(b.durationMs);
    }
  }

  session(rec: SessionRecord): void {
    if (this.selection && !this.selection.session(rec)) return;
    this.sessions++;
    const who = `session ${rec.session} (user ${rec.user === null ? '?' : escapeTerminal(rec.user)}, client ${rec.client.ip}:${rec.client.port})`;
    if (this.rules.noPlaintextPasswords && rec.auth.method === 'cleartext') {
      this.add({
        rule: 'noPlaintextPasswords', session: rec.session, frame: rec.startFrame,
        message: `${who} authenticated with a cleartext password${rec.encryption === 'tls' ? ' (inside TLS)' : ', unencrypted on the wire'}`,
      });
    }
    if (this.rules.requireTls && rec.encryption !== 'tls' && rec.cancel === null) {
      this.add({ rule: 'requireTls', session: rec.session, frame: rec.startFrame, message: `${who} is not TLS-encrypted (encryption: ${rec.encryption})` });
    }
  }

  private add(v: Violation): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push(v);
    else this.notListed++;
  }

  /** Decide the rules that need the whole capture. Call once, after the input ended. */
  result(): CheckResult {
    for (const k of [...this.batches.keys()]) this.closeBatch(k);
    const r = this.rules;
    const out: Violation[] = [];
    const undecoded = this.coverage.undecoded();
    if (undecoded.sessions > 0 && !r.allowUndecoded) {
      out.push({ rule: 'undecoded', count: undecoded.sessions,
        message: `${describeUndecoded(undecoded)} could not be decoded: their queries were not checked (--keylog decrypts TLS; --allow-undecoded accepts this)` });
    }
    const damage = this.coverage.damage();
    if (damage !== null && r.strict) {
      out.push({ rule: 'damaged', count: damage.anomalies + damage.incompleteQueries + damage.badChecksumQueries, ...(damage.firstFrame !== null ? { frame: damage.firstFrame } : {}),
        message: `the capture is damaged: ${describeDamage(damage)}; what it lost was not checked` });
    }
    if (r.maxQueries !== undefined && this.queries > r.maxQueries) {
      out.push({ rule: 'maxQueries', count: this.queries, limit: r.maxQueries, message: `${this.queries} queries executed, more than the ${r.maxQueries} allowed` });
    }
    for (const fp of this.fps.values()) {
      const base = { fingerprint: fp.fingerprint, query: fp.text };
      // the statement as sent when there is one (the normalized text for statements prepared before the capture)
      const said = (sql: string | undefined): string => escapeTerminal(sql ?? fp.text);
      if (r.maxPerFingerprint !== undefined && fp.calls > r.maxPerFingerprint && !fp.control) {
        out.push({ ...base, sql: fp.firstSql, rule: 'maxPerFingerprint', count: fp.calls, limit: r.maxPerFingerprint, session: fp.firstSession, frame: fp.firstFrame,
          message: `ran ${fp.calls} times, more than the ${r.maxPerFingerprint} allowed (N+1?), first at frame ${fp.firstFrame}: ${said(fp.firstSql)}` });
      }
      if (fp.errors) {
        for (const [state, e] of fp.errors) {
          out.push({ ...base, sql: e.sql, rule: 'noErrors', count: e.count, frame: e.frame,
            message: `failed ${e.count} time(s) with ${escapeTerminal(state)}${e.message ? ` (${escapeTerminal(e.message)})` : ''}, first at frame ${e.frame}: ${said(e.sql)}` });
        }
      }
      if (r.maxP95Ms !== undefined && fp.latency && fp.latency.count > 0) {
        const p95 = fp.latency.quantile(0.95);
        if (p95 > r.maxP95Ms) {
          out.push({ ...base, sql: fp.maxSql, rule: 'maxP95Ms', count: fp.latency.count, limit: r.maxP95Ms,
            message: `p95 latency ${p95.toFixed(3)} ms over the ${r.maxP95Ms} ms budget (${fp.latency.count} calls): ${escapeTerminal(fp.text)}` });
        }
      }
      if (r.maxLatencyMs !== undefined && fp.maxMs > r.maxLatencyMs) {
        out.push({ ...base, sql: fp.maxSql, rule: 'maxLatencyMs', limit: r.maxLatencyMs, frame: fp.maxFrame,
          message: `took ${fp.maxMs.toFixed(3)} ms at frame ${fp.maxFrame}, over the ${r.maxLatencyMs} ms budget: ${said(fp.maxSql)}` });
      }
      if (fp.variants && fp.variants.size >= 2) {
        out.push({ ...base, sql: fp.variantSql, rule: 'noInlinedLiterals', count: fp.variants.size, frame: fp.variantFrame,
          message: `sent through the simple protocol with ${fp.variants.size >= VARIANTS ? `${VARIANTS} or more` : fp.variants.size} different literal values (bind parameters instead), second at frame ${fp.variantFrame}: ${said(fp.variantSql)}` });
      }
    }
    if (r.maxP95Ms !== undefined) {
      for (const g of this.batchGroups.values()) {
        const p95 = g.latency.quantile(0.95);
        if (p95 > r.maxP95Ms) {
          out.push({ rule: 'maxP95Ms', query: g.text, count: g.latency.count, limit: r.maxP95Ms,
            message: `p95 latency ${p95.toFixed(3)} ms over the ${r.maxP95Ms} ms budget (${g.latency.count} times): ${escapeTerminal(g.text)}` });
        }
      }
    }
    if (r.preparedOnce) {
      const limit = r.maxPrepares ?? 1;
      for (const p of this.prepares.values()) {
        if (p.count <= limit) continue;
        const text = this.fps.get(p.fingerprint)?.text ?? p.fingerprint;
        out.push({ rule: 'preparedOnce', fingerprint: p.fingerprint, query: text, session: p.session, count: p.count, limit, frame: p.frame,
          message: `prepared (Parse) ${p.count} times in session ${p.session}, more than ${limit}: ${escapeTerminal(text)}` });
      }
    }
    const all = [...this.violations];
    let notListed = this.notListed;
    for (const v of out) {
      if (all.length < MAX_VIOLATIONS) all.push(v);
      else notListed++;
    }
    return {
      ok: all.length === 0, violations: all, notListed,
      checked: { queries: this.queries, sessions: this.sessions, excluded: this.excluded },
      damage, undecoded, notes: [...this.notes], rules: r,
    };
  }
}

/** The verdict as readable lines for stderr/stdout. */
export function formatCheckResult(res: CheckResult): string {
  const n = Object.entries(res.rules).filter(([k, v]) => v !== undefined && v !== false && !QUALIFIERS.has(k)).length;
  const scope = `${res.checked.queries} queries, ${res.checked.sessions} sessions${res.checked.excluded > 0 ? `, ${res.checked.excluded} excluded` : ''}`;
  let out: string;
  if (res.ok) out = `check passed: ${n} rule(s) hold (${scope})\n`;
  else {
    const total = res.violations.length + res.notListed;
    out = `check failed: ${total} violation(s) (${scope})\n`;
    res.violations.forEach((v, i) => { out += `  ${i + 1}. [${v.rule}] ${v.message}\n`; });
    if (res.notListed > 0) out += `  ... and ${res.notListed} more\n`;
  }
  if (res.damage !== null && !res.rules.strict) {
    out += `  but the capture is damaged: ${describeDamage(res.damage)}; the counts above may be low or wrong (--strict makes this a failure)\n`;
  }
  if (res.undecoded.sessions > 0 && res.rules.allowUndecoded) {
    out += `  not checked (allowed by --allow-undecoded): ${describeUndecoded(res.undecoded)}\n`;
  }
  for (const note of res.notes) out += `  note: ${note}\n`;
  return out;
}
