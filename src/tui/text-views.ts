/**
 * Read-only text screens: statistics (the `stats` figures from the store) and help (every key).
 */
import blessed from 'blessed';
import { QF_ERROR, type TuiStore } from './store.js';
import { LatencySketch } from '../sinks/stats-latency.js';
import { fallbackNormalize } from '../sinks/stats-normalize.js';
import { cells, paneOptions, type Key, type UiContext, type View, type ViewName } from './view.js';
import { bytesText, fit, fitLeft, ms, safe, tagSafe, wire, wireFit } from './text.js';

export abstract class TextView implements View {
  abstract readonly name: ViewName;
  readonly boxes: blessed.Widgets.BoxElement[];
  protected readonly box: blessed.Widgets.BoxElement;
  private top = 0;
  private height = 10;
  protected width = 80;
  private lines: string[] = [];

  constructor(protected readonly ctx: UiContext, private label: string) {
    this.box = blessed.box(paneOptions(label));
    this.boxes = [this.box];
    ctx.screen.append(this.box);
    this.box.on('wheeldown', () => { this.top += 3; this.ctx.invalidate(); });
    this.box.on('wheelup', () => { this.top = Math.max(0, this.top - 3); this.ctx.invalidate(); });
  }
  enter(): void {
    this.top = 0;
    this.ctx.invalidate();
  }
  layout(width: number, height: number): void {
    this.box.position.top = 0;
    this.box.position.left = 0;
    this.box.width = width;
    this.box.height = Math.max(5, height - 1);
    this.height = Math.max(1, cells(this.box.height) - 2);
    this.width = Math.max(20, width - 2);
  }
  protected abstract content(): string[];
  /** Changes the title (drawn escaped, so it may hold wire text). */
  protected setLabel(text: string): void {
    this.label = text;
  }
  draw(): void {
    this.lines = this.content();
    this.top = Math.max(0, Math.min(this.top, this.lines.length - this.height));
    this.box.setLabel(` ${tagSafe(safe(this.label))} `);
    this.box.setContent(this.lines.slice(this.top, this.top + this.height).join('\n'));
  }
  key(k: Key): boolean {
    switch (k) {
      case 'j': case 'down': this.top++; return true;
      case 'k': case 'up': this.top = Math.max(0, this.top - 1); return true;
      case 'pagedown': case ' ': case 'C-d': this.top += this.height; return true;
      case 'pageup': case 'C-u': this.top = Math.max(0, this.top - this.height); return true;
      case 'g': case 'home': this.top = 0; return true;
      case 'G': case 'end': this.top = this.lines.length; return true;
      default: return false;
    }
  }
}

/**
 * The statistics, kept incrementally: each query is folded in once (S no longer walks every
 * query each time it opens), in slices from the render timer so a quarter-million queries
 * never stop the keyboard. Statements are grouped by their normalized text (constants replaced
 * by $n) with `pgsniff stats`'s literal-stripping normalizer, not its parser: the parser costs
 * about a millisecond per distinct text, and a capture of a quarter-million distinct literal
 * texts would keep the view computing for minutes.
 */
export class StatsAccumulator {
  done = 0;
  readonly latency = new LatencySketch();
  readonly groups = new Map<string, StatementGroup>();

  constructor(private readonly store: TuiStore) {}

  /** Folds in queries for up to `budgetMs`; true while some are left. */
  step(budgetMs = 25): boolean {
    const s = this.store;
    const t0 = Date.now();
    while (this.done < s.queryCount) {
      const q = this.done++;
      const d = s.qDur.get(q);
      if (!Number.isNaN(d)) this.latency.add(d);
      const sql = s.qSql.get(q);
      const norm = sql === '' ? null : fallbackNormalize(sql);
      const key = norm ? norm.text : '';
      let g = this.groups.get(key) ?? (this.groups.size >= MAX_GROUPS ? this.groups.get(OTHER) : undefined);
      if (!g) {
        const k = this.groups.size >= MAX_GROUPS ? OTHER : key;
        g = { text: k === OTHER ? '(other statements: too many distinct ones)' : key, n: 0, total: 0, max: 0, errors: 0 };
        this.groups.set(k, g);
      }
      g.n++;
      if (!Number.isNaN(d)) { g.total += d; g.max = Math.max(g.max, d); }
      if (s.qFlags.get(q) & QF_ERROR) g.errors++;
      if ((q & 1023) === 0 && Date.now() - t0 > budgetMs) break;
    }
    return this.done < s.queryCount;
  }
}

export interface StatementGroup { text: string; n: number; total: number; max: number; errors: number }

const MAX_GROUPS = 10_000;
const OTHER = '\u0000other';

