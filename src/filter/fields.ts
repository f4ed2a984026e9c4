/**
 * The filter language's field names (Wireshark's way: one namespace, checked when the filter is
 * compiled). A name is either
 * - a key of the field registry (dissectors/fields.ts, the keys `-V` and the TUI tree are built
 *   from): `pgsql.error.sqlstate`, `pgsql.bind.param`. Each one reads the records where that field
 *   lives, messages and query (or session) records alike, as declared below; or
 * - a key path of the NDJSON records (`durationMs`, `error.sqlstate`, `fields.severity`), checked
 *   against the record schemas (record-paths.ts); a `pgsql.` prefix is accepted there too.
 * Anything else is a user mistake, answered with the nearest names.
 */
import { allFields, ERROR_FIELDS, ERROR_FIELD_UNKNOWN, F, type FieldDef } from '../../dissectors/fields.js';
import { RECORD_PATHS } from './record-paths.js';

type Rec = Record<string, unknown>;

/** Calls `test` on each value a field has in a record (arrays fan out); true as soon as one passes. */
type Getter = (rec: object, test: (v: unknown) => boolean) => boolean;

/** Where a registry field lives in the records of one kind. */
interface Place {
  kind: 'message' | 'query' | 'session';
  /** Message types holding it (the decoded `type`); all of that kind when absent. */
  types?: readonly string[];
  /** A key path in the record (`*`: every value of an object) ... */
  path?: string;
  /** ... or a value computed from the record (counts, letters the record keeps as names), and what it is. */
  compute?: (rec: Rec) => unknown;
  what?: string;
}

const msg = (types: readonly string[] | null, path: string): Place => (types === null ? { kind: 'message', path } : { kind: 'message', types, path });
const calc = (types: readonly string[], what: string, compute: (rec: Rec) => unknown): Place => ({ kind: 'message', types, compute, what });
const query = (path: string): Place => ({ kind: 'query', path });
const session = (path: string): Place => ({ kind: 'session', path });
const count = (key: string) => (rec: Rec): unknown => (Array.isArray(rec[key]) ? (rec[key] as unknown[]).length : undefined);

