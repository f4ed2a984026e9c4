/**
 * The field tree for `-V` and the TUI's detail pane: every field with its label, stable
 * filter key, value, and byte range within the message (type byte at offset 0 when there is
 * one), so a hex view can highlight it. The tree comes from running the same decoder again
 * with tracing on (dissect.ts), so labels and keys are the field registry's (fields.ts) and
 * cannot drift from what the decoders read. Built on demand, never on the hot path.
 */
import { F, ERROR_FIELDS, REDACTED, tableName, type FieldDef } from './fields.js';
import { conditionName } from './sqlstate.js';
import { traceDecode, messageName, mayCarrySecret } from './dissect.js';
import type { Span } from './reader.js';
import { scramParts, looksLikeScram, redactScram, SECRET_ATTRIBUTES } from './scram.js';
import { typeName } from './values/oids.js';
import type { ColumnDescription, DecodedMessage, DissectContext, RawMessage, PgValue } from './types.js';

export interface FieldNode {
  /** Label as shown ("Query", "Parameter 2"). */
  label: string;
  /** Stable dotted filter key ("pgsql.query", "pgsql.bind.param"). */
  key: string;
  /** The value: as read for numbers and strings (letter bytes as their letter), decoded for typed values, hex (shortened) for bytes; null for groups without one. */
  value: PgValue;
  /** The value for people: value-table names added ("MD5Password (5)"), long strings shortened. Not escaped. */
  display: string;
  /** Byte range within the message. */
  offset: number;
  length: number;
  children: FieldNode[];
}

/** Bytes of a bytes field shown in the tree before it is cut. */
const TREE_HEX_CAP = 64;

/** Groups holding one length-prefixed value: a null value there is SQL NULL. */
const VALUE_GROUPS: ReadonlySet<FieldDef> = new Set([F.param, F.rowValue, F.arg, F.functionResult]);

const AUTH_BY_TYPE: Readonly<Record<string, number>> = {
  SASLInitialResponse: 10, SASLResponse: 11, GSSResponse: 7,
};

function typeOf(d: DecodedMessage): string {
  return d.type === 'Malformed' ? d.name : d.type;
}

/**
 * The context the message was decoded with, as far as the decoded record tells it: enough to
 * decode it the same way again (which 'p' it is, parameter and column types, key length).
 */
function contextFrom(raw: RawMessage, d: DecodedMessage, given: Partial<DissectContext>): DissectContext {
  const t = typeOf(d);
  let authType: number | null = AUTH_BY_TYPE[t] ?? null;
  if (d.type === 'PasswordMessage') authType = d.method === 'md5' ? 5 : d.method === 'cleartext' ? 3 : null;
  else if (t === 'PasswordMessage') authType = 3;
  const paramTypes = d.type === 'Bind' ? d.params.map((p) => p.oid) : undefined;
  const columns: ColumnDescription[] | undefined = d.type === 'DataRow'
    ? d.values.map((v) => ({ name: '', tableOid: 0, columnNumber: 0, typeOid: v.oid, typeName: v.typeName, typeSize: -1, typeModifier: -1, format: v.format }))
    : undefined;
  let protocolMinor = 0;
  if (d.type === 'BackendKeyData') protocolMinor = d.secretKey.length > 8 ? 2 : 0;
  else if (d.type === 'Malformed' && d.name === 'BackendKeyData' && d.fault !== 'trailing') protocolMinor = raw.body.length > 8 ? 2 : 0;
  const showSecrets = given.showSecrets ?? false;
  return {
    showSecrets,
    protocolMinor: given.protocolMinor ?? protocolMinor,
    authType: given.authType !== undefined ? given.authType : authType,
    copy: given.copy ?? null,
    statementParamTypes: given.statementParamTypes ?? (() => paramTypes),
    resultColumns: given.resultColumns ?? (() => columns),
    pendingRequest: given.pendingRequest ?? (t === 'GSSENCResponse' ? 'gssenc' : t === 'SSLResponse' ? 'ssl' : null),
    saslMechanism: given.saslMechanism ?? (d.type === 'SASLInitialResponse' ? d.mechanism : null),
    // What the FunctionCall asked its answer to be in: the caller's word, else the record's
    // (decoded while the session layer knew the call); when neither knows, the bytes decide.
    functionResultFormat: given.functionResultFormat ?? (d.type === 'FunctionCallResponse' && d.resultFormat !== null ? constant(d.resultFormat) : undefined),
  };
}

