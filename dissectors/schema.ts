/**
 * zod 4 schemas of every decoded message, discriminated on `type`: the one declaration of the
 * message records' fields; dissectors/types.ts infers the TypeScript types from them, and the
 * query and session records (src/session/schema.ts) reuse the typed value, error fields and
 * column description. Enums
 * come from the value tables in fields.ts, so names are declared once. Tests validate every
 * decoded result against decodedMessageSchema; `pgsniff schema` prints the JSON Schema.
 * The record envelope (kind, session, time, frame, dir, code, length) is the pipeline's.
 */
import { z } from 'zod';
import { copyDataFieldsSchema } from './copy/schema.js';

const RECORD_ENVELOPE = new Set(['type', 'kind', 'session', 'time', 'frame', 'firstFrame', 'dir', 'code', 'length', 'tls']);
import { AUTH_TYPE_NAMES, ERROR_FIELD_LIST, FORMAT_CODES, TARGETS, TRANSACTION_STATUS } from './fields.js';

const formatNames = Object.values(FORMAT_CODES) as ['text', 'binary'];
const format = z.enum(formatNames);
const uint32 = z.number().int().min(0).max(0xffffffff);
const int32 = z.number().int().min(-0x80000000).max(0x7fffffff);
const int16 = z.number().int().min(-0x8000).max(0x7fff);
const hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);

export const pgValueSchema = z.json();

export const typedValueSchema = z.strictObject({
  oid: uint32,
  typeName: z.string().nullable(),
  format,
  value: pgValueSchema,
});

export const columnDescriptionSchema = z.strictObject({
  name: z.string(),
  tableOid: uint32,
  columnNumber: int16,
  typeOid: uint32,
  typeName: z.string().nullable(),
  typeSize: int16,
  typeModifier: int32,
  format,
});

/** S, V, C, M are always present (null when the server left them out); the rest only when sent. */
type AlwaysSent = 'S' | 'V' | 'C' | 'M';
type ErrorFieldEntry = (typeof ERROR_FIELD_LIST)[number];
type ErrorFieldsShape = {
  [E in ErrorFieldEntry as E['json']]: E['letter'] extends AlwaysSent ? z.ZodNullable<z.ZodString> : z.ZodOptional<z.ZodString>
} & { unknown: z.ZodOptional<z.ZodRecord<z.ZodString, z.ZodString>> };
const ALWAYS: ReadonlySet<string> = new Set<AlwaysSent>(['S', 'V', 'C', 'M']);
const errorShape: Record<string, z.ZodType> = {};
for (const info of ERROR_FIELD_LIST) {
  errorShape[info.json] = ALWAYS.has(info.letter) ? z.string().nullable() : z.string().optional();
}
/** Letters the documentation does not define, kept by letter. */
errorShape.unknown = z.record(z.string(), z.string()).optional();
/** ErrorResponse / NoticeResponse fields, by the JSON names of dissectors/fields.ts ERROR_FIELD_LIST. */
export const errorFieldsSchema = z.strictObject(errorShape as ErrorFieldsShape);

export const scramSchema = z.strictObject({
  gs2Flag: z.enum(['n', 'y', 'p']).optional(),
  channelBindingType: z.string().optional(),
  authzid: z.string().optional(),
  user: z.string().optional(),
  nonce: z.string().optional(),
  salt: z.string().optional(),
  iterations: z.number().int().nonnegative().optional(),
  channelBinding: z.string().optional(),
  proof: z.string().optional(),
  serverSignature: z.string().optional(),
  error: z.string().optional(),
  extensions: z.record(z.string(), z.string()).optional(),
});

function msg<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), ...shape });
}

const empty = <T extends string>(type: T) => msg(type, {});
function auth<C extends keyof typeof AUTH_TYPE_NAMES, S extends z.ZodRawShape = {}>(code: C, shape?: S) {
  return msg(AUTH_TYPE_NAMES[code], { authType: z.literal(code), ...(shape as S) });
}
const saslData = { dataLength: z.number().int().nonnegative(), data: z.string(), scram: scramSchema.optional() };
const copyResponse = { format, columnFormats: z.array(format) };
const target = z.enum(Object.values(TARGETS) as ['statement', 'portal']);
const status = Object.keys(TRANSACTION_STATUS) as ['I', 'T', 'E'];

