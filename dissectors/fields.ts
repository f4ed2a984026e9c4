/**
 * Every field and value table, declared once (STYLE.md point 5, Wireshark's hf registry): the
 * decoders read through these definitions, the field tree shows their labels and filter keys,
 * summaries and schemas use the same value tables. Names follow the PostgreSQL documentation
 * ("Message Formats"); filter keys are stable dotted names under `pgsql.`.
 */
import type { z } from 'zod';

/**
 * What a traced span holds: the value read (numbers, strings) or a decoded value; any JSON value,
 * as PgValue is (named here from zod, not from types.ts, which is inferred from schemas built on this file).
 */
export type SpanValue = z.infer<ReturnType<typeof z.json>>;

/** Display names of a field's values, keyed by the value as a string (numbers) or the character (bytes). */
export type ValueTable = Readonly<Record<string, string>>;

export interface FieldDef {
  /** Stable dotted filter key (e.g. "pgsql.query"). */
  key: string;
  /** Label in the field tree (`-V`, TUI). */
  label: string;
  /** Name of the field in the decoded message / JSON record, or null for framing-only fields (counts, terminators). */
  json: string | null;
  /** A repeated field: Malformed `partial` collects its values into an array. */
  list?: boolean;
  /** Value names for display (and for `partial`, when `named`). */
  table?: ValueTable;
  /** `partial` shows the table's name instead of the raw value (format codes -> "text"). */
  named?: boolean;
  /** How a single byte shows: as its character (type bytes, status letters). */
  char?: boolean;
  /** Passwords, proofs, tokens: "<redacted>" unless secrets are shown. */
  secret?: boolean;
}

export const REDACTED = '<redacted>';

// ---- value tables ----

/** Authentication request codes (the Int32 of a backend 'R') and the message each one is. */
export const AUTH_TYPE_NAMES = {
  0: 'AuthenticationOk',
  2: 'AuthenticationKerberosV5',
  3: 'AuthenticationCleartextPassword',
  5: 'AuthenticationMD5Password',
  7: 'AuthenticationGSS',
  8: 'AuthenticationGSSContinue',
  9: 'AuthenticationSSPI',
  10: 'AuthenticationSASL',
  11: 'AuthenticationSASLContinue',
  12: 'AuthenticationSASLFinal',
} as const;
export const AUTH_TYPES: ValueTable = AUTH_TYPE_NAMES;

/** ReadyForQuery's transaction status byte. */
export const TRANSACTION_STATUS: Readonly<Record<'I' | 'T' | 'E', 'idle' | 'transaction' | 'failed'>> = {
  I: 'idle',
  T: 'transaction',
  E: 'failed',
};

/** Format codes (Bind, RowDescription, Copy*Response, FunctionCall). */
export const FORMAT_CODES: Readonly<Record<'0' | '1', 'text' | 'binary'>> = { 0: 'text', 1: 'binary' };

/** Describe / Close target byte. */
export const TARGETS: Readonly<Record<'S' | 'P', 'statement' | 'portal'>> = { S: 'statement', P: 'portal' };

/** Startup-phase request codes (the Int32 after the length). Protocol versions are major << 16 | minor. */
export const CANCEL_REQUEST_CODE = 80877102;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const REQUEST_CODES: ValueTable = {
  [CANCEL_REQUEST_CODE]: 'CancelRequest',
  [SSL_REQUEST_CODE]: 'SSLRequest',
  [GSSENC_REQUEST_CODE]: 'GSSENCRequest',
  196608: 'protocol 3.0',
  196610: 'protocol 3.2',
};

/** The backend's one-byte answers to SSLRequest / GSSENCRequest. */
const ENCRYPTION_ANSWERS: ValueTable = {
  S: 'accepted: TLS handshake follows',
  G: 'accepted: GSSAPI encryption follows',
  N: 'refused: unencrypted',
};

/** ErrorResponse / NoticeResponse field letters ("Error and Notice Message Fields"), with their JSON names in ErrorFields. */
interface ErrorFieldInfo { letter: string; json: string; label: string; field: FieldDef }

function errorField<L extends string, J extends string>(letter: L, json: J, label: string): ErrorFieldInfo & { letter: L; json: J } {
  return { letter, json, label, field: { key: `pgsql.error.${json.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}`, label, json } };
}

/** The documented field letters in the order they are listed (the JSON keys' order). */
export const ERROR_FIELD_LIST = [
  errorField('S', 'severity', 'Severity'),
  errorField('V', 'severityNonLocalized', 'Severity (non-localized)'),
  errorField('C', 'sqlstate', 'SQLSTATE'),
  errorField('M', 'message', 'Message'),
  errorField('D', 'detail', 'Detail'),
  errorField('H', 'hint', 'Hint'),
  errorField('P', 'position', 'Position'),
  errorField('p', 'internalPosition', 'Internal position'),
  errorField('q', 'internalQuery', 'Internal query'),
  errorField('W', 'where', 'Where'),
  errorField('s', 'schema', 'Schema name'),
  errorField('t', 'table', 'Table name'),
  errorField('c', 'column', 'Column name'),
  errorField('d', 'dataType', 'Data type name'),
  errorField('n', 'constraint', 'Constraint name'),
  errorField('F', 'file', 'File'),
  errorField('L', 'line', 'Line'),
  errorField('R', 'routine', 'Routine'),
] as const;