function constant<T>(v: T): () => T {
  return () => v;
}

/**
 * A FunctionCallResponse does not carry its result's format: the FunctionCall did. The tree says
 * which it was read in and why, so a guessed reading is never shown as a certain one (-V and the
 * TUI alike). It has no bytes of its own: an empty range at the end of the message.
 */
function resultFormatNode(d: Extract<DecodedMessage, { type: 'FunctionCallResponse' }>, asked: 'text' | 'binary' | undefined, at: number): FieldNode {
  const f = F.functionResultFormat;
  if (asked !== undefined) {
    return { label: f.label, key: f.key, value: asked, display: `${asked} (${asked === 'binary' ? 1 : 0}), as its FunctionCall asked`, offset: at, length: 0, children: [] };
  }
  const read = d.result.format;
  return {
    label: f.label, key: f.key, value: null, offset: at, length: 0, children: [],
    display: `unknown (the FunctionCall that asked for it was not seen); read as ${read} because the bytes ${read === 'text' ? 'read as text' : 'do not read as text'}`,
  };
}

function hexPreview(body: Buffer, offset: number, length: number): string {
  const n = Math.min(length, TREE_HEX_CAP);
  const hex = body.toString('hex', offset, offset + n);
  return n < length ? `${hex}… (${length} bytes)` : hex;
}

function displayOf(f: FieldDef, value: PgValue): string {
  if ((f === F.protocolVersion || (f === F.newestMinor && Number(value) > 0xffff)) && typeof value === 'number') {
    return `${value >>> 16}.${value & 0xffff} (${value})`;
  }
  const name = tableName(f, value);
  if (f.char === true && typeof value === 'number') {
    const ch = `'${String.fromCharCode(value)}'`;
    return name !== undefined ? `${name} (${ch})` : ch;
  }
  if (name !== undefined) return `${name} (${String(value)})`;
  // A type OID says its built-in type's name: "23 (int4)".
  if ((f === F.typeOid || f === F.paramType) && typeof value === 'number') {
    const t = typeName(value);
    return t !== null ? `${value} (${t})` : String(value);
  }
  if (value === null) return '';
  if (typeof value === 'string') return cut(value, DISPLAY_MAX);
  if (typeof value === 'object') return cut(JSON.stringify(value), DISPLAY_MAX);
  return String(value);
}

function scramChildren(text: string, base: number, showSecrets: boolean): FieldNode[] {
  const out: FieldNode[] = [];
  for (const p of scramParts(text)) {
    const value = SECRET_ATTRIBUTES.has(p.letter) && !showSecrets ? REDACTED : p.value;
    out.push({
      label: p.letter === 'gs2' ? 'gs2 channel binding flag' : `SCRAM attribute ${p.letter}`,
      key: F.scramAttribute.key,
      value,
      display: value,
      offset: base + p.start,
      length: p.end - p.start,
      children: [],
    });
  }
  return out;
}

/** Characters of a value shown in the tree before it is cut. */
const DISPLAY_MAX = 200;

