/**
 * The stats report as aligned text tables for people. Every string that came off the wire
 * (SQL, user names, error messages) goes through escapeTerminal: a capture must not be able to
 * drive the reader's terminal.
 */
import { escapeTerminal } from '../core/escape.js';
import { describeDamage, describeUndecoded } from './check-scope.js';
import type { StatsReport } from './stats.js';

interface StatsTextOptions {
  /** Most rows per table (the rest summarized in one line). Default 50. */
  limit?: number;
  /** Longest query text shown. Default 100 characters. */
  queryWidth?: number;
}

type Cell = string | number | null;

/** Columns whose header starts with '>' are right-aligned (the '>' is not printed). */
export function table(headers: string[], rows: Cell[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => (h.startsWith('>') ? h.slice(1) : h));
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : typeof c === 'number' ? fmtNum(c) : c)));
  const widths = names.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => {
      if (i === r.length - 1 && !right[i]) return c;
      return right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
    }).join('  ').trimEnd();
  return [line(names), ...cells.map(line)].join('\n') + '\n';
}

function fmtNum(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(3);
}

function clip(s: string | null, width: number): string {
  if (s === null) return '-';
  const e = escapeTerminal(s);
  return e.length > width ? e.slice(0, width - 1) + '…' : e;
}

export function formatStatsText(r: StatsReport, opts: StatsTextOptions = {}): string {
  const limit = opts.limit ?? 50;
  const qw = opts.queryWidth ?? 100;
  const t = r.totals;
  let out = '';
  if (r.damage !== null) {
    out += `The capture is damaged: ${describeDamage(r.damage)}. The numbers below are uncertain: counts may be low, and records near the damage are marked incomplete.\n`;
  }
  if (r.undecoded.sessions > 0) {
    out += `Not decoded: ${describeUndecoded(r.undecoded)}: their queries are not counted below.\n`;
  }
  if (r.uncertain) out += '\n';
  // said only when there are some: whether a rollback undid them is not known (the records' rollbackUnknown)
  const unknown = t.rollbackUnknown > 0 ? ` (${t.rollbackUnknown} more not known: written before their transaction ended)` : '';
  out += `Queries: ${t.queries} executed, ${t.errors} failed, ${t.skipped} skipped, ${t.incomplete} incomplete, ${t.rolledBack} rolled back${unknown}; `
    + `${t.rows} rows; ${fmtNum(t.totalMs)} ms in total; ${t.fingerprints} distinct (normalized by ${t.parser})\n`;
  if (t.batches > 0) {
    out += `Batches: ${t.batches} (${t.batchedQueries} statements whose answers arrived together, ${fmtNum(t.batchMs)} ms): `
      + 'their time is the batch\'s, not in the statements\' percentiles\n';
  }
  if (t.poolerServerLeg > 0) {
    out += `Pooler: ${t.poolerServerLeg} statements on its server legs not counted (each counts once, on the client leg that sent it)\n`;
  }
  out += '\n';
  if (r.queries.length > 0) {
    const rows = r.queries.slice(0, limit).map((q) => [
      q.calls, q.rows, q.errors, q.totalMs, q.meanMs, q.p50Ms, q.p95Ms, q.p99Ms, q.maxMs, clip(q.query === '' ? '(empty query)' : q.query, qw),
    ]);
    out += table(['>calls', '>rows', '>errors', '>total ms', '>mean ms', '>p50 ms', '>p95 ms', '>p99 ms', '>max ms', 'query'], rows);
    if (r.queries.length > limit) out += `... ${r.queries.length - limit} more queries (--json lists all)\n`;
    out += '\n';
  }
  out += `Sessions: ${t.sessions}\n`;
  if (r.sessions.length > 0) {
    const rows = r.sessions.slice(0, limit).map((s) => [
      s.session, s.client, s.server, clip(s.user, 24), clip(s.database, 24), clip(s.applicationName, 24),
      s.isCancel ? `cancel of ${s.cancelOf ?? '?'}` : s.authMethod === null ? '-' : `${s.authMethod}/${s.authOutcome}`, s.encryption, s.queries, s.errors, s.totalQueryMs, s.durationMs, s.endedBy,
    ]);
    // the server address tells a pooler's client legs (its port) from its server legs
    out += table(['>id', 'client', 'server', 'user', 'database', 'application', 'auth', 'encryption', '>queries', '>errors', '>query ms', '>duration ms', 'ended'], rows);
    const more = r.sessions.length - Math.min(limit, r.sessions.length) + r.sessionsNotListed;
    if (more > 0) out += `... ${more} more sessions (--json lists up to 10000)\n`;
  }
  out += '\n';
  if (r.errors.length > 0) {
    out += 'Errors by SQLSTATE\n';
    out += table(['sqlstate', '>count', 'severity', 'first message'], r.errors.slice(0, limit).map((e) => [
      escapeTerminal(e.sqlstate), e.count, clip(e.severity, 10), clip(e.message, qw),
    ]));
    out += '\n';
  }
  out += 'Authentication: ' + listCounts(r.auth.methods) + '; outcomes: ' + listCounts(r.auth.outcomes) + '\n';
  if (r.auth.cleartextSessions > 0) out += `  ${r.auth.cleartextSessions} session(s) sent a cleartext password\n`;
  for (const f of r.auth.failures.slice(0, limit)) {
    out += `  session ${f.session} user ${clip(f.user, 32)} failed: ${f.sqlstate ?? '-'} ${clip(f.message, qw)}\n`;
  }
  out += 'Encryption: ' + listCounts(r.encryption) + '\n';
  if (r.cancels > 0) out += `Cancel requests: ${r.cancels}\n`;
  return out;
}

function listCounts(m: Record<string, number>): string {
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return 'none seen';
  return keys.map((k) => `${escapeTerminal(k)} ${m[k]}`).join(', ');
}
