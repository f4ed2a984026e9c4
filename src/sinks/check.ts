/**
 * `pgsniff check`: evaluates CheckRules (check-rules.ts) over query and session records as
 * they stream by. Per-fingerprint state is a few counters (plus a LatencySketch when a p95
 * budget is set, and a handful of SQL hashes for the inlined-literals rule), capped at
 * MAX_FINGERPRINTS; session rules are decided at each session record. Violations are data
 * ({rule, message, ...}); `result()` gives {ok, violations} for the CLI to turn into exit 1/0.
 */
import { escapeTerminal } from '../core/escape.js';
import type { OutRecord, PipelineSink } from '../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../session/schema.js';
import type { CheckRules } from './check-rules.js';
import { LatencySketch } from './stats-latency.js';
import { createNormalizer, detach, type Normalizer } from './stats-normalize.js';
import { queryKey, MAX_FINGERPRINTS, OTHER_FINGERPRINT } from './stats.js';

export type RuleName = keyof CheckRules;

export interface Violation {
  rule: RuleName;
  message: string;
  fingerprint?: string;
  /** Normalized query text. */
  query?: string;
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
  checked: { queries: number; sessions: number };
  rules: CheckRules;
}

export const MAX_VIOLATIONS = 1000;
const MAX_PREPARE_KEYS = 100_000;
/** Distinct SQL texts remembered per fingerprint for the inlined-literals rule: two are enough to decide. */
const VARIANTS = 4;

class FpState {
  calls = 0;
  firstFrame = 0;
  firstSession = 0;
  maxMs = -1;
  maxFrame = 0;
  latency: LatencySketch | null = null;
  errors: Map<string, { count: number; frame: number; message: string | null }> | null = null;
  variants: Set<string> | null = null;
  variantFrame = 0;
  constructor(readonly fingerprint: string, readonly text: string) {}
}

export class CheckSink implements PipelineSink {
  private readonly fps = new Map<string, FpState>();
  private readonly prepares = new Map<string, { count: number; frame: number; session: number; fingerprint: string }>();
  private readonly violations: Violation[] = [];
  private notListed = 0;
  private queries = 0;
  private sessions = 0;
  private readonly allowed: Set<string>;

  constructor(readonly rules: CheckRules, private readonly normalizer: Normalizer) {
    this.allowed = new Set(rules.allowSqlstates ?? []);
  }

  static async create(rules: CheckRules, opts: { parser?: boolean } = {}): Promise<CheckSink> {
    return new CheckSink(rules, await createNormalizer(opts));
  }

  record(rec: OutRecord): void {
    if (rec.kind === 'query') this.query(rec as unknown as QueryRecord);
    else if (rec.kind === 'session') this.session(rec as unknown as SessionRecord);
  }

