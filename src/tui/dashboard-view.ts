/**
 * The dashboard (`d`): what one would rather look at than read, drawn with blessed-contrib's
 * charts over capture time: queries and errors per second, p50/p95/p99 latency, bytes per
 * second by direction, sessions active, the top statements by total time (bars, with their
 * normalized text beside), and, live, the kernel's drops and the decoder's backlog. It follows
 * the display filter and a live capture (recomputed at most once a second while data comes).
 */
import blessed from 'blessed';
import contrib, { type LineChart, type BarChart } from 'blessed-contrib';
import type { FrameFilter } from './frame-filter.js';
import { dashboardSeries, type DashboardSeries } from './dashboard-data.js';
import type { StatsAccumulator } from './text-views.js';
import { cells, type Key, type UiContext, type View } from './view.js';
import { bytesText, fit, ms, safe, tagSafe, wireFit } from './text.js';

const EVERY_MS = 1000;
const LIVE_SAMPLES = 120;
/** Terminal rows from which the third row of charts (sessions active, live/errors) is drawn. */
const MIN_ROWS_3 = 23;
/** Chart width from which a legend box is drawn; narrower, the label names the series' colours (the box would cover a third of the plot). */
const LEGEND_FROM = 60;
/** Its width in columns. */
const LEGEND_W = 12;
/** Each series' colour, named once: the charts draw with it and narrow labels name it. */
const C = { queries: 'green', errors: 'red', p50: 'green', p95: 'yellow', p99: 'red', client: 'cyan', server: 'green', sessions: 'cyan', drops: 'red', backlog: 'yellow' } as const;

/** The first label that fits a cell of that width (its border and a space each side). */
function label(width: number, ...choices: string[]): string {
  const room = width - 4;
  return ` ${choices.find((c) => c.length <= room) ?? choices[choices.length - 1]!.slice(0, Math.max(1, room))} `;
}

interface Cell { top: number; left: number; width: number; height: number }

/** A line chart's options fixed where blessed-contrib divides by the largest value: all zeros still draw. */
function setLines(chart: LineChart, series: Array<{ title: string; y: number[]; colour: string }>, x: string[]): void {
  const max = Math.max(0, ...series.flatMap((s) => s.y));
  (chart as unknown as { options: { maxY?: number } }).options.maxY = max > 0 ? undefined : 1;
  chart.setData(series.map((s) => ({ title: s.title, x, y: s.y.map((v) => (Number.isFinite(v) ? v : 0)), style: { line: s.colour } })));
}

export class DashboardView implements View {
  readonly name = 'dashboard';
  readonly boxes: blessed.Widgets.BoxElement[];
  private readonly root: blessed.Widgets.BoxElement;
  private charts: blessed.Widgets.BoxElement[] = [];
  private size = { width: 80, height: 24 };
  private built = '';
  private computedAt = 0;
  private computedVersion = -1;
  private computedFilter = '';
  private data: DashboardSeries | null = null;
  private readonly live: Array<{ t: number; dropped: number; behindS: number }> = [];
  private lastSample = 0;

  constructor(private readonly ctx: UiContext, private readonly filter: () => FrameFilter, private readonly acc: StatsAccumulator) {
    this.root = blessed.box({ tags: true, top: 0, left: 0 });
    this.boxes = [this.root];
    ctx.screen.append(this.root);
  }

  enter(): void {
    this.computedVersion = -1;
    this.ctx.invalidate();
  }

  layout(width: number, height: number): void {
    this.size = { width, height };
    this.root.width = width;
    this.root.height = Math.max(5, height - 1);
  }

