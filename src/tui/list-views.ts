/**
 * The sessions list, the queries list (sortable by time, latency, rows, errors) and follow
 * session (one connection's messages in order, both directions). All three are virtual
 * lists over the store: only the visible rows become text.
 */
import blessed from 'blessed';
import { MF_BAD, MF_ERROR, MF_NOTICE, QF_BATCH, QF_ERROR, QF_INCOMPLETE, QF_ROLLED_BACK, type SessionRow } from './store.js';
import { Cursor, cells, paneOptions, type Key, type UiContext, type View, type ViewName } from './view.js';
import { fit, fitLeft, ms, relTime, wire, wireFit, bytesText } from './text.js';

/** One full-screen bordered list with a header row, a cursor and mouse selection. */
abstract class ListView implements View {
  abstract readonly name: ViewName;
  readonly boxes: blessed.Widgets.BoxElement[];
  protected readonly box: blessed.Widgets.BoxElement;
  protected readonly cursor = new Cursor();
  protected width = 80;

  constructor(protected readonly ctx: UiContext, label: string) {
    this.box = blessed.box(paneOptions(label));
    this.boxes = [this.box];
    ctx.screen.append(this.box);
    this.box.on('click', (data: { y: number }) => {
      const r = data.y - cells(this.box.atop) - cells(this.box.itop) - 1;
      if (r >= 0) {
        const i = this.cursor.top + r;
        if (i === this.cursor.sel) this.activate();
        else this.cursor.to(i);
      }
      this.ctx.invalidate();
    });
    this.box.on('wheeldown', () => { this.cursor.move(3); this.ctx.invalidate(); });
    this.box.on('wheelup', () => { this.cursor.move(-3); this.ctx.invalidate(); });
  }

  enter(_arg?: number): void {
    this.ctx.invalidate();
  }

  layout(width: number, height: number): void {
    this.box.position.top = 0;
    this.box.position.left = 0;
    this.box.width = width;
    this.box.height = Math.max(5, height - 1);
    this.width = Math.max(20, width - 2);
    this.cursor.height = Math.max(1, cells(this.box.height) - 3 - this.footerLines());
    this.cursor.clamp();
  }

  protected footerLines(): number {
    return 0;
  }

  protected abstract count(): number;
  protected abstract header(): string;
  protected abstract row(pos: number): string;
  protected abstract activate(): void;
  protected abstract title(): string;
  protected footer(): string[] {
    return [];
  }

  draw(): void {
    this.cursor.setCount(this.count());
    const lines = [`{bold}${this.header()}{/bold}`];
    const c = this.cursor;
    const end = Math.min(c.count, c.top + c.height);
    for (let pos = c.top; pos < end; pos++) {
      const r = this.row(pos);
      lines.push(pos === c.sel ? `{inverse}${r}{/inverse}` : r);
    }
    if (c.count === 0) lines.push('  (nothing yet)');
    const foot = this.footer();
    if (foot.length > 0) {
      while (lines.length < c.height + 1) lines.push('');
      lines.push(...foot);
    }
    this.box.setLabel(` ${this.title()} `);
    this.box.setContent(lines.join('\n'));
  }

  key(k: Key): boolean {
    if (k === 'enter' || k === 'return') {
      this.activate();
      return true;
    }
    return this.cursor.key(k);
  }
}

