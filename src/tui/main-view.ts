/**
 * The main screen, Wireshark's three panes for PostgreSQL: the frame list (a virtual list
 * drawn from the store, only the visible rows), the decoded-message tree of the selected
 * frame, and the bytes of the selected message with the selected field highlighted.
 */
import blessed from 'blessed';
import type { Predicate } from '../filter/index.js';
import { isoTime } from '../core/time.js';
import { FF_ANOMALY, FF_BACKEND, FF_ERROR, FF_FRONTEND, FF_NOTICE, FF_NOT_TCP } from './store.js';
import { FrameFilter } from './frame-filter.js';
import { buildTree, expand, expandable, flatten, messageBytes, type FlatLine, type TreeNode } from './detail-tree.js';
import { hexLines } from './frame-reader.js';
import { secretRanges } from '../../dissectors/tree.js';
import { mayCarrySecret } from '../../dissectors/dissect.js';
import { Cursor, cells, paneOptions, type Key, type UiContext, type View } from './view.js';
import { fit, fitLeft, relTime, safe, tagSafe, width, wireFit } from './text.js';

const PANES = ['list', 'tree', 'hex'] as const;
/** Time a find may take per redraw tick. */
const SEARCH_SLICE_MS = 25;
/** treeFrame value that no frame index equals, -1 (nothing selected) included. */
const STALE = -2;

/** Messages after a frame's examined for one begun in it (see messagesTouching). */
const SPLIT_SCAN = 64;

/** Marks `ranges` (message offsets) shifted by `at` in a mask of `n` bytes. */
function maskOf(n: number, ranges: readonly { start: number; length: number }[], at: number, into = new Uint8Array(n)): Uint8Array {
  for (const r of ranges) into.fill(1, Math.max(0, at + r.start), Math.min(n, at + r.start + r.length));
  return into;
}

export class MainView implements View {
  readonly name = 'main';
  readonly boxes: blessed.Widgets.BoxElement[];
  readonly filter: FrameFilter;
  private readonly list: blessed.Widgets.BoxElement;
  private readonly tree: blessed.Widgets.BoxElement;
  private readonly hex: blessed.Widgets.BoxElement;
  private focus = 0;
  readonly cursor = new Cursor();
  /** Live mode: keep the newest frame selected until the user moves away from the end. */
  private following: boolean;
  private treeFrame = -1;
  private roots: TreeNode[] = [];
  private flat: FlatLine[] = [];
  private readonly treeCursor = new Cursor();
  private hexTop = 0;
  private hexRows = 0;
  private findPred: { pred: Predicate | null; text: string } | null = null;
  /** Relative heights of the frames, details and bytes panes. */
  private weights = [42, 32, 26];
  /** The pane shown alone (z), or null. */
  maximised: number | null = null;
  private lastSize = { width: 80, height: 24 };
  /** The Time column: since the first packet, time of day, or since the previous frame shown (T cycles). */
  timeMode: 'relative' | 'absolute' | 'delta' = 'relative';
  /** A find under way: from list position `from`, `step` positions tested of `total`. */
  private search: { dir: 1 | -1; from: number; step: number; total: number } | null = null;

  constructor(private readonly ctx: UiContext) {
    this.filter = new FrameFilter(ctx.store);
    this.following = ctx.live;
    this.list = blessed.box(paneOptions('Frames'));
    this.tree = blessed.box(paneOptions('Details'));
    this.hex = blessed.box(paneOptions('Bytes'));
    this.boxes = [this.list, this.tree, this.hex];
    for (const b of this.boxes) ctx.screen.append(b);
    this.mouse();
  }

  private mouse(): void {
    const rowOf = (box: blessed.Widgets.BoxElement, y: number, header: number): number =>
      y - cells(box.atop) - cells(box.itop) - header;
    this.list.on('click', (data: { y: number }) => {
      const r = rowOf(this.list, data.y, 1);
      this.focus = 0;
      if (r >= 0) this.select(this.cursor.top + r);
      this.ctx.invalidate();
    });
    this.list.on('wheeldown', () => { this.cursor.move(3); this.following = false; this.ctx.invalidate(); });
    this.list.on('wheelup', () => { this.cursor.move(-3); this.following = false; this.ctx.invalidate(); });
    this.tree.on('click', (data: { y: number }) => {
      const r = rowOf(this.tree, data.y, 0);
      this.focus = 1;
      if (r >= 0) {
        const i = this.treeCursor.top + r;
        if (i === this.treeCursor.sel) this.activate();
        else this.treeCursor.to(i);
      }
      this.ctx.invalidate();
    });
    this.tree.on('wheeldown', () => { this.treeCursor.move(3); this.ctx.invalidate(); });
    this.tree.on('wheelup', () => { this.treeCursor.move(-3); this.ctx.invalidate(); });
    this.hex.on('click', () => { this.focus = 2; this.ctx.invalidate(); });
    this.hex.on('wheeldown', () => { this.hexTop += 3; this.ctx.invalidate(); });
    this.hex.on('wheelup', () => { this.hexTop = Math.max(0, this.hexTop - 3); this.ctx.invalidate(); });
  }