function statsLines(s: TuiStore, acc: StatsAccumulator, width: number): string[] {
  const out: string[] = [];
  const span = Number.isFinite(s.lastUs - s.baseUs) ? (s.lastUs - s.baseUs) / 1e6 : 0;
  out.push('{bold}Capture{/bold}');
  out.push(`  packets ${s.frameCount}   bytes ${bytesText(s.bytes)}   duration ${span.toFixed(3)} s   sessions ${s.sessions.size}`);
  out.push(`  messages ${s.messageCount}   queries ${s.queryCount}   failed ${s.queryErrors}   anomalies ${s.anomalyCount}` +
    (s.dropped !== null ? `   kernel drops ${s.dropped}` : ''));
  out.push(`  memory: index ${bytesText(s.indexBytes())}, message bodies ${bytesText(s.cache.usedBytes)} of ${bytesText(s.cache.budget)} (${s.cache.evicted} evicted)`);
  if (acc.done < s.queryCount) out.push(`  {yellow-fg}computing: ${acc.done} of ${s.queryCount} queries (${Math.floor((100 * acc.done) / Math.max(1, s.queryCount))}%){/yellow-fg}`);
  out.push('');

  const l = acc.latency;
  out.push(`{bold}Query latency{/bold}${l.count > 0 && !l.isExact ? ' (percentiles from a histogram, within 1 %)' : ''}`);
  if (l.count === 0) out.push('  (no completed queries)');
  else {
    out.push(`  count ${l.count}   p50 ${ms(l.quantile(0.5))}   p90 ${ms(l.quantile(0.9))}   p95 ${ms(l.quantile(0.95))}` +
      `   p99 ${ms(l.quantile(0.99))}   max ${ms(l.quantile(1))}`);
  }
  out.push('');

  // Statements by normalized text: how often, total and worst time (the N+1 and slow-query questions).
  const sqlW = Math.max(10, width - 48);
  const table = (title: string, rows: StatementGroup[]) => {
    out.push(`{bold}${title}{/bold}`);
    out.push(`  ${fitLeft('count', 7)} ${fitLeft('total', 11)} ${fitLeft('max', 11)} ${fitLeft('errors', 7)}  SQL (normalized)`);
    for (const e of rows) {
      out.push(`  ${fitLeft(String(e.n), 7)} ${fitLeft(ms(e.total), 11)} ${fitLeft(ms(e.max), 11)} ${fitLeft(String(e.errors), 7)}  ${wireFit(e.text || '(unknown SQL)', sqlW)}`);
    }
    out.push('');
  };
  const all = [...acc.groups.values()];
  table('Most frequent statements', top(all, (g) => g.n));
  table('Slowest statements (total time)', top(all, (g) => g.total));

  out.push('{bold}Errors by SQLSTATE{/bold}');
  if (s.sqlstateCounts.size === 0) out.push('  (none)');
  for (const [state, n] of [...s.sqlstateCounts.entries()].sort((a, b) => b[1] - a[1])) out.push(`  ${wireFit(state, 8)} ${n}`);
  out.push('');

  out.push('{bold}Messages by type{/bold}');
  const types = s.types.names.map((name, id) => [name, s.typeCounts[id] ?? 0] as const).sort((a, b) => b[1] - a[1]);
  for (const [name, n] of types) out.push(`  ${wireFit(name, 28)} ${fitLeft(String(n), 10)}`);
  if (s.anomalyCount > 0) {
    out.push('');
    out.push('{bold}Anomalies by code{/bold}');
    for (const [code, n] of s.anomalyCodeCounts()) out.push(`  ${wireFit(s.anomalyCodes.name(code), 28)} ${fitLeft(String(n), 10)}`);
  }
  return out;
}

/** The ten biggest by `key` (one pass, no sort of every group). */
function top<T>(xs: T[], key: (x: T) => number, n = 10): T[] {
  const best: T[] = [];
  for (const x of xs) {
    if (best.length < n || key(x) > key(best[best.length - 1] as T)) {
      best.push(x);
      best.sort((a, b) => key(b) - key(a));
      if (best.length > n) best.pop();
    }
  }
  return best;
}

const STATS_EVERY_MS = 1000;

