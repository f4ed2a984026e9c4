/**
 * The shape of samples/manifest.json: per sample, what the clients did and what the server
 * answered, as the clients saw it. Other stages' tests compare their decode of the pcaps with
 * it, so the field meanings are a contract: grow it, do not rename.
 *
 * Texts are exact: `sql` is the text of the Query or Parse message byte for byte; `values` are
 * the text-format field values as the server sent them (the pg client was told not to parse
 * them); command tags are the CommandComplete texts as received.
 */

/** A value too long to list: its length in characters and the md5 of its UTF-8 text. */
interface ValueDigest {
  length: number;
  md5: string;
}

export type ManifestValue = string | null | ValueDigest;

export interface ManifestParam {
  /** SQL type the statement casts the parameter to (the client sends type OID 0: unspecified). */
  type: string;
  /** Format code of the parameter in Bind. */
  format: 'text' | 'binary';
  /** Text as sent (format text), lowercase hex of the bytes (format binary), or null (SQL NULL). */
  value: string | null;
}

export interface ManifestError {
  sqlstate: string;
  severity: string;
  message: string;
}

export interface ManifestNotice {
  severity: string;
  sqlstate: string;
  message: string;
}

export interface ManifestNotification {
  channel: string;
  payload: string;
  /** Index (in `connections`) of the connection that sent the NOTIFY. */
  from: number;
}

export interface ManifestColumn {
  name: string;
  typeOid: number;
  format: 'text' | 'binary';
}

/** A fast-path FunctionCall and its FunctionCallResponse (or ErrorResponse). */
export interface ManifestFunctionCall {
  /** OID of the function called, and its name in pg_proc. */
  oid: number;
  name: string;
  /** Arguments as sent: text, or lowercase hex for binary format; null is SQL NULL (length -1). */
  args: { format: 'text' | 'binary'; value: string | null }[];
  resultFormat: 'text' | 'binary';
  /** The result as received: text, or hex for binary; null for a NULL result or an error. */
  result: string | null;
}

export interface ManifestStep {
  /** Index in the sample's `connections`. */
  connection: number;
  /** simple: one Query message; extended: Parse (unless reused) / Bind / Describe / Execute / Sync;
   * function: one FunctionCall (then `sql` is '' and `functionCall` says what was called). */
  protocol: 'simple' | 'extended' | 'function';
  /** Text of the Query or Parse message ('' for a FunctionCall). */
  sql: string;
  functionCall?: ManifestFunctionCall;
  /** Extended protocol: prepared statement name, '' for the unnamed one, '(generated)' when the
   * client picks a random name (postgres.js). */
  statement?: string;
  /** Extended protocol: false when a named statement was reused and no Parse was sent. */
  parse?: boolean;
  params?: ManifestParam[];
  /** Format asked for the result columns in Bind. */
  resultFormat?: 'text' | 'binary';
  /** CommandComplete tags in order (several for a multi-statement Query). */
  commands?: string[];
  /** Rows returned (sum over the statements of a multi-statement Query). */
  rows?: number;
  /** Columns of the (last) RowDescription. */
  columns?: ManifestColumn[];
  /** Text-format values per row (as sent; long ones as digests); absent for binary results and
   * for results of more than 50 rows. */
  values?: ManifestValue[][];
  /** Binary results: lowercase hex of each field's bytes, from the type's send function. */
  binaryValues?: (string | null)[][];
  /** True when the server sent EmptyQueryResponse. */
  emptyQuery?: boolean;
  error?: ManifestError;
  notices?: ManifestNotice[];
  copy?: { direction: 'in' | 'out'; format: 'text' | 'binary'; rows: number; bytes: number; md5: string };
  /** Cancelled with a CancelRequest sent on a connection of its own. */
  cancelled?: boolean;
  /** Lower bound of the server-side duration, for latency tests. */
  minDurationMs?: number;
  /** An Execute continuing the portal the previous step left suspended (no Bind): the same
   * execution fetched further, one call as pg_stat_statements counts it. */
  continues?: boolean;
  note?: string;
}

/** The drivers of scripts/sample-drivers.ts: psycopg2, psycopg (3), asyncpg, SQLAlchemy (on
 * psycopg2) under Debian's Python, pgJDBC under java 17. */
type DriverClient = 'psycopg2' | 'psycopg' | 'asyncpg' | 'sqlalchemy' | 'pgjdbc';

export interface ManifestConnection {
  /** raw: scripts/sample-raw-client.ts, a minimal client over a socket (protocol 3.2,
   * replication, FunctionCall). */
  client: 'pg' | 'postgres.js' | 'psql' | 'raw' | DriverClient;
  user: string;
  database: string;
  applicationName: string;
  /** pg_hba method in force for this user. */
  auth: 'scram-sha-256' | 'md5' | 'password' | 'trust';
  /** The client's TCP port when the client exposes it (pg), else null. */
  clientPort: number | null;
  /** null when the connection was established and used; a SQLSTATE when login failed. */
  loginError: string | null;
  /** SSLRequest sent first (psql's sslmode=prefer) and refused with 'N'. */
  sslRequest?: boolean;
  /** NotificationResponses the connection received, in order (they belong to no query). */
  notifications?: ManifestNotification[];
  /** The protocol version the StartupMessage asked for, when not 3.0 ("3.2", "3.9"). */
  protocolVersion?: string;
  /** Protocol options (`_pq_.*`) sent in the StartupMessage. */
  protocolOptions?: Record<string, string>;
  /** `replication` startup parameter: "database" for a logical walsender connection. */
  replication?: string;
  /** NegotiateProtocolVersion as received: the Int32 the documentation calls the newest minor
   * version supported, which PostgreSQL 18 sends as the whole version code (major << 16 | minor,
   * 196610 for 3.2), and the options it did not recognise. */
  negotiate?: { version: number; unrecognized: string[] };
  /** BackendKeyData as received (raw client only): PID and the secret key in lowercase hex
   * (4 bytes under 3.0, 32 from PostgreSQL 18 under 3.2). */
  backendKey?: { processId: number; secretKey: string };
  note?: string;
}

