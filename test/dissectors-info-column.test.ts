/**
 * dissectors/info-column.ts: the Info column that `--text` and the TUI frame list share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfoColumn, INFO_CHARS, messageSign, flaggedMessage } from '../dissectors/info-column.js';
import type { DecodedMessage } from '../dissectors/types.js';

/** Each message as [sign, summary, flagged]; summaries only where the column asks for them. */
function column(arrow: string, msgs: Array<[string, string, boolean]>): string {
  const c = new InfoColumn(arrow);
  for (const [sign, summary, flagged] of msgs) c.add(sign, c.wantsSummary(flagged) ? summary : null, flagged);
  return c.text();
}

test('signs with runs folded, the first four summaries, "…" when some are not shown', () => {
  assert.equal(column('>', [['Q', 'Query "select 1"', false]]), '>Q Query "select 1"');
  assert.equal(
    column('<', [['1', 'ParseComplete', false], ['2', 'BindComplete', false], ['T', 'RowDescription', false], ['D', 'DataRow', false], ['C', 'SELECT 1', false], ['Z', 'ReadyForQuery', false]]),
    '<1/2/T/D/C/Z ParseComplete, BindComplete, RowDescription, DataRow, …',
  );
  // The same summary again is said once; the sign run counts the messages.
  const rows: Array<[string, string, boolean]> = Array.from({ length: 100 }, () => ['D', 'DataRow (1 column)', false]);
  assert.equal(column('<', rows), '<D×100 DataRow (1 column), …');
  assert.equal(column('<', [['D', 'DataRow (1 column)', false], ['D', 'DataRow (1 column)', false]]), '<D×2 DataRow (1 column), …');
});

test('an error after the first four messages still has its summary (the first one only)', () => {
  const msgs: Array<[string, string, boolean]> = Array.from({ length: 6 }, (_, i) => ['D', `DataRow ${i}`, false]);
  msgs.push(['E', 'Error 57014 canceling statement', true], ['E', 'Error second', true], ['Z', 'ReadyForQuery', false]);
  assert.equal(column('<', msgs), '<D×6/E×2/Z DataRow 0, DataRow 1, DataRow 2, DataRow 3, Error 57014 canceling statement, …');
});

test('the column is capped at INFO_CHARS, ending in "…"', () => {
  const long = column('>', [['Q', `Query "${'x'.repeat(400)}"`, false]]);
  assert.equal(long.length, INFO_CHARS);
  assert.ok(long.endsWith('…'));
});

test('signs: the type byte, the startup signs, the one-byte answers; flagged messages', () => {
  const m = (d: DecodedMessage) => d;
  assert.equal(messageSign('Q', m({ type: 'Query', query: '' })), 'Q');
  assert.equal(messageSign(null, m({ type: 'StartupMessage', protocolMajor: 3, protocolMinor: 0, parameters: {} })), '@');
  assert.equal(messageSign(null, m({ type: 'SSLResponse', accepted: false })), 'N');
  assert.equal(messageSign(null, m({ type: 'GSSENCResponse', accepted: true })), 'G');
  assert.equal(messageSign(null, m({ type: 'Malformed', name: 'CancelRequest', reason: '', fault: 'truncated', raw: '', size: 0, offset: 0, partial: {} })), '!');
  assert.equal(flaggedMessage(m({ type: 'Unknown', reason: '', raw: '', size: 0 })), true);
  assert.equal(flaggedMessage(m({ type: 'NoticeResponse', fields: { severity: null, severityNonLocalized: null, sqlstate: null, message: null } })), false);
});