/** Cuts a value to `max` characters without folding its whitespace (a value is shown as sent) or splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let n = max - 1;
  const c = s.charCodeAt(n - 1);
  if (c >= 0xd800 && c <= 0xdbff) n--;
  return s.slice(0, n) + '…';
}

/** A typed value as one line, for comparing with its wire text: strings as they are, the rest as JSON. */
function typedText(value: PgValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A value's display: as the server (or client) sent it, with the typed interpretation beside it
 * when it reads differently. Text format: the text, then the typed value ("{1,NULL,-3} →
 * [1,null,-3]"), so neither hides the other. Binary format: the typed value, then the bytes
 * ("2147483647 (binary 7fffffff)"); the hex pane has all of them.
 */
function valueDisplay(value: PgValue, body: Buffer, offset: number, length: number, format: 'text' | 'binary' | null): string {
  if (length < 0 || offset + length > body.length) return displayOf(F.valueData, value);
  const typed = typedText(value);
  // Binary text (text, varchar, name): the bytes are the text itself.
  if (format === 'binary' && typed === body.toString('utf8', offset, offset + length)) return cut(typed, DISPLAY_MAX);
  if (format === 'binary') return `${cut(typed, DISPLAY_MAX)} (binary ${hexPreview(body, offset, length)})`;
  const sent = body.toString('utf8', offset, offset + length);
  return typed === sent || value === null ? cut(sent, DISPLAY_MAX) : `${cut(sent, DISPLAY_MAX)} → ${cut(typed, DISPLAY_MAX)}`;
}

/** The format and type of the typed value at index `i` of a message (Bind parameters, DataRow values). */
type FormatOf = (field: FieldDef, i: number) => 'text' | 'binary' | null;
type TypeOf = (field: FieldDef, i: number) => string | null;

function formatsOf(d: DecodedMessage, functionResult: 'text' | 'binary' | undefined): FormatOf {
  return (field, i) => {
    if (d.type === 'DataRow' && field === F.rowValue) return d.values[i]?.format ?? null;
    if (d.type === 'Bind' && field === F.param) return d.params[i]?.format ?? null;
    if (d.type === 'FunctionCall' && field === F.arg) return d.args[i]?.format ?? null;
    if (d.type === 'FunctionCallResponse' && field === F.functionResult) return functionResult ?? d.result.format;
    return null;
  };
}

/** Labels' type part: the type, after the column's name when the RowDescription's columns are given ("email, text"). */
function typesOf(d: DecodedMessage, names?: readonly string[]): TypeOf {
  return (field, i) => {
    if (d.type === 'DataRow' && field === F.rowValue) {
      const type = d.values[i]?.typeName ?? null;
      const name = names?.[i];
      return name ? `${name}, ${type ?? `oid ${d.values[i]?.oid ?? 0}`}` : type;
    }
    if (d.type === 'Bind' && field === F.param) return d.params[i]?.typeName ?? null;
    return null;
  };
}

function nodes(spans: readonly Span[], body: Buffer, base: number, showSecrets: boolean, formatOf: FormatOf, typeOf: TypeOf,
  group: { field: FieldDef; index: number } | null = null): FieldNode[] {
  const out: FieldNode[] = [];
  for (const s of spans) {
    const f = s.field;
    let value: PgValue = s.value;
    let children: FieldNode[] = [];
    if (s.children !== null) children = nodes(s.children, body, base, showSecrets, formatOf, typeOf, VALUE_GROUPS.has(f) ? { field: f, index: s.index } : null);
    if (f.secret === true && !showSecrets) value = REDACTED;
    else if (value === null && s.children === null && s.length > 0) value = hexPreview(body, s.offset, s.length);
    if (f === F.saslData && s.length > 0) {
      const text = body.toString('utf8', s.offset, s.offset + s.length);
      if (looksLikeScram(text) && /^[\x20-\x7e]*$/.test(text)) {
        children = scramChildren(text, base + s.offset, showSecrets);
        value = showSecrets ? text : redactScram(text, scramParts(text));
      } else if (!showSecrets) {
        value = REDACTED;
      }
    }
    // An error or notice field is labelled by its letter's name ("SQLSTATE: 42601"), not "Field 3".
    const named = f === F.errorField && s.children !== null && s.children.length > 1 ? s.children[1].field.label : null;
    let display = f.secret === true && !showSecrets ? REDACTED
      : value === null && VALUE_GROUPS.has(f) ? 'NULL' : displayOf(f, value);
    if (f.secret !== true && VALUE_GROUPS.has(f) && value !== null && s.children !== null) {
      const data = s.children.find((c) => c.field === F.valueData);
      if (data) display = valueDisplay(value, body, data.offset, data.length, formatOf(f, s.index));
    } else if (f === F.valueData && group !== null) {
      display = valueDisplay(value, body, s.offset, s.length, formatOf(group.field, group.index));
    }
    // A SQLSTATE says its condition name: "23505 unique_violation".
    if (named !== null && s.children !== null && s.children[1]?.field === ERROR_FIELDS.C?.field && typeof value === 'string') {
      const cond = conditionName(value);
      if (cond !== null) display = `${value} ${cond}`;
    }
    // A typed value's label carries its type: "Parameter $2 (int8)" (as the SQL names it), "Value 3 (email, text)".
    const type = s.index >= 0 ? typeOf(f, s.index) : null;
    out.push({
      label: named ?? (s.index >= 0 ? `${f.label} ${f === F.param ? '$' : ''}${s.index + 1}${type !== null ? ` (${type})` : ''}` : f.label),
      key: f.key,
      // A byte that is a letter on the wire (status, target, field type) is that letter here too.
      value: f.char === true && typeof value === 'number' ? String.fromCharCode(value) : value,
      display,
      offset: base + s.offset,
      length: s.length,
      children,
    });
  }
  return out;
}

/**
 * The tree of one message. `ctx` may carry what the decoding context was (showSecrets above
 * all); what it leaves out is taken from the decoded record.
 */
/** `columnNames`: a DataRow's column names from the RowDescription in force (labels say them); decoding uses `decoded`'s own types. */
export function fieldTree(raw: RawMessage, decoded: DecodedMessage, ctx: Partial<DissectContext> & { columnNames?: readonly string[] } = {}): FieldNode[] {
  const c = contextFrom(raw, decoded, ctx);
  const body = raw.body;
  const out: FieldNode[] = [];
  let base: number;
  if (raw.code !== null) {
    out.push({ label: F.type.label, key: F.type.key, value: raw.code, display: `${messageName(raw, c)} ('${raw.code}')`, offset: 0, length: 1, children: [] });
    out.push({ label: F.length.label, key: F.length.key, value: raw.length, display: String(raw.length), offset: 1, length: 4, children: [] });
    base = 5;
  } else if (raw.dir === 'backend' && body.length === 1) {
    base = 0;
  } else {
    out.push({ label: F.length.label, key: F.length.key, value: raw.length, display: String(raw.length), offset: 0, length: 4, children: [] });
    base = 4;
  }
  let t: ReturnType<typeof traceDecode>;
  try {
    t = traceDecode(raw, c);
  } catch (err) {
    // A value decoder bug (dissect() reported it as Malformed): show the body, not a crash.
    out.push({
      label: F.malformed.label, key: F.malformed.key, value: err instanceof Error ? err.message : String(err),
      display: `decoder error: ${err instanceof Error ? err.message : String(err)}`, offset: base, length: body.length, children: [],
    });
    return out;
  }
  const asked = c.functionResultFormat?.();
  out.push(...nodes(t.spans, body, base, c.showSecrets, formatsOf(decoded, asked), typesOf(decoded, ctx.columnNames)));
  if (decoded.type === 'FunctionCallResponse') out.push(resultFormatNode(decoded, asked, base + body.length));
  const r = t.reader;
  if (typeof t.result === 'string') {
    out.push({
      label: F.unknown.label, key: F.unknown.key, value: hexPreview(body, 0, body.length), display: t.result,
      offset: base, length: body.length, children: [],
    });
  } else if (r.fault !== null) {
    const field = r.fault === 'trailing' ? F.trailing : F.malformed;
    const at = Math.max(0, Math.min(r.faultOffset, body.length));
    out.push({
      label: field.label, key: field.key, value: r.reason, display: `${r.fault}: ${r.reason}`,
      offset: base + at, length: body.length - at, children: [],
    });
  }
  return out;
}

/** A byte range within a message, offsets as in fieldTree (type byte at 0). */
interface ByteRange { start: number; length: number }

/**
 * The bytes of a message that hold a secret, for hex views to mask: exactly the fields every
 * other output redacts (fieldTree without showSecrets: a password, an MD5 hash, SASL data
 * of mechanisms other than SCRAM, GSSAPI tokens) and, inside SCRAM text, the values of the
 * proof and the server signature (their `p=` / `v=` stays visible). A message of a kind that
 * can carry a secret (a 'p' or an 'R') that could not be decoded has its whole body masked,
 * as Malformed keeps no hex of it.
 */
export function secretRanges(raw: RawMessage, decoded: DecodedMessage): ByteRange[] {
  if (!mayCarrySecret(raw.dir, raw.code)) return [];
  const base = raw.code !== null ? 5 : 4;
  const whole: ByteRange[] = raw.body.length > 0 ? [{ start: base, length: raw.body.length }] : [];
  if (decoded.type === 'Malformed') return whole;
  let tree: FieldNode[];
  try {
    tree = fieldTree(raw, decoded, { showSecrets: false });
  } catch {
    return whole;
  }
  const out: ByteRange[] = [];
  const walk = (ns: FieldNode[]): void => {
    for (const n of ns) {
      if (n.key === F.malformed.key || n.key === F.unknown.key || n.key === F.trailing.key) out.push({ start: n.offset, length: n.length });
      else if (n.value === REDACTED && n.key === F.scramAttribute.key) {
        // "p=..." / "v=...": the letter and '=' say what the attribute is, the value is the secret.
        if (n.length > 2) out.push({ start: n.offset + 2, length: n.length - 2 });
      } else if (n.value === REDACTED) out.push({ start: n.offset, length: n.length });
      walk(n.children);
    }
  };
  walk(tree);
  return out.filter((r) => r.length > 0);
}