  query(rec: QueryRecord): void {
    if (rec.skipped) return;
    this.queries++;
    const r = this.rules;
    const key = queryKey(rec, this.normalizer);
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
        this.fps.set(key.fingerprint, fp);
      }
      fp.firstFrame = rec.firstFrame;
      fp.firstSession = rec.session;
    }
    fp.calls++;
    if (rec.durationMs !== null) {
      if (rec.durationMs > fp.maxMs) {
        fp.maxMs = rec.durationMs;
        fp.maxFrame = rec.frame;
      }
      if (r.maxP95Ms !== undefined) (fp.latency ??= new LatencySketch()).add(rec.durationMs);
    }
    if (r.noErrors && rec.error) {
      const state = rec.error.sqlstate ?? '?????';
      if (!this.allowed.has(state)) {
        fp.errors ??= new Map();
        const e = fp.errors.get(state);
        if (e) e.count++;
        else fp.errors.set(state, { count: 1, frame: rec.frame, message: rec.error.message });
      }
    }
    if (r.preparedOnce && rec.parsed) {
      const k = rec.session + ':' + key.fingerprint;
      const p = this.prepares.get(k);
      if (p) p.count++;
      else if (this.prepares.size < MAX_PREPARE_KEYS) this.prepares.set(k, { count: 1, frame: rec.frame, session: rec.session, fingerprint: key.fingerprint });
    }
    if (r.noInlinedLiterals && rec.protocol === 'simple' && rec.sql !== null && key.hasLiterals) {
      fp.variants ??= new Set();
      if (fp.variants.size < VARIANTS && !fp.variants.has(rec.sql)) {
        fp.variants.add(detach(rec.sql.length > 4096 ? rec.sql.slice(0, 4096) + rec.sql.length : rec.sql));
        if (fp.variants.size === 2) fp.variantFrame = rec.frame;
      }
    }
  }

  session(rec: SessionRecord): void {
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
    const r = this.rules;
    const out: Violation[] = [];
    if (r.maxQueries !== undefined && this.queries > r.maxQueries) {
      out.push({ rule: 'maxQueries', count: this.queries, limit: r.maxQueries, message: `${this.queries} queries executed, more than the ${r.maxQueries} allowed` });
    }
    for (const fp of this.fps.values()) {
      const q = escapeTerminal(fp.text);
      const base = { fingerprint: fp.fingerprint, query: fp.text };
      if (r.maxPerFingerprint !== undefined && fp.calls > r.maxPerFingerprint) {
        out.push({ ...base, rule: 'maxPerFingerprint', count: fp.calls, limit: r.maxPerFingerprint, session: fp.firstSession, frame: fp.firstFrame,
          message: `ran ${fp.calls} times, more than the ${r.maxPerFingerprint} allowed (N+1?): ${q}` });
      }
      if (fp.errors) {
        for (const [state, e] of fp.errors) {
          out.push({ ...base, rule: 'noErrors', count: e.count, frame: e.frame,
            message: `failed ${e.count} time(s) with ${escapeTerminal(state)}${e.message ? ` (${escapeTerminal(e.message)})` : ''}, first at frame ${e.frame}: ${q}` });
        }
      }
      if (r.maxP95Ms !== undefined && fp.latency && fp.latency.count > 0) {
        const p95 = fp.latency.quantile(0.95);
        if (p95 > r.maxP95Ms) {
          out.push({ ...base, rule: 'maxP95Ms', count: fp.latency.count, limit: r.maxP95Ms,
            message: `p95 latency ${p95.toFixed(3)} ms over the ${r.maxP95Ms} ms budget (${fp.latency.count} calls): ${q}` });
        }
      }
      if (r.maxLatencyMs !== undefined && fp.maxMs > r.maxLatencyMs) {
        out.push({ ...base, rule: 'maxLatencyMs', limit: r.maxLatencyMs, frame: fp.maxFrame,
          message: `took ${fp.maxMs.toFixed(3)} ms at frame ${fp.maxFrame}, over the ${r.maxLatencyMs} ms budget: ${q}` });
      }
      if (fp.variants && fp.variants.size >= 2) {
        out.push({ ...base, rule: 'noInlinedLiterals', count: fp.variants.size, frame: fp.variantFrame,
          message: `sent through the simple protocol with ${fp.variants.size >= VARIANTS ? `${VARIANTS} or more` : fp.variants.size} different literal values (bind parameters instead), second at frame ${fp.variantFrame}: ${q}` });
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
    return { ok: all.length === 0, violations: all, notListed, checked: { queries: this.queries, sessions: this.sessions }, rules: r };
  }
}

/** The verdict as readable lines for stderr/stdout. */
export function formatCheckResult(res: CheckResult): string {
  // allowSqlstates and maxPrepares qualify other rules rather than being rules of their own
  const n = Object.entries(res.rules).filter(([k, v]) => v !== undefined && v !== false && k !== 'allowSqlstates' && k !== 'maxPrepares').length;
  const scope = `${res.checked.queries} queries, ${res.checked.sessions} sessions`;
  if (res.ok) return `check passed: ${n} rule(s) hold (${scope})\n`;
  const total = res.violations.length + res.notListed;
  let out = `check failed: ${total} violation(s) (${scope})\n`;
  res.violations.forEach((v, i) => { out += `  ${i + 1}. [${v.rule}] ${v.message}\n`; });
  if (res.notListed > 0) out += `  ... and ${res.notListed} more\n`;
  return out;
}
