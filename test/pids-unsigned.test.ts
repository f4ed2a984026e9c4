/**
 * Process IDs are unsigned (issue 13 section 7): PgBouncer and Odyssey hand their clients
 * made-up PIDs that use all 32 bits, and tshark shows pgsql.pid as a UINT32. BackendKeyData,
 * CancelRequest and NotificationResponse carry them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import { cancelRequest, cstring, makeContext, msg, toRaw, uint32 } from './helpers/pg-builder.js';

const PID = 0x9c39d80f; // 2621036559: negative as an Int32

test('BackendKeyData, CancelRequest and NotificationResponse read the PID as unsigned', () => {
  const ctx = makeContext();
  const key = dissect(toRaw('backend', msg('K', uint32(PID), uint32(0x12345678))), ctx);
  const cancel = dissect(toRaw('frontend', cancelRequest(PID, Buffer.from('12345678', 'hex')), false), ctx);
  const notify = dissect(toRaw('backend', msg('A', uint32(PID), cstring('ch'), cstring('payload'))), ctx);
  for (const m of [key, cancel, notify]) {
    assert.equal((m as { processId?: number }).processId, PID, JSON.stringify(m));
    assert.ok(decodedMessageSchema.safeParse(m).success, JSON.stringify(m));
  }
});
