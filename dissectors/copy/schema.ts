/**
 * zod 4 schema of the fields decodeCopyData returns (the CopyData record's fields besides the
 * envelope and `type`): the full truth for them, as dissectors/schema.ts defers to it. Tests
 * validate every decoded CopyData against copyDataFieldsSchema.
 */
import { z } from 'zod';

const count = z.number().int().min(0);
const uint32 = z.number().int().min(0).max(0xffffffff);
const hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
/** "16/B374D848" */
const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);
/** ISO 8601 UTC with the fraction PostgreSQL keeps, or PostgreSQL's infinities. */
const time = z.string().regex(/^(?:[+-]?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z|infinity|-infinity)$/);
const value = z.json();

const bytesPreviewSchema = z.strictObject({ size: count, preview: hex, truncated: z.literal(true).optional() });

const rows = {
  rows: z.array(z.array(value)),
  rowCount: count,
  rowsTruncated: z.literal(true).optional(),
  endOfData: z.literal(true).optional(),
};

const textRows = z.strictObject({
  size: count,
  format: z.enum(['text', 'csv']),
  ...rows,
  /** COPY ... HEADER: the column names the data begins with; not a row, not in rowCount. */
  headerLine: z.array(z.string().nullable()).optional(),
  partial: z.strictObject({ size: count, preview: z.string() }).optional(),
});

const binaryRows = z.strictObject({
  size: count,
  format: z.literal('binary'),
  header: z.strictObject({ flags: uint32, oids: z.boolean(), extensionLength: uint32 }).optional(),
  ...rows,
  partial: bytesPreviewSchema.optional(),
  malformed: z.strictObject({ reason: z.string(), offset: count, size: count, preview: hex, truncated: z.literal(true).optional() }).optional(),
});

/** No COPY state, a payload that is not COPY rows (`reason`), or a decoder fault (`decodeError`). */
const noCopyState = z.strictObject({ size: count, payload: bytesPreviewSchema, reason: z.string().optional(), decodeError: z.string().optional() });

// ---- pgoutput ----

const tuple = z.record(z.string(), value);
const rowChange = {
  xid: uint32.optional(),
  relationId: uint32,
  /** "namespace.name" when the Relation message was seen. */
  relation: z.string().optional(),
};
const gidFields = { xid: uint32, gid: z.string() };

const logicalMessageSchema = z.discriminatedUnion('message', [
  z.strictObject({ message: z.literal('Begin'), finalLsn: lsn, commitTime: time, xid: uint32 }),
  z.strictObject({
    message: z.literal('Message'), xid: uint32.optional(), transactional: z.boolean(), lsn, prefix: z.string(), contentSize: count,
    content: z.string().optional(), contentTruncated: z.literal(true).optional(), contentHex: bytesPreviewSchema.optional(),
  }),
  z.strictObject({ message: z.literal('Commit'), flags: count, commitLsn: lsn, endLsn: lsn, commitTime: time }),
  z.strictObject({ message: z.literal('Origin'), commitLsn: lsn, name: z.string() }),
  z.strictObject({
    message: z.literal('Relation'), xid: uint32.optional(), relationId: uint32, namespace: z.string(), relation: z.string(),
    replicaIdentity: z.string().length(1),
    columns: z.array(z.strictObject({ name: z.string(), typeOid: uint32, typeName: z.string().nullable(), typeModifier: z.number().int(), key: z.boolean() })),
  }),
  z.strictObject({ message: z.literal('Type'), xid: uint32.optional(), typeOid: uint32, namespace: z.string(), name: z.string() }),
  z.strictObject({ message: z.literal('Insert'), ...rowChange, new: tuple, unchanged: z.array(z.string()).optional() }),
  z.strictObject({
    message: z.literal('Update'), ...rowChange, key: tuple.optional(), old: tuple.optional(), new: tuple, unchanged: z.array(z.string()).optional(),
  }),
  z.strictObject({ message: z.literal('Delete'), ...rowChange, key: tuple.optional(), old: tuple.optional() }),
  z.strictObject({
    message: z.literal('Truncate'), xid: uint32.optional(), relationIds: z.array(uint32), relations: z.array(z.string().nullable()),
    cascade: z.boolean(), restartIdentity: z.boolean(),
  }),
  z.strictObject({ message: z.literal('StreamStart'), xid: uint32, firstSegment: z.boolean() }),
  z.strictObject({ message: z.literal('StreamStop') }),
  z.strictObject({ message: z.literal('StreamCommit'), xid: uint32, flags: count, commitLsn: lsn, endLsn: lsn, commitTime: time }),
  z.strictObject({ message: z.literal('StreamAbort'), xid: uint32, subxid: uint32, abortLsn: lsn.optional(), abortTime: time.optional() }),
  z.strictObject({ message: z.literal('BeginPrepare'), prepareLsn: lsn, endLsn: lsn, prepareTime: time, ...gidFields }),
  z.strictObject({ message: z.literal('Prepare'), flags: count, prepareLsn: lsn, endLsn: lsn, prepareTime: time, ...gidFields }),
  z.strictObject({ message: z.literal('StreamPrepare'), flags: count, prepareLsn: lsn, endLsn: lsn, prepareTime: time, ...gidFields }),
  z.strictObject({ message: z.literal('CommitPrepared'), flags: count, commitLsn: lsn, endLsn: lsn, commitTime: time, ...gidFields }),
  z.strictObject({
    message: z.literal('RollbackPrepared'), flags: count, prepareEndLsn: lsn, rollbackEndLsn: lsn, prepareTime: time, rollbackTime: time, ...gidFields,
  }),
]);

// ---- streaming replication ----

/** Present when a fixed-size message was cut short: why, and the bytes. */
const damage = { malformed: z.string().optional(), preview: hex.optional(), truncated: z.literal(true).optional() };

const xlogData = z.strictObject({
  size: count, replication: z.literal('XLogData'),
  walStart: lsn.optional(), walEnd: lsn.optional(), serverTime: time.optional(), payloadSize: count.optional(),
  logical: logicalMessageSchema.optional(),
  logicalError: z.string().optional(),
  payloadText: z.string().optional(),
  payloadTextTruncated: z.literal(true).optional(),
  payload: bytesPreviewSchema.optional(),
  ...damage,
});

const replication = z.union([
  xlogData,
  z.strictObject({
    size: count, replication: z.literal('PrimaryKeepalive'), walEnd: lsn.optional(), serverTime: time.optional(),
    replyRequested: z.boolean().optional(), trailingBytes: count.optional(), ...damage,
  }),
  z.strictObject({
    size: count, replication: z.literal('StandbyStatusUpdate'), written: lsn.optional(), flushed: lsn.optional(), applied: lsn.optional(),
    clientTime: time.optional(), replyRequested: z.boolean().optional(), trailingBytes: count.optional(), ...damage,
  }),
  z.strictObject({
    size: count, replication: z.literal('HotStandbyFeedback'), clientTime: time.optional(), xmin: uint32.optional(), xminEpoch: uint32.optional(),
    catalogXmin: uint32.optional(), catalogXminEpoch: uint32.optional(), trailingBytes: count.optional(), ...damage,
  }),
  z.strictObject({ size: count, replication: z.literal('Unknown'), tag: z.string().optional(), reason: z.string(), preview: hex.optional(), truncated: z.literal(true).optional() }),
]);

/** Every shape decodeCopyData returns. */
export const copyDataFieldsSchema = z.union([textRows, binaryRows, replication, noCopyState]);
