/**
 * Query and session records with every required field filled, for sink tests: override what the
 * test is about.
 */
import type { QueryRecord, SessionRecord } from '../../src/session/schema.js';

export function q(over: Partial<QueryRecord>): QueryRecord {
  return {
    kind: 'query', session: 0, time: '2024-01-01T00:00:00.000000Z', frame: 1, protocol: 'simple', sql: 'select 1',
    statementIndex: 0, statementCount: 1, statement: null, portal: null, params: [], parsed: false, durationMs: 1,
    firstRowMs: null, rows: 0, rowsReturned: 0, bytesReturned: 0, command: 'SELECT 1', error: null, notices: [],
    transactionStatus: 'idle', skipped: false, incomplete: false, suspended: false, firstFrame: 1, lastFrame: 1,
    startTime: '2024-01-01T00:00:00.000000Z', columns: null, copy: null, function: null, cancelledBy: null, ...over,
  };
}

export function s(over: Partial<SessionRecord>): SessionRecord {
  return {
    kind: 'session', session: 0, time: '2024-01-01T00:00:01.000000Z', frame: 9, client: { ip: '127.0.0.1', port: 50000 },
    server: { ip: '127.0.0.1', port: 5432 }, protocolVersion: '3.0', user: 'u', database: 'd', applicationName: null,
    startupParameters: { user: 'u' },
    auth: { method: 'trust', mechanism: null, mechanismsOffered: [], outcome: 'success', sqlstate: null, error: null },
    encryption: 'none', sslRequested: false, gssRequested: false, tls: null, serverVersion: '18', parameters: {},
    backendPid: 1, backendKey: '00', start: '2024-01-01T00:00:00.000000Z', startFrame: 1, end: '2024-01-01T00:00:01.000000Z',
    endFrame: 9, durationMs: 1000, endedBy: 'terminate', fatal: null, frontend: { bytes: 0, messages: 0 },
    backend: { bytes: 0, messages: 0 }, anomalies: 0, queries: 0, errors: 0, notifications: 0, unpairedResponses: 0, cancel: null,
    ...over,
  };
}