export class SessionsView extends ListView {
  readonly name = 'sessions';
  constructor(ctx: UiContext) {
    super(ctx, 'Sessions');
  }
  /** The sessions shown: every one, or those the display filter's records match (record-match.ts). */
  private shown: number[] = [];
  private idAt(pos: number): number | undefined {
    return this.ctx.records.active ? this.shown[pos] : this.ctx.store.sessionOrder[pos];
  }
  protected count(): number {
    const r = this.ctx.records;
    if (!r.active) return this.ctx.store.sessionOrder.length;
    r.ensure();
    this.shown = this.ctx.store.sessionOrder.filter((id) => r.hasSession(id));
    return this.shown.length;
  }
  protected title(): string {
    const r = this.ctx.records;
    const all = this.ctx.store.sessionOrder.length;
    const note = r.note();
    const head = r.active ? `Sessions (${this.shown.length} of ${all} match the filter${note ? `; ${note}` : ''})` : `Sessions (${all})`;
    return fit(`${head}: Enter go to first frame, f follow`, this.width - 4).trimEnd();
  }
  /** Columns that fit the width: the least needed go first on a narrow terminal. */
  private columns(): Array<{ name: string; w: number; right?: boolean; cell: (i: SessionRow) => string }> {
    const s = this.ctx.store;
    const ep = this.width >= 150 ? 24 : 18;
    const all = [
      { name: '#', w: 6, keep: 9, cell: (i: SessionRow) => `#${i.id}` },
      { name: 'Client', w: ep, keep: 9, cell: (i: SessionRow) => i.client },
      { name: 'Server', w: ep, keep: 8, cell: (i: SessionRow) => i.server },
      { name: 'User', w: 12, keep: 9, cell: (i: SessionRow) => i.user },
      { name: 'Database', w: 12, keep: 7, cell: (i: SessionRow) => i.database },
      { name: 'Application', w: 14, keep: 2, cell: (i: SessionRow) => i.application },
      { name: 'TLS', w: 4, keep: 3, cell: (i: SessionRow) => (i.tls ? 'yes' : '') },
      { name: 'Start', w: 11, keep: 1, cell: (i: SessionRow) => relTime(i.startUs, s.baseUs) },
      { name: 'Duration', w: 10, keep: 5, right: true, cell: (i: SessionRow) => (Number.isFinite(i.endUs - i.startUs) ? ms((i.endUs - i.startUs) / 1000) : '-') },
      { name: 'Frames', w: 8, keep: 4, right: true, cell: (i: SessionRow) => String(i.frames) },
      { name: 'Queries', w: 7, keep: 6, right: true, cell: (i: SessionRow) => String(i.queries) },
      { name: 'Errors', w: 6, keep: 9, right: true, cell: (i: SessionRow) => String(i.errors) },
    ];
    let cols = all;
    for (let level = 1; level < 9 && cols.reduce((n, c) => n + c.w + 1, 0) > this.width; level++) {
      cols = cols.filter((c) => c.keep > level);
    }
    return cols;
  }
  protected header(): string {
    return fit(this.columns().map((c) => (c.right ? fitLeft(c.name, c.w) : fit(c.name, c.w))).join(' '), this.width);
  }
  protected row(pos: number): string {
    const s = this.ctx.store;
    const info = s.sessions.get(this.idAt(pos) as number);
    if (!info) return '';
    const line = this.columns().map((c) => {
      const text = c.cell(info);
      return c.right ? fitLeft(text, c.w) : wireFit(text, c.w);
    }).join(' ');
    return info.errors > 0 ? `{red-fg}${line}{/red-fg}` : line;
  }
  protected activate(): void {
    const s = this.ctx.store;
    const info = s.sessions.get(this.idAt(this.cursor.sel) as number);
    if (info) this.ctx.gotoFrame(info.firstFrame);
  }
  override key(k: Key): boolean {
    if (k === 'f') {
      const id = this.idAt(this.cursor.sel);
      if (id !== undefined) this.ctx.open('follow', id);
      return true;
    }
    return super.key(k);
  }
  protected override footerLines(): number {
    return 1;
  }
  protected override footer(): string[] {
    const s = this.ctx.store;
    const info = s.sessions.get(this.idAt(this.cursor.sel) as number);
    if (!info) return [''];
    const extra = Object.entries(info.extra)
      .filter(([k]) => !['kind', 'session', 'time', 'frame'].includes(k))
      .map(([k, v]) => `${k}=${v}`).join(' ');
    return [` ${wireFit(`auth ${info.auth || '?'}  bytes ${bytesText(info.bytes)}  ${extra}`, this.width - 2)}`];
  }
}

type QuerySort = 'time' | 'latency' | 'rows' | 'errors';

export class QueriesView extends ListView {
  readonly name = 'queries';
  private sort: QuerySort = 'time';
  private reverse = false;
  private order: Uint32Array | null = null;
  private orderFor = -1;
  private orderExpr = '';
  private sortedAt = 0;
  constructor(ctx: UiContext) {
    super(ctx, 'Queries');
  }
  protected count(): number {
    const r = this.ctx.records;
    if (!r.active) return this.ctx.store.queryCount;
    r.ensure();
    return r.count(this.ctx.store.queryCount);
  }
  /** Query index of the pos-th row before sorting: every query, or the display filter's matches. */
  private base(pos: number): number {
    return this.ctx.records.active ? this.ctx.records.at(pos) : pos;
  }
  protected title(): string {
    const r = this.ctx.records;
    const note = r.note();
    const n = r.active ? `${this.count()} of ${this.ctx.store.queryCount} match the filter${note ? `; ${note}` : ''}` : String(this.count());
    const head = `Queries (${n}) by ${this.sort}${this.reverse ? ', reversed' : ''}`;
    const keys = ': 1 time, 2 latency, 3 rows, 4 errors, r reverse, Enter go to frame';
    // The label sits on the border: it never runs past the box (the header row below stays whole).
    return this.width - 4 >= head.length + keys.length ? head + keys : fit(head, Math.min(head.length, this.width - 4));
  }