/** Field letter -> its JSON name and label. */
export const ERROR_FIELDS: Readonly<Record<string, ErrorFieldInfo>> = Object.fromEntries(ERROR_FIELD_LIST.map((e) => [e.letter, e]));

/** Letter -> label, for the field tree's type byte. */
const ERROR_FIELD_LETTERS: ValueTable = Object.fromEntries(
  Object.values(ERROR_FIELDS).map((e) => [e.letter, e.label]),
);

/** A field letter the documentation does not define. */
export const ERROR_FIELD_UNKNOWN: FieldDef = { key: 'pgsql.error.unknown', label: 'Unknown field', json: null };

/** Message names by direction and type byte ("Message Formats"). */
export const FRONTEND_MESSAGES: ValueTable = {
  B: 'Bind', C: 'Close', d: 'CopyData', c: 'CopyDone', f: 'CopyFail', D: 'Describe', E: 'Execute',
  H: 'Flush', F: 'FunctionCall', p: 'PasswordMessage', P: 'Parse', Q: 'Query', S: 'Sync', X: 'Terminate',
};
export const BACKEND_MESSAGES: ValueTable = {
  R: 'Authentication', K: 'BackendKeyData', 2: 'BindComplete', 3: 'CloseComplete', C: 'CommandComplete',
  d: 'CopyData', c: 'CopyDone', G: 'CopyInResponse', H: 'CopyOutResponse', W: 'CopyBothResponse',
  D: 'DataRow', I: 'EmptyQueryResponse', E: 'ErrorResponse', V: 'FunctionCallResponse',
  v: 'NegotiateProtocolVersion', n: 'NoData', N: 'NoticeResponse', A: 'NotificationResponse',
  t: 'ParameterDescription', S: 'ParameterStatus', 1: 'ParseComplete', s: 'PortalSuspended',
  Z: 'ReadyForQuery', T: 'RowDescription',
};

// ---- fields ----

function f(key: string, label: string, json: string | null, extra?: Partial<FieldDef>): FieldDef {
  return { key, label, json, ...extra };
}

