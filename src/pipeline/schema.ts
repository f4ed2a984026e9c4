/**
 * The NDJSON record schemas, assembled: the envelope every record has, message records (the
 * envelope plus a decoded message, whose schemas are the dissectors'), query and session records
 * (the session layer's) and anomaly records. `pgsniff schema` prints recordJsonSchema(); the
 * tests validate every exported record with recordSchema.
 */
import { z } from 'zod';
import { decodedMessageSchema } from '../../dissectors/schema.js';
import { queryRecordSchema, sessionRecordSchema } from '../session/schema.js';

const isoTime = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'ISO 8601 with microseconds');
const direction = z.enum(['frontend', 'backend']);

export const messageEnvelopeSchema = z.object({
  kind: z.literal('message'),
  session: z.number().int().nonnegative(),
  time: isoTime,
  frame: z.number().int().positive(),
  /** When the message spans frames: the frame of its first byte. */
  firstFrame: z.number().int().positive().optional(),
  dir: direction,
  type: z.string(),
  code: z.string().length(1).nullable(),
  length: z.number().int().nonnegative(),
  tls: z.literal(true).optional(),
});

export const messageRecordSchema = z.intersection(messageEnvelopeSchema, decodedMessageSchema);

export const anomalyRecordSchema = z.object({
  kind: z.literal('anomaly'),
  session: z.number().int().nonnegative().nullable(),
  time: isoTime,
  frame: z.number().int().positive().nullable(),
  code: z.string(),
  reason: z.string(),
  dir: direction.optional(),
  skipped: z.number().int().nonnegative().optional(),
});

const count = z.number().int().nonnegative();

/**
 * The last record of a live capture: what the kernel, the capture process and pgsniff each
 * counted. The kernel's figures (pcap_stats) are null when the capture process did not report
 * them. Packets the kernel accepted but neither dropped nor handed over are those still in its
 * buffer when the capture stopped.
 */
export const captureRecordSchema = z.object({
  kind: z.literal('capture'),
  session: z.null(),
  /** When the capture stopped (host clock). */
  time: isoTime,
  /** The last frame decoded, null when none was. */
  frame: z.number().int().positive().nullable(),
  interface: z.string(),
  filter: z.string(),
  snaplen: count,
  /** pcap_stats ps_recv: packets the kernel's filter accepted. */
  received: count.nullable(),
  /** Packets the capture process wrote. */
  captured: count.nullable(),
  /** Packets pgsniff decoded (frames). */
  decoded: count,
  /** pcap_stats ps_drop: dropped by the kernel, its buffer full. */
  droppedByKernel: count.nullable(),
  /** pcap_stats ps_ifdrop: dropped by the interface. */
  droppedByInterface: count.nullable(),
  /** Captured, then dropped unread because pgsniff fell further behind than its spool limit. */
  droppedByPgsniff: count,
  /** Captured bytes of the decoded packets, and of those pgsniff dropped. */
  bytes: count,
  bytesDroppedByPgsniff: count,
  /** Only with --export: rows the export could not deliver (ClickHouse slow or down), counted after its last insert. */
  droppedByExport: count.optional(),
});

export const recordSchema = z.union([messageRecordSchema, queryRecordSchema, sessionRecordSchema, anomalyRecordSchema, captureRecordSchema]);

/** Validates one record; returns the zod issues formatted one per line, or null when valid. */
export function validateRecord(rec: unknown): string | null {
  const kind = (rec as { kind?: unknown })?.kind;
  const schema = kind === 'message' ? messageRecordSchema
    : kind === 'query' ? queryRecordSchema
    : kind === 'session' ? sessionRecordSchema
    : kind === 'anomaly' ? anomalyRecordSchema
    : kind === 'capture' ? captureRecordSchema
    : null;
  if (schema === null) return `unknown record kind ${JSON.stringify(kind)}`;
  const r = schema.safeParse(rec);
  if (r.success) return null;
  return r.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('\n');
}

export function recordJsonSchema(): unknown {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'pgsniff NDJSON record',
    description: 'One line of `pgsniff read --json`: a message, query, session or anomaly record, told apart by `kind`; a live capture ends with a capture record.',
    oneOf: [
      z.toJSONSchema(messageRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(queryRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(sessionRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(anomalyRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(captureRecordSchema, { unrepresentable: 'any' }),
    ],
  };
}
