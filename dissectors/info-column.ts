/**
 * The Info column of a frame's line, as Wireshark's packet list has it: the direction, the signs
 * of the PostgreSQL messages the frame completes (runs folded: D×120), then the summaries of the
 * first few messages (dissectors/summary.ts). `--text` (src/sinks/text.ts) and the TUI's frame
 * list (src/tui/store.ts) both build it here, so the two read the same. Raw text: escape it
 * before it reaches a terminal.
 */
import { SHORT_CODES } from './summary.js';
import type { DecodedMessage } from './types.js';

/** The first this many messages of a frame have their summary in the Info column. */
const INFO_SUMMARIES = 4;
/** The Info column's length, longer ones end in "…". */
export const INFO_CHARS = 240;
/** After this many runs of signs, the rest of a frame's signs are left out. */
const INFO_SIGN_RUNS = 25;

/**
 * A message's sign in the Info column (and the TUI's code column): its type byte; for the
 * startup-phase messages, which have none, SHORT_CODES's sign; for the one-byte answers to
 * SSLRequest / GSSENCRequest, the byte itself (S, G or N).
 */
export function messageSign(code: string | null, decoded: DecodedMessage): string {
  if (code !== null) return code;
  if (decoded.type === 'SSLResponse') return decoded.accepted ? 'S' : 'N';
  if (decoded.type === 'GSSENCResponse') return decoded.accepted ? 'G' : 'N';
  return SHORT_CODES[decoded.type === 'Malformed' ? decoded.name : decoded.type] ?? '?';
}

/** Messages whose summary the Info column shows even past the first INFO_SUMMARIES: the first of them. */
export function flaggedMessage(decoded: DecodedMessage): boolean {
  const t = decoded.type;
  return t === 'ErrorResponse' || t === 'Malformed' || t === 'Unknown';
}

/**
 * One frame's Info column, built message by message: `add` each message's sign in order, with its
 * summary when `wantsSummary` says it is shown (the first INFO_SUMMARIES, and the first flagged
 * one, an error or a malformed or unknown message, after them), so callers summarize only those.
 */
export class InfoColumn {
  private codes = '';
  private runs = 0;
  private prev = '';
  private run = 0;
  private readonly summaries: string[] = [];
  private flaggedShown = false;
  private messages = 0;

  /** `arrow`: '>' frontend, '<' backend. */
  constructor(private readonly arrow: string) {}

  wantsSummary(flagged: boolean): boolean {
    return this.messages < INFO_SUMMARIES || (flagged && !this.flaggedShown);
  }

  /** The next message: its sign, and its summary when wantsSummary(flagged) said so (else null). */
  add(sign: string, summary: string | null, flagged: boolean): void {
    this.messages++;
    // A summary the same as the one before it (DataRow after DataRow) is said once.
    if (summary !== null && summary !== this.summaries[this.summaries.length - 1]) {
      this.summaries.push(summary);
      if (flagged) this.flaggedShown = true;
    }
    if (this.runs > INFO_SIGN_RUNS) return;
    if (sign === this.prev) { this.run++; return; }
    this.endRun();
    this.prev = sign;
    this.run = 1;
  }

  get count(): number { return this.messages; }

  /** The column's text: signs with runs folded, the summaries, "…" when some were not shown. */
  text(): string {
    this.endRun();
    let info = `${this.arrow}${this.codes} ${this.summaries.join(', ')}${this.messages > this.summaries.length ? ', …' : ''}`;
    if (info.length > INFO_CHARS) info = info.slice(0, INFO_CHARS - 1) + '…';
    return info;
  }

  private endRun(): void {
    if (this.run === 0) return;
    this.codes += (this.runs++ > 0 ? '/' : '') + (this.run > 1 ? `${this.prev}×${this.run}` : this.prev);
    this.run = 0;
  }
}
