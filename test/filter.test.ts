import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from '../src/filter/index.js';
import { isUserError } from '../src/core/errors.js';

const parse = { kind: 'message', session: 1, dir: 'frontend', type: 'Parse', code: 'P', length: 45, statement: 's1', query: 'SELECT * FROM users WHERE id = $1', paramTypes: [23] };
const bind = {
  kind: 'message', session: 1, dir: 'frontend', type: 'Bind', code: 'B', length: 30, portal: '', statement: 's1', paramFormats: ['binary'],
  params: [{ oid: 23, typeName: 'int4', format: 'binary', value: 1 }], resultFormats: [],
};
const describe = { kind: 'message', session: 1, dir: 'frontend', type: 'Describe', code: 'D', length: 8, target: 'statement', name: 's1' };
const errorMsg = {
  kind: 'message', session: 2, dir: 'backend', type: 'ErrorResponse', code: 'E', length: 80,
  fields: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '42P01', message: 'relation "nope" does not exist', position: '15' },
};
const auth = { kind: 'message', session: 3, dir: 'backend', type: 'AuthenticationMD5Password', code: 'R', length: 12, authType: 5, salt: '01020304' };
const startup = {
  kind: 'message', session: 3, dir: 'frontend', type: 'StartupMessage', code: null, length: 40, protocolMajor: 3, protocolMinor: 0,
  parameters: { user: 'alice', database: 'shop' },
};
const rfq = { kind: 'message', session: 1, dir: 'backend', type: 'ReadyForQuery', code: 'Z', length: 5, status: 'T', transactionStatus: 'transaction' };
const rowDesc = {
  kind: 'message', session: 1, dir: 'backend', type: 'RowDescription', code: 'T', length: 40,
  fields: [{ name: 'id', tableOid: 16384, columnNumber: 1, typeOid: 23, typeName: 'int4', typeSize: 4, typeModifier: -1, format: 'text' }],
};
const query = {
  kind: 'query', session: 2, sql: 'select pg_sleep(0.2)', durationMs: 201.5, rows: 1, command: 'SELECT 1', statement: null, error: null,
  params: [{ oid: 23, value: 42 }, { oid: 25, value: 'x' }],
};
const failed = { kind: 'query', session: 2, sql: 'selec 1', durationMs: 0.3, error: { sqlstate: '42601', severity: 'ERROR', message: 'syntax error' } };
const missing = { kind: 'query', session: 2, sql: 'select * from nope', durationMs: 0.4, error: { sqlstate: '42P01', severity: 'ERROR', message: 'no' } };
const session = { kind: 'session', session: 3, user: 'alice', backendPid: 4242, auth: { method: 'md5', mechanism: null, mechanismsOffered: [] } };
const frameRow = { kind: 'frame', frame: 7, session: 1, src: '127.0.0.1:5432', dst: '127.0.0.1:40000', length: 90, info: '<Z ReadyForQuery' };

