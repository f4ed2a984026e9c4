/**
 * The display filter language of `-Y` and the TUI's `/`, in the spirit of Wireshark's:
 *
 *   type == "Parse" && query contains "users"
 *   kind == query && durationMs > 100
 *   error.sqlstate == "42601" || severity == "ERROR"
 *   dir == frontend and not type in {"Sync" "Flush"}
 *   sql matches "^select .* from orders"
 *   error                      (the field exists and is not null, false, 0 or "")
 *
 * Fields are the field registry's keys (`pgsql.error.sqlstate`, the keys of `-V` and the TUI
 * tree), which read messages and query records alike, or the NDJSON keys, dotted for nested ones
 * (fields.ts resolves both). An unknown name is a BAD_FILTER with the nearest names, never a
 * filter that silently matches nothing. A path that crosses an array matches when any element
 * does (`params.value == 42`), as Wireshark's fields do. Operators: == != < <= > >=
 * (also eq ne lt le gt ge), contains (case-sensitive substring), matches / ~ (case-insensitive
 * regular expression), in {v1 v2 ...}; combined with && and, || or, ! not, parentheses.
 * Values: "strings" (with \" and \\ escapes), numbers, true/false/null, or bare words (strings).
 *
 * The parser recurses once per parenthesis and `!`: nesting deeper than MAX_FILTER_DEPTH is a
 * BAD_FILTER (exit 2), never a stack overflow. Chains of && and || of any length compile flat
 * (one predicate over a list), so evaluating them does not recurse either.
 */
import { UserError } from '../core/errors.js';
import type { FieldDef } from '../../dissectors/fields.js';
import { resolveField } from './fields.js';

export type Predicate = (rec: object) => boolean;

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; at: number };

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '{', '}', '~', ','];
const WORD_OPS: Record<string, string> = {
  eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', and: '&&', or: '||', not: '!',
  contains: 'contains', matches: 'matches', in: 'in',
};

/** Parentheses and `!` nested deeper than this are refused. */
export const MAX_FILTER_DEPTH = 256;
/** The expression quoted in an error is cut to this many characters. */
const QUOTED = 200;

function fail(expr: string, at: number, what: string): never {
  const quoted = expr.length > QUOTED ? expr.slice(0, QUOTED) + '...' : expr;
  throw new UserError('BAD_FILTER', `invalid filter at column ${at + 1}: ${what} (in: ${quoted})`);
}

/** A bare word, matched in place (sticky): slicing the rest of the expression at each word would be quadratic. */
const WORD = /[A-Za-z0-9_.\-:+@$/]+/y;

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (c === ' ' || c === '\t' || c === '\n') { i++; continue; }
    if (c === '"' || c === "'") {
      const start = i++;
      let v = '';
      while (i < expr.length && expr[i] !== c) {
        if (expr[i] === '\\' && i + 1 < expr.length) { v += expr[i + 1]; i += 2; continue; }
        v += expr[i++];
      }
      if (i >= expr.length) fail(expr, start, 'unterminated string');
      i++;
      out.push({ t: 'str', v, at: start });
      continue;
    }
    const op = OPERATORS.find((o) => expr.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', v: op, at: i });
      i += op.length;
      continue;
    }
    WORD.lastIndex = i;
    const m = WORD.exec(expr);
    if (!m) fail(expr, i, `unexpected character '${c}'`);
    const w = m[0];
    const lower = w.toLowerCase();
    if (WORD_OPS[lower]) out.push({ t: 'op', v: WORD_OPS[lower], at: i });
    else out.push({ t: 'word', v: w, at: i });
    i += w.length;
  }
  out.push({ t: 'end', at: expr.length });
  return out;
}

type Value = string | number | boolean | null;

/**
 * A value as the records keep it, for a registry field with a value table: the name where
 * records keep names (`pgsql.target == S` is "statement", `pgsql.bind.format == 1` "binary"),
 * the code where they keep codes (`pgsql.authtype == AuthenticationMD5Password` is 5).
 */
function asRecorded(field: FieldDef | null, v: Value): Value {
  const table = field?.table;
  if (table === undefined || v === null || typeof v === 'boolean') return v;
  const k = String(v);
  if (field!.named === true) return table[k] ?? v;
  if (table[k] !== undefined) return v;
  const code = Object.keys(table).find((c) => table[c] === k);
  if (code === undefined) return v;
  return /^\d+$/.test(code) ? Number(code) : code;
}

