/**
 * Strings from the wire are shown in a terminal escaped: a query must not be able to move the
 * cursor, change colours or set the window title. C0 controls, DEL, C1 controls and the
 * backslash itself become visible escapes; everything else (including non-ASCII text) stays.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_G = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\', '\x1b': '\\e' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
}

export function escapeTerminal(s: string): string {
  // The common case (plain SQL) allocates nothing.
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_G, escapeOne);
}
