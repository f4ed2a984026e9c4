/**
 * Completion of field names in the display filter prompt (Tab), from the filter language's own
 * list (src/filter/fields.ts: the registry keys and the record key paths), so the prompt offers
 * exactly the names `-Y` accepts.
 */
import { fieldNames } from '../filter/fields.js';

/** Characters of a field name: what the filter's tokenizer reads as one word, less its operators' letters. */
const NAME_CHAR = /[A-Za-z0-9_.]/;

interface Completion {
  text: string;
  pos: number;
  /** The names that still fit, when more than one does (shown under the prompt). */
  candidates: string[];
}

let cached: string[] | null = null;
function all(): string[] {
  return (cached ??= fieldNames());
}

/**
 * Completes the word that ends at `pos`: one fitting name is written whole (with a space after
 * it), several are extended to their longest common prefix and listed. Null when nothing fits
 * (or the cursor is not after a word).
 */
export function completeField(text: string, pos: number): Completion | null {
  let start = pos;
  while (start > 0 && NAME_CHAR.test(text[start - 1] as string)) start--;
  const word = text.slice(start, pos);
  // Inside a quoted string there is nothing to complete.
  if (((text.slice(0, start).match(/"/g) ?? []).length & 1) === 1) return null;
  const low = word.toLowerCase();
  const fit = all().filter((n) => n.toLowerCase().startsWith(low));
  if (fit.length === 0) return null;
  let common = fit[0] as string;
  for (const n of fit) {
    let k = 0;
    while (k < common.length && k < n.length && common[k]!.toLowerCase() === n[k]!.toLowerCase()) k++;
    common = common.slice(0, k);
  }
  if (fit.length === 1) {
    const after = text.slice(pos);
    const insert = after.startsWith(' ') ? common : `${common} `;
    return { text: text.slice(0, start) + insert + after, pos: start + insert.length, candidates: [] };
  }
  const ext = common.length > word.length ? common : word;
  return { text: text.slice(0, start) + ext + text.slice(pos), pos: start + ext.length, candidates: fit };
}
