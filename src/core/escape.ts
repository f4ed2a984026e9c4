/**
 * Strings from the wire are shown in a terminal escaped: a query must not be able to move the
 * cursor, change colours or set the window title. One rule for every output (the TUI, --text,
 * -V): C0 controls, DEL and C1 controls become visible escapes (\t \r \n \e \xNN), and so do
 * the invisible format characters (zero-width space and joiners, bidi controls, soft hyphen,
 * BOM: \uNNNN) and the line and paragraph separators, which could hide or reorder text.
 * Everything else stays as sent, the backslash included: a value reads as the server sent it.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/u;
// eslint-disable-next-line no-control-regex
const UNSAFE_G = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0) as number;
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  return code <= 0xffff ? '\\u' + code.toString(16).padStart(4, '0') : `\\u{${code.toString(16)}}`;
}

export function escapeTerminal(s: string): string {
  // The common case (plain SQL) allocates nothing.
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_G, escapeOne);
}
