import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatementTable, MAX_STATEMENTS, MAX_STATEMENT_CHARS, type PreparedStatement } from '../src/session/statements.js';

const stmt = (name: string, sql: string | null): PreparedStatement => ({ name, sql, paramTypes: null, columns: null, parsedSinceExec: true });

test('StatementTable: replace, restore, close', () => {
  const t = new StatementTable();
  const a = stmt('', 'select 1');
  assert.equal(t.putStatement(a), undefined);
  const b = stmt('', 'select 2');
  assert.equal(t.putStatement(b), a);
  t.restoreStatement('', b, a);
  assert.equal(t.getStatement('')?.sql, 'select 1');
  t.closeStatement('');
  assert.equal(t.getStatement(''), undefined);
  assert.equal(t.statementOrUnknown('S1').sql, null);
});

test('StatementTable: bounded in count and in SQL characters, oldest out first', () => {
  const t = new StatementTable();
  for (let i = 0; i < MAX_STATEMENTS + 50; i++) t.putStatement(stmt('s' + i, 'select ' + i));
  assert.equal(t.statementCount, MAX_STATEMENTS);
  assert.equal(t.getStatement('s0'), undefined);
  assert.ok(t.getStatement('s' + (MAX_STATEMENTS + 49)));
  const big = 'x'.repeat(MAX_STATEMENT_CHARS / 4);
  const u = new StatementTable();
  for (let i = 0; i < 10; i++) u.putStatement(stmt('b' + i, big + i));
  assert.ok(u.statementCount <= 4);
  assert.ok(u.getStatement('b9'));
  assert.equal(u.getStatement('b0'), undefined);
});

test('StatementTable: endTransaction drops only portals bound before the Sync', () => {
  const t = new StatementTable();
  const s = stmt('', 'select 1');
  t.putPortal({ name: 'a', epoch: 0, statement: s, params: [], resultFormats: [], columns: null });
  t.putPortal({ name: 'b', epoch: 1, statement: s, params: [], resultFormats: [], columns: null });
  t.endTransaction(1);
  assert.equal(t.getPortal('a'), undefined);
  assert.ok(t.getPortal('b'));
});