export const F = {
  // header (built by the tree, not read by decoders)
  type: f('pgsql.type', 'Type', null, { char: true }),
  length: f('pgsql.length', 'Length', null),
  terminator: f('pgsql.terminator', 'Terminator', null),

  // startup phase
  requestCode: f('pgsql.request_code', 'Request code', null, { table: REQUEST_CODES }),
  protocolVersion: f('pgsql.version', 'Protocol version', null, { table: REQUEST_CODES }),
  parameter: f('pgsql.parameter', 'Parameter', 'parameters', { list: true }),
  parameterName: f('pgsql.parameter.name', 'Parameter name', 'name'),
  parameterValue: f('pgsql.parameter.value', 'Parameter value', 'value'),
  processId: f('pgsql.pid', 'Process ID', 'processId'),
  secretKey: f('pgsql.key', 'Secret key', 'secretKey'),
  encryptionAnswer: f('pgsql.encryption_answer', 'Answer', 'accepted', { char: true, table: ENCRYPTION_ANSWERS }),

  // authentication
  authType: f('pgsql.authtype', 'Authentication type', 'authType', { table: AUTH_TYPES }),
  salt: f('pgsql.salt', 'Salt', 'salt'),
  mechanismOffered: f('pgsql.auth.mechanism', 'SASL mechanism', 'mechanisms', { list: true }),
  authData: f('pgsql.auth.data', 'Authentication data', 'data'),
  password: f('pgsql.password', 'Password', 'password', { secret: true }),
  mechanism: f('pgsql.sasl.mechanism', 'SASL mechanism', 'mechanism'),
  saslDataLength: f('pgsql.sasl.data_length', 'SASL data length', 'dataLength'),
  // Secret as a whole (a bearer token, a SCRAM proof): SCRAM's harmless attributes are shown by the decoders, one by one.
  saslData: f('pgsql.sasl.data', 'SASL data', 'data', { secret: true }),
  gssToken: f('pgsql.gss.token', 'GSSAPI/SSPI token', 'data', { secret: true }),

  // simple query, results
  query: f('pgsql.query', 'Query', 'query'),
  tag: f('pgsql.tag', 'Command tag', 'tag'),
  status: f('pgsql.status', 'Transaction status', 'status', { char: true, table: TRANSACTION_STATUS }),
  columnCount: f('pgsql.ncolumns', 'Column count', null),
  column: f('pgsql.column', 'Column', 'fields', { list: true }),
  columnName: f('pgsql.column.name', 'Column name', 'name'),
  tableOid: f('pgsql.column.table_oid', 'Table OID', 'tableOid'),
  columnNumber: f('pgsql.column.number', 'Column attribute number', 'columnNumber'),
  typeOid: f('pgsql.column.type_oid', 'Type OID', 'typeOid'),
  typeSize: f('pgsql.column.type_size', 'Type size', 'typeSize'),
  typeModifier: f('pgsql.column.type_modifier', 'Type modifier', 'typeModifier'),
  columnFormat: f('pgsql.column.format', 'Format', 'format', { table: FORMAT_CODES, named: true }),
  rowValue: f('pgsql.row.value', 'Value', 'values', { list: true }),
  valueLength: f('pgsql.value.length', 'Value length', null),
  valueData: f('pgsql.value.data', 'Value data', null),

  // extended query
  statement: f('pgsql.statement', 'Statement', 'statement'),
  portal: f('pgsql.portal', 'Portal', 'portal'),
  paramTypeCount: f('pgsql.nparam_types', 'Parameter type count', null),
  paramType: f('pgsql.param.type_oid', 'Parameter type OID', 'paramTypes', { list: true }),
  paramFormatCount: f('pgsql.bind.nformats', 'Parameter format count', null),
  paramFormat: f('pgsql.bind.format', 'Parameter format', 'paramFormats', { list: true, table: FORMAT_CODES, named: true }),
  paramCount: f('pgsql.bind.nparams', 'Parameter count', null),
  param: f('pgsql.bind.param', 'Parameter', 'params', { list: true }),
  resultFormatCount: f('pgsql.bind.nresult_formats', 'Result format count', null),
  resultFormat: f('pgsql.bind.result_format', 'Result format', 'resultFormats', { list: true, table: FORMAT_CODES, named: true }),
  target: f('pgsql.target', 'Target', 'target', { char: true, table: TARGETS, named: true }),
  name: f('pgsql.name', 'Name', 'name'),
  maxRows: f('pgsql.max_rows', 'Maximum rows', 'maxRows'),

  // COPY
  copyData: f('pgsql.copy.data', 'COPY data', null),
  copyError: f('pgsql.copy.error', 'Failure message', 'message'),
  copyFormat: f('pgsql.copy.format', 'Overall format', 'format', { table: FORMAT_CODES, named: true }),
  copyColumnCount: f('pgsql.copy.ncolumns', 'Column count', null),
  copyColumnFormat: f('pgsql.copy.column_format', 'Column format', 'columnFormats', { list: true, table: FORMAT_CODES, named: true }),

  // errors and notices
  errorField: f('pgsql.error.field', 'Field', null),
  errorFieldType: f('pgsql.error.field_type', 'Field type', null, { char: true, table: ERROR_FIELD_LETTERS }),

  // asynchronous
  channel: f('pgsql.channel', 'Channel', 'channel'),
  payload: f('pgsql.payload', 'Payload', 'payload'),
  newestMinor: f('pgsql.newest_version', 'Newest protocol version', 'newestMinor'),
  unrecognizedCount: f('pgsql.unrecognized.count', 'Unrecognized option count', null),
  unrecognized: f('pgsql.unrecognized.option', 'Unrecognized option', 'unrecognized', { list: true }),

  // function call
  functionOid: f('pgsql.function.oid', 'Function OID', 'functionOid'),
  argFormatCount: f('pgsql.function.nformats', 'Argument format count', null),
  argFormat: f('pgsql.function.format', 'Argument format', 'argFormats', { list: true, table: FORMAT_CODES, named: true }),
  argCount: f('pgsql.function.nargs', 'Argument count', null),
  arg: f('pgsql.function.arg', 'Argument', 'args', { list: true }),
  functionResultFormat: f('pgsql.function.result_format', 'Result format', 'resultFormat', { table: FORMAT_CODES, named: true }),
  functionResult: f('pgsql.function.result', 'Result', 'result'),

  // decoding problems (tree only)
  malformed: f('pgsql.malformed', 'Malformed', null),
  trailing: f('pgsql.trailing', 'Unread bytes', null),
  unknown: f('pgsql.unknown', 'Unknown body', null),
  scramAttribute: f('pgsql.scram.attribute', 'SCRAM attribute', null),
} as const satisfies Record<string, FieldDef>;

/** Every field definition: for the filter language's list of keys and for documentation. */
export function allFields(): FieldDef[] {
  const out: FieldDef[] = Object.values(F);
  for (const e of Object.values(ERROR_FIELDS)) out.push(e.field);
  out.push(ERROR_FIELD_UNKNOWN);
  return out;
}

/** A value's display name from a field's table, or undefined. */
export function tableName(field: FieldDef, value: SpanValue): string | undefined {
  if (field.table === undefined || value === null || typeof value === 'object') return undefined;
  const k = field.char && typeof value === 'number' ? String.fromCharCode(value) : String(value);
  return field.table[k];
}