  enter(): void {
    this.ctx.invalidate();
  }

  /**
   * Rows of the three panes out of `h`: by their weights (`+` / `-` change the focused one's),
   * or, with one pane maximised (`z`), that pane alone, the others shrunk to their borders.
   */
  paneRows(h: number): [number, number, number] {
    const MIN = [4, 3, 3];
    if (this.maximised !== null) {
      const rows: [number, number, number] = [2, 2, 2];
      rows[this.maximised] = Math.max(MIN[this.maximised] as number, h - 4);
      return rows;
    }
    const total = this.weights.reduce((a, b) => a + b, 0);
    const listH = Math.max(MIN[0] as number, Math.round((h * (this.weights[0] as number)) / total));
    const treeH = Math.max(MIN[1] as number, Math.round((h * (this.weights[1] as number)) / total));
    return [listH, treeH, Math.max(MIN[2] as number, h - listH - treeH)];
  }

  layout(width: number, height: number): void {
    this.lastSize = { width, height };
    // Status line below; by default the list gets the most, the bytes pane the least.
    const h = Math.max(9, height - 1);
    const [listH, treeH, hexH] = this.paneRows(h);
    this.list.position.top = 0;
    this.list.position.left = 0;
    this.list.width = width;
    this.list.height = listH;
    this.tree.position.top = listH;
    this.tree.position.left = 0;
    this.tree.width = width;
    this.tree.height = treeH;
    this.hex.position.top = listH + treeH;
    this.hex.position.left = 0;
    this.hex.width = width;
    this.hex.height = hexH;
    this.cursor.height = Math.max(1, listH - 3);
    this.treeCursor.height = Math.max(1, treeH - 2);
    this.hexRows = Math.max(1, hexH - 2);
    this.cursor.clamp();
    this.treeCursor.clamp();
  }

  /** The frame index selected, or -1 when the list is empty. */
  selectedFrame(): number {
    return this.cursor.count === 0 ? -1 : this.filter.at(this.cursor.sel);
  }

  private select(pos: number): void {
    this.cursor.to(pos);
    this.following = this.ctx.live && this.cursor.atEnd();
  }

  /** Selects frame number `no`; false when no such frame is shown. */
  showFrame(no: number): boolean {
    const fi = this.ctx.store.frameIndexOf(no);
    if (fi < 0) return false;
    let pos = this.filter.positionOf(fi);
    if (pos < 0) {
      this.filter.set('');
      this.ctx.notify(`display filter cleared to show frame ${no}`);
      pos = fi;
    }
    this.cursor.setCount(this.filter.count());
    this.select(pos);
    this.focus = 0;
    return true;
  }

  applyFilter(expr: string): void {
    const keep = this.selectedFrame();
    this.filter.set(expr);
    this.ctx.records.set(this.filter.expr);
    this.filter.step();
    this.cursor.setCount(this.filter.count());
    if (keep >= 0) this.cursor.to(this.filter.nearest(keep));
    // Rebuilt on the next draw even when nothing is selected (a filter matching nothing).
    this.treeFrame = STALE;
  }

  /** Sets what n / N look for: a filter expression, or else text in the Info column. */
  setFind(text: string, pred: Predicate | null): void {
    this.findPred = { pred, text: text.toLowerCase() };
    this.findNext(1);
  }

  findNext(dir: 1 | -1): void {
    const f = this.findPred;
    if (!f) {
      this.ctx.notify('nothing to search for: press : and type an expression or text');
      return;
    }
    this.search = { dir, from: this.cursor.sel, step: 1, total: this.cursor.count };
    this.searchStep();
  }

