/**
 * What a verdict or a report rests on, for `check` and `stats`: how much of the capture was
 * seen. Sessions that could not be decoded (TLS without keys, GSS encryption, a connection whose
 * start was missed so it never framed) hide their queries entirely; damage (lost bytes, resyncs,
 * a file cut short) hides some. Both are counted from the records the pipeline already emits
 * (session and anomaly records), so an NDJSON export is judged as its capture was.
 *
 * Also the `-Y` selection both commands share: query records are kept when they match, session
 * records when they match or when one of their queries did (a filter on `sql` or `error` keeps
 * the sessions those queries ran in).
 */
import type { AnomalyCode } from '../core/anomaly.js';
import type { Predicate } from '../filter/index.js';
import type { OutRecord } from '../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../session/schema.js';

/**
 * Anomaly codes that mean the records may be missing or wrong, not only that something odd was
 * seen: bytes lost or skipped, a file or packet cut short, a limit that gave data up.
 */
const DAMAGE_CODES: ReadonlySet<string> = new Set<AnomalyCode>([
  'capture-truncated', 'capture-corrupt', 'packet-truncated', 'malformed-packet', 'ip-fragment',
  'gap', 'buffer-limit', 'connection-limit',
  'resync', 'malformed-message', 'message-too-large', 'request-limit', 'statement-limit', 'memory-limit',
]);

export interface DamageSummary {
  /** Damage anomalies, by code. */
  anomalies: number;
  byCode: Record<string, number>;
  /** Bytes the gap and resync anomalies say were lost or skipped. */
  bytesLost: number;
  /** Frame of the first damage anomaly (null: not tied to a frame, e.g. the end of the file). */
  firstFrame: number | null;
  /** Query records marked incomplete (their outcome was not seen in full), and why (incompleteReason). */
  incompleteQueries: number;
  incompleteReasons: Record<string, number>;
  /** Query records built from bytes whose TCP checksum was wrong (badChecksum): what they say could not be verified. */
  badChecksumQueries: number;
}

export interface UndecodedSummary {
  sessions: number;
  /** Why, with how many sessions each. */
  reasons: Record<string, number>;
  /** The first few such sessions' ids. */
  examples: number[];
}

/** Why a session's queries could not be seen, or null when they could. */
function undecodedReason(s: SessionRecord): string | null {
  if (s.cancel !== null) return null;
  if (s.encryption === 'gss') return 'GSS-encrypted';
  if (s.encryption === 'tls' && s.tls?.decrypted !== true) {
    const note = s.tls?.note ?? null;
    if (note === null || /no key/.test(note)) return 'TLS without a key for it';
    if (/handshake/.test(note)) return 'TLS whose handshake was not captured';
    if (/wrong key/.test(note)) return 'TLS the key log does not decrypt';
    return 'TLS not decrypted';
  }
  if (s.frontend.messages + s.backend.messages === 0 && s.anomalies > 0) return 'never framed (its start was not captured)';
  return null;
}

const EXAMPLES = 10;

/** Counts damage and undecodable sessions from the record stream. */
export class Coverage {
  private readonly byCode: Record<string, number> = {};
  private damageCount = 0;
  private bytesLost = 0;
  private firstFrame: number | null = null;
  private incomplete = 0;
  private readonly incompleteReasons: Record<string, number> = {};
  private badChecksum = 0;
  private undecodedCount = 0;
  private readonly reasons: Record<string, number> = {};
  private readonly examples: number[] = [];
  /** Session records seen: none at all means the input could not say what was undecodable. */
  sessions = 0;

  record(rec: OutRecord): void {
    if (rec.kind === 'anomaly') this.anomaly(rec.code, rec.frame, rec.skipped);
    else if (rec.kind === 'session') this.session(rec as unknown as SessionRecord);
    else if (rec.kind === 'query') {
      const q = rec as unknown as QueryRecord;
      if (q.badChecksum === true) this.badChecksum++;
      if (!q.incomplete) return;
      this.incomplete++;
      const why = q.incompleteReason ?? 'unknown';
      this.incompleteReasons[why] = (this.incompleteReasons[why] ?? 0) + 1;
    }
  }

