/**
 * The pooler sample: PgBouncer (Debian package) in transaction pooling mode in front of the
 * sample server, two pg clients through it. The capture holds both legs: the client
 * connections to PgBouncer's port and PgBouncer's server connections to PostgreSQL.
 */
import { startPgBouncer } from '../test/helpers/pgbouncer.js';
import type { Scenario } from './sample-scenario.js';

/** PgBouncer's default port; in the generator's private namespace nothing else has it. */
const POOLER_PORT = 6432;
const POOL_SIZE = 2;

export const POOLER_SCENARIOS: Scenario[] = [
  {
    name: 'pgbouncer',
    title: 'PgBouncer in transaction pooling mode: client legs and server legs',
    description:
      `PgBouncer (pool_mode transaction, default_pool_size ${POOL_SIZE}) on 127.0.0.1:${POOLER_PORT} in front of the server; ` +
      'two pg connections through it, SCRAM login to PgBouncer, which logs in to PostgreSQL with SCRAM ' +
      'on its own server connections. Connection 0: a simple SELECT, a missing table (42P01), the named ' +
      'statement "pool_stmt" parsed and executed. Connection 1: BEGIN, which holds the server connection ' +
      'that ran pool_stmt. Connection 0 executes pool_stmt again (Bind only, as pg does for a statement it ' +
      'prepared): PgBouncer gives it the other server connection, where the statement does not exist ' +
      '(26000). Connection 1: a SELECT and COMMIT. Both legs are captured: each statement crosses the ' +
      'wire twice, once from the client to PgBouncer and once from PgBouncer to PostgreSQL.',
    decode: [
      `client legs on port ${POOLER_PORT}: the manifest's steps; server legs on the server port: the same statements, sent by PgBouncer`,
      "PgBouncer's BackendKeyData to its clients is its own (a random key, a PID that may exceed 2^31), not the server's",
      'a tool should count each statement once (the client leg) and link it to the server leg and backend that ran it',
      'the 26000 on the second server connection: pool_stmt was prepared on the first one within the capture, not before it',
    ],
    capturePorts: [POOLER_PORT],
    async run(rec) {
      const bouncer = await startPgBouncer({ port: rec.server.port, user: rec.server.user, password: rec.server.password }, { port: POOLER_PORT, poolMode: 'transaction', poolSize: POOL_SIZE });
      rec.pooler = { kind: 'pgbouncer', version: bouncer.version, port: POOLER_PORT, poolMode: bouncer.poolMode, poolSize: POOL_SIZE };
      try {
        const a = await rec.pg({ port: POOLER_PORT });
        const b = await rec.pg({ port: POOLER_PORT });
        await a.query({ sql: "SELECT 'through the pooler' AS via", expectRows: 1 });
        await a.query({ sql: 'SELECT * FROM no_such_table', expectError: '42P01' });
        await a.query({ sql: 'SELECT $1::int * 10 AS tens', name: 'pool_stmt', params: [{ type: 'int4', value: '4' }], expectRows: 1 });
        await b.query({ sql: 'BEGIN' });
        await a.query({ sql: 'SELECT $1::int * 10 AS tens', name: 'pool_stmt', params: [{ type: 'int4', value: '5' }], expectError: '26000' });
        await b.query({ sql: "SELECT 'in a transaction' AS state", expectRows: 1 });
        await b.query({ sql: 'COMMIT' });
        await rec.closeAll();
      } finally {
        await bouncer.stop();
      }
    },
  },
];