export const messageSchemas = {
  // startup phase
  StartupMessage: msg('StartupMessage', {
    protocolMajor: z.number().int().min(0).max(0xffff),
    protocolMinor: z.number().int().min(0).max(0xffff),
    parameters: z.record(z.string(), z.string()),
  }),
  SSLRequest: empty('SSLRequest'),
  GSSENCRequest: empty('GSSENCRequest'),
  SSLResponse: msg('SSLResponse', { accepted: z.boolean() }),
  GSSENCResponse: msg('GSSENCResponse', { accepted: z.boolean() }),
  CancelRequest: msg('CancelRequest', { processId: uint32, secretKey: hex }),

  // authentication
  AuthenticationOk: auth(0),
  AuthenticationKerberosV5: auth(2),
  AuthenticationCleartextPassword: auth(3),
  AuthenticationMD5Password: auth(5, { salt: z.string().regex(/^[0-9a-f]{8}$/) }),
  AuthenticationGSS: auth(7),
  AuthenticationGSSContinue: auth(8, { dataLength: z.number().int().nonnegative(), data: hex }),
  AuthenticationSSPI: auth(9),
  AuthenticationSASL: auth(10, { mechanisms: z.array(z.string()) }),
  AuthenticationSASLContinue: auth(11, saslData),
  AuthenticationSASLFinal: auth(12, saslData),
  PasswordMessage: msg('PasswordMessage', { method: z.enum(['cleartext', 'md5', 'unknown']), password: z.string() }),
  SASLInitialResponse: msg('SASLInitialResponse', {
    mechanism: z.string(), dataLength: z.number().int().min(-1), data: z.string().nullable(), scram: scramSchema.optional(),
  }),
  SASLResponse: msg('SASLResponse', saslData),
  GSSResponse: msg('GSSResponse', { dataLength: z.number().int().nonnegative(), data: z.string() }),
  BackendKeyData: msg('BackendKeyData', { processId: uint32, secretKey: hex }),
  NegotiateProtocolVersion: msg('NegotiateProtocolVersion', { newestMinor: int32, unrecognized: z.array(z.string()) }),
  ParameterStatus: msg('ParameterStatus', { name: z.string(), value: z.string() }),
  Terminate: empty('Terminate'),

  // queries and results
  Query: msg('Query', { query: z.string() }),
  Parse: msg('Parse', { statement: z.string(), query: z.string(), paramTypes: z.array(uint32) }),
  Bind: msg('Bind', {
    portal: z.string(), statement: z.string(), paramFormats: z.array(format), params: z.array(typedValueSchema), resultFormats: z.array(format),
  }),
  Describe: msg('Describe', { target, name: z.string() }),
  Execute: msg('Execute', { portal: z.string(), maxRows: int32 }),
  Close: msg('Close', { target, name: z.string() }),
  Sync: empty('Sync'),
  Flush: empty('Flush'),
  ParseComplete: empty('ParseComplete'),
  BindComplete: empty('BindComplete'),
  CloseComplete: empty('CloseComplete'),
  NoData: empty('NoData'),
  PortalSuspended: empty('PortalSuspended'),
  EmptyQueryResponse: empty('EmptyQueryResponse'),
  ParameterDescription: msg('ParameterDescription', { paramTypes: z.array(uint32) }),
  RowDescription: msg('RowDescription', { fields: z.array(columnDescriptionSchema) }),
  DataRow: msg('DataRow', {
    values: z.array(typedValueSchema), columnCount: z.number().int().nonnegative().optional(), valuesOmitted: z.literal(true).optional(),
  }),
  CommandComplete: msg('CommandComplete', {
    tag: z.string(), command: z.string(), rows: z.number().int().nonnegative().nullable(), oid: uint32.optional(),
  }),
  ReadyForQuery: msg('ReadyForQuery', {
    status: z.enum(status),
    transactionStatus: z.enum(Object.values(TRANSACTION_STATUS) as ['idle', 'transaction', 'failed']),
  }),
  ErrorResponse: msg('ErrorResponse', { fields: errorFieldsSchema }),
  NoticeResponse: msg('NoticeResponse', { fields: errorFieldsSchema }),
  NotificationResponse: msg('NotificationResponse', { processId: uint32, channel: z.string(), payload: z.string() }),

  // COPY; CopyData's fields are dissectors/copy's (its own schema is the truth for them)
  CopyData: z.looseObject({ type: z.literal('CopyData') }).superRefine((v, ctx) => {
    // Only CopyData's own fields: the record envelope (kind, frame, ...) may be around them.
    const fields: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!RECORD_ENVELOPE.has(k)) fields[k] = x;
    const r = copyDataFieldsSchema.safeParse(fields);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }),
  CopyDone: empty('CopyDone'),
  CopyFail: msg('CopyFail', { message: z.string() }),
  CopyInResponse: msg('CopyInResponse', copyResponse),
  CopyOutResponse: msg('CopyOutResponse', copyResponse),
  CopyBothResponse: msg('CopyBothResponse', copyResponse),

  // function call
  FunctionCall: msg('FunctionCall', { functionOid: uint32, args: z.array(typedValueSchema), resultFormat: format }),
  // resultFormat: what the FunctionCall being answered asked for; null when that call was not
  // seen, and result.format is then only what the bytes read as.
  FunctionCallResponse: msg('FunctionCallResponse', { result: typedValueSchema, resultFormat: format.nullable() }),

  // what could not be decoded
  Unknown: msg('Unknown', { reason: z.string(), raw: z.string(), size: z.number().int().nonnegative() }),
  Malformed: msg('Malformed', {
    name: z.string(),
    reason: z.string(),
    fault: z.enum(['truncated', 'trailing', 'invalid']),
    raw: z.string(),
    size: z.number().int().nonnegative(),
    offset: z.number().int().min(0),
    partial: z.record(z.string(), z.unknown()),
  }),
} as const;

export type MessageTypeName = keyof typeof messageSchemas;

/** Every decoded message, discriminated on `type`. */
export const decodedMessageSchema = z.discriminatedUnion('type', Object.values(messageSchemas) as unknown as [
  (typeof messageSchemas)[MessageTypeName], ...Array<(typeof messageSchemas)[MessageTypeName]>,
]);

/** JSON Schema (draft 2020-12) of the decoded message fields, for `pgsniff schema`. */
export function decodedMessageJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(decodedMessageSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
}
