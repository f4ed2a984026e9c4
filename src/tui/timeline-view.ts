/**
 * Per-session timeline, drawn with text cells: one row per session over capture time, each
 * query a bar from request to completion (green ok, red failed, yellow never completed), the
 * connection's lifetime as a thin line behind. h/l walk the bars of a row, j/k the sessions,
 * +/- zoom around the selected bar (or the spot panned to), < / > pan half a window anywhere,
 * [ / ] jump to the previous / next idle period (no query in flight in any session), Enter
 * jumps to the query's request frame. Live, the window keeps the newest time at its right edge.
 *
 * Busy traffic puts many bars in one cell: a cell's height then says how many queries were in
 * flight there (▁ to █, against the busiest cell of the row), while a cell holding a failed
 * query stays red and full, one holding a slow one (above the capture's p99) magenta and full,
 * and the selected bar white: the few that matter are never averaged away. Two bars in
 * neighbouring cells would read as one: the first one's last cell is then a left half block
 * (▌), so the gap between them shows.
 */
import blessed from 'blessed';
import { QF_BATCH, QF_ERROR, QF_INCOMPLETE, QF_NO_DURATION, QF_ROLLED_BACK, type TuiStore } from './store.js';
import { Cursor, cells, paneOptions, type Key, type UiContext, type View } from './view.js';
import { fit, ms, plural, wireFit } from './text.js';

const LABEL_W = 26;
const C_NONE = 0;
const C_LIFE = 1;
const C_OK = 2;
const C_ERR = 3;
const C_PENDING = 4;
const C_SEL = 5;
const C_SLOW = 6;
const STYLE = ['', 'gray-fg', 'green-fg', 'red-fg', 'yellow-fg', 'white-fg', 'magenta-fg'];
const CHAR = [' ', '─', '█', '█', '█', '▓', '█'];
/** Which colour wins a shared cell: the selection, then failures, slow queries, unfinished ones, the rest. */
const RANK = [0, 1, 3, 5, 4, 6, 4.5];
const HEIGHTS = '▁▂▃▄▅▆▇█';
/** A bar's last cell when another bar begins in the next one: the right half is the gap. */
const GAP_END = '▌';
/** Fewer queries than this have no "slowest 1%". */
const SLOW_MIN_QUERIES = 20;

export class TimelineView implements View {
  readonly name = 'timeline';
  readonly boxes: blessed.Widgets.BoxElement[];
  private readonly box: blessed.Widgets.BoxElement;
  private readonly rows = new Cursor();
  /** Position of the selected bar in the selected session's query list. */
  private bar = 0;
  private zoom = 1;
  private cells = new Uint8Array(0);
  /** Queries in flight in each cell of the row being drawn. */
  private counts = new Uint32Array(0);
  /** Bars of the row beginning / ending in each cell (inside the window). */
  private starts = new Uint32Array(0);
  private ends = new Uint32Array(0);
  /** The window's centre when panned or jumped to (µs); null: it follows the selected bar. */
  private anchor: number | null = null;
  /** Latency above which a query counts as slow (the capture's p99), and the query count it was computed at. */
  private slowMs = Infinity;
  private slowAt = -1;
  private slowTime = 0;
  /** Query indices by start time, for the idle periods (rebuilt when the count moved). */
  private byStart: Uint32Array | null = null;
  private plotW = 10;
  private winStart = 0;
  private winSpan = 1;

  constructor(private readonly ctx: UiContext) {
    this.box = blessed.box(paneOptions('Timeline'));
    this.boxes = [this.box];
    ctx.screen.append(this.box);
    this.box.on('click', (data: { x: number; y: number }) => this.click(data.x, data.y));
    this.box.on('wheeldown', () => { this.rows.move(1); this.ctx.invalidate(); });
    this.box.on('wheelup', () => { this.rows.move(-1); this.ctx.invalidate(); });
  }

  enter(): void {
    this.ctx.invalidate();
  }

  layout(width: number, height: number): void {
    this.box.position.top = 0;
    this.box.position.left = 0;
    this.box.width = width;
    this.box.height = Math.max(6, height - 1);
    // Inside the border: axis line, rows, a blank line and two lines about the selection.
    this.rows.height = Math.max(1, cells(this.box.height) - 2 - 4);
    this.plotW = Math.max(10, width - 2 - LABEL_W - 1);
    this.rows.clamp();
  }

  private sessionId(pos: number): number {
    return this.ctx.store.sessionOrder[pos] ?? -1;
  }

