/**
 * The dashboard's series, computed from the store over capture time: queries, errors and
 * latency percentiles per bucket, bytes by direction, sessions active, the top statements by
 * total time. Only frames and queries the display filter shows count (a query counts when the
 * frame that completed it is shown). Pure: the view draws what this returns.
 */
import { FF_FRONTEND, QF_ERROR, QF_NO_DURATION, type TuiStore } from './store.js';
import type { FrameFilter } from './frame-filter.js';
import type { StatementGroup, StatsAccumulator } from './text-views.js';
import { fallbackNormalize } from '../sinks/stats-normalize.js';

export interface DashboardSeries {
  /** Bucket start, seconds since the first packet (the x labels). */
  x: string[];
  bucketS: number;
  qps: number[];
  errorsPerS: number[];
  p50: number[];
  p95: number[];
  p99: number[];
  /** Bytes per second, client to server and server to client. */
  frontendBps: number[];
  backendBps: number[];
  /** Sessions open during each bucket. */
  sessions: number[];
  top: StatementGroup[];
  /** Queries behind the figures (after the filter), and whether the statements were capped. */
  queries: number;
  topCapped: boolean;
}

/** Filtered queries whose statements are grouped at most (normalizing is the costly part). */
const TOP_SAMPLE = 20_000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export function dashboardSeries(s: TuiStore, filter: FrameFilter, acc: StatsAccumulator, buckets: number): DashboardSeries {
  const n = Math.max(2, buckets);
  const [t0, last] = s.timeSpan();
  const t1 = Number.isFinite(last) ? last : t0;
  // No packets yet (live, before any traffic): one-second buckets, not NaN on the axis and in the title.
  const spanUs = Number.isFinite(t0) ? Math.max(1, t1 - t0) : n * 1e6;
  const bucketUs = spanUs / n;
  const bucketS = bucketUs / 1e6;
  const at = (us: number) => Math.min(n - 1, Math.max(0, Math.floor((us - t0) / bucketUs)));
  const zero = () => new Array<number>(n).fill(0);
  const out: DashboardSeries = {
    x: Array.from({ length: n }, (_, i) => ((i * bucketUs) / 1e6).toFixed(bucketS < 0.1 ? 3 : 1)),
    bucketS, qps: zero(), errorsPerS: zero(), p50: zero(), p95: zero(), p99: zero(),
    frontendBps: zero(), backendBps: zero(), sessions: zero(), top: [], queries: 0, topCapped: false,
  };
  if (!Number.isFinite(t0)) return out;
  const shown = (fi: number) => !filter.rows || filter.positionOf(fi) >= 0;
  // Bytes: every frame shown, by the direction of its messages (a frame from the client when
  // it carries frontend messages or comes from the session's client address).
  const count = filter.count();
  for (let pos = 0; pos < count; pos++) {
    const fi = filter.at(pos);
    const b = at(s.fTime.get(fi));
    const sess = s.fSess.get(fi);
    const info = sess >= 0 ? s.sessions.get(sess) : undefined;
    const fromClient = (s.fFlags.get(fi) & FF_FRONTEND) !== 0 || (info !== undefined && s.endpoints.name(s.fSrc.get(fi)) === info.client);
    if (fromClient) out.frontendBps[b]! += s.fLen.get(fi);
    else out.backendBps[b]! += s.fLen.get(fi);
  }
  const lat: number[][] = Array.from({ length: n }, () => []);
  const picked: number[] = [];
  for (let q = 0; q < s.queryCount; q++) {
    if (filter.rows) {
      const fi = s.frameIndexOf(s.qEndFrame.get(q));
      if (fi < 0 || !shown(fi)) continue;
      if (picked.length < TOP_SAMPLE) picked.push(q);
      else out.topCapped = true;
    }
    out.queries++;
    const end = s.qEnd.get(q);
    const b = at(Number.isFinite(end) ? end : s.qStart.get(q));
    out.qps[b]!++;
    if (s.qFlags.get(q) & QF_ERROR) out.errorsPerS[b]!++;
    const d = s.qDur.get(q);
    if (!Number.isNaN(d) && !(s.qFlags.get(q) & QF_NO_DURATION)) lat[b]!.push(d);
  }
  for (let i = 0; i < n; i++) {
    const l = (lat[i] as number[]).sort((a, b) => a - b);
    out.p50[i] = quantile(l, 0.5);
    out.p95[i] = quantile(l, 0.95);
    out.p99[i] = quantile(l, 0.99);
    out.qps[i] = (out.qps[i] as number) / bucketS;
    out.errorsPerS[i] = (out.errorsPerS[i] as number) / bucketS;
    out.frontendBps[i] = (out.frontendBps[i] as number) / bucketS;
    out.backendBps[i] = (out.backendBps[i] as number) / bucketS;
  }
  for (const info of s.sessions.values()) {
    if (!Number.isFinite(info.startUs) || info.frames === 0) continue;
    const first = s.frameIndexOf(info.firstFrame);
    if (filter.rows && (first < 0 || !sessionShown(s, filter, info.id))) continue;
    const end = Number.isFinite(info.endUs) ? info.endUs : t1;
    for (let b = at(info.startUs); b <= at(end); b++) out.sessions[b]!++;
  }
  out.top = topStatements(s, filter.rows ? picked : null, acc);
  return out;
}

/** A session counts under a filter when any frame of it is shown (its message list's frames, first one found). */
function sessionShown(s: TuiStore, filter: FrameFilter, id: number): boolean {
  const list = s.sessionMessages(id);
  if (!list) return false;
  for (let i = 0; i < list.n; i += Math.max(1, Math.floor(list.n / 64))) {
    const fi = s.frameIndexOf(s.mFrame.get(list.get(i)));
    if (fi >= 0 && filter.positionOf(fi) >= 0) return true;
  }
  return false;
}

/** Statements by total time: the statistics' groups when nothing is filtered, else the filtered queries grouped here. */
function topStatements(s: TuiStore, picked: number[] | null, acc: StatsAccumulator, n = 8): StatementGroup[] {
  let groups: Iterable<StatementGroup>;
  if (picked === null) {
    acc.step();
    groups = acc.groups.values();
  } else {
    const m = new Map<string, StatementGroup>();
    for (const q of picked) {
      const sql = s.qSql.get(q);
      const key = sql === '' ? '' : fallbackNormalize(sql).text;
      let g = m.get(key);
      if (!g) m.set(key, (g = { text: key, n: 0, total: 0, max: 0, errors: 0 }));
      g.n++;
      const d = s.qDur.get(q);
      if (!Number.isNaN(d)) { g.total += d; g.max = Math.max(g.max, d); }
      if (s.qFlags.get(q) & QF_ERROR) g.errors++;
    }
    groups = m.values();
  }
  return [...groups].sort((a, b) => b.total - a.total).slice(0, n);
}