/** A CancelRequest sent on a connection of its own, as the raw client sent it. */
export interface ManifestCancel {
  processId: number;
  /** Lowercase hex of the key sent (the target's BackendKeyData key). */
  secretKey: string;
  /** Index of the connection whose query it cancelled. */
  target: number;
}

/** A row change or message the publication should stream, as the writing connection made it. */
export interface ManifestChange {
  kind: 'insert' | 'update' | 'delete' | 'truncate' | 'message';
  /** Table (insert, update, delete, truncate). */
  relation?: string;
  /** insert / update: the new row, text values by column name. */
  values?: Record<string, string | null>;
  /** delete (and update of the key): the replica identity key, text values by column name. */
  key?: Record<string, string | null>;
  /** message: pg_logical_emit_message's arguments. */
  transactional?: boolean;
  prefix?: string;
  content?: string;
}

/** One CopyData of the replication stream, in the order the raw client saw or sent it. LSNs are
 * "high/low" in uppercase hex without padding (PostgreSQL 18 pads the low half to 8 digits in
 * its own output): compare them as numbers. */
export interface ManifestStreamMessage {
  dir: 'frontend' | 'backend';
  kind: 'XLogData' | 'PrimaryKeepalive' | 'StandbyStatusUpdate' | 'HotStandbyFeedback';
  walStart?: string;
  walEnd?: string;
  /** XLogData: the pgoutput message type (its first byte: B, R, I, U, D, T, M, C, ...). */
  logical?: string;
  /** StandbyStatusUpdate: the three positions sent. */
  written?: string;
  flushed?: string;
  applied?: string;
  replyRequested?: boolean;
  /** HotStandbyFeedback: the xmin and catalog xmin sent, with their epochs. */
  xmin?: number;
  xminEpoch?: number;
  catalogXmin?: number;
  catalogXminEpoch?: number;
}

/** A physical replication exchange: XLogData carries raw WAL, which a decoder can only show. */
export interface ManifestPhysicalReplication {
  connection: number;
  /** START_REPLICATION's start position (IDENTIFY_SYSTEM's xlogpos). */
  startLsn: string;
  /** Total WAL bytes received in XLogData. */
  walBytes: number;
  stream: ManifestStreamMessage[];
}

/** The logical replication exchange of a sample. */
export interface ManifestReplication {
  connection: number;
  slot: string;
  plugin: string;
  publication: string;
  /** START_REPLICATION's options. */
  options: Record<string, string>;
  /** The published table: schema, name, columns in order, replica identity key columns. */
  relation: { namespace: string; name: string; columns: string[]; key: string[] };
  /** What the writing connection did, in commit order. */
  changes: ManifestChange[];
  stream: ManifestStreamMessage[];
}

export interface ManifestSample {
  file: string;
  /** Scenario name; also every connection's application_name. */
  name: string;
  title: string;
  description: string;
  /** What a decoder should show for this capture. */
  decode: string[];
  frames: number;
  bytes: number;
  linkType: number;
  /** Set when the generator captured this sample with tcpdump (the `cap` addon did not load):
   * tcpdump's own timestamps and pcap writer instead of pgsniff's. */
  capturedWith?: 'tcpdump';
  /** Extra connections that carry only a CancelRequest (no startup). */
  cancelRequests: number;
  connections: ManifestConnection[];
  steps: ManifestStep[];
  /** The connections go through a pooler on this port; `connections` and `steps` are the
   * client legs (what the application did), the pooler's server connections are not listed. */
  pooler?: { kind: 'pgbouncer'; version: string; port: number; poolMode: string; poolSize: number };
  /** Parse texts of statements a driver described (Parse, Describe statement) and never executed,
   * such as asyncpg's introspection of a COPY's columns: on the wire, in no step. */
  parsedOnly?: string[];
  /** The CancelRequests the raw client sent (the other clients' keys are not recorded). */
  cancels?: ManifestCancel[];
  replication?: ManifestReplication;
  physicalReplication?: ManifestPhysicalReplication;
}

export interface Manifest {
  generator: string;
  /** How to regenerate: the npm script. */
  command: string;
  server: {
    version: string;
    host: string;
    port: number;
    database: string;
    settings: Record<string, string>;
  };
  /** Capture interface and its MTU (the generator lowers it to keep frames under libpcap's
   * 65535-byte snaplen, see samples/README.md). */
  capture: { iface: string; mtu: number | null; privateNetns: boolean };
  /** Client versions: pg, postgres.js, psql. */
  clients: Record<string, string>;
  samples: ManifestSample[];
}