  private selectedQuery(): number {
    const list = this.ctx.store.sessionQueryList(this.sessionId(this.rows.sel));
    if (!list || list.n === 0) return -1;
    this.bar = Math.max(0, Math.min(this.bar, list.n - 1));
    return list.get(this.bar);
  }

  private window(s: TuiStore): void {
    const [first, last] = s.timeSpan();
    const t0 = Number.isFinite(first) ? first : 0;
    const t1 = Math.max(Number.isFinite(last) ? last : t0, t0 + 1);
    const full = t1 - t0;
    const span = Math.max(1, full / this.zoom);
    let start: number;
    const q = this.selectedQuery();
    const list = s.sessionQueryList(this.sessionId(this.rows.sel));
    const onLastBar = !list || this.bar >= list.n - 1;
    if (this.anchor !== null) {
      start = this.anchor - span / 2;
    } else if (this.ctx.live && !s.ended && (this.zoom === 1 || q < 0 || onLastBar)) {
      // Live: newest time on the right edge, unless the user went back to an older bar.
      start = t1 - span;
    } else if (q >= 0 && this.zoom > 1) {
      start = (s.qStart.get(q) + s.qEnd.get(q)) / 2 - span / 2;
    } else {
      start = t0;
    }
    this.winStart = Math.max(t0, Math.min(start, t1 - span));
    this.winSpan = span;
  }

  private col(us: number): number {
    return Math.floor(((us - this.winStart) / this.winSpan) * this.plotW);
  }

  draw(): void {
    const s = this.ctx.store;
    this.rows.setCount(s.sessionOrder.length);
    this.window(s);
    const W = this.plotW;
    if (this.cells.length !== W) {
      this.cells = new Uint8Array(W);
      this.counts = new Uint32Array(W);
      this.starts = new Uint32Array(W);
      this.ends = new Uint32Array(W);
    }
    this.updateSlow(s);
    const selQ = this.selectedQuery();
    const lines: string[] = [this.axis(s)];
    const end = Math.min(this.rows.count, this.rows.top + this.rows.height);
    for (let pos = this.rows.top; pos < end; pos++) {
      const id = this.sessionId(pos);
      const info = s.sessions.get(id);
      this.cells.fill(C_NONE);
      this.counts.fill(0);
      this.starts.fill(0);
      this.ends.fill(0);
      if (info && Number.isFinite(info.startUs)) this.paint(this.col(info.startUs), this.col(info.endUs), C_LIFE);
      const list = s.sessionQueryList(id);
      if (list) {
        const winEnd = this.winStart + this.winSpan;
        for (let k = 0; k < list.n; k++) {
          const q = list.get(k);
          if (s.qEnd.get(q) < this.winStart || s.qStart.get(q) > winEnd) continue;
          const f = s.qFlags.get(q);
          const c = q === selQ ? C_SEL : f & QF_ERROR ? C_ERR : f & QF_INCOMPLETE || (f & QF_NO_DURATION && !(f & QF_BATCH)) ? C_PENDING
            : s.qDur.get(q) > this.slowMs ? C_SLOW : C_OK;
          this.paint(this.col(s.qStart.get(q)), this.col(s.qEnd.get(q)), c);
        }
      }
      // Each row says whose it is: client port, user, application.
      const port = info?.client ? info.client.slice(info.client.lastIndexOf(':') + 1) : '';
      const who = info ? `#${id} :${port} ${info.user || '?'}${info.application ? `/${info.application}` : ''}` : `#${id}`;
      let label = wireFit(who, LABEL_W);
      if (pos === this.rows.sel) label = `{inverse}${label}{/inverse}`;
      lines.push(`${label} ${this.rowText()}`);
    }
    if (this.rows.count === 0) lines.push('  (no sessions yet)');
    while (lines.length < this.rows.height + 1) lines.push('');
    lines.push('', ...this.selectionText(selQ));
    const z = this.zoom > 1 ? ` zoom ×${this.zoom}` : '';
    const slow = Number.isFinite(this.slowMs) ? `, slow > ${ms(this.slowMs)}` : '';
    const pan = this.anchor !== null ? ', panned (h/l: back to the bar)' : '';
    // The label sits on the border: cut to it (a longer one would spill into the chart).
    const label = `Timeline: ${plural(s.sessionOrder.length, 'session')}, ${plural(s.queryCount, 'query', 'queries')}${z}${slow}${pan}`;
    this.box.setLabel(` ${fit(label, Math.min(label.length, cells(this.box.width) - 4)).trimEnd()} `);
    this.box.setContent(lines.join('\n'));
  }

