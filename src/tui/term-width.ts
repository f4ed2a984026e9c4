/**
 * How many terminal columns a character takes, counted the way terminals count them (wcwidth
 * with Unicode 9+ emoji widths, as tmux, xterm, VTE and kitty do), and the same count made
 * blessed's. blessed's own tables predate emoji widths (it counts 🐘 as one column): a value
 * holding one shifted every later cell of its row by one, the right border broke and text
 * landed in the next pane. `patchBlessedWidths` makes blessed ask this module instead, so
 * what the panes lay out is what the terminal draws.
 *
 * Characters whose width terminals disagree on never reach the screen raw: format characters
 * (zero-width space, joiners, bidi controls) are escaped by src/core/escape.ts, and regional
 * indicators (flag halves, one column alone, two as a pair in some terminals) by `visible`.
 */
import { createRequire } from 'node:module';

/** East Asian Wide and Fullwidth ranges outside the emoji (which Emoji_Presentation covers). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], [0x2329, 0x232a], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff],
  [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f],
  [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4], [0x17000, 0x18cff], [0x1b000, 0x1b2ff],
  [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

const EMOJI = /\p{Emoji_Presentation}/u;
const MARK = /[\p{Mn}\p{Me}]/u;
const REGIONAL = /[\u{1f1e6}-\u{1f1ff}]/gu;

function inWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = WIDE[mid] as readonly [number, number];
    if (cp < r[0]) hi = mid - 1;
    else if (cp > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

const memo = new Map<number, 0 | 1 | 2>();

/** Columns of one code point: 0 for combining marks and Hangul medial/final jamo, 2 for wide and emoji, else 1. */
function cpWidth(cp: number): 0 | 1 | 2 {
  if (cp < 0x300) return cp === 0 ? 0 : 1;
  const known = memo.get(cp);
  if (known !== undefined) return known;
  const ch = String.fromCodePoint(cp);
  let w: 0 | 1 | 2 = 1;
  if ((cp >= 0x1160 && cp <= 0x11ff) || MARK.test(ch)) w = 0;
  else if (cp >= 0x1f1e6 && cp <= 0x1f1ff) w = 1;
  else if (inWide(cp) || EMOJI.test(ch)) w = 2;
  // Bounded: a capture of every CJK ideograph stops memoising rather than growing the map.
  if (memo.size < 65_536) memo.set(cp, w);
  return w;
}

/** True when every UTF-16 unit is a one-column character (the common case, checked without allocating). */
export function narrow(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x300) return false;
  return true;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The user-perceived characters of `s` (a base and its marks, an emoji and its modifier). */
export function graphemes(s: string): Iterable<string> {
  if (narrow(s)) return s;
  const out: string[] = [];
  for (const g of segmenter.segment(s)) out.push(g.segment);
  return out;
}

/** Columns of a grapheme: the sum of its code points' (marks count nothing). */
export function graphemeWidth(g: string): number {
  if (g.length === 1) return cpWidth(g.charCodeAt(0));
  let w = 0;
  for (const ch of g) w += cpWidth(ch.codePointAt(0) as number);
  return w;
}

/** Display width of terminal-safe text (see `visible`). */
export function width(s: string): number {
  if (narrow(s)) return s.length;
  let w = 0;
  for (const ch of s) w += cpWidth(ch.codePointAt(0) as number);
  return w;
}

/** Regional indicators escaped (`\u{1f1eb}`): text already through escapeTerminal is then safe to lay out. */
export function visible(s: string): string {
  if (narrow(s)) return s;
  return s.replace(REGIONAL, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
}

interface BlessedUnicode {
  charWidth: (str: string | number, i?: number) => number;
  combining: Record<number, boolean>;
  chars: { all: RegExp };
}

let patched = false;

/**
 * Makes blessed count columns as `cpWidth` does: its per-cell width (screen.draw eats the cell
 * after a two-column character), its list of characters that get that spare cell
 * (element.parseContent) and its table of zero-width marks (joined to the previous cell).
 */
export function patchBlessedWidths(): void {
  if (patched) return;
  patched = true;
  const require = createRequire(import.meta.url);
  const u = require('blessed/lib/unicode') as BlessedUnicode;
  const tab = u.charWidth;
  u.charWidth = (str: string | number, i?: number): number => {
    const cp = typeof str === 'number' ? str : str.codePointAt(i ?? 0) ?? 0;
    if (cp === 0x09) return tab(cp);
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
    return cpWidth(cp);
  };
  u.combining = new Proxy({} as Record<number, boolean>, {
    get: (_t, key) => {
      const cp = typeof key === 'string' ? Number(key) : NaN;
      return Number.isInteger(cp) && cp >= 0x300 && cp <= 0x10ffff && cpWidth(cp) === 0;
    },
  });
  // Every two-column code point: the wide ranges above and the emoji that present as such.
  const ranges = WIDE.map(([a, b]) => `\\u{${a.toString(16)}}-\\u{${b.toString(16)}}`).join('');
  u.chars.all = new RegExp(`((?![\\u{1f1e6}-\\u{1f1ff}])(?:[${ranges}]|\\p{Emoji_Presentation}))`, 'gu');
}