  /**
   * Tests the next slice of frames for the find (bounded in time, like the filter scan): a text
   * that is nowhere in a large capture no longer freezes the keyboard. The status line shows
   * how far it got; Esc stops it.
   */
  private searchStep(): void {
    const f = this.findPred;
    const job = this.search;
    if (!f || !job) return;
    const s = this.ctx.store;
    const n = job.total;
    const t0 = Date.now();
    for (; job.step <= n; job.step++) {
      const pos = (job.from + job.dir * job.step + n * 2) % n;
      const fi = this.filter.at(pos);
      const hit = (f.pred !== null && this.filter.matches(f.pred, fi)) || s.info(fi).toLowerCase().includes(f.text);
      if (hit) {
        this.search = null;
        this.select(pos);
        if ((job.dir === 1 && pos < job.from) || (job.dir === -1 && pos > job.from)) this.ctx.notify('search wrapped');
        return;
      }
      if ((job.step & 255) === 0 && Date.now() - t0 > SEARCH_SLICE_MS) { job.step++; return; }
    }
    this.search = null;
    this.ctx.notify(`not found: ${f.text}`, true);
  }

  /** Text for the status line while a find runs. */
  searchStatus(): string {
    const job = this.search;
    return job ? `searching ${Math.floor((100 * job.step) / Math.max(1, job.total))}% (Esc stops)` : '';
  }

  draw(): void {
    const s = this.ctx.store;
    // A bounded share of the filter scan per redraw keeps keys responsive on huge captures.
    for (let k = 0; k < 3 && this.filter.pending; k++) this.filter.step();
    if (this.search) this.searchStep();
    this.cursor.setCount(this.filter.count());
    if (this.following && this.cursor.count > 0) this.cursor.to(this.cursor.count - 1);
    for (let i = 0; i < 3; i++) {
      const b = this.boxes[i] as blessed.Widgets.BoxElement;
      b.style.border = { fg: i === this.focus ? 'cyan' : 'gray' };
    }
    this.drawList();
    const fi = this.selectedFrame();
    if (fi !== this.treeFrame) {
      this.treeFrame = fi;
      this.roots = fi >= 0 ? buildTree(s, fi, this.ctx.showSecrets) : [];
      this.treeCursor.to(0);
      this.hexTop = 0;
    }
    this.flat = flatten(this.roots);
    this.treeCursor.setCount(this.flat.length);
    this.drawTree();
    this.drawHex();
  }

  private drawList(): void {
    const s = this.ctx.store;
    const w = Math.max(20, cells(this.list.width) - 2);
    const ep = w >= 130 ? 22 : w >= 100 ? 18 : 14;
    const tw = this.timeMode === 'absolute' ? 15 : 11;
    const infoW = Math.max(4, w - (7 + 1 + tw + 1 + ep + 1 + ep + 1 + 6 + 1));
    const timeHead = this.timeMode === 'relative' ? 'Time' : this.timeMode === 'absolute' ? 'Time of day' : 'Delta';
    const header = `{bold}${fitLeft('No.', 7)} ${fit(timeHead, tw)} ${fit('Source', ep)} ${fit('Destination', ep)} ${fitLeft('Length', 6)} ${fit('Info', infoW)}{/bold}`;
    const lines = [header];
    const c = this.cursor;
    const end = Math.min(c.count, c.top + c.height);
    for (let pos = c.top; pos < end; pos++) {
      const fi = this.filter.at(pos);
      const flags = s.fFlags.get(fi);
      const row = `${fitLeft(String(s.fNo.get(fi)), 7)} ${fit(this.timeText(pos, fi), tw)} ` +
        `${wireFit(s.endpoints.name(s.fSrc.get(fi)), ep)} ${wireFit(s.endpoints.name(s.fDst.get(fi)), ep)} ` +
        `${fitLeft(String(s.fLen.get(fi)), 6)} ${wireFit(s.info(fi), infoW)}`;
      const colour = flags & FF_ERROR ? 'red-fg' : flags & (FF_ANOMALY | FF_NOTICE) ? 'yellow-fg'
        : flags & FF_FRONTEND && !(flags & FF_BACKEND) ? 'cyan-fg' : flags & FF_BACKEND ? 'green-fg'
        : flags & FF_NOT_TCP ? 'gray-fg' : 'white-fg';
      lines.push(pos === c.sel ? `{${colour}}{inverse}${row}{/inverse}{/${colour}}` : `{${colour}}${row}{/${colour}}`);
    }
    if (c.count === 0) lines.push(this.filter.rows ? '  (no frame matches the display filter)' : '  (no frames yet)');
    const shown = this.filter.rows ? `${c.count} of ${s.frameCount} shown` : `${s.frameCount}`;
    this.list.setLabel(` Frames ${shown}${this.following ? ' (following)' : ''} `);
    this.list.setContent(lines.join('\n'));
  }

