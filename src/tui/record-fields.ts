/**
 * Reading the session layer's query and session records (src/session/schema.ts) into the
 * TUI's index. Records from a producer are trusted for nothing: every field is type-checked
 * and a missing or odd one leaves a default.
 */
/** One session in the TUI's sessions view (not src/session's SessionInfo): read from its session record. */
export interface SessionRow {
  id: number;
  client: string;
  server: string;
  firstFrame: number;
  lastFrame: number;
  startUs: number;
  endUs: number;
  frames: number;
  bytes: number;
  messages: number;
  queries: number;
  errors: number;
  user: string;
  database: string;
  application: string;
  tls: boolean;
  auth: string;
  /** Scalar fields of the session record, stringified, for the sessions view's detail line. */
  extra: Record<string, string>;
}

/** ISO 8601 with up to microseconds to µs since the epoch (NaN when it does not parse). */
export function isoToUs(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(s);
  if (!m) return Date.parse(s) * 1000;
  const base = Date.parse(m[1] + 'Z');
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return base * 1000 + Number(frac);
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

function scalarText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** "SEVERITY SQLSTATE message": one line per failed query (frame-filter.ts splits it back). */
export function errorText(severity: string | null, sqlstate: string, message: string | null): string {
  return `${severity ?? 'ERROR'} ${sqlstate} ${(message ?? '').replace(/\s+/g, ' ')}`;
}

/** The failed query's SQLSTATE and one-line text, or null when it succeeded. */
export function queryError(rec: Record<string, unknown>): { sqlstate: string; text: string } | null {
  const err = rec.error;
  if (!err || typeof err !== 'object') return null;
  const e = err as Record<string, unknown>;
  const sqlstate = scalarText(e.sqlstate ?? e.code) ?? '?';
  return { sqlstate, text: errorText(scalarText(e.severityNonLocalized) ?? scalarText(e.severity), sqlstate, scalarText(e.message)) };
}

/** The session layer's incompleteReason, said for people. */
const INCOMPLETE_WHY: Record<string, string> = {
  gap: 'bytes were lost, so its pairing with the answer is uncertain',
  'connection-end': 'the connection or the capture ended first',
  limit: 'a session-layer limit pushed the request out',
};

/** Command tag, protocol, names and parameters: one line for the views. */
export function queryDetail(rec: Record<string, unknown>): string {
  return joinDetail(queryDetailHead(rec), queryParams(rec));
}

/** queryDetail's line less its parameters: the part that repeats from one run of a statement to the next (the store keeps it once). */
export function queryDetailHead(rec: Record<string, unknown>): string {
  const detail: string[] = [];
  if (typeof rec.command === 'string') detail.push(`command ${rec.command}`);
  if (typeof rec.protocol === 'string') detail.push(`protocol ${rec.protocol}`);
  if (rec.skipped === true) detail.push('skipped after an earlier error');
  if (rec.incomplete === true) detail.push(`incomplete: ${INCOMPLETE_WHY[String(rec.incompleteReason)] ?? 'the record may not be right'}`);
  if (rec.badChecksum === true) detail.push('bad checksum: built from bytes whose TCP checksum was wrong; they may not be what was sent');
  if (rec.rolledBack === true) detail.push('rolled back: it succeeded, but its transaction undid it');
  if (rec.rollbackUnknown === true) detail.push('rollback unknown: written before its transaction ended; whether it was undone is not known');
  if (rec.poolerLeg === 'server') detail.push("a pooler's server leg: its client leg's record counts the statement");
  const leg = rec.serverLeg && typeof rec.serverLeg === 'object' ? (rec.serverLeg as Record<string, unknown>) : null;
  if (leg) detail.push(`ran through the pooler on session ${String(leg.session)} (backend pid ${String(leg.backendPid ?? '?')})`);
  const batch = rec.batch && typeof rec.batch === 'object' ? (rec.batch as Record<string, unknown>) : null;
  if (batch) detail.push(`batch of ${String(batch.size)} answered in one frame (${String(batch.id)}): ${typeof batch.durationMs === 'number' ? batch.durationMs.toFixed(3) : '?'} ms together, none has a time of its own`);
  if (typeof rec.statement === 'string' && rec.statement) detail.push(`statement "${rec.statement}"`);
  if (typeof rec.portal === 'string' && rec.portal) detail.push(`portal "${rec.portal}"`);
  return detail.join('; ');
}

/** The parameters' part of queryDetail ('' when none). */
export function queryParams(rec: Record<string, unknown>): string {
  return Array.isArray(rec.params) && rec.params.length > 0 ? paramsText(rec.params) : '';
}

/** queryDetail from its two parts. */
export function joinDetail(head: string, params: string): string {
  if (params === '') return head;
  return head === '' ? `params ${params}` : `${head}; params ${params}`;
}

/** A session record's addresses, names, authentication and TLS onto the session's row. */
export function applySessionRecord(s: SessionRow, rec: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(rec)) {
    const t = scalarText(v);
    if (t !== null && k !== 'kind') s.extra[k] = t.length > 200 ? t.slice(0, 200) : t;
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      // Nested objects (e.g. tls: {version, cipher}) flatten one level.
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        const t2 = scalarText(v2);
        if (t2 !== null) s.extra[`${k}.${k2}`] = t2.slice(0, 200);
      }
    }
  }
  const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  const endpoint = (v: unknown): string | null => {
    if (!v || typeof v !== 'object') return str(v);
    const e = v as Record<string, unknown>;
    if (typeof e.ip !== 'string' || typeof e.port !== 'number') return null;
    return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
  };
  s.client = endpoint(rec.client) ?? s.client;
  s.server = endpoint(rec.server) ?? s.server;
  s.user = str(rec.user) ?? s.user;
  s.database = str(rec.database) ?? s.database;
  s.application = str(rec.applicationName) ?? s.application;
  const auth = rec.auth && typeof rec.auth === 'object' ? (rec.auth as Record<string, unknown>) : null;
  if (auth) s.auth = str(auth.method) ?? s.auth;
  if (rec.encryption === 'tls' || (rec.tls && typeof rec.tls === 'object')) s.tls = true;
  if (typeof rec.errors === 'number' && rec.errors > s.errors) s.errors = rec.errors;
}

function paramsText(params: unknown[]): string {
  const shown = params.slice(0, 16).map((p) => {
    const v = p && typeof p === 'object' && 'value' in p ? (p as { value: unknown }).value : p;
    if (v === null) return 'NULL';
    const t = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
    return t.length > 80 ? t.slice(0, 79) + '…' : t;
  });
  return `(${shown.join(', ')}${params.length > 16 ? `, … ${params.length} in all` : ''})`;
}