const ERROR_TYPES = ['ErrorResponse', 'NoticeResponse'];
const SASL_TYPES = ['SASLInitialResponse', 'SASLResponse', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal'];
const COPY_RESPONSES = ['CopyInResponse', 'CopyOutResponse', 'CopyBothResponse'];
const REQUEST_CODE: Readonly<Record<string, number>> = { CancelRequest: 80877102, SSLRequest: 80877103, GSSENCRequest: 80877104 };
const ERROR_LETTER: Readonly<Record<string, string>> = Object.fromEntries(Object.values(ERROR_FIELDS).map((e) => [e.json, e.letter]));

/**
 * Every registry field: where records keep it, or why they do not (the field is framing, or its
 * bytes are shown as a value elsewhere). A test checks that every field of allFields() is here
 * and that, on every sample, each field the tree shows matches its message through this table.
 */
const PLACES = new Map<FieldDef, readonly Place[] | string>([
  [F.type, [msg(null, 'type'), msg(null, 'code')]],
  [F.length, [msg(null, 'length')]],
  [F.terminator, 'the terminating zero byte is framing that records do not keep'],

  [F.requestCode, [calc(Object.keys(REQUEST_CODE), 'the request code', (r) => REQUEST_CODE[r.type as string])]],
  [F.protocolVersion, [calc(['StartupMessage'], '`protocolMajor` × 65536 + `protocolMinor`', (r) => (r.protocolMajor as number) * 65536 + (r.protocolMinor as number))]],
  [F.parameter, [msg(['StartupMessage'], 'parameters.*')]],
  [F.parameterName, [calc(['StartupMessage'], 'the names in `parameters`', (r) => (r.parameters !== null && typeof r.parameters === 'object' ? Object.keys(r.parameters) : undefined)), msg(['ParameterStatus'], 'name')]],
  [F.parameterValue, [msg(['StartupMessage'], 'parameters.*'), msg(['ParameterStatus'], 'value')]],
  [F.processId, [msg(['BackendKeyData', 'CancelRequest', 'NotificationResponse'], 'processId'), session('backendPid')]],
  [F.secretKey, [msg(['BackendKeyData', 'CancelRequest'], 'secretKey'), session('backendKey')]],
  [F.encryptionAnswer, [calc(['SSLResponse', 'GSSENCResponse'], '`accepted` as S, G or N', (r) => (r.accepted === true ? (r.type === 'SSLResponse' ? 'S' : 'G') : 'N'))]],

  [F.authType, [msg(null, 'authType')]],
  [F.salt, [msg(['AuthenticationMD5Password'], 'salt')]],
  [F.mechanismOffered, [msg(['AuthenticationSASL'], 'mechanisms'), session('auth.mechanismsOffered')]],
  [F.authData, [msg(['AuthenticationGSSContinue'], 'data')]],
  [F.password, [msg(['PasswordMessage'], 'password')]],
  [F.mechanism, [msg(['SASLInitialResponse'], 'mechanism'), session('auth.mechanism')]],
  [F.saslDataLength, [msg(SASL_TYPES, 'dataLength')]],
  [F.saslData, [msg(SASL_TYPES, 'data')]],
  [F.gssToken, [msg(['GSSResponse', 'AuthenticationGSSContinue'], 'data')]],

  [F.query, [msg(['Query', 'Parse'], 'query'), query('sql')]],
  [F.tag, [msg(['CommandComplete'], 'tag'), query('command')]],
  [F.status, [msg(['ReadyForQuery'], 'status')]],
  [F.columnCount, [calc(['RowDescription'], 'the number of `fields`', count('fields')), calc(['DataRow'], '`columnCount`, or the number of `values`', (r) => r.columnCount ?? count('values')(r))]],
  [F.column, [msg(['RowDescription'], 'fields.name'), query('columns.name')]],
  [F.columnName, [msg(['RowDescription'], 'fields.name'), query('columns.name')]],
  [F.tableOid, [msg(['RowDescription'], 'fields.tableOid'), query('columns.tableOid')]],
  [F.columnNumber, [msg(['RowDescription'], 'fields.columnNumber'), query('columns.columnNumber')]],
  [F.typeOid, [msg(['RowDescription'], 'fields.typeOid'), query('columns.typeOid')]],
  [F.typeSize, [msg(['RowDescription'], 'fields.typeSize'), query('columns.typeSize')]],
  [F.typeModifier, [msg(['RowDescription'], 'fields.typeModifier'), query('columns.typeModifier')]],
  [F.columnFormat, [msg(['RowDescription'], 'fields.format'), query('columns.format')]],
  [F.rowValue, [msg(['DataRow'], 'values.value'), query('rowValues')]],
  [F.valueLength, 'a value\'s length word is framing that records do not keep'],
  [F.valueData, 'a value\'s bytes are filtered as the value: pgsql.bind.param, pgsql.row.value, pgsql.function.arg, pgsql.function.result'],

  [F.statement, [msg(['Parse', 'Bind'], 'statement'), query('statement')]],
  [F.portal, [msg(['Bind', 'Execute'], 'portal'), query('portal')]],
  [F.paramTypeCount, [calc(['Parse', 'ParameterDescription'], 'the number of `paramTypes`', count('paramTypes'))]],
  [F.paramType, [msg(['Parse', 'ParameterDescription'], 'paramTypes'), query('params.oid')]],
  [F.paramFormatCount, [calc(['Bind'], 'the number of `paramFormats`', count('paramFormats'))]],
  [F.paramFormat, [msg(['Bind'], 'paramFormats')]],
  [F.paramCount, [calc(['Bind'], 'the number of `params`', count('params'))]],
  [F.param, [msg(['Bind'], 'params.value'), query('params.value')]],
  [F.resultFormatCount, [calc(['Bind'], 'the number of `resultFormats`', count('resultFormats'))]],
  [F.resultFormat, [msg(['Bind'], 'resultFormats')]],
  [F.target, [msg(['Describe', 'Close'], 'target')]],
  [F.name, [msg(['Describe', 'Close'], 'name')]],
  [F.maxRows, [msg(['Execute'], 'maxRows')]],

  [F.copyData, 'CopyData\'s bytes are filtered by what they decode to (size, rows, message, ...)'],
  [F.copyError, [msg(['CopyFail'], 'message'), query('copy.failed')]],
  [F.copyFormat, [msg(COPY_RESPONSES, 'format'), query('copy.format')]],
  [F.copyColumnCount, [calc(COPY_RESPONSES, 'the number of `columnFormats`', count('columnFormats'))]],
  [F.copyColumnFormat, [msg(COPY_RESPONSES, 'columnFormats')]],

  [F.errorField, [msg(ERROR_TYPES, 'fields.*')]],
  [F.errorFieldType, [calc(ERROR_TYPES, 'the letters of the fields present', (r) => {
    const fields = r.fields as Rec | null | undefined;
    if (fields === null || typeof fields !== 'object') return undefined;
    const out: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'unknown' && v !== null && typeof v === 'object') out.push(...Object.keys(v));
      else if (v !== null && v !== undefined && ERROR_LETTER[k] !== undefined) out.push(ERROR_LETTER[k]);
    }
    return out;
  })]],
  ...Object.values(ERROR_FIELDS).map((e): [FieldDef, readonly Place[]] => [e.field, [msg(ERROR_TYPES, `fields.${e.json}`), query(`error.${e.json}`)]]),
  [ERROR_FIELD_UNKNOWN, [msg(ERROR_TYPES, 'fields.unknown.*'), query('error.unknown.*')]],

  [F.channel, [msg(['NotificationResponse'], 'channel')]],
  [F.payload, [msg(['NotificationResponse'], 'payload')]],
  // Records keep the minor version; the wire (and the tree) may carry the whole version, 3 << 16 | minor.
  [F.newestMinor, [calc(['NegotiateProtocolVersion'], '`newestMinor`, and 3 × 65536 + it', (r) => (typeof r.newestMinor === 'number' ? [r.newestMinor, 3 * 65536 + r.newestMinor] : undefined))]],
  [F.unrecognizedCount, [calc(['NegotiateProtocolVersion'], 'the number of `unrecognized`', count('unrecognized'))]],
  [F.unrecognized, [msg(['NegotiateProtocolVersion'], 'unrecognized')]],

  [F.functionOid, [msg(['FunctionCall'], 'functionOid'), query('function.oid')]],
  [F.argFormatCount, 'the count of format codes is framing; args.format holds each argument\'s format'],
  [F.argFormat, [msg(['FunctionCall'], 'args.format')]],
  [F.argCount, [calc(['FunctionCall'], 'the number of `args`', count('args'))]],
  [F.arg, [msg(['FunctionCall'], 'args.value')]],
  [F.functionResultFormat, [msg(['FunctionCall', 'FunctionCallResponse'], 'resultFormat')]],
  [F.functionResult, [msg(['FunctionCallResponse'], 'result.value'), query('function.result.value')]],

  [F.malformed, [calc(['Malformed'], '`reason`, unless the fault is trailing bytes', (r) => (r.fault !== 'trailing' ? r.reason : undefined))]],
  [F.trailing, [calc(['Malformed'], '`reason`, when the fault is trailing bytes', (r) => (r.fault === 'trailing' ? r.reason : undefined))]],
  [F.unknown, [msg(['Unknown'], 'reason')]],
  [F.scramAttribute, [msg(SASL_TYPES, 'scram.*')]],
]);

