/**
 * The dissectors' contract. Input: one framed message (RawMessage), cut by src/pg from a
 * reassembled direction. Output: one DecodedMessage, a discriminated union on `type`, whose
 * names are the PostgreSQL documentation's ("Message Formats"). The decoded fields become the
 * JSON message record's fields, so no field may be named kind, session, time, frame, dir, type,
 * code or length (those are the record envelope's; see DESIGN.md).
 *
 * This file states the shapes other stages rely on (src/session, src/sinks, src/tui); the zod
 * schemas (dissectors/schema.ts) are the full truth, and CopyData's fields are dissectors/copy's.
 */
import type { Direction } from '../src/core/direction.js';

export type { Direction };

export interface RawMessage {
  dir: Direction;
  /** The one-letter type byte, or null for startup-phase messages (StartupMessage, SSLRequest, ...) and the one-byte SSL/GSS answers. */
  code: string | null;
  /** The length field's value (it counts itself); for the one-byte answers to SSLRequest/GSSENCRequest: 1. */
  length: number;
  /** Exactly the body after the length field (length - 4 bytes). Often a view into capture buffers:
   * valid only during the call that hands it over; copy what you keep (the TUI does). */
  body: Buffer;
  /**
   * Where the body lives: source[bodyStart, bodyEnd), the same bytes as `body` (gopacket's
   * ScatterGather). src/pg's framer makes the `body` view only when it is read; the range readers
   * (dissectors/ranges.ts) read the range and make none. Nothing outside the range belongs to
   * this message. Same lifetime as `body`.
   */
  readonly source: Buffer;
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** Stream offset of the message's first byte within its direction (for hex views). */
  offset: number;
  /** Frame holding the first byte, and the frame in which the last byte arrived (the record's `frame`). */
  firstFrame: number;
  frame: number;
  /** Capture time of the first and the last frame, µs since the epoch. */
  startTimeUs: number;
  timeUs: number;
}

/** What a value in a DataRow, Bind, FunctionCall or COPY row decodes to (JSON-compatible). */
export type PgValue = null | boolean | number | string | PgValue[] | { [key: string]: PgValue };

/** A parameter or column value with the type information it was decoded with. */
export interface TypedValue {
  /** Type OID, or 0 when unknown. */
  oid: number;
  /** Type name when the OID is a built-in type (int4, text, ...). */
  typeName: string | null;
  format: 'text' | 'binary';
  /** Decoded value: int8 and numeric as strings, bytea as "\\x..." hex, unknown binary types as hex. NULL is null. */
  value: PgValue;
}

export interface ColumnDescription {
  name: string;
  tableOid: number;
  columnNumber: number;
  typeOid: number;
  typeName: string | null;
  typeSize: number;
  typeModifier: number;
  format: 'text' | 'binary';
}

export interface ErrorFields {
  /** S: localized severity; V: non-localized severity (ERROR, FATAL, PANIC, WARNING, NOTICE, ...) */
  severity: string | null;
  severityNonLocalized: string | null;
  /** C: SQLSTATE */
  sqlstate: string | null;
  /** M */
  message: string | null;
  detail?: string; hint?: string; position?: string; internalPosition?: string; internalQuery?: string;
  where?: string; schema?: string; table?: string; column?: string; dataType?: string; constraint?: string;
  file?: string; line?: string; routine?: string;
  /** Field letters the documentation does not define, kept by letter. */
  unknown?: Record<string, string>;
}

// ---- the messages other stages read ----

export interface StartupMessage { type: 'StartupMessage'; protocolMajor: number; protocolMinor: number; parameters: Record<string, string> }
export interface SSLRequest { type: 'SSLRequest' }
export interface GSSENCRequest { type: 'GSSENCRequest' }
/** The server's one-byte answer to SSLRequest: 'S' accepts (TLS follows), 'N' refuses. */
export interface SSLResponse { type: 'SSLResponse'; accepted: boolean }
/** The server's one-byte answer to GSSENCRequest: 'G' accepts, 'N' refuses. */
export interface GSSENCResponse { type: 'GSSENCResponse'; accepted: boolean }
/** 3.0: 4-byte key; 3.2: variable length. secretKey is hex. */
export interface CancelRequest { type: 'CancelRequest'; processId: number; secretKey: string }

export interface Query { type: 'Query'; query: string }
export interface Parse { type: 'Parse'; statement: string; query: string; paramTypes: number[] }
export interface Bind { type: 'Bind'; portal: string; statement: string; paramFormats: Array<'text' | 'binary'>; params: TypedValue[]; resultFormats: Array<'text' | 'binary'> }
export interface Describe { type: 'Describe'; target: 'statement' | 'portal'; name: string }
export interface Execute { type: 'Execute'; portal: string; maxRows: number }
export interface Close { type: 'Close'; target: 'statement' | 'portal'; name: string }
export interface Sync { type: 'Sync' }
export interface Flush { type: 'Flush' }
export interface Terminate { type: 'Terminate' }
export interface FunctionCall { type: 'FunctionCall'; functionOid: number; args: TypedValue[]; resultFormat: 'text' | 'binary' }