  /**
   * The Time column as Wireshark's View > Time Display Format: seconds since the first packet,
   * the time of day (UTC, as the capture recorded it), or seconds since the previous frame shown.
   */
  private timeText(pos: number, fi: number): string {
    const s = this.ctx.store;
    const t = s.fTime.get(fi);
    if (this.timeMode === 'relative') return relTime(t, s.baseUs);
    if (this.timeMode === 'absolute') return Number.isFinite(t) ? isoTime(t).slice(11, 26) : '';
    return pos === 0 ? '0.000000' : relTime(t, s.fTime.get(this.filter.at(pos - 1)));
  }

  private drawTree(): void {
    const tc = this.treeCursor;
    const out: string[] = [];
    const w = Math.max(10, cells(this.tree.width) - 2);
    const end = Math.min(this.flat.length, tc.top + tc.height);
    for (let i = tc.top; i < end; i++) {
      const { node, depth } = this.flat[i] as FlatLine;
      const mark = !expandable(node) ? '  ' : node.expanded ? '▾ ' : '▸ ';
      const indent = '  '.repeat(depth);
      const text = wireFit(node.label, Math.max(1, w - indent.length - 2));
      let line = `${indent}${mark}${text}`;
      if (node.colour) line = `{${node.colour}-fg}${line}{/${node.colour}-fg}`;
      if (i === tc.sel && this.focus === 1) line = `{inverse}${line}{/inverse}`;
      else if (i === tc.sel) line = `{underline}${line}{/underline}`;
      out.push(line);
    }
    if (this.flat.length === 0) out.push(this.cursor.count === 0 && this.filter.rows ? '  (no frame matches the display filter)' : '  (select a frame)');
    this.tree.setContent(out.join('\n'));
  }

  private drawHex(): void {
    const s = this.ctx.store;
    const sel = this.flat[this.treeCursor.sel]?.node;
    const fi = this.treeFrame;
    let buf: Buffer | null = null;
    let label = 'Bytes';
    let hl: TreeNode['range'] = null;
    // The selected node's message; on the frame's own nodes, the frame from the file, or
    // (live, where frames are not kept) its first message.
    let m = sel && sel.msg >= 0 ? sel.msg : -1;
    const fromFile = m < 0 && fi >= 0 && this.ctx.reader ? this.ctx.reader.read(s.fFileOffset.get(fi)) : null;
    let masked: Uint8Array | null = null;
    if (fromFile) {
      buf = fromFile;
      label = `Bytes: frame ${s.fNo.get(fi)}, ${buf.length} bytes (from the capture file)`;
      masked = this.frameSecrets(fi, buf);
    } else {
      if (m < 0 && fi >= 0) m = s.messagesOf(fi)[0] ?? -1;
      const cached = m >= 0 ? s.cached(m) : undefined;
      if (cached) {
        buf = messageBytes(cached.raw);
        label = `Bytes: ${s.typeName(m)} message, ${buf.length} bytes`;
        hl = sel && sel.msg === m ? sel.range : null;
        if (!this.ctx.showSecrets) masked = maskOf(buf.length, secretRanges(cached.raw, cached.decoded), 0);
      } else if (m >= 0 && fi >= 0) {
        buf = this.ctx.reader ? this.ctx.reader.read(s.fFileOffset.get(fi)) : null;
        if (buf) {
          label = `Bytes: frame ${s.fNo.get(fi)}, ${buf.length} bytes (from the capture file; the message body was evicted)`;
          masked = this.frameSecrets(fi, buf);
        }
      }
    }
    if (masked !== null && masked.includes(1)) label += '; secret bytes hidden, --show-secrets shows them';
    this.hex.setLabel(` ${tagSafe(label)} `);
    if (!buf) {
      const why = fi < 0 ? '' : s.fFileOffset.get(fi) < 0
        ? '  (no bytes: frames are not kept for live capture or stdin, and this frame completes no message)'
        : '  (bytes not available: the capture file cannot be read again)';
      this.hex.setContent(why);
      return;
    }
    const total = Math.ceil(buf.length / 16);
    if (hl && this.focus !== 2) {
      // Bring the highlighted field into view.
      const line = Math.floor(hl.start / 16);
      if (line < this.hexTop || line >= this.hexTop + this.hexRows) this.hexTop = Math.max(0, line - 1);
    }
    this.hexTop = Math.max(0, Math.min(this.hexTop, total - this.hexRows));
    this.hex.setContent(hexLines(buf, hl, this.hexTop, this.hexRows, masked).join('\n'));
  }

