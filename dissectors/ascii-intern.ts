/**
 * Short ASCII strings read from message bodies, made once and handed out again: CommandComplete
 * tags ("SELECT 1", "UPDATE 1", "COMMIT") and statement and portal names ("S_1", "P0_3") repeat
 * from one message to the next by the hundred thousand. Decoding each anew costs a native call
 * and an allocation; looking the bytes up here costs a short loop, and a string handed out twice
 * is one string, whose hash a Map already knows (the statement table keys by name).
 *
 * A direct-mapped table of strings: a slot holds the last string whose bytes hashed to it, so
 * memory is bounded (SLOTS strings of at most MAX_BYTES characters) whatever the capture holds,
 * and a hostile stream of distinct names only makes misses. Only ASCII is kept: for ASCII bytes
 * the string's characters are the bytes, so bytes and string compare character by character and
 * a hit is exactly what decoding would have made. Anything else is decoded as UTF-8 each time.
 */

const SLOTS = 1024;
/** Longer strings are decoded every time: they rarely repeat, and hashing them costs more than it saves. */
export const MAX_BYTES = 64;

/** Slot contents ('' when empty: the empty string is answered before any lookup). */
const table: string[] = new Array<string>(SLOTS).fill('');

/** src[start, end) as UTF-8 text, from the table when the same ASCII bytes were read before. */
export function asciiIntern(src: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len <= 0) return '';
  if (len > MAX_BYTES) return src.toString('utf8', start, end);
  // FNV-1a over the bytes, and their OR to tell ASCII from the rest.
  let h = 0x811c9dc5;
  let or = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    or |= b;
    h = Math.imul(h ^ b, 0x01000193);
  }
  if (or >= 0x80) return src.toString('utf8', start, end);
  const slot = (h ^ (h >>> 16)) & (SLOTS - 1);
  const s = table[slot]!;
  if (s.length === len) {
    let i = 0;
    while (i < len && s.charCodeAt(i) === src[start + i]) i++;
    if (i === len) return s;
  }
  const made = src.toString('latin1', start, end);
  table[slot] = made;
  return made;
}
