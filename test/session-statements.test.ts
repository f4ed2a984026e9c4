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

test('StatementTable: a replaced statement or portal counts as the newest, whether replaced in place or moved', () => {
  const t = new StatementTable();
  t.putStatement(stmt('', 'select 0'));
  t.putStatement(stmt('', 'select 1')); // the last one set: replaced in place
  t.putStatement(stmt('a', 'select a'));
  t.putStatement(stmt('', 'select 2')); // not the last: moved to the end
  t.putStatement(stmt('b', 'select b'));
  t.closeStatement('b');
  t.putStatement(stmt('', 'select 3')); // the last one was closed: moved to the end
  for (let i = 0; t.statementCount < MAX_STATEMENTS; i++) t.putStatement(stmt('f' + i, 'select'));
  t.putStatement(stmt('over', 'select')); // evicts the oldest: 'a', not ''
  assert.equal(t.getStatement('a'), undefined);
  assert.equal(t.getStatement('')?.sql, 'select 3');

  const s = stmt('', 'select 1');
  const portal = (name: string, epoch: number) => ({ name, epoch, statement: s, params: [], resultFormats: [], columns: null });
  const p = new StatementTable();
  p.putPortal(portal('', 0));
  p.putPortal(portal('x', 0));
  const again = portal('', 1);
  assert.equal(p.putPortal(again)?.epoch, 0);
  p.restorePortal('', again, undefined);
  assert.equal(p.getPortal(''), undefined);
  p.putPortal(portal('', 2));
  p.putPortal(portal('', 3));
  assert.equal(p.portalCount, 2);
  p.endTransaction(3);
  assert.equal(p.getPortal('x'), undefined);
  assert.equal(p.getPortal('')?.epoch, 3);
});
