/**
 * The JSON export's query and session records (DESIGN.md, "Contracts that users build on").
 * These zod schemas are the truth: the TypeScript types are inferred from them, `pgsniff schema`
 * prints them as JSON Schema, and the NDJSON tests validate every record against them.
 * Keys may be added; none may be renamed or removed.
 */
import { z } from 'zod';
import { tlsSummarySchema } from '../pg/tls/summary.js';
import { columnDescriptionSchema, errorFieldsSchema, pgValueSchema, typedValueSchema } from '../../dissectors/schema.js';

// The typed value, error fields and column description are the message records' own shapes:
// a query record's params, error, notices and columns are what Bind, ErrorResponse,
// NoticeResponse and RowDescription decoded.
const pgValue = pgValueSchema;
const columnSchema = columnDescriptionSchema;

/** ISO 8601 with microseconds, UTC (src/core/time.ts isoTime). */
const isoTime = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'ISO 8601 with microseconds');

const envelope = {
  session: z.number().int().nonnegative(),
  time: isoTime,
  frame: z.number().int().positive(),
};

const incompleteReasonSchema = z.enum(['gap', 'connection-end', 'limit']);

const transactionStatusSchema = z.enum(['idle', 'transaction', 'failed']);

export const queryRecordSchema = z.object({
  kind: z.literal('query'),
  ...envelope,
  /** simple: Query message; extended: Parse/Bind/Execute; function: FunctionCall (sql is null). */
  protocol: z.enum(['simple', 'extended', 'function']),
  /** The statement's own SQL text; null when unknown (prepared before the capture began, FunctionCall). */
  sql: z.string().nullable(),
  /** Simple protocol: position of this statement in its Query message and how many it held. */
  statementIndex: z.number().int().nonnegative(),
  statementCount: z.number().int().positive(),
  /** Extended protocol: prepared statement and portal names ('' is the unnamed one); null for simple. */
  statement: z.string().nullable(),
  portal: z.string().nullable(),
  /** Bound parameters (FunctionCall: its arguments), typed with what the session knew. */
  params: z.array(typedValueSchema),
  /** A Parse of this statement came after its previous execution (or it was never executed): false means reuse. */
  parsed: z.boolean(),
  /**
   * From max(request complete, previous response complete) to this statement's result complete;
   * null when it never completed, or when its answer came in one frame with others' (see batch).
   */
  durationMs: z.number().nullable(),
  /** From the same start to the first DataRow (or CopyData out). */
  firstRowMs: z.number().nullable(),
  /** The CommandComplete row count when the tag has one, else the DataRows returned. */
  rows: z.number().int().nonnegative(),
  /** DataRow messages returned, and their bytes on the wire (CopyData out bytes for COPY TO STDOUT). */
  rowsReturned: z.number().int().nonnegative(),
  bytesReturned: z.number().int().nonnegative(),
  /** CommandComplete tag, e.g. "SELECT 3", "INSERT 0 1". */
  command: z.string().nullable(),
  error: errorFieldsSchema.nullable(),
  notices: z.array(errorFieldsSchema),
  /** From the ReadyForQuery that followed; null when none came (capture end, or too many pending). */
  transactionStatus: transactionStatusSchema.nullable(),
  /** The server skipped this request after an earlier error, up to the next Sync (or the rest of a simple Query). */
  skipped: z.boolean(),
  /**
   * The record may not be right: its result never completed, or bytes lost in either direction
   * (or a limit) left its pairing with the server's answer uncertain. incompleteReason says why.
   */
  incomplete: z.boolean(),
  /** Execute with a row limit stopped at PortalSuspended: more rows follow on the next Execute. */
  suspended: z.boolean(),
  /** First frame of the request and the frame that completed its result. */
  firstFrame: z.number().int().positive(),
  lastFrame: z.number().int().positive(),
  startTime: isoTime,
  columns: z.array(columnSchema).nullable(),
  copy: z.object({
    direction: z.enum(['in', 'out', 'both']),
    format: z.enum(['text', 'binary']),
    /** CopyData messages and their payload bytes, each way. */
    messagesIn: z.number().int().nonnegative(),
    bytesIn: z.number().int().nonnegative(),
    messagesOut: z.number().int().nonnegative(),
    bytesOut: z.number().int().nonnegative(),
    failed: z.string().nullable(),
  }).nullable(),
  function: z.object({ oid: z.number().int(), result: typedValueSchema.nullable() }).nullable(),
  /** A CancelRequest for this session arrived while this query ran. */
  cancelledBy: z.object({ session: z.number().int(), frame: z.number().int(), time: isoTime }).nullable(),
  /**
   * Only when incomplete: "gap" (bytes lost or unframeable in either direction, or an answer
   * that fits no request: pairing was uncertain until the protocol made it certain again),
   * "connection-end" (the connection or capture ended first), "limit" (a session-layer limit
   * pushed the request out).
   */
  incompleteReason: incompleteReasonSchema.optional(),
  /**
   * Only when true: bytes this record was built from (its request, or the answer it was given)
   * came in a TCP segment whose checksum was wrong, taken because no copy with a correct one
   * came: its SQL, parameters or result may not be what was sent. Its pairing is not in doubt
   * (that is `incomplete`); a correct retransmission wins over such a segment, and then nothing
   * is marked.
   */
  badChecksum: z.literal(true).optional(),
  /** Only on a failed extended-protocol record: the request the ErrorResponse answered. */
  errorPhase: z.enum(['parse', 'bind', 'describe', 'execute', 'sync']).optional(),
  /**
   * Only when this statement's answer arrived in the same frame as other statements' (one flush
   * of the server's output): the wire cannot split their time, so durationMs is null and the
   * batch has the time. id: the frame that completed the batch; size: its statements;
   * durationMs: from the first one's start to that frame.
   */
  batch: z.object({ id: z.number().int().positive(), size: z.number().int().positive(), durationMs: z.number() }).optional(),
  /**
   * Only when true: the statement succeeded but its transaction undid it (an error later in the
   * same implicit transaction, ROLLBACK of its block, ROLLBACK TO a savepoint set before it).
   */
  rolledBack: z.literal(true).optional(),
  /**
   * Only when true: the record was written while its transaction was still open (more than
   * MAX_AWAITING records of one session waiting for its end, or the capture ended inside it),
   * so whether a rollback later undid it is not known: rolledBack is absent for that reason only.
   */
  rollbackUnknown: z.literal(true).optional(),
  /**
   * Only on a pooler's server leg (src/session/pooler.ts): the pooler sent this statement to the
   * server, for a client whose own record counts it, or for itself (PgBouncer's SET of its
   * clients' parameters). stats and check skip these records: each statement counts once.
   */
  poolerLeg: z.literal('server').optional(),
  /** Only on a pooler's client leg: the server-leg session that ran this statement, and that backend's process id. */
  serverLeg: z.object({ session: z.number().int().nonnegative(), backendPid: z.number().int().nonnegative().nullable() }).optional(),
  /** Only with keepRows: decoded row values, capped (rowValuesTruncated tells). */
  rowValues: z.array(z.array(pgValue)).optional(),
  rowValuesTruncated: z.boolean().optional(),
});

