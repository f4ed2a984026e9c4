/**
 * The one-line prompt for `/` (display filter) and `:` (find), drawn above the status line.
 * It is a line editor of its own rather than blessed's textbox, so keys stay in the UI's
 * layering and the text is escaped like any other: a pasted escape sequence shows as text.
 * While the filter is invalid the reason shows in red and Enter keeps the prompt open. In the
 * filter prompt, Tab completes a field name (filter-complete.ts) and lists the names that fit.
 */
import blessed from 'blessed';
import type { Key } from './view.js';
import { wire } from './text.js';
import { completeField } from './filter-complete.js';

/** The display filter, find, and the file names of the exports (frames to pcap, records to NDJSON). */
export type PromptKind = 'filter' | 'find' | 'pcap' | 'ndjson';
type Validate = (kind: PromptKind, text: string) => string | null;
type Submit = (kind: PromptKind, text: string) => string | null;

const MAX_INPUT = 4096;

export class Prompt {
  active = false;
  private kind: PromptKind = 'filter';
  private label = '';
  private text = '';
  private pos = 0;
  private error: string | null = null;
  /** The field names Tab found, shown under the prompt until the next key. */
  private hint: string[] = [];
  private width = 80;
  private validate: Validate = () => null;
  private submit: Submit = () => null;
  private readonly history: Record<PromptKind, string[]> = { filter: [], find: [], pcap: [], ndjson: [] };
  private histPos = 0;
  private readonly box: blessed.Widgets.BoxElement;
  private readonly errBox: blessed.Widgets.BoxElement;

  constructor(screen: blessed.Widgets.Screen) {
    this.box = blessed.box({ tags: true, height: 1, style: { bg: 'black', fg: 'white' } });
    this.errBox = blessed.box({ tags: true, height: 1, style: { bg: 'black', fg: 'red' } });
    screen.append(this.box);
    screen.append(this.errBox);
    this.box.hide();
    this.errBox.hide();
  }

  layout(width: number, height: number): void {
    this.width = width;
    this.box.position.top = Math.max(0, height - 2);
    this.box.position.left = 0;
    this.box.width = width;
    this.errBox.position.top = Math.max(0, height - 3);
    this.errBox.position.left = 0;
    this.errBox.width = width;
  }

  open(kind: PromptKind, label: string, initial: string, validate: Validate, submit: Submit): void {
    this.active = true;
    this.kind = kind;
    this.label = label;
    this.text = initial;
    this.pos = initial.length;
    this.validate = validate;
    this.submit = submit;
    this.histPos = this.history[kind].length;
    this.error = validate(kind, initial);
    this.box.show();
    this.box.setFront();
    this.errBox.setFront();
  }

  close(): void {
    this.active = false;
    this.box.hide();
    this.errBox.hide();
  }

  key(k: Key, ch: string | undefined): void {
    this.hint = [];
    switch (k) {
      case 'tab': {
        if (this.kind !== 'filter') return;
        const c = completeField(this.text, this.pos);
        if (c === null) return;
        this.text = c.text;
        this.pos = c.pos;
        this.hint = c.candidates;
        break;
      }
      case 'escape': case 'C-g':
        this.close();
        return;
      case 'enter': {
        const err = this.validate(this.kind, this.text);
        if (err) { this.error = err; return; }
        const h = this.history[this.kind];
        if (this.text.trim() && h[h.length - 1] !== this.text) h.push(this.text);
        const fail = this.submit(this.kind, this.text);
        if (fail) { this.error = fail; return; }
        this.close();
        return;
      }
      case 'backspace':
        if (this.pos > 0) { this.text = this.text.slice(0, this.pos - 1) + this.text.slice(this.pos); this.pos--; }
        break;
      case 'delete': case 'C-d':
        this.text = this.text.slice(0, this.pos) + this.text.slice(this.pos + 1);
        break;
      case 'left': case 'C-b': this.pos = Math.max(0, this.pos - 1); return;
      case 'right': case 'C-f': this.pos = Math.min(this.text.length, this.pos + 1); return;
      case 'home': case 'C-a': this.pos = 0; return;
      case 'end': case 'C-e': this.pos = this.text.length; return;
      case 'C-u': this.text = this.text.slice(this.pos); this.pos = 0; break;
      case 'C-k': this.text = this.text.slice(0, this.pos); break;
      case 'up': case 'down': {
        const h = this.history[this.kind];
        this.histPos = Math.max(0, Math.min(h.length, this.histPos + (k === 'up' ? -1 : 1)));
        this.text = h[this.histPos] ?? '';
        this.pos = this.text.length;
        break;
      }
      default: {
        // Printable input only (a paste arrives as characters one by one).
        if (!ch || k !== ch || this.text.length >= MAX_INPUT) return;
        this.text = this.text.slice(0, this.pos) + ch + this.text.slice(this.pos);
        this.pos += ch.length;
      }
    }
    this.error = this.validate(this.kind, this.text);
  }

  draw(): void {
    if (!this.active) return;
    const before = wire(this.text.slice(0, this.pos));
    const at = this.text.slice(this.pos, this.pos + 1);
    const after = wire(this.text.slice(this.pos + 1));
    const cur = at === '' ? '{inverse} {/inverse}' : `{inverse}${wire(at)}{/inverse}`;
    const colour = this.kind === 'filter' ? (this.error ? 'red-fg' : 'green-fg') : 'white-fg';
    const mark = this.kind === 'filter' ? (this.error ? ' ✗' : ' ✓') : '';
    this.box.setContent(`{bold}${this.label}:{/bold} {${colour}}${before}{/${colour}}${cur}{${colour}}${after}{/${colour}}${mark}`);
    if (this.hint.length > 0) {
      // As many names as fit on the line, then how many more.
      let line = '';
      let shown = 0;
      for (const n of this.hint) {
        const more = ` … ${this.hint.length - shown} more`;
        if (line.length + n.length + 2 + more.length > this.width && shown > 0) { line += more; break; }
        line += ` ${n} `;
        shown++;
      }
      this.errBox.style.fg = 'white';
      this.errBox.setContent(wire(line));
      this.errBox.show();
    } else if (this.error) {
      this.errBox.style.fg = 'red';
      this.errBox.setContent(` ${wire(this.error)}`);
      this.errBox.show();
    } else {
      this.errBox.hide();
    }
  }
}