  /** The sorted order, rebuilt when the count or the sort changed (not per frame). */
  private at(pos: number): number {
    const s = this.ctx.store;
    if (this.sort === 'time' && !this.reverse) return this.base(pos);
    // Re-sorted when queries arrive, but at most once a second while a capture loads; rows
    // beyond the last sort show in arrival order at the end meanwhile.
    const total = this.count();
    const due = !this.order || this.orderExpr !== this.ctx.records.expr || (this.orderFor !== total && (Date.now() - this.sortedAt >= 1000 || s.ended));
    if (pos >= (this.order?.length ?? 0) && !due) return this.base(pos);
    if (due) {
      this.sortedAt = Date.now();
      const n = total;
      const idx = new Uint32Array(n);
      for (let i = 0; i < n; i++) idx[i] = this.base(i);
      // Keys computed once into a typed array: the comparator then reads numbers only.
      const keys = new Float64Array(s.queryCount);
      for (let i = 0; i < n; i++) {
        const q = idx[i] as number;
        switch (this.sort) {
          case 'latency': { const d = s.qDur.get(q); keys[q] = Number.isNaN(d) ? -1 : d; break; }
          case 'rows': { const r = s.qRows.get(q); keys[q] = Number.isNaN(r) ? -1 : r; break; }
          case 'errors': keys[q] = s.qFlags.get(q) & QF_ERROR ? 1 : 0; break;
          default: keys[q] = q;
        }
      }
      // Biggest first for latency, rows and errors; ties in capture order.
      const sign = this.sort !== 'time' ? -1 : 1;
      idx.sort((a, b) => {
        const d = sign * ((keys[a] as number) - (keys[b] as number));
        return d !== 0 ? d : a - b;
      });
      if (this.reverse) idx.reverse();
      this.order = idx;
      this.orderFor = n;
      this.orderExpr = this.ctx.records.expr;
    }
    return this.order?.[pos] ?? this.base(pos);
  }

  /**
   * Columns before the SQL, narrowest terminals first losing the start time, then the session:
   * the SQL keeps at least a third of the row.
   */
  private cols(): Array<{ name: string; w: number; right?: boolean; cell: (q: number) => string }> {
    const s = this.ctx.store;
    const all = [
      { name: '#', w: 7, cell: (q: number) => String(q + 1) },
      { name: 'Session', w: 7, drop: 2, cell: (q: number) => `#${s.qSess.get(q)}` },
      { name: 'Time', w: 11, drop: 1, cell: (q: number) => relTime(s.qStart.get(q), s.baseUs) },
      { name: 'Latency', w: 10, right: true, cell: (q: number) => ms(s.qDur.get(q)) },
      { name: 'Rows', w: 7, right: true, cell: (q: number) => { const r = s.qRows.get(q); return Number.isFinite(r) ? String(r) : '-'; } },
      { name: 'Status', w: 14, cell: (q: number) => this.status(q) },
    ];
    let cols = all;
    for (let level = 1; level <= 2 && this.width - cols.reduce((n, c) => n + c.w + 1, 0) < this.width / 3; level++) {
      cols = cols.filter((c) => (c.drop ?? 9) > level);
    }
    return cols;
  }
  private status(q: number): string {
    const s = this.ctx.store;
    const f = s.qFlags.get(q);
    if (f & QF_ERROR) return `ERROR ${s.qError.get(q).split(' ')[1] ?? ''}`.trimEnd();
    if (f & QF_INCOMPLETE) return 'incomplete';
    if (f & QF_ROLLED_BACK) return 'rolled back';
    return f & QF_BATCH ? `batch of ${s.qBatch.get(q)}` : 'ok';
  }
  protected header(): string {
    const head = this.cols().map((c) => (c.right ? fitLeft(c.name, c.w) : fit(c.name, c.w))).join(' ');
    return fit(`${head} SQL`, this.width);
  }
  protected row(pos: number): string {
    const s = this.ctx.store;
    const q = this.at(pos);
    const f = s.qFlags.get(q);
    const head = this.cols().map((c) => (c.right ? fitLeft(c.cell(q), c.w) : fit(c.cell(q), c.w))).join(' ');
    const sqlW = Math.max(4, this.width - head.length - 1);
    const line = `${head} ${wireFit(s.qSql.get(q).replace(/\s+/g, ' '), sqlW)}`;
    return f & QF_ERROR ? `{red-fg}${line}{/red-fg}` : f & (QF_INCOMPLETE | QF_ROLLED_BACK) ? `{yellow-fg}${line}{/yellow-fg}` : line;
  }
  protected override footerLines(): number {
    return 2;
  }
  protected override footer(): string[] {
    const s = this.ctx.store;
    if (this.cursor.count === 0) return ['', ''];
    const q = this.at(this.cursor.sel);
    const err = s.qFlags.get(q) & QF_ERROR ? `{red-fg}${wireFit(s.qError.get(q), this.width - 2)}{/red-fg}` : wireFit(s.qDetail.get(q), this.width - 2);
    return [` ${wireFit(s.qSql.get(q), this.width - 2)}`, ` ${err}`];
  }
  protected activate(): void {
    if (this.cursor.count === 0) return;
    this.ctx.gotoFrame(this.ctx.store.qStartFrame.get(this.at(this.cursor.sel)));
  }
  override key(k: Key): boolean {
    const sorts: Record<string, QuerySort> = { '1': 'time', '2': 'latency', '3': 'rows', '4': 'errors' };
    const next = sorts[k];
    if (next) {
      // A new sort key starts in its natural order (biggest first): `r` applies to one key.
      this.reverse = false;
      this.sort = next;
      this.order = null;
      this.cursor.to(0);
      return true;
    }
    if (k === 'r') {
      this.reverse = !this.reverse;
      this.order = null;
      return true;
    }
    return super.key(k);
  }
}