const endpointSchema = z.object({ ip: z.string(), port: z.number().int() });

const authMethodSchema = z.enum([
  'trust', 'cleartext', 'md5', 'sasl', 'gss', 'sspi', 'kerberos', 'unknown',
]);

export const sessionRecordSchema = z.object({
  kind: z.literal('session'),
  ...envelope,
  client: endpointSchema,
  server: endpointSchema,
  /** "3.0", "3.2"; null when the StartupMessage was not seen. */
  protocolVersion: z.string().nullable(),
  user: z.string().nullable(),
  database: z.string().nullable(),
  applicationName: z.string().nullable(),
  /** Every StartupMessage parameter (user, database, options, ...). */
  startupParameters: z.record(z.string(), z.string()),
  auth: z.object({
    /** null when the authentication exchange was not seen. */
    method: authMethodSchema.nullable(),
    /** SASL: the mechanism the client chose, and those the server offered. */
    mechanism: z.string().nullable(),
    mechanismsOffered: z.array(z.string()),
    /** success at AuthenticationOk followed by ReadyForQuery or an ErrorResponse (then `fatal` says why the session ended); failure at an ErrorResponse before AuthenticationOk, or a class 28 one (the role refused) after it. */
    outcome: z.enum(['success', 'failure', 'unknown']),
    sqlstate: z.string().nullable(),
    error: errorFieldsSchema.nullable(),
  }),
  encryption: z.enum(['none', 'tls', 'gss', 'unknown']),
  sslRequested: z.boolean(),
  gssRequested: z.boolean(),
  tls: tlsSummarySchema.nullable(),
  serverVersion: z.string().nullable(),
  /** The last value of every ParameterStatus the server reported. */
  parameters: z.record(z.string(), z.string()),
  backendPid: z.number().int().nullable(),
  backendKey: z.string().nullable(),
  start: isoTime,
  startFrame: z.number().int().positive(),
  end: isoTime,
  endFrame: z.number().int().positive(),
  durationMs: z.number(),
  endedBy: z.enum(['terminate', 'fatal', 'fin', 'rst', 'idle', 'capture-end', 'port-reuse', 'limit']),
  /** A FATAL (or PANIC) ErrorResponse outside the authentication exchange. */
  fatal: errorFieldsSchema.nullable(),
  frontend: z.object({ bytes: z.number().int().nonnegative(), messages: z.number().int().nonnegative() }),
  backend: z.object({ bytes: z.number().int().nonnegative(), messages: z.number().int().nonnegative() }),
  anomalies: z.number().int().nonnegative(),
  queries: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  notifications: z.number().int().nonnegative(),
  /** Backend responses with no request to pair with (capture began mid-request, lost bytes). */
  unpairedResponses: z.number().int().nonnegative(),
  /** This connection carried a CancelRequest: what it targeted and, when seen, the session and query it hit. */
  cancel: z.object({
    processId: z.number().int(),
    frame: z.number().int(),
    targetSession: z.number().int().nullable(),
    targetQuery: z.object({ sql: z.string().nullable(), firstFrame: z.number().int() }).nullable(),
  }).nullable(),
  /**
   * Only when the session is a pooler's leg (src/session/pooler.ts): "server" when the pooler
   * opened it to the server (its query records have poolerLeg), "client" when a client opened
   * it to the pooler (its query records name the serverLeg that ran them).
   */
  poolerLeg: z.enum(['client', 'server']).optional(),
});

export type QueryRecord = z.infer<typeof queryRecordSchema>;
export type SessionRecord = z.infer<typeof sessionRecordSchema>;
export type AuthMethod = z.infer<typeof authMethodSchema>;
export type TransactionStatus = z.infer<typeof transactionStatusSchema>;
export type IncompleteReason = z.infer<typeof incompleteReasonSchema>;
export type ErrorPhase = NonNullable<QueryRecord['errorPhase']>;

/** Validate any query or session record; the NDJSON tests call this on every record. */
const sessionLayerRecordSchema = z.discriminatedUnion('kind', [queryRecordSchema, sessionRecordSchema]);