/** Registry fields by key; the first definition of a key wins (F.column and F.columnName read alike). */
const REGISTRY = new Map<string, { field: FieldDef; places: readonly Place[] | string }>();
for (const f of allFields()) {
  const places = PLACES.get(f);
  if (places !== undefined && !REGISTRY.has(f.key)) REGISTRY.set(f.key, { field: f, places });
}

/** Registry fields that PLACES does not say where to find (the test keeps this empty). */
export function unplacedFields(): FieldDef[] {
  return allFields().filter((f) => !PLACES.has(f));
}

// ---- record key paths ----

interface PathNode { children: Map<string, PathNode>; any: PathNode | null; rest: boolean }
const newNode = (): PathNode => ({ children: new Map(), any: null, rest: false });

/** The TUI's frame rows (src/tui/frame-filter.ts) add these to the envelope's kind, frame, session, time and length. */
const FRAME_ROW_PATHS = ['src', 'dst', 'info'];

let pathTree: PathNode | null = null;
function paths(): PathNode {
  if (pathTree !== null) return pathTree;
  const root = newNode();
  for (const p of [...RECORD_PATHS, ...FRAME_ROW_PATHS]) {
    let n = root;
    for (const seg of p.split('.')) {
      if (seg === '**') { n.rest = true; break; }
      if (seg === '*') n = n.any ??= newNode();
      else {
        let c = n.children.get(seg);
        if (c === undefined) n.children.set(seg, c = newNode());
        n = c;
      }
    }
  }
  return (pathTree = root);
}

function isRecordPath(segs: readonly string[]): boolean {
  let n = paths();
  for (const s of segs) {
    if (n.rest) return true;
    const next = n.children.get(s) ?? n.any;
    if (next === null || next === undefined) return false;
    n = next;
  }
  return true;
}

// ---- getters ----

function some(value: unknown, path: readonly string[], i: number, test: (v: unknown) => boolean): boolean {
  if (Array.isArray(value)) {
    for (const v of value) if (some(v, path, i, test)) return true;
    return false;
  }
  if (i === path.length) return test(value);
  if (value === null || typeof value !== 'object') return false;
  const seg = path[i];
  if (seg === '*') {
    for (const v of Object.values(value)) if (some(v, path, i + 1, test)) return true;
    return false;
  }
  return some((value as Rec)[seg], path, i + 1, test);
}

