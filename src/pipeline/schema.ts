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

export const recordSchema = z.union([messageRecordSchema, queryRecordSchema, sessionRecordSchema, anomalyRecordSchema]);

/** Validates one record; returns the zod issues formatted one per line, or null when valid. */
export function validateRecord(rec: unknown): string | null {
  const kind = (rec as { kind?: unknown })?.kind;
  const schema = kind === 'message' ? messageRecordSchema
    : kind === 'query' ? queryRecordSchema
    : kind === 'session' ? sessionRecordSchema
    : kind === 'anomaly' ? anomalyRecordSchema
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
    description: 'One line of `pgsniff read --json`: a message, query, session or anomaly record, told apart by `kind`.',
    oneOf: [
      z.toJSONSchema(messageRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(queryRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(sessionRecordSchema, { unrepresentable: 'any' }),
      z.toJSONSchema(anomalyRecordSchema, { unrepresentable: 'any' }),
    ],
  };
}
