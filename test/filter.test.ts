import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from '../src/filter/index.js';
import { isUserError } from '../src/core/errors.js';

const parse = { kind: 'message', session: 1, dir: 'frontend', type: 'Parse', code: 'P', query: 'SELECT * FROM users WHERE id = $1', paramTypes: [23] };
const query = { kind: 'query', session: 2, sql: 'select pg_sleep(0.2)', durationMs: 201.5, rows: 1, params: [{ oid: 23, value: 42 }, { oid: 25, value: 'x' }] };
const failed = { kind: 'query', session: 2, sql: 'selec 1', durationMs: 0.3, error: { sqlstate: '42601', severity: 'ERROR', message: 'syntax error' } };

const table: Array<[string, Record<string, unknown>, boolean]> = [
  ['', parse, true],
  ['type == "Parse"', parse, true],
  ['type == Parse', parse, true],
  ['type eq "Bind"', parse, false],
  ['pgsql.query contains "users"', parse, true],
  ['query contains "USERS"', parse, false],
  ['query matches "from\\\\s+users"', parse, true],
  ['query ~ "FROM USERS"', parse, true],
  ['dir == frontend && type == Parse', parse, true],
  ['dir == backend || session == 1', parse, true],
  ['not dir == backend', parse, true],
  ['!(type == Parse)', parse, false],
  ['type in {"Sync" "Parse"}', parse, true],
  ['type in {Sync, Flush}', parse, false],
  ['paramTypes == 23', parse, true],
  ['kind == query && durationMs > 100', query, true],
  ['durationMs >= 201.5 and durationMs < 202', query, true],
  ['durationMs > 1000', query, false],
  ['params.value == 42', query, true],
  ['params.value == "x"', query, true],
  ['params.value != 7', query, true],
  ['error', query, false],
  ['error', failed, true],
  ['error.sqlstate == "42601"', failed, true],
  ['error.sqlstate == 42601', failed, true],
  ['!error', failed, false],
  ['missing.field == 1', failed, false],
  ['missing.field != 1', failed, true],
];

for (const [expr, rec, want] of table) {
  test(`filter ${JSON.stringify(expr)} -> ${want}`, () => {
    assert.equal(compileFilter(expr)(rec), want);
  });
}

for (const bad of ['type ==', '(type == Parse', 'type == "unterminated', 'query matches "("', '== 3', 'type == Parse )', 'a in 3', '#']) {
  test(`invalid filter ${JSON.stringify(bad)} is a BAD_FILTER user error`, () => {
    assert.throws(() => compileFilter(bad), (e: unknown) => isUserError(e) && e.code === 'BAD_FILTER' && /column \d+/.test(e.message));
  });
}