function truthy(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

function compare(op: string, a: unknown, b: Value, re: RegExp | null): boolean {
  if (a === undefined) return false;
  switch (op) {
    case 'contains':
      return typeof a === 'string' ? a.includes(String(b)) : JSON.stringify(a).includes(String(b));
    case 'matches':
      return re!.test(typeof a === 'string' ? a : JSON.stringify(a));
  }
  let x: unknown = a;
  let y: unknown = b;
  if (typeof b === 'number' && typeof a === 'string' && a.trim() !== '' && !Number.isNaN(Number(a))) x = Number(a);
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b))) y = Number(b);
  if (typeof a === 'boolean' && typeof b === 'string') y = b === 'true' ? true : b === 'false' ? false : b;
  if (typeof x === 'object' && x !== null) x = JSON.stringify(x);
  switch (op) {
    case '==': return x === y || (x === null && y === null);
    case '!=': return x !== y;
  }
  if (typeof x !== typeof y || (typeof x !== 'number' && typeof x !== 'string')) return false;
  const xx = x as number | string;
  const yy = y as number | string;
  switch (op) {
    case '<': return xx < yy;
    case '<=': return xx <= yy;
    case '>': return xx > yy;
    case '>=': return xx >= yy;
  }
  return false;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly expr: string, private readonly toks: Token[]) {}

  parse(): Predicate {
    if (this.toks[0].t === 'end') return () => true;
    const p = this.or();
    const t = this.peek();
    if (t.t !== 'end') fail(this.expr, t.at, `unexpected '${'v' in t ? t.v : ''}'`);
    return p;
  }

  private peek(): Token { return this.toks[this.i]; }
  private next(): Token { return this.toks[this.i++]; }
  private isOp(v: string): boolean { const t = this.peek(); return t.t === 'op' && t.v === v; }

  private or(): Predicate {
    const first = this.and();
    if (!this.isOp('||')) return first;
    const parts = [first];
    while (this.isOp('||')) {
      this.next();
      parts.push(this.and());
    }
    return (rec) => parts.some((p) => p(rec));
  }

  private and(): Predicate {
    const first = this.not();
    if (!this.isOp('&&')) return first;
    const parts = [first];
    while (this.isOp('&&')) {
      this.next();
      parts.push(this.not());
    }
    return (rec) => parts.every((p) => p(rec));
  }

  private enter(at: number): void {
    if (++this.depth > MAX_FILTER_DEPTH) fail(this.expr, at, `parentheses and '!' nested deeper than ${MAX_FILTER_DEPTH}`);
  }

  private not(): Predicate {
    if (this.isOp('!')) {
      const t = this.next();
      this.enter(t.at);
      const p = this.not();
      this.depth--;
      return (rec) => !p(rec);
    }
    return this.primary();
  }

  private primary(): Predicate {
    const t = this.next();
    if (t.t === 'op' && t.v === '(') {
      this.enter(t.at);
      const p = this.or();
      this.depth--;
      const c = this.next();
      if (!(c.t === 'op' && c.v === ')')) fail(this.expr, c.at, "expected ')'");
      return p;
    }
    if (t.t !== 'word') fail(this.expr, t.at, t.t === 'end' ? 'expression ends too early' : 'expected a field name');
    const resolved = resolveField(t.v);
    if ('error' in resolved) fail(this.expr, t.at, resolved.error);
    const { get, field } = resolved;
    const op = this.peek();
    if (op.t !== 'op' || !['==', '!=', '<', '<=', '>', '>=', 'contains', 'matches', '~', 'in'].includes(op.v)) {
      return (rec) => get(rec, truthy);
    }
    this.next();
    if (op.v === 'in') {
      const open = this.next();
      if (!(open.t === 'op' && open.v === '{')) fail(this.expr, open.at, "expected '{' after in");
      const set: Value[] = [];
      while (!this.isOp('}')) {
        if (this.isOp(',')) { this.next(); continue; }
        set.push(asRecorded(field, this.value()));
      }
      this.next();
      const inSet = (v: unknown): boolean => set.some((s) => compare('==', v, s, null));
      return (rec) => get(rec, inSet);
    }
    const name = op.v === '~' ? 'matches' : op.v;
    const raw = this.value();
    let re: RegExp | null = null;
    if (name === 'matches') {
      try {
        re = new RegExp(String(raw), 'i');
      } catch (e) {
        fail(this.expr, op.at, `bad regular expression: ${(e as Error).message}`);
      }
    }
    const value = name === 'contains' || name === 'matches' ? raw : asRecorded(field, raw);
    const equal = (v: unknown): boolean => compare('==', v, value, null);
    // `!=` holds when no value equals (Wireshark's "!==" / "all not equal" reading, the intuitive one).
    if (name === '!=') return (rec) => !get(rec, equal);
    if (name === '==') return (rec) => get(rec, equal);
    const test = (v: unknown): boolean => compare(name, v, value, re);
    return (rec) => get(rec, test);
  }

  private value(): Value {
    const t = this.next();
    if (t.t === 'str') return t.v;
    if (t.t === 'word') {
      if (t.v === 'true') return true;
      if (t.v === 'false') return false;
      if (t.v === 'null') return null;
      if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t.v)) return Number(t.v);
      return t.v;
    }
    return fail(this.expr, t.at, t.t === 'end' ? 'expected a value, found the end' : 'expected a value');
  }
}

/** Compiles a filter; throws UserError('BAD_FILTER') with the column of the problem. */
export function compileFilter(expr: string): Predicate {
  return new Parser(expr, tokenize(expr)).parse();
}