export class StatsView extends TextView {
  readonly name = 'stats';
  constructor(ctx: UiContext, private readonly acc: StatsAccumulator) {
    super(ctx, 'Statistics');
  }
  private cached: string[] = [];
  private cachedAt = 0;
  private cachedVersion = -1;
  private cachedWidth = 0;
  private cachedDone = -1;
  protected content(): string[] {
    const s = this.ctx.store;
    const pending = this.acc.step();
    if (pending) this.ctx.invalidate();
    // The text itself is rebuilt at most once a second while a capture loads.
    const now = Date.now();
    const stale = s.version !== this.cachedVersion || this.width !== this.cachedWidth || this.acc.done !== this.cachedDone;
    if (stale && (now - this.cachedAt >= STATS_EVERY_MS || !pending || this.cachedVersion < 0 || this.width !== this.cachedWidth)) {
      this.cached = statsLines(s, this.acc, this.width);
      this.cachedAt = now;
      this.cachedVersion = s.version;
      this.cachedWidth = this.width;
      this.cachedDone = this.acc.done;
    }
    return this.cached;
  }
  override enter(): void {
    this.cachedVersion = -1;
    super.enter();
  }
}

/** Every key, by layer. Kept here, next to nothing else, so the help and the README agree. */
export const HELP: Array<[string, string]> = [
  ['', '{bold}Anywhere{/bold}'],
  ['?', 'this help'],
  ['/', 'display filter (the -Y language; shown red while invalid; empty clears; Tab completes a field name); frames, queries and sessions follow it'],
  ['w', 'write the frames the filter shows to a pcap file (the capture\'s link type)'],
  ['W', 'write the records the filter matches as NDJSON, as read --json -Y does (queries view: the query records)'],
  [':', 'find: a filter expression or text in the Info column; a number goes to that frame'],
  ['n / N', 'next / previous frame matching the find (Esc stops a long one)'],
  ['T', 'Time column: since the first packet, time of day (UTC), since the previous frame'],
  ['t', 'per-session timeline'],
  ['s', 'sessions list'],
  ['q', 'queries list'],
  ['S', 'statistics'],
  ['d', 'dashboard: charts of queries, latency, bytes, statements, sessions (follows the filter)'],
  ['F', 'back to the frame list, from any view or pane'],
  ['f', 'follow the session of the selection (messages of one connection, both directions)'],
  ['Esc', 'back to the previous view (from the main view: clear the message)'],
  ['Ctrl-C', 'cancel a load in progress (or stop a live capture); again: quit'],
  ['Q', 'quit'],
  ['', ''],
  ['', '{bold}Lists (frames, sessions, queries, follow, timeline rows){/bold}'],
  ['j / k, ↓ / ↑', 'move one row'],
  ['Ctrl-D / Ctrl-U', 'half a page down / up'],
  ['PgDn / PgUp, Space, Ctrl-F / Ctrl-B', 'page down / up'],
  ['g / G, Home / End', 'first / last row (live, in frames and follow: G follows new rows again)'],
  ['Enter', 'frames: go to the details pane; sessions: first frame; queries, follow: that frame'],
  ['mouse', 'click selects (click again: Enter), wheel scrolls'],
  ['', ''],
  ['', '{bold}Main view{/bold}'],
  ['Tab / Shift-Tab', 'next / previous pane (frames, details, bytes)'],
  ['Enter, Space', 'details: expand or collapse a node (on a query\'s frames: go to the request)'],
  ['l / h, → / ←', 'details: expand / collapse (or go to the parent)'],
  ['* or E', 'details: expand everything under the node'],
  ['Enter or v', 'details, on a value: the value viewer (whole, wrapped, scrollable; JSON indented)'],
  ['a / A', 'details, on a field: apply as filter (its key == its value) / prepare it in the prompt'],
  ['+ / -', 'grow / shrink the focused pane'],
  ['z', 'show the focused pane alone (again: all three)'],
  ['j / k, g / G', 'bytes: scroll a line; first / last line'],
  ['', ''],
  ['', '{bold}Queries view{/bold}'],
  ['1 2 3 4', 'sort by time, latency, rows, errors'],
  ['r', 'reverse the order'],
  ['', ''],
  ['', '{bold}Timeline{/bold}'],
  ['h / l, ← / →', 'previous / next query bar in the session'],
  ['H / L', 'first / last bar'],
  ['+ / - / 0', 'zoom in / out around the selected bar (or the spot panned to) / whole capture'],
  ['< / >', 'pan half a window earlier / later, anywhere'],
  ['[ / ]', 'previous / next idle period (no query in flight in any session)'],
  ['e / x', 'next failed query / slowest query (any session)'],
  ['Enter', 'go to the query\'s request frame'],
];

export class HelpView extends TextView {
  readonly name = 'help';
  constructor(ctx: UiContext) {
    super(ctx, 'Help: keys (Esc to go back)');
  }
  protected content(): string[] {
    const out: string[] = [];
    for (const [k, what] of HELP) out.push(k === '' ? what : `  {cyan-fg}${fit(k, 36)}{/cyan-fg} ${what}`);
    out.push('', 'Colours in lists: cyan frontend (client → server), green backend, red errors, yellow anomalies and notices.');
    return out;
  }
}