  /**
   * Fills [x0, x1] (at least one cell) with colour c, and counts a query in each cell; in a
   * shared cell the selection, failures and slow queries win over the rest (RANK).
   */
  private paint(x0: number, x1: number, c: number): void {
    const W = this.plotW;
    if (x1 < 0 || x0 >= W) return;
    const a = Math.max(0, x0);
    const b = Math.min(W - 1, Math.max(x0, x1));
    if (c !== C_LIFE) {
      if (x0 >= 0) this.starts[a] = (this.starts[a] as number) + 1;
      if (Math.max(x0, x1) <= W - 1) this.ends[b] = (this.ends[b] as number) + 1;
    }
    for (let x = a; x <= b; x++) {
      const cur = this.cells[x] as number;
      if (c !== C_LIFE) this.counts[x] = (this.counts[x] as number) + 1;
      if ((RANK[c] as number) > (RANK[cur] as number)) this.cells[x] = c;
    }
  }

  /** The capture's p99 latency: recomputed when the query count moved, at most once a second while loading. */
  private updateSlow(s: TuiStore): void {
    const n = s.queryCount;
    if (n === this.slowAt || (!s.ended && Date.now() - this.slowTime < 1000 && this.slowAt >= 0)) return;
    this.slowAt = n;
    this.slowTime = Date.now();
    const d = new Float64Array(n);
    let k = 0;
    for (let q = 0; q < n; q++) { const v = s.qDur.get(q); if (!Number.isNaN(v)) d[k++] = v; }
    if (k < SLOW_MIN_QUERIES) { this.slowMs = Infinity; return; }
    const sorted = d.subarray(0, k).sort();
    const p99 = sorted[Math.min(k - 1, Math.floor(k * 0.99))] as number;
    // Slow: above the p99 (a capture of equal latencies has none; one outlier among equals is one).
    this.slowMs = p99 < (sorted[k - 1] as number) ? p99 : Infinity;
  }

  private rowText(): string {
    let out = '';
    let run = '';
    let cur = -1;
    const flush = () => {
      if (run === '') return;
      const st = STYLE[cur] ?? '';
      out += st ? `{${st}}${run}{/${st}}` : run;
      run = '';
    };
    // Heights only where bars share cells: a row of separate bars keeps its full blocks.
    let most = 0;
    for (let x = 0; x < this.counts.length; x++) if ((this.counts[x] as number) > most) most = this.counts[x] as number;
    for (let x = 0; x < this.cells.length; x++) {
      const c = this.cells[x] as number;
      if (c !== cur) { flush(); cur = c; }
      const n = this.counts[x] as number;
      if (c === C_OK && most > 1 && n > 0) run += HEIGHTS[Math.max(0, Math.ceil((8 * n) / most) - 1)];
      else run += c !== C_LIFE && c !== C_NONE && this.endsBeforeNext(x) ? GAP_END : CHAR[c];
    }
    flush();
    return out;
  }

  /** Whether every bar in cell x ends there and every bar in cell x + 1 begins there: two bars side by side, not one. */
  private endsBeforeNext(x: number): boolean {
    const n = this.counts[x] as number;
    const m = this.counts[x + 1] ?? 0;
    return n > 0 && m > 0 && this.ends[x] === n && this.starts[x + 1] === m;
  }