export interface AuthenticationRequest {
  type: 'AuthenticationOk' | 'AuthenticationKerberosV5' | 'AuthenticationCleartextPassword' | 'AuthenticationMD5Password'
    | 'AuthenticationGSS' | 'AuthenticationGSSContinue' | 'AuthenticationSSPI' | 'AuthenticationSASL'
    | 'AuthenticationSASLContinue' | 'AuthenticationSASLFinal';
  /** The Int32 request code (0 Ok, 3 cleartext, 5 MD5, 10 SASL, 11 SASLContinue, 12 SASLFinal, ...). */
  authType: number;
  /** SASL: mechanisms offered. */
  mechanisms?: string[];
  /** MD5: salt as hex. */
  salt?: string;
  /** GSSContinue, SASLContinue, SASLFinal: the data's size, and the data as text (SASL) or hex (GSS). */
  dataLength?: number;
  data?: string;
  /** SASLContinue / SASLFinal of a SCRAM exchange: the attributes. */
  scram?: ScramAttributes;
}
export interface BackendKeyData { type: 'BackendKeyData'; processId: number; secretKey: string }
export interface ParameterStatus { type: 'ParameterStatus'; name: string; value: string }
export interface NegotiateProtocolVersion { type: 'NegotiateProtocolVersion'; newestMinor: number; unrecognized: string[] }
export interface ReadyForQuery { type: 'ReadyForQuery'; status: 'I' | 'T' | 'E'; transactionStatus: 'idle' | 'transaction' | 'failed' }
export interface ParameterDescription { type: 'ParameterDescription'; paramTypes: number[] }
export interface RowDescription { type: 'RowDescription'; fields: ColumnDescription[] }
/**
 * With DissectContext.decodeRows false, values are checked but not decoded: `values` is empty,
 * `valuesOmitted` true and `columnCount` says how many there were.
 */