  /**
   * Which bytes of a frame read from the file hold a secret (null: none, or secrets shown). The
   * messages that may carry one (a 'p', an 'R') touching the frame are found in the store; each
   * one lying whole in the frame is found by its bytes and its secret fields masked there
   * (secretRanges, the fields every other output redacts). A secret message split across
   * frames, or whose body was evicted, cannot be placed in the frame: the whole frame is masked.
   */
  private frameSecrets(fi: number, buf: Buffer): Uint8Array | null {
    if (this.ctx.showSecrets) return null;
    const s = this.ctx.store;
    const no = s.fNo.get(fi);
    const mask = new Uint8Array(buf.length);
    for (const m of this.messagesTouching(fi)) {
      if (!mayCarrySecret(s.dirOf(m), s.code(m))) continue;
      const c = s.cached(m);
      const whole = s.mFirstFrame.get(m) === no && s.mFrame.get(m) === no;
      if (!c || !whole) return mask.fill(1);
      const ranges = secretRanges(c.raw, c.decoded);
      if (ranges.length === 0) continue;
      const bytes = messageBytes(c.raw);
      let at = buf.indexOf(bytes);
      if (at < 0) return mask.fill(1);
      // Every copy: a retransmitted segment captured twice in one frame is no reason to show one.
      for (; at >= 0; at = buf.indexOf(bytes, at + 1)) maskOf(buf.length, ranges, at, mask);
    }
    return mask;
  }