/** A record key path: one key (the common case) is read without the general walk. */
function pathGetter(path: readonly string[]): Getter {
  if (path.length === 1) {
    const k = path[0];
    return (rec, test) => {
      const v = (rec as Rec)[k];
      return Array.isArray(v) ? some(v, path, 1, test) : test(v);
    };
  }
  return (rec, test) => some(rec, path, 0, test);
}

function placeGetter(p: Place): Getter {
  const kind = p.kind;
  const types = p.types === undefined ? null : new Set(p.types);
  const read: Getter = p.path !== undefined ? pathGetter(p.path.split('.')) : (rec, test) => some(p.compute!(rec as Rec), [], 0, test);
  return (rec, test) => {
    const r = rec as Rec;
    if (r.kind !== kind) return false;
    if (types !== null && !types.has(r.type as string)) return false;
    return read(rec, test);
  };
}

interface ResolvedField {
  get: Getter;
  /** The registry field, for its value names (`pgsql.target == S`, `pgsql.authtype == AuthenticationMD5Password`). */
  field: FieldDef | null;
}

/** Resolves a field name, or returns why it is not one (with the nearest names). */
export function resolveField(name: string): ResolvedField | { error: string } {
  const reg = REGISTRY.get(name);
  if (reg !== undefined) {
    if (typeof reg.places === 'string') return { error: `${name} cannot be filtered on: ${reg.places}` };
    const getters = reg.places.map(placeGetter);
    const get: Getter = getters.length === 1 ? getters[0] : (rec, test) => getters.some((g) => g(rec, test));
    return { get, field: reg.field };
  }
  const bare = name.startsWith('pgsql.') ? name.slice(6) : name;
  const segs = bare.split('.');
  if (segs.every((s) => s.length > 0) && isRecordPath(segs)) return { get: pathGetter(segs), field: null };
  const near = nearest(name);
  return {
    error: near.length > 0
      ? `unknown field "${name}"; did you mean ${near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near[near.length - 1]}`}?`
      : `unknown field "${name}" (fields are the NDJSON keys, e.g. durationMs or error.sqlstate, and the pgsql.* keys of the field registry)`,
  };
}

// ---- suggestions ----

/** Every field name the language knows: registry keys and record key paths (the TUI's prompt completes from it). */
export function fieldNames(): string[] {
  return names().sort();
}

function names(): string[] {
  const out = new Set<string>(REGISTRY.keys());
  for (const p of [...RECORD_PATHS, ...FRAME_ROW_PATHS]) {
    const kept = p.split('.').filter((s) => s !== '*' && s !== '**').join('.');
    if (kept !== '') out.add(kept);
  }
  return [...out];
}

/** Edits from a to b: insertions, deletions, substitutions and swaps of neighbours ("qurey" is one from "query"). */
function distance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * Up to three known names within a few edits of `name` (case aside), or whose last part it is
 * (`sqlstate` -> error.sqlstate); the closest only, and with `pgsql.` typed, registry keys first.
 */
function nearest(name: string): string[] {
  const want = name.toLowerCase();
  const prefixed = want.startsWith('pgsql.');
  const bare = prefixed ? want.slice(6) : want;
  const limit = Math.max(1, Math.min(3, Math.floor(bare.length / 4)));
  const scored: Array<{ n: string; d: number }> = [];
  for (const n of names()) {
    const low = n.toLowerCase();
    const last = low.slice(low.lastIndexOf('.') + 1);
    const d = Math.min(distance(want, low), distance(bare, low) + (prefixed ? 0.5 : 0), distance(bare, last) + 1);
    if (d <= limit) scored.push({ n, d });
  }
  if (scored.length === 0) return [];
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d <= best + 0.5)
    .sort((a, b) => a.d - b.d || a.n.length - b.n.length || (a.n < b.n ? -1 : 1))
    .slice(0, 3).map((s) => s.n);
}

/** Every registry key with its tree label and where records keep it, for README's table of filter fields. */
export function registryFieldDocs(): Array<{ key: string; label: string; where: string }> {
  const out: Array<{ key: string; label: string; where: string }> = [];
  for (const [key, { field, places }] of REGISTRY) {
    const where = typeof places === 'string'
      ? `not filterable: ${places}`
      : places.map((p) => {
        const what = p.path !== undefined ? `\`${p.path.replace(/\.\*$/, '.NAME')}\`` : p.what!;
        if (p.kind !== 'message') return `${p.kind} record: ${what}`;
        return `${p.types === undefined ? 'every message' : p.types.join(', ')}: ${what}`;
      }).join('; ');
    out.push({ key, label: field.label, where });
  }
  return out;
}