  anomaly(code: string, frame: number | null, skipped: number | undefined): void {
    if (!DAMAGE_CODES.has(code)) return;
    this.damageCount++;
    this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    if ((code === 'gap' || code === 'resync') && typeof skipped === 'number') this.bytesLost += skipped;
    if (this.firstFrame === null && frame !== null) this.firstFrame = frame;
  }

  session(s: SessionRecord): void {
    this.sessions++;
    const why = undecodedReason(s);
    if (why === null) return;
    this.undecodedCount++;
    this.reasons[why] = (this.reasons[why] ?? 0) + 1;
    if (this.examples.length < EXAMPLES) this.examples.push(s.session);
  }

  get damaged(): boolean {
    return this.damageCount > 0 || this.incomplete > 0 || this.badChecksum > 0;
  }

  damage(): DamageSummary | null {
    if (!this.damaged) return null;
    return {
      anomalies: this.damageCount, byCode: { ...this.byCode }, bytesLost: this.bytesLost, firstFrame: this.firstFrame,
      incompleteQueries: this.incomplete, incompleteReasons: { ...this.incompleteReasons }, badChecksumQueries: this.badChecksum,
    };
  }

  undecoded(): UndecodedSummary {
    return { sessions: this.undecodedCount, reasons: { ...this.reasons }, examples: [...this.examples] };
  }
}

/** "1 capture-truncated, 2 gap (1234 bytes lost or skipped, first at frame 17); 3 queries incomplete (3 gap); 1 query built from bytes with a wrong TCP checksum". */
export function describeDamage(d: DamageSummary): string {
  const parts: string[] = [];
  if (d.anomalies > 0) {
    const codes = Object.keys(d.byCode).sort().map((k) => `${d.byCode[k]} ${k}`).join(', ');
    const lost = d.bytesLost > 0 ? `${d.bytesLost} bytes lost or skipped` : '';
    const from = d.firstFrame !== null ? `first at frame ${d.firstFrame}` : '';
    parts.push(codes + (lost || from ? ` (${[lost, from].filter((x) => x).join(', ')})` : ''));
  }
  if (d.incompleteQueries > 0) {
    const why = Object.keys(d.incompleteReasons).sort().map((k) => `${d.incompleteReasons[k]} ${k}`).join(', ');
    parts.push(`${d.incompleteQueries} quer${d.incompleteQueries === 1 ? 'y' : 'ies'} incomplete (${why})`);
  }
  if (d.badChecksumQueries > 0) {
    parts.push(`${d.badChecksumQueries} quer${d.badChecksumQueries === 1 ? 'y' : 'ies'} built from bytes with a wrong TCP checksum`);
  }
  return parts.join('; ');
}

/** "3 sessions (2 TLS without a key for it, 1 GSS-encrypted; sessions 4, 7, 9)". */
export function describeUndecoded(u: UndecodedSummary): string {
  const why = Object.keys(u.reasons).sort().map((k) => `${u.reasons[k]} ${k}`).join(', ');
  const ids = `session${u.examples.length === 1 ? '' : 's'} ${u.examples.join(', ')}${u.sessions > u.examples.length ? ', ...' : ''}`;
  return `${u.sessions} session${u.sessions === 1 ? '' : 's'} (${why}; ${ids})`;
}

/** Sessions remembered as having a query that passed the filter (past this, sessions are judged by the filter alone). */
const MAX_MATCHED_SESSIONS = 100_000;

/** The `-Y` selection of query and session records (see the file comment). */
export class Selection {
  private readonly matched = new Set<number>();
  constructor(private readonly filter: Predicate) {}

  query(rec: QueryRecord): boolean {
    if (!this.filter(rec)) return false;
    if (this.matched.size < MAX_MATCHED_SESSIONS) this.matched.add(rec.session);
    return true;
  }

  session(rec: SessionRecord): boolean {
    const hit = this.matched.delete(rec.session);
    return hit || this.filter(rec);
  }
}