  /**
   * Messages completed in the frame, and those of its session begun at or before it and
   * completed later (the first part of a split message). Session lists are in completion
   * order: a binary search finds the first completed after the frame; the scan forward is
   * bounded (a secret message is one of a handful at the start of a session).
   */
  private messagesTouching(fi: number): number[] {
    const s = this.ctx.store;
    const out = s.messagesOf(fi);
    const list = s.sessionMessages(s.fSess.get(fi));
    if (!list) return out;
    const no = s.fNo.get(fi);
    let lo = 0;
    let hi = list.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.mFrame.get(list.get(mid)) <= no) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < Math.min(list.n, lo + SPLIT_SCAN); i++) {
      const m = list.get(i);
      if (s.mFirstFrame.get(m) <= no) out.push(m);
    }
    return out;
  }

  /** Enter on a tree node: follow its cross-reference, or expand / collapse it. */
  private activate(): void {
    const line = this.flat[this.treeCursor.sel];
    if (!line) return;
    if (line.node.jump !== undefined) {
      this.showFrame(line.node.jump);
      return;
    }
    expand(line.node, !line.node.expanded);
  }

  private treeKey(k: Key): boolean {
    const line = this.flat[this.treeCursor.sel];
    switch (k) {
      case 'enter': case 'return': case ' ':
        // A leaf holds a value: Enter reads it whole.
        if (line && !expandable(line.node) && line.node.jump === undefined && this.viewValue()) return true;
        this.activate();
        return true;
      case 'v':
        if (!this.viewValue()) this.ctx.notify('no value here: select a field of a message');
        return true;
      case 'a': case 'A': {
        // Wireshark's Apply as Filter (a) and Prepare as Filter (A: the prompt, to edit first).
        const expr = line?.node.filter;
        if (!expr) { this.ctx.notify('no filter for this line: select a field of a message', true); return true; }
        if (k === 'A') this.ctx.prepareFilter(expr);
        else {
          try {
            this.applyFilter(expr);
          } catch (e) {
            this.ctx.notify(e instanceof Error ? e.message : String(e), true);
          }
        }
        return true;
      }
      case 'l': case 'right':
        if (line) expand(line.node);
        return true;
      case 'h': case 'left': {
        if (!line) return true;
        if (line.node.expanded) { expand(line.node, false); return true; }
        // Up to the parent: the nearest line above with a smaller depth.
        for (let i = this.treeCursor.sel - 1; i >= 0; i--) {
          if ((this.flat[i] as FlatLine).depth < line.depth) { this.treeCursor.to(i); break; }
        }
        return true;
      }
      case '*': case 'E': {
        // Expand everything under the selected node (or the whole tree at the top).
        const all = (ns: TreeNode[]) => { for (const n of ns) { expand(n); all(n.children); } };
        if (line) all([line.node]);
        return true;
      }
      default:
        return this.treeCursor.key(k);
    }
  }

  key(k: Key): boolean {
    if (k === 'escape' && this.search) {
      this.search = null;
      this.ctx.notify('search stopped');
      return true;
    }
    if (k === 'T') {
      this.timeMode = this.timeMode === 'relative' ? 'absolute' : this.timeMode === 'absolute' ? 'delta' : 'relative';
      this.ctx.notify(`Time column: ${this.timeMode === 'relative' ? 'seconds since the first packet' : this.timeMode === 'absolute' ? 'time of day (UTC)' : 'seconds since the previous frame shown'}`);
      return true;
    }
    if (k === 'z') {
      this.maximised = this.maximised === this.focus ? null : this.focus;
      this.relayout();
      return true;
    }
    if (k === '+' || k === '-') {
      this.maximised = null;
      const w = this.weights[this.focus] as number;
      this.weights[this.focus] = Math.max(6, Math.min(90, w + (k === '+' ? 8 : -8)));
      this.relayout();
      return true;
    }
    if (k === 'tab') { this.focus = (this.focus + 1) % PANES.length; this.followFocus(); return true; }
    if (k === 'S-tab') { this.focus = (this.focus + PANES.length - 1) % PANES.length; this.followFocus(); return true; }
    if (k === 'n') { this.findNext(1); return true; }
    if (k === 'N') { this.findNext(-1); return true; }
    if (k === 'f') {
      const fi = this.selectedFrame();
      const sess = fi >= 0 ? this.ctx.store.fSess.get(fi) : -1;
      if (sess < 0) this.ctx.notify('the selected frame belongs to no TCP session', true);
      else this.ctx.open('follow', sess);
      return true;
    }
    if (this.focus === 0) {
      if (k === 'enter' || k === 'return') { this.focus = 1; return true; }
      const before = this.cursor.sel;
      if (!this.cursor.key(k)) return false;
      if (this.cursor.sel !== before || k === 'G' || k === 'end') this.following = this.ctx.live && this.cursor.atEnd();
      return true;
    }
    if (this.focus === 1) return this.treeKey(k);
    switch (k) {
      case 'j': case 'down': this.hexTop++; return true;
      case 'k': case 'up': this.hexTop = Math.max(0, this.hexTop - 1); return true;
      case 'pagedown': case ' ': this.hexTop += this.hexRows; return true;
      case 'pageup': this.hexTop = Math.max(0, this.hexTop - this.hexRows); return true;
      case 'g': case 'home': this.hexTop = 0; return true;
      // Clamped to the last page when drawn.
      case 'G': case 'end': this.hexTop = Number.MAX_SAFE_INTEGER; return true;
      default: return false;
    }
  }

  /** With a pane maximised, Tab brings the next pane up in its place. */
  private followFocus(): void {
    if (this.maximised !== null) {
      this.maximised = this.focus;
      this.relayout();
    }
  }

  private relayout(): void {
    this.layout(this.lastSize.width, this.lastSize.height);
  }

  /** Back to the frame list, focused and whole (F from anywhere). */
  focusList(): void {
    this.focus = 0;
    if (this.maximised !== null) {
      this.maximised = null;
      this.relayout();
    }
  }

  /** Opens the selected tree node's whole value in the viewer; false when there is none. */
  private viewValue(): boolean {
    const line = this.flat[this.treeCursor.sel];
    if (!line?.node.full) return false;
    const label = line.node.label;
    const colon = label.indexOf(': ');
    this.ctx.viewValue(colon > 0 ? label.slice(0, colon) : 'Value', line.node.full());
    return true;
  }

  /** True while the filter scan has frames left (the app keeps redrawing). */
  busy(): boolean {
    return this.filter.pending || this.search !== null;
  }

  /** Text for the status line about the filter: expression, matches, scan progress. */
  filterStatus(exprMax: number): { text: string; plain: string } | null {
    if (!this.filter.rows) return null;
    const s = this.ctx.store;
    const scan = this.filter.pending ? ` scanning ${Math.floor((100 * this.filter.scanned) / Math.max(1, s.frameCount))}%` : '';
    const expr = fit(safe(this.filter.expr), Math.min(exprMax, width(safe(this.filter.expr)))).trimEnd();
    // Messages whose fields the filter needed but whose bodies are gone (live, beyond the budget).
    const unknown = this.filter.unknown > 0 ? `, may be incomplete: ${this.filter.unknown} not in memory` : '';
    const plain = `filter: ${expr} (${this.filter.count()}${unknown})${scan}`;
    return { text: tagSafe(plain), plain };
  }
}