  /** Chart cells: two columns, three rows (two only below 23 rows, where the sessions chart gives way). */
  private grid(): Cell[] {
    const w = this.size.width;
    const h = Math.max(8, this.size.height - 2);
    const rows = h >= MIN_ROWS_3 - 2 ? 3 : 2;
    const rowH = Math.floor(h / rows);
    const half = Math.floor(w / 2);
    const out: Cell[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < 2; c++) {
        out.push({ top: 1 + r * rowH, left: c === 0 ? 0 : half, width: c === 0 ? half : w - half, height: r === rows - 1 ? h - r * rowH : rowH });
      }
    }
    return out;
  }

  /** The charts for the current size, made anew (blessed-contrib sizes its canvas when a chart is attached). */
  private build(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    // Appended after construction: a chart makes its canvas on 'attach', which a `parent`
    // option would fire before the chart listens for it.
    const add = <T extends blessed.Widgets.BoxElement>(el: T): T => { this.root.append(el); return el; };
    // Several series: a legend box when wide; narrower, the label names the colours instead.
    const line = (cell: Cell, name: string, colours: string[] = []) => {
      const legend = colours.length > 0 && cell.width >= LEGEND_FROM;
      return add(contrib.line({
        ...cell, label: legend || colours.length === 0 ? label(cell.width, name) : label(cell.width, ...colours),
        showLegend: legend, legend: { width: LEGEND_W },
        border: { type: 'line' }, style: { line: 'yellow', text: 'white', baseline: 'white', border: { fg: 'gray' } },
        xLabelPadding: 3, xPadding: 5, abbreviate: true, numYLabels: 3,
      } as Parameters<typeof contrib.line>[0]));
    };
    const cells = this.grid();
    const [a, b, c, d, e, f] = cells as [Cell, Cell, Cell, Cell, Cell | undefined, Cell | undefined];
    this.charts.push(
      line(a, 'Queries/s, errors/s', [`Queries/s ${C.queries}, errors/s ${C.errors}`, `Queries/s ${C.queries}, errors ${C.errors}`]),
      line(b, 'Latency p50/p95/p99 (ms)', [`Latency ms: p50 ${C.p50}, p95 ${C.p95}, p99 ${C.p99}`, `Latency ms p50/p95/p99: ${C.p50}/${C.p95}/${C.p99}`,
        `Latency p50/95/99: ${C.p50}/${C.p95}/${C.p99}`, `ms p50/p95/p99: ${C.p50}/${C.p95}/${C.p99}`]),
      line(c, 'Bytes/s by direction', [`Bytes/s: client ${C.client}, server ${C.server}`, `Bytes/s client ${C.client}, server ${C.server}`]),
    );
    // Top statements: bars on the left of the cell, their text on the right.
    const barW = Math.max(14, Math.min(4 + 5 * 8, Math.floor(d.width * 0.45)));
    this.charts.push(add(contrib.bar({
      top: d.top, left: d.left, width: barW, height: d.height, label: ' Top, total ms ',
      border: { type: 'line' }, style: { border: { fg: 'gray' } }, barWidth: 3, barSpacing: 5, xOffset: 1, maxHeight: 1,
      barBgColor: 'cyan',
    } as Parameters<typeof contrib.bar>[0])));
    this.charts.push(add(blessed.box({
      top: d.top, left: d.left + barW, width: d.width - barW, height: d.height, tags: true,
      border: { type: 'line' }, style: { border: { fg: 'gray' } }, label: ' Statements ',
    })));
    if (e) this.charts.push(line(e, 'Sessions active'));
    if (f) this.charts.push(this.ctx.live ? line(f, 'Live: drops, backlog (s)', [`Live: drops ${C.drops}, backlog s ${C.backlog}`, `Live drops ${C.drops}, backlog s ${C.backlog}`]) : line(f, 'Errors per second'));
    this.built = `${this.size.width}x${this.size.height}`;
  }

  private sampleLive(): void {
    const now = Date.now();
    if (!this.ctx.live || now - this.lastSample < EVERY_MS) return;
    this.lastSample = now;
    const s = this.ctx.store;
    const behind = /^([\d.]+) s/.exec(s.behind);
    this.live.push({ t: now, dropped: s.dropped ?? 0, behindS: behind ? Number(behind[1]) : 0 });
    if (this.live.length > LIVE_SAMPLES) this.live.shift();
  }

  draw(): void {
    const s = this.ctx.store;
    this.sampleLive();
    if (this.built !== `${this.size.width}x${this.size.height}`) { this.build(); this.computedVersion = -1; }
    const f = this.filter();
    const now = Date.now();
    const stale = s.version !== this.computedVersion || f.expr !== this.computedFilter || f.pending;
    if (!stale || (this.computedVersion >= 0 && now - this.computedAt < EVERY_MS)) {
      if (stale) this.ctx.invalidate();
      return;
    }
    this.computedAt = now;
    this.computedVersion = s.version;
    this.computedFilter = f.expr;
    const first = this.charts[0] as blessed.Widgets.BoxElement;
    const buckets = Math.max(8, Math.min(120, cells(first.width) - 12));
    const d = dashboardSeries(s, f, this.acc, buckets);
    this.data = d;
    this.fill(d);
  }

  private fill(d: DashboardSeries): void {
    const [qps, lat, bytes, bar, text, sess, extra] = this.charts as [LineChart, LineChart, LineChart, BarChart, blessed.Widgets.BoxElement, LineChart | undefined, LineChart | undefined];
    const every = Math.max(1, Math.ceil(d.x.length / Math.max(1, Math.floor(cells(qps.width) / 8))));
    for (const c of [qps, lat, bytes, sess, extra]) if (c) (c as unknown as { options: { showNthLabel: number } }).options.showNthLabel = every;
    setLines(qps, [{ title: 'queries', y: d.qps, colour: C.queries }, { title: 'errors', y: d.errorsPerS, colour: C.errors }], d.x);
    setLines(lat, [{ title: 'p50', y: d.p50, colour: C.p50 }, { title: 'p95', y: d.p95, colour: C.p95 }, { title: 'p99', y: d.p99, colour: C.p99 }], d.x);
    setLines(bytes, [{ title: 'client', y: d.frontendBps, colour: C.client }, { title: 'server', y: d.backendBps, colour: C.server }], d.x);
    // As many bars as the box holds (blessed-contrib draws past its right edge otherwise).
    const bars = Math.max(1, Math.floor((cells(bar.width) - 4) / 5));
    const shownTop = d.top.slice(0, bars);
    bar.setData({ titles: shownTop.map((_, i) => `#${i + 1}`), data: shownTop.map((g) => Math.round(g.total)) });
    const tw = Math.max(10, cells(text.width) - 2);
    // One line each, cut to the box: rank, total time, count, then the normalized statement (escaped).
    const lines = d.top.map((g, i) => wireFit(`#${i + 1} ${ms(g.total)} ×${g.n} ${g.text || '(unknown SQL)'}`, tw));
    if (d.top.length === 0) lines.push('(no completed queries)');
    if (d.topCapped) lines.push('(first 20,000 matching queries)');
    text.setContent(lines.join('\n'));
    if (sess) setLines(sess, [{ title: 'sessions', y: d.sessions, colour: C.sessions }], d.x);
    if (extra && this.ctx.live) {
      const x = this.live.map((p) => new Date(p.t).toISOString().slice(14, 19));
      setLines(extra, [{ title: 'drops', y: this.live.map((p) => p.dropped), colour: C.drops }, { title: 'backlog', y: this.live.map((p) => p.behindS), colour: C.backlog }], x.length > 1 ? x : ['', '']);
    } else if (extra) setLines(extra, [{ title: 'errors', y: d.errorsPerS, colour: C.errors }], d.x);
    const f = this.filter();
    // Plain text cut to the width (filter expression escaped), then "Dashboard" in bold. What
    // matters most comes first, so that 80 columns show it: the count, a chart left out, drops.
    const bucket = d.bucketS < 1 ? `${(d.bucketS * 1000).toFixed(1)} ms` : `${d.bucketS.toFixed(2)} s`;
    const base = `Dashboard · ${d.queries} quer${d.queries === 1 ? 'y' : 'ies'}` +
      (this.size.height < MIN_ROWS_3 ? ` · sessions chart: ${MIN_ROWS_3}+ rows` : '') +
      (this.ctx.live ? ` · drops ${this.ctx.store.dropped ?? 'unknown'}` : '') +
      ` · ${bytesText(this.ctx.store.bytes)} · ${bucket} buckets` + (f.rows ? ` · filter: ${safe(f.expr)}` : '');
    // The key back only where it fits: help (?) says it too.
    const head = base +
      (base.length + ' · Esc back'.length <= this.size.width ? ' · Esc back' : '');
    this.root.setContent(`{bold}Dashboard{/bold}${tagSafe(fit(head, this.size.width).slice('Dashboard'.length))}`);
  }

  key(_k: Key): boolean {
    return false;
  }

  /** The figures last drawn (tests read them). */
  series(): DashboardSeries | null {
    return this.data;
  }
}