export class FollowView extends ListView {
  readonly name = 'follow';
  private session = -1;
  constructor(ctx: UiContext) {
    super(ctx, 'Follow session');
  }
  /** Live: stay on the newest message while the cursor is on the last one. */
  private following = false;
  override enter(arg?: number): void {
    if (arg !== undefined && arg !== this.session) {
      this.session = arg;
      this.cursor.to(0);
      this.cursor.top = 0;
      this.following = false;
    }
    this.ctx.invalidate();
  }
  protected count(): number {
    return this.ctx.store.sessionMessages(this.session)?.n ?? 0;
  }
  override draw(): void {
    if (this.following) {
      this.cursor.setCount(this.count());
      this.cursor.to(this.cursor.count - 1);
    }
    super.draw();
  }
  override key(k: Key): boolean {
    const handled = super.key(k);
    if (handled && this.ctx.live) this.following = this.cursor.atEnd();
    return handled;
  }
  protected title(): string {
    const info = this.ctx.store.sessions.get(this.session);
    const who = info ? `${info.client} → ${info.server}${info.user ? ` user ${info.user}` : ''}${info.database ? ` db ${info.database}` : ''}` : '';
    return `Follow session #${this.session} ${wire(who)} (${this.count()} messages${this.following ? ', following' : ''}): Enter go to frame`;
  }
  protected header(): string {
    return fit(`${fitLeft('Frame', 7)} ${fit('Time', 11)} Dir  Message`, this.width);
  }
  protected row(pos: number): string {
    const s = this.ctx.store;
    const list = s.sessionMessages(this.session);
    if (!list) return '';
    const m = list.get(pos);
    const front = s.mDir.get(m) === 0;
    const head = `${fitLeft(String(s.mFrame.get(m)), 7)} ${fit(relTime(s.messageTime(m), s.baseUs), 11)} ${front ? ' >  ' : ' <  '}`;
    const code = s.code(m);
    const text = `${code ? code + ' ' : ''}${s.summary(m)}`;
    const line = head + wireFit(text, Math.max(4, this.width - head.length));
    const f = s.mFlags.get(m);
    const colour = f & (MF_ERROR | MF_BAD) ? 'red-fg' : f & MF_NOTICE ? 'yellow-fg' : front ? 'cyan-fg' : 'green-fg';
    return `{${colour}}${line}{/${colour}}`;
  }
  protected activate(): void {
    const list = this.ctx.store.sessionMessages(this.session);
    if (list && this.cursor.count > 0) this.ctx.gotoFrame(this.ctx.store.mFrame.get(list.get(this.cursor.sel)));
  }
}
