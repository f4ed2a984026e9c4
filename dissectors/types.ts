/**
 * The dissectors' contract. Input: one framed message (RawMessage), cut by src/pg from a
 * reassembled direction. Output: one DecodedMessage, a discriminated union on `type`, whose
 * names are the PostgreSQL documentation's ("Message Formats"). The decoded fields become the
 * JSON message record's fields, so no field may be named kind, session, time, frame, dir, type,
 * code or length (those are the record envelope's; see DESIGN.md).
 *
 * The message types are inferred from the zod schemas (dissectors/schema.ts), which are the one
 * declaration of every message's fields; CopyData's fields are dissectors/copy's. RawMessage and
 * DissectContext, the dissectors' input, are declared here.
 */
import type { z } from 'zod';
import type { Direction } from '../src/core/direction.js';
import type {
  columnDescriptionSchema, errorFieldsSchema, MessageTypeName, messageSchemas, pgValueSchema, scramSchema, typedValueSchema,
} from './schema.js';

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
export type PgValue = z.infer<typeof pgValueSchema>;

/**
 * A parameter or column value with the type information it was decoded with: oid 0 when
 * unknown; typeName when the OID is a built-in type; value: int8 and numeric as strings, bytea as
 * "\\x..." hex, unknown binary types as hex, NULL as null.
 */
export type TypedValue = z.infer<typeof typedValueSchema>;
/** One field of a RowDescription (and of a query record's `columns`). */
export type ColumnDescription = z.infer<typeof columnDescriptionSchema>;
/**
 * ErrorResponse / NoticeResponse fields by their JSON names (dissectors/fields.ts ERROR_FIELDS):
 * severity, severityNonLocalized, sqlstate and message always (null when not sent), the others
 * only when sent; letters the documentation does not define are kept by letter in `unknown`.
 */
export type ErrorFields = z.infer<typeof errorFieldsSchema>;
/**
 * SCRAM attributes (RFC 5802) parsed from SASL data: only the attributes present are set; the
 * client proof `p` is "<redacted>" unless secrets are shown.
 */
export type ScramAttributes = z.infer<typeof scramSchema>;

/** The decoded message of one type, by its documented name. */
type MessageOf<T extends MessageTypeName> = z.infer<(typeof messageSchemas)[T]>;

/** Every decoded message, a discriminated union on `type` (the schemas in dissectors/schema.ts). */
export type DecodedMessage = { [T in MessageTypeName]: MessageOf<T> }[MessageTypeName];

// ---- the messages other stages name ----

export type StartupMessage = MessageOf<'StartupMessage'>;
export type CancelRequest = MessageOf<'CancelRequest'>;
export type Query = MessageOf<'Query'>;
export type Parse = MessageOf<'Parse'>;
export type Bind = MessageOf<'Bind'>;
export type Describe = MessageOf<'Describe'>;
export type Execute = MessageOf<'Execute'>;
export type Close = MessageOf<'Close'>;
export type FunctionCall = MessageOf<'FunctionCall'>;
export type AuthenticationRequest = MessageOf<
  | 'AuthenticationOk' | 'AuthenticationKerberosV5' | 'AuthenticationCleartextPassword' | 'AuthenticationMD5Password'
  | 'AuthenticationGSS' | 'AuthenticationGSSContinue' | 'AuthenticationSSPI' | 'AuthenticationSASL'
  | 'AuthenticationSASLContinue' | 'AuthenticationSASLFinal'>;
/** Frontend 'p' after AuthenticationCleartextPassword (3) or AuthenticationMD5Password (5). */
export type PasswordMessage = MessageOf<'PasswordMessage'>;
/** Frontend 'p' after AuthenticationSASL (10). `data` is text when the mechanism's data is text (SCRAM), else hex. */
export type SASLInitialResponse = MessageOf<'SASLInitialResponse'>;
/** Frontend 'p' after AuthenticationSASLContinue (11). */
export type SASLResponse = MessageOf<'SASLResponse'>;
/** Frontend 'p' after AuthenticationGSS / GSSContinue / SSPI (7, 8, 9): the token, as hex (redacted unless secrets are shown). */
export type GSSResponse = MessageOf<'GSSResponse'>;
export type BackendKeyData = MessageOf<'BackendKeyData'>;
export type ParameterStatus = MessageOf<'ParameterStatus'>;
export type ReadyForQuery = MessageOf<'ReadyForQuery'>;
export type RowDescription = MessageOf<'RowDescription'>;
/**
 * With DissectContext.decodeRows false, values are checked but not decoded: `values` is empty,
 * `valuesOmitted` true and `columnCount` says how many there were.
 */
export type DataRow = MessageOf<'DataRow'>;
export type CommandComplete = MessageOf<'CommandComplete'>;
export type ErrorResponse = MessageOf<'ErrorResponse'>;
export type NoticeResponse = MessageOf<'NoticeResponse'>;
export type CopyResponse = MessageOf<'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'>;
/** CopyData in either direction: the fields come from dissectors/copy (decodeCopyData). */
export type CopyData = MessageOf<'CopyData'>;
/**
 * A type byte not defined for this direction and phase. `raw` is the body as hex, capped (see
 * dissectors/hex.ts); `size` is the body's true size.
 */
export type Unknown = MessageOf<'Unknown'>;
/**
 * A known type whose body does not match its format; `partial` holds the fields decoded before
 * the fault (JSON names as in the full message). `fault`: 'truncated' (the body ends before its
 * fields do, or a string lacks its NUL), 'trailing' (bytes left after the last field),
 * 'invalid' (a value the format does not allow). `raw` is the body as hex, capped; `size` the
 * body's true size; `offset` the body offset of the fault.
 */
export type Malformed = MessageOf<'Malformed'>;

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