const table: Array<[string, Record<string, unknown>, boolean]> = [
  // the empty filter, and every operator on record keys
  ['', parse, true],
  ['type == "Parse"', parse, true],
  ['type == Parse', parse, true],
  ['type eq "Bind"', parse, false],
  ['type != Bind', parse, true],
  ['type ne Parse', parse, false],
  ['length < 46', parse, true],
  ['length lt 45', parse, false],
  ['length <= 45', parse, true],
  ['length le 44', parse, false],
  ['length > 44', parse, true],
  ['length gt 45', parse, false],
  ['length >= 45', parse, true],
  ['length ge 46', parse, false],
  ['pgsql.query contains "users"', parse, true],
  ['query contains "USERS"', parse, false],
  ['query matches "from\\\\s+users"', parse, true],
  ['query ~ "FROM USERS"', parse, true],
  ['dir == frontend && type == Parse', parse, true],
  ['dir == frontend and type == Bind', parse, false],
  ['dir == backend || session == 1', parse, true],
  ['dir == backend or session == 2', parse, false],
  ['not dir == backend', parse, true],
  ['!(type == Parse)', parse, false],
  ['(dir == backend || type == Parse) && session == 1', parse, true],
  ['type in {"Sync" "Parse"}', parse, true],
  ['type in {Sync, Flush}', parse, false],
  ['paramTypes == 23', parse, true],
  ['kind == query && durationMs > 100', query, true],
  ['durationMs >= 201.5 and durationMs < 202', query, true],
  ['durationMs > 1000', query, false],
  ['params.value == 42', query, true],
  ['params.value == "x"', query, true],
  ['params.value != 7', query, true],
  ['params.value != 42', query, false],
  ['error', query, false],
  ['error', failed, true],
  ['error.sqlstate == "42601"', failed, true],
  ['error.sqlstate == 42601', failed, true],
  ['!error', failed, false],
  ['error.detail == "x"', failed, false],
  ['error.detail != "x"', failed, true],
  ['pgsql.sql == "selec 1"', failed, true],
  // nested record keys: message fields, a record-shaped object's keys, session records
  ['fields.sqlstate == "42P01"', errorMsg, true],
  ['fields.severity == FATAL', errorMsg, false],
  ['parameters.user == alice', startup, true],
  ['parameters.application_name', startup, false],
  ['auth.method == md5 && user == alice', session, true],
  ['fields.typeName == int4', rowDesc, true],
  // registry keys read messages and query records alike
  ['pgsql.error.sqlstate == "42P01"', errorMsg, true],
  ['pgsql.error.sqlstate == "42P01"', missing, true],
  ['pgsql.error.sqlstate == "42P01"', failed, false],
  ['pgsql.error.sqlstate in {"42601" "42P01"}', failed, true],
  ['pgsql.error.position == 15', errorMsg, true],
  ['pgsql.error.field_type == C', errorMsg, true],
  ['pgsql.error.field_type == D', errorMsg, false],
  ['pgsql.bind.param == 1', bind, true],
  ['pgsql.bind.param == 42', query, true],
  ['pgsql.bind.param == 2', bind, false],
  ['pgsql.bind.nparams == 1', bind, true],
  ['pgsql.bind.format == 1', bind, true],
  ['pgsql.bind.format == binary', bind, true],
  ['pgsql.bind.format == text', bind, false],
  ['pgsql.query contains "users"', parse, true],
  ['pgsql.query contains "sleep"', query, true],
  ['pgsql.statement == s1', bind, true],
  ['pgsql.statement == s1', parse, true],
  ['pgsql.type == Parse', parse, true],
  ['pgsql.type == P', parse, true],
  ['pgsql.type == B', parse, false],
  ['pgsql.length == 45', parse, true],
  ['pgsql.tag == "SELECT 1"', query, true],
  ['pgsql.target == S', describe, true],
  ['pgsql.target == statement', describe, true],
  ['pgsql.target == P', describe, false],
  ['pgsql.name == s1', describe, true],
  ['pgsql.name == s1', parse, false],
  ['pgsql.authtype == 5', auth, true],
  ['pgsql.authtype == AuthenticationMD5Password', auth, true],
  ['pgsql.authtype == AuthenticationOk', auth, false],
  ['pgsql.salt == "01020304"', auth, true],
  ['pgsql.status == T', rfq, true],
  ['pgsql.status == transaction', rfq, true],
  ['pgsql.status == idle', rfq, false],
  ['pgsql.parameter.name == database', startup, true],
  ['pgsql.parameter.value == shop', startup, true],
  ['pgsql.parameter.name == shop', startup, false],
  ['pgsql.version == 196608', startup, true],
  ['pgsql.version == "protocol 3.0"', startup, true],
  ['pgsql.column.name == id', rowDesc, true],
  ['pgsql.column.type_oid == 23', rowDesc, true],
  ['pgsql.column.format == 0', rowDesc, true],
  ['pgsql.ncolumns == 1', rowDesc, true],
  ['pgsql.pid == 4242', session, true],
  ['pgsql.error.sqlstate', errorMsg, true],
  ['pgsql.error.sqlstate', query, false],
  // the TUI's frame rows
  ['info contains ReadyForQuery && src contains ":5432"', frameRow, true],
  ['dst == "127.0.0.1:5432"', frameRow, false],
];

for (const [expr, rec, want] of table) {
  test(`filter ${JSON.stringify(expr)} on ${String(rec.type ?? rec.kind)} -> ${want}`, () => {
    assert.equal(compileFilter(expr)(rec), want);
  });
}

for (const bad of ['type ==', '(type == Parse', 'type == "unterminated', 'query matches "("', '== 3', 'type == Parse )', 'a in 3', '#', 'type in {Sync']) {
  test(`invalid filter ${JSON.stringify(bad)} is a BAD_FILTER user error`, () => {
    assert.throws(() => compileFilter(bad), (e: unknown) => isUserError(e) && e.code === 'BAD_FILTER' && /column \d+/.test(e.message));
  });
}

/** A name that is no field: refused at compile time with the nearest names, never a filter that matches nothing. */
const unknown: Array<[string, RegExp]> = [
  ['durationMss > 1', /column 1: unknown field "durationMss"; did you mean durationMs\b/],
  ['kind == query && durationms > 1', /column 18: unknown field "durationms"; did you mean durationMs\b/],
  ['foo == 1', /unknown field "foo" \(fields are the NDJSON keys/],
  ['sqlstate == "42P01"', /did you mean .*error\.sqlstate/],
  ['pgsql.error.sqlstat == "42P01"', /did you mean pgsql\.error\.sqlstate\b/],
  ['pgsql.bind.parm == 1', /did you mean pgsql\.bind\.param\b/],
  ['eror', /did you mean error\b/],
  ['params.valu == 1', /did you mean params\.value\b/],
  ['parameters.user.name == x', /unknown field "parameters\.user\.name"/],
  ['type == Parse || qurey contains "x"', /column 18: unknown field "qurey"; did you mean query\b/],
  ['pgsql.terminator == 0', /pgsql\.terminator cannot be filtered on: the terminating zero byte is framing/],
  ['pgsql.value.data == 1', /cannot be filtered on: .*pgsql\.bind\.param/],
];
for (const [bad, why] of unknown) {
  test(`unknown field in ${JSON.stringify(bad)} is a BAD_FILTER naming the nearest fields`, () => {
    assert.throws(() => compileFilter(bad), (e: unknown) => isUserError(e) && e.code === 'BAD_FILTER' && why.test(e.message) && !e.message.includes('\n'));
  });
}