export interface DataRow { type: 'DataRow'; values: TypedValue[]; columnCount?: number; valuesOmitted?: true }
export interface CommandComplete { type: 'CommandComplete'; tag: string; command: string; rows: number | null; oid?: number }
export interface ErrorResponse { type: 'ErrorResponse'; fields: ErrorFields }
export interface NoticeResponse { type: 'NoticeResponse'; fields: ErrorFields }
export interface NotificationResponse { type: 'NotificationResponse'; processId: number; channel: string; payload: string }
export interface CopyResponse { type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'; format: 'text' | 'binary'; columnFormats: Array<'text' | 'binary'> }
export interface FunctionCallResponse { type: 'FunctionCallResponse'; result: TypedValue }

/**
 * SCRAM attributes (RFC 5802) parsed from SASL data: client-first (gs2 header, n, r),
 * server-first (r, s, i), client-final (c, r, p), server-final (v or e). Only the attributes
 * present are set; the client proof `p` is "<redacted>" unless secrets are shown.
 */
export interface ScramAttributes {
  /** gs2 channel-binding flag: 'n' (client does not support it), 'y' (thinks the server does not), 'p' (uses it). */
  gs2Flag?: 'n' | 'y' | 'p';
  /** Channel binding type named by a 'p=' gs2 flag (e.g. tls-server-end-point). */
  channelBindingType?: string;
  authzid?: string;
  user?: string;
  nonce?: string;
  salt?: string;
  iterations?: number;
  channelBinding?: string;
  proof?: string;
  serverSignature?: string;
  error?: string;
  /** Attributes not listed above, kept by letter. */
  extensions?: Record<string, string>;
}

/** Frontend 'p' after AuthenticationCleartextPassword (3) or AuthenticationMD5Password (5). */
export interface PasswordMessage { type: 'PasswordMessage'; method: 'cleartext' | 'md5' | 'unknown'; password: string }
/** Frontend 'p' after AuthenticationSASL (10). `data` is text when the mechanism's data is text (SCRAM), else hex. */
export interface SASLInitialResponse { type: 'SASLInitialResponse'; mechanism: string; dataLength: number; data: string | null; scram?: ScramAttributes }
/** Frontend 'p' after AuthenticationSASLContinue (11). */
export interface SASLResponse { type: 'SASLResponse'; dataLength: number; data: string; scram?: ScramAttributes }
/** Frontend 'p' after AuthenticationGSS / GSSContinue / SSPI (7, 8, 9): the token, as hex (redacted unless secrets are shown). */
export interface GSSResponse { type: 'GSSResponse'; dataLength: number; data: string }
/** CopyData in either direction: the fields come from dissectors/copy (decodeCopyData). */
export interface CopyData { type: 'CopyData'; [field: string]: unknown }
export interface CopyFail { type: 'CopyFail'; message: string }
export interface EmptyMessage { type: 'ParseComplete' | 'BindComplete' | 'CloseComplete' | 'NoData' | 'EmptyQueryResponse' | 'PortalSuspended' | 'CopyDone' }

/**
 * A type byte not defined for this direction and phase. `raw` is the body as hex, capped (see
 * dissectors/hex.ts); `size` is the body's true size.
 */
export interface Unknown { type: 'Unknown'; reason: string; raw: string; size?: number }
/**
 * A known type whose body does not match its format; `partial` holds the fields decoded before
 * the fault (JSON names as in the full message). `fault`: 'truncated' (the body ends before its
 * fields do, or a string lacks its NUL), 'trailing' (bytes left after the last field),
 * 'invalid' (a value the format does not allow). `raw` is the body as hex, capped; `size` the
 * body's true size; `offset` the body offset of the fault.
 */
export interface Malformed {
  type: 'Malformed'; name: string; reason: string; raw: string; partial: Record<string, unknown>;
  fault?: 'truncated' | 'trailing' | 'invalid'; size?: number; offset?: number;
}

/** Any other message (CopyData, PasswordMessage, SASL*, replication ...): see dissectors/schema.ts. */
export interface OtherMessage { type: string; [field: string]: unknown }

export type DecodedMessage =
  | StartupMessage | SSLRequest | GSSENCRequest | SSLResponse | GSSENCResponse | CancelRequest
  | Query | Parse | Bind | Describe | Execute | Close | Sync | Flush | Terminate | FunctionCall
  | AuthenticationRequest | BackendKeyData | ParameterStatus | NegotiateProtocolVersion | ReadyForQuery
  | ParameterDescription | RowDescription | DataRow | CommandComplete | ErrorResponse | NoticeResponse
  | NotificationResponse | CopyResponse | FunctionCallResponse | EmptyMessage | Unknown | Malformed
  | PasswordMessage | SASLInitialResponse | SASLResponse | GSSResponse | CopyData | CopyFail;

/**
 * Connection state that changes how a body decodes. src/pg keeps the protocol phase parts
 * (authentication request, COPY mode); src/session keeps statement and result types.
 * The dissectors only read it.
 */
export interface DissectContext {
  /** Show passwords, SCRAM proofs and MD5 hashes instead of "<redacted>". */
  showSecrets: boolean;
  /** Negotiated protocol minor version (0 for 3.0, 2 for 3.2): sizes BackendKeyData and CancelRequest keys. */
  protocolMinor: number;
  /** The Authentication request code the backend sent last (null before any): decides what a frontend 'p' is. */
  authType: number | null;
  /** COPY sub-protocol in progress, if any: decides how CopyData decodes. */
  copy: {
    kind: 'in' | 'out' | 'both';
    format: 'text' | 'binary';
    columnFormats: Array<'text' | 'binary'>;
    columnTypes: number[] | null;
    /** COPY ... (FORMAT csv): known from the statement text when it was seen; else guessed from the data. */
    csv?: boolean;
    /**
     * COPY ... HEADER (text or CSV): the data's first line, still to come in this CopyData, is the
     * column names, not a row. Set from the statement text, cleared once a line has ended.
     */
    header?: boolean;
    /** What a replication stream carries (from START_REPLICATION): physical WAL, pgoutput, or a text plugin. */
    output?: 'physical' | 'pgoutput' | 'text';
  } | null;
  /** Parameter type OIDs of a prepared statement ('' is the unnamed one), when known. */
  statementParamTypes(name: string): readonly number[] | undefined;
  /** The row description in force for the next DataRow, when known. */
  resultColumns(): readonly ColumnDescription[] | undefined;
  /** The result format the FunctionCall being answered asked for, when known (else the bytes decide). */
  functionResultFormat?(): 'text' | 'binary' | undefined;
  /**
   * Set by src/pg for the backend's one-byte answer (code null, length 1): which startup request
   * it answers. Absent or null: 'G' is taken as a GSSENC answer, 'S' and 'N' as SSL answers.
   */
  pendingRequest?: 'ssl' | 'gssenc' | null;
  /**
   * False: DataRow values are walked (so a malformed row is still caught) but not decoded, for
   * consumers that only count rows (stats, checks). Absent or true: decoded.
   */
  decodeRows?: boolean;
  /** The SASL mechanism the client chose (from its SASLInitialResponse), when known: decides how SASL data parses. */
  saslMechanism?: string | null;
}
