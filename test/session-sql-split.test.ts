import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitSql } from '../src/session/sql-split.js';

const table: Array<{ in: string; want: string[]; backslash?: boolean }> = [
  { in: 'select 1', want: ['select 1'] },
  { in: 'select 1;', want: ['select 1'] },
  { in: "select 1, ';'", want: ["select 1, ';'"] },
  { in: 'select 1; select 2', want: ['select 1', 'select 2'] },
  { in: '  select 1 ;\n\n select 2 ;  ', want: ['select 1', 'select 2'] },
  { in: ';;select 1;;', want: ['select 1'] },
  { in: '', want: [] },
  { in: ' -- only a comment\n', want: [] },
  { in: "select 'it''s; fine'; select 2", want: ["select 'it''s; fine'", 'select 2'] },
  { in: "select E'a\\';b'; select 2", want: ["select E'a\\';b'", 'select 2'] },
  { in: "select e'\\\\'; select 2", want: ["select e'\\\\'", 'select 2'] },
  // a backslash in a standard string is an ordinary character
  { in: "select '\\'; select 2", want: ["select '\\'", 'select 2'] },
  { in: "select '\\'; select 2'", want: ["select '\\'; select 2'"], backslash: true },
  // "name'" is not an E-string: the e ends an identifier
  { in: "select name'x;y'", want: ["select name'x;y'"] },
  { in: 'select "a;b" from t; select 2', want: ['select "a;b" from t', 'select 2'] },
  { in: 'select "a"";b"; select 2', want: ['select "a"";b"', 'select 2'] },
  { in: 'select $$a;b$$; select 2', want: ['select $$a;b$$', 'select 2'] },
  { in: 'select $fn$ $$; $fn$; select 2', want: ['select $fn$ $$; $fn$', 'select 2'] },
  { in: 'select $1; select $2', want: ['select $1', 'select $2'] },
  { in: 'select a$b; select 2', want: ['select a$b', 'select 2'] },
  { in: 'select 1 -- c;omment\n; select 2', want: ['select 1 -- c;omment', 'select 2'] },
  { in: 'select /* a /* nested; */ still; */ 1; select 2', want: ['select /* a /* nested; */ still; */ 1', 'select 2'] },
  { in: 'select 1; /* trailing; */', want: ['select 1'] },
  { in: "select 'unterminated; select 2", want: ["select 'unterminated; select 2"] },
  {
    in: 'create function f() returns int language sql begin atomic select 1; select 2; end; select 3',
    want: ['create function f() returns int language sql begin atomic select 1; select 2; end', 'select 3'],
  },
  {
    in: 'CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END; SELECT 4',
    want: ['CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END', 'SELECT 4'],
  },
  { in: 'begin; select 1; commit', want: ['begin', 'select 1', 'commit'] },
  { in: "create function g() returns int as $$ begin; $$ language sql; select 5", want: ['create function g() returns int as $$ begin; $$ language sql', 'select 5'] },
];

test('splitSql: statement boundaries', () => {
  for (const row of table) {
    const got = splitSql(row.in, row.backslash ?? false).map((p) => p.text);
    assert.deepEqual(got, row.want, JSON.stringify(row.in));
  }
});

test('splitSql: offsets point at the text', () => {
  const s = '  select 1 ;  select 2';
  for (const p of splitSql(s)) assert.equal(s.slice(p.start, p.end), p.text);
});

// A quadratic scan would not end before the timeout; its speed is not asserted (CI is loaded).
test('splitSql: hostile input stays linear', { timeout: 120_000 }, () => {
  const big = "'".repeat(200_000) + '$$'.repeat(100_000) + '/*'.repeat(100_000);
  assert.ok(splitSql(big).length >= 1);
  assert.equal(splitSql(';'.repeat(500_000)).length, 0, 'empty statements give no piece');
});

test('splitSql: at most maxPieces, the last holding the rest', () => {
  assert.deepEqual(splitSql('select 1; select 2; select 3; select 4', false, 2).map((p) => p.text), ['select 1', 'select 2; select 3; select 4']);
  assert.equal(splitSql('select 1;'.repeat(50_000), false, 10_000).length, 10_000);
});
