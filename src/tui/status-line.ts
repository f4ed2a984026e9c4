/**
 * The status line at any width: what changes while one watches (notice, load progress, filter
 * matches, live drops, packet count) is kept; the rest gives way from the least needed (help
 * hint, bytes, sessions, anomalies, queries), and the title is cut to what is left.
 */
import { safe, tagSafe, width } from './text.js';

/** One figure: tagged text, its plain width, and its priority (higher stays longer). */
export interface StatusPart { text: string; w: number; prio: number }

export function part(text: string, plain: string, prio: number): StatusPart {
  return { text, w: width(plain), prio };
}

const TITLE_MAX = 40;
const SEP = 3;
const LEAD = 'pgsniff ';
const TITLE_MIN = 8;

/** The line for a screen `w` columns wide: parts dropped by priority until it fits, the title (a path keeps its end) in what is left. */
export function statusLine(title: string, parts: StatusPart[], w: number): string {
  const kept = [...parts];
  const total = (title: number) => 1 + LEAD.length + title + kept.reduce((n, x) => n + x.w + SEP, 0);
  // The last part standing (a long notice, an error) stays, at the title's expense.
  while (total(TITLE_MIN) > w && kept.length > 1) {
    let low = 0;
    for (let i = 1; i < kept.length; i++) if ((kept[i] as StatusPart).prio < (kept[low] as StatusPart).prio) low = i;
    kept.splice(low, 1);
  }
  if (total(TITLE_MIN) > w) return ` {bold}pgsniff{/bold}` + kept.map((x) => ` │ ${x.text}`).join('');
  const room = Math.max(TITLE_MIN, Math.min(TITLE_MAX, w - total(0)));
  let t = safe(title);
  if (width(t) > room) {
    let cut = t;
    while (cut.length > 0 && width(cut) > room - 1) cut = cut.slice(1);
    t = '…' + cut;
  }
  return ` {bold}pgsniff{/bold} ${tagSafe(t)}` + kept.map((x) => ` │ ${x.text}`).join('');
}
