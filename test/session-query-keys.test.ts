/**
 * The query record's keys are declared three times: the zod schema (src/session/schema.ts),
 * Execution.toRecord and the NDJSON byte writer (src/sinks/json/query-writer.ts). An execution
 * with every field set, optional ones included (which no sample may exercise: batch, rolledBack,
 * rollbackUnknown, poolerLeg, serverLeg, rowValues, errorPhase, incompleteReason, badChecksum, copy, function, cancelledBy), must
 * give a record whose keys are the schema's, in the schema's order, that the schema accepts,
 * and that the byte writer writes exactly as JSON.stringify does. A field added to one of the
 * three and not the others fails here, at the top level and in the nested objects (copy,
 * function, cancelledBy, batch, serverLeg, columns, params), whose zod objects would otherwise
 * strip a key the schema lacks without a word.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { errorFieldsSchema } from '../dissectors/schema.js';
import { Batch, Execution } from '../src/session/execution.js';
import { queryRecordSchema } from '../src/session/schema.js';
import { JsonWriter } from '../src/sinks/json/writer.js';
import { writeExecution } from '../src/sinks/json/query-writer.js';

function everyField(): Execution {
  const e = new Execution('extended', 'SELECT $1', 3, 1_764_136_354_023_718);
  e.statement = 'S_1';
  e.portal = 'C_1';
  e.params = [{ oid: 23, typeName: 'int4', format: 'text', value: 42 }];
  e.parsed = true;
  e.touch(1_764_136_354_023_800);
  e.dataRow(17, 1_764_136_354_023_900);
  e.keepRow([{ oid: 23, typeName: 'int4', format: 'text', value: 1 }], 5, 1_764_136_354_023_900, 7);
  e.finish(9, 1_764_136_354_024_000, 1_764_136_354_023_700);
  e.tagRows = 1;
  e.command = 'SELECT 1';
  e.columns = [{ name: 'n', tableOid: 16384, columnNumber: 1, typeOid: 23, typeName: 'int4', typeSize: 4, typeModifier: -1, format: 'text' }];
  e.error = { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '42P01', message: 'relation "t" does not exist' };
  e.notices = [{ severity: 'NOTICE', severityNonLocalized: 'NOTICE', sqlstate: '00000', message: 'n' }];
  e.copy = { direction: 'in', format: 'text', messagesIn: 3, bytesIn: 99, messagesOut: 0, bytesOut: 0, failed: null };
  e.isFunction = true;
  e.functionOid = 1598;
  e.functionResult = { oid: 25, typeName: 'text', format: 'text', value: 'r' };
  e.cancelledBy = { session: 3, frame: 99, time: '2025-11-26T05:52:34.023718Z' };
  e.markIncomplete('gap');
  e.badChecksum = true;
  e.errorPhase = 'execute';
  e.batch = new Batch(9, 1_764_136_354_023_700, 1_764_136_354_024_000);
  e.rolledBack = true;
  e.rollbackUnknown = true;
  e.poolerLeg = true;
  e.serverLeg = { session: 2, backendPid: 4242 };
  return e;
}

test('query record: schema, toRecord and the byte writer have the same keys, in the schema\'s order', () => {
  const rec = everyField().toRecord(4, 'idle');
  const schemaKeys = Object.keys(queryRecordSchema.shape);
  assert.deepEqual(Object.keys(rec), schemaKeys, 'toRecord keys against the schema');
  const parsed = queryRecordSchema.strict().safeParse(rec);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  const w = new JsonWriter(16);
  writeExecution(w, everyField(), 4, 'idle');
  const line = w.buf.toString('utf8', 0, w.pos);
  assert.equal(line, JSON.stringify(rec) + '\n', 'the byte writer against JSON.stringify(toRecord)');
  assert.deepEqual(Object.keys(JSON.parse(line) as object), schemaKeys, 'the byte writer\'s keys against the schema');
});

/**
 * Every object of `value`, at any depth, against its schema: its keys are the schema's, in the
 * schema's order (error fields: the ones the server sent, in the schema's order). Objects the
 * record leaves out or sets to null, and values of no fixed shape (row values), are not walked.
 */
function keyMismatches(schema: z.ZodType, value: unknown, path: string, out: string[]): string[] {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (value === null || value === undefined) return out;
  if (s instanceof z.ZodArray) {
    (value as unknown[]).forEach((v, i) => keyMismatches(s.element as z.ZodType, v, `${path}[${i}]`, out));
  } else if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodType>;
    const want = Object.keys(shape);
    const got = Object.keys(value as object);
    const expected = s === errorFieldsSchema ? want.filter((k) => got.includes(k)) : want;
    if (got.join() !== expected.join()) out.push(`${path}: ${got.join(',')} (schema: ${want.join(',')})`);
    for (const k of got) if (shape[k] !== undefined) keyMismatches(shape[k], (value as Record<string, unknown>)[k], `${path}.${k}`, out);
  }
  return out;
}

test('query record: every nested object has its schema\'s keys, in order, from toRecord and from the byte writer', () => {
  const rec = everyField().toRecord(4, 'idle');
  for (const k of ['copy', 'function', 'cancelledBy', 'batch', 'serverLeg', 'columns', 'params', 'error'] as const) {
    assert.notEqual(rec[k], null, `the every-field execution sets ${k}`);
  }
  assert.deepEqual(keyMismatches(queryRecordSchema, rec, 'record', []), [], 'toRecord');
  const w = new JsonWriter(16);
  writeExecution(w, everyField(), 4, 'idle');
  assert.deepEqual(keyMismatches(queryRecordSchema, JSON.parse(w.buf.toString('utf8', 0, w.pos)), 'record', []), [], 'the byte writer');
});

test('the nested key check finds a key the schema lacks and a key out of order', () => {
  const rec = everyField().toRecord(4, 'idle') as unknown as Record<string, unknown>;
  const extra = { ...rec, batch: { ...(rec.batch as object), extra: 1 } };
  assert.deepEqual(keyMismatches(queryRecordSchema, extra, 'record', []), ['record.batch: id,size,durationMs,extra (schema: id,size,durationMs)']);
  const { session, backendPid } = rec.serverLeg as { session: number; backendPid: number };
  const swapped = { ...rec, serverLeg: { backendPid, session } };
  assert.deepEqual(keyMismatches(queryRecordSchema, swapped, 'record', []), ['record.serverLeg: backendPid,session (schema: session,backendPid)']);
});