  private axis(s: TuiStore): string {
    const W = this.plotW;
    const chars = new Array<string>(W).fill(' ');
    const first = s.timeSpan()[0];
    const base = Number.isFinite(first) ? first : 0;
    if (!(this.winSpan > 0) || W <= 0) return `{bold}${fit('session', LABEL_W)}{/bold}`;
    // Ticks at round times (1, 2 or 5 times a power of ten) at least 12 columns apart, so the
    // labels step evenly (0.10s 0.20s 0.30s), not by whatever 14 columns happen to span.
    const usPerCol = this.winSpan / W;
    const want = usPerCol * 12;
    const p = 10 ** Math.floor(Math.log10(want));
    const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= want) ?? 10 * p;
    const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / 1e6))));
    const rel0 = this.winStart - base;
    for (let t = Math.ceil(rel0 / step) * step; ; t += step) {
      const x = Math.round((t - rel0) / usPerCol);
      if (x + 8 >= W) break;
      const label = '|' + (t / 1e6).toFixed(digits) + 's';
      for (let k = 0; k < label.length && x + k < W; k++) chars[x + k] = label[k] as string;
    }
    return `{bold}${fit('session', LABEL_W)} ${chars.join('')}{/bold}`;
  }

  private selectionText(q: number): string[] {
    const s = this.ctx.store;
    if (q < 0) return ['  (no query in this session: j/k choose a session)', ''];
    const f = s.qFlags.get(q);
    const outcome = f & QF_ERROR ? `{red-fg}${wireFit(s.qError.get(q), 80).trimEnd()}{/red-fg}`
      : f & QF_INCOMPLETE ? '{yellow-fg}incomplete{/yellow-fg}' : f & QF_ROLLED_BACK ? '{yellow-fg}rolled back{/yellow-fg}'
      : f & QF_BATCH ? `{green-fg}ok{/green-fg}, batch of ${s.qBatch.get(q)} (no time of its own)` : '{green-fg}ok{/green-fg}';
    const rows = s.qRows.get(q);
    const rel = ((s.qStart.get(q) - s.baseUs) / 1e6).toFixed(6);
    const w = Math.max(20, cells(this.box.width) - 4);
    return [
      ` Query #${q + 1}  session #${s.qSess.get(q)}  +${rel} s  latency ${ms(s.qDur.get(q))}  rows ${Number.isFinite(rows) ? rows : '-'}  frames ${s.qStartFrame.get(q)}–${s.qEndFrame.get(q)}  ${outcome}`,
      ` ${wireFit(s.qSql.get(q), w)}`,
    ];
  }

  private click(x: number, y: number): void {
    const row = y - cells(this.box.atop) - cells(this.box.itop) - 1;
    if (row < 0 || row >= this.rows.height) return;
    const prevRow = this.rows.sel;
    this.rows.to(this.rows.top + row);
    const cx = x - cells(this.box.aleft) - cells(this.box.ileft) - LABEL_W - 1;
    const list = this.ctx.store.sessionQueryList(this.sessionId(this.rows.sel));
    if (list && cx >= 0) {
      // The bar under the pointer, or else the nearest one.
      let best = -1;
      let bestD = Infinity;
      for (let k = 0; k < list.n; k++) {
        const q = list.get(k);
        const a = this.col(this.ctx.store.qStart.get(q));
        const b = Math.max(a, this.col(this.ctx.store.qEnd.get(q)));
        const d = cx < a ? a - cx : cx > b ? cx - b : 0;
        if (d < bestD) { bestD = d; best = k; }
      }
      if (best >= 0) {
        // A click on the bar already selected goes to its request, as Enter does.
        const again = best === this.bar && bestD === 0 && row + this.rows.top === prevRow;
        this.bar = best;
        if (again) this.ctx.gotoFrame(this.ctx.store.qStartFrame.get(list.get(best)));
      }
    }
    this.ctx.invalidate();
  }

  key(k: Key): boolean {
    const s = this.ctx.store;
    switch (k) {
      case 'h': case 'left': this.anchor = null; this.bar = Math.max(0, this.bar - 1); return true;
      case 'l': case 'right': this.anchor = null; this.bar++; return true;
      case '<': case '>': {
        // Half a window, from wherever the window is now.
        this.window(s);
        this.anchor = this.winStart + this.winSpan / 2 + (k === '>' ? 1 : -1) * this.winSpan / 2;
        // Kept inside the capture: panning past an end stops there.
        this.window(s);
        this.anchor = this.winStart + this.winSpan / 2;
        return true;
      }
      case '[': case ']': this.jumpIdle(k === ']' ? 1 : -1); return true;
      case 'x': {
        // The slowest query of the capture.
        let best = -1;
        for (let q = 0; q < s.queryCount; q++) if (!Number.isNaN(s.qDur.get(q)) && (best < 0 || s.qDur.get(q) > s.qDur.get(best))) best = q;
        if (best < 0) this.ctx.notify('no query with a latency yet', true);
        else this.selectQuery(best);
        return true;
      }
      case 'e': {
        // The next failed query after the selected one (by start time), wrapping.
        const cur = this.selectedQuery();
        const t0 = cur >= 0 ? s.qStart.get(cur) : -Infinity;
        let next = -1;
        let first = -1;
        for (let q = 0; q < s.queryCount; q++) {
          if (!(s.qFlags.get(q) & QF_ERROR) || q === cur) continue;
          const t = s.qStart.get(q);
          if (t > t0 && (next < 0 || t < s.qStart.get(next))) next = q;
          if (first < 0 || t < s.qStart.get(first)) first = q;
        }
        const q = next >= 0 ? next : first;
        if (q < 0) this.ctx.notify('no failed query', true);
        else this.selectQuery(q);
        return true;
      }
      case 'H': this.anchor = null; this.bar = 0; return true;
      case 'L': this.anchor = null; this.bar = Number.MAX_SAFE_INTEGER; return true;
      case '+': case '=': this.zoom = Math.min(1 << 20, this.zoom * 2); return true;
      case '-': this.zoom = Math.max(1, this.zoom / 2); return true;
      case '0': this.zoom = 1; this.anchor = null; return true;
      case 'enter': case 'return': {
        const q = this.selectedQuery();
        if (q < 0) this.ctx.notify('no query selected', true);
        else this.ctx.gotoFrame(s.qStartFrame.get(q));
        return true;
      }
      case 'f': {
        const id = this.sessionId(this.rows.sel);
        if (id >= 0) this.ctx.open('follow', id);
        return true;
      }
      default: {
        const before = this.rows.sel;
        if (!this.rows.key(k)) return false;
        if (this.rows.sel !== before) this.bar = this.nearestBar(before);
        return true;
      }
    }
  }

  /**
   * Centres the window on the next (dir 1) or previous (-1) idle period after (before) the spot
   * panned to, or else the selected bar: a stretch of capture time with no query in flight in any session, at least
   * two cells long at this zoom (shorter ones cannot be seen). Says where it is, or that there is none.
   */
  private jumpIdle(dir: 1 | -1): void {
    const s = this.ctx.store;
    this.window(s);
    // From where the user is: the spot panned or jumped to, else the selected bar.
    const sel = this.selectedQuery();
    const centre = this.anchor ?? (sel >= 0 ? s.qStart.get(sel) : this.winStart);
    const minIdle = (2 * this.winSpan) / this.plotW;
    const n = s.queryCount;
    if (!this.byStart || this.byStart.length !== n) {
      const idx = new Uint32Array(n);
      for (let q = 0; q < n; q++) idx[q] = q;
      const starts = new Float64Array(n);
      for (let q = 0; q < n; q++) starts[q] = s.qStart.get(q);
      idx.sort((a, b) => (starts[a] as number) - (starts[b] as number));
      this.byStart = idx;
    }
    // Walk the queries by start time, keeping the end of the activity so far: a start after it opens an idle period.
    const idle: Array<[number, number]> = [];
    const [first, last] = s.timeSpan();
    let busyUntil = Number.isFinite(first) ? first : -Infinity;
    for (let i = 0; i < n; i++) {
      const q = this.byStart[i] as number;
      const a = s.qStart.get(q);
      const b = Math.max(a, s.qEnd.get(q));
      if (a - busyUntil >= minIdle) idle.push([busyUntil, a]);
      if (b > busyUntil) busyUntil = b;
    }
    if (Number.isFinite(last) && last - busyUntil >= minIdle) idle.push([busyUntil, last]);
    let pick: [number, number] | undefined;
    if (dir === 1) pick = idle.find(([a, b]) => (a + b) / 2 > centre + 1);
    else for (const g of idle) if ((g[0] + g[1]) / 2 < centre - 1) pick = g;
    if (!pick) {
      this.ctx.notify(`no ${dir === 1 ? 'later' : 'earlier'} idle period of ${ms(minIdle / 1000)} or more at this zoom (+ narrows it)`, true);
      return;
    }
    this.anchor = (pick[0] + pick[1]) / 2;
    const rel = (t: number) => ((t - s.baseUs) / 1e6).toFixed(6);
    this.ctx.notify(`idle ${ms((pick[1] - pick[0]) / 1000)}: no query in flight from +${rel(pick[0])} s to +${rel(pick[1])} s`);
  }

  /** Selects query q: its session's row, its bar. */
  private selectQuery(q: number): void {
    this.anchor = null;
    const s = this.ctx.store;
    const id = s.qSess.get(q);
    const pos = s.sessionOrder.indexOf(id);
    const list = s.sessionQueryList(id);
    if (pos < 0 || !list) return;
    this.rows.to(pos);
    for (let k = 0; k < list.n; k++) if (list.get(k) === q) { this.bar = k; break; }
  }

  /** Moving to another session keeps the bar closest in time to the one selected before. */
  private nearestBar(prevRow: number): number {
    const s = this.ctx.store;
    const prev = s.sessionQueryList(this.sessionId(prevRow));
    const list = s.sessionQueryList(this.sessionId(this.rows.sel));
    if (!prev || prev.n === 0 || !list || list.n === 0) return 0;
    const t = s.qStart.get(prev.get(Math.min(this.bar, prev.n - 1)));
    let best = 0;
    for (let k = 0; k < list.n; k++) if (Math.abs(s.qStart.get(list.get(k)) - t) < Math.abs(s.qStart.get(list.get(best)) - t)) best = k;
    return best;
  }
}
