/**
 * The one-line Info column: what a person scanning a message list needs, in the order they
 * read it (`Parse "SELECT ..."`, `Bind S_1 -> portal "" (2 params)`, `Error 42601 ...`).
 * Strings are shortened, not escaped (the display layer escapes for the terminal), and
 * secrets never appear: only what the decoded (already redacted) record holds is used, and
 * passwords, proofs and keys are left out altogether.
 */
import type { DecodedMessage, Direction, ErrorFields } from './types.js';

/** Longest string shown in a summary, in characters. */
const SUMMARY_STRING_MAX = 80;

/** Collapse whitespace runs (multi-line SQL reads as one line) and cut at `max` characters with an ellipsis. */
export function shorten(s: string, max = SUMMARY_STRING_MAX): string {
  let t = /\s\s|[\n\r\t]/.test(s) ? s.replace(/\s+/g, ' ') : s;
  t = t.trim();
  if (t.length <= max) return t;
  let cut = max - 1;
  const c = t.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // do not split a surrogate pair
  return t.slice(0, cut) + '…';
}

function q(s: string): string {
  return `"${shorten(s)}"`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A name as the summary shows it: bare when set, `""` for the unnamed statement or portal. */
function named(s: string): string {
  return s === '' ? '""' : shorten(s, 40);
}

function errorLine(word: string, f: ErrorFields): string {
  const sev = f.severityNonLocalized ?? f.severity;
  const label = sev !== null && sev !== word.toUpperCase() ? sev.charAt(0) + sev.slice(1).toLowerCase() : word;
  const parts = [label];
  if (f.sqlstate !== null) parts.push(f.sqlstate);
  if (f.message !== null) parts.push(shorten(f.message));
  return parts.join(' ');
}

function valueText(v: unknown): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return q(v);
  return shorten(JSON.stringify(v) ?? String(v));
}

const STARTUP_FIRST = ['user', 'database', 'application_name', 'replication'];

export function summarize(m: DecodedMessage): string {
  switch (m.type) {
    case 'StartupMessage': {
      const parts = [m.protocolMajor === 3 && m.protocolMinor === 0 ? 'StartupMessage' : `StartupMessage ${m.protocolMajor}.${m.protocolMinor}`];
      for (const k of STARTUP_FIRST) if (m.parameters[k] !== undefined) parts.push(`${k}=${shorten(m.parameters[k], 40)}`);
      const others = Object.keys(m.parameters).filter((k) => !STARTUP_FIRST.includes(k)).length;
      if (others > 0) parts.push(`(+${plural(others, 'parameter')})`);
      return parts.join(' ');
    }
    case 'SSLResponse': return `SSLResponse ${m.accepted ? 'accepted' : 'refused'}`;
    case 'GSSENCResponse': return `GSSENCResponse ${m.accepted ? 'accepted' : 'refused'}`;
    case 'CancelRequest': return `CancelRequest pid=${m.processId}`;
    case 'Query': return `Query ${q(m.query)}`;
    case 'Parse': {
      const types = m.paramTypes.length > 0 ? ` (${plural(m.paramTypes.length, 'param type')})` : '';
      return m.statement === '' ? `Parse ${q(m.query)}${types}` : `Parse ${named(m.statement)} ${q(m.query)}${types}`;
    }
    case 'Bind': return `Bind ${named(m.statement)} -> portal ${m.portal === '' ? '""' : named(m.portal)} (${plural(m.params.length, 'param')})`;
    case 'Describe': return `Describe ${m.target} ${named(m.name)}`;
    case 'Close': return `Close ${m.target} ${named(m.name)}`;
    case 'Execute': return `Execute portal ${named(m.portal)}${m.maxRows > 0 ? ` (max ${plural(m.maxRows, 'row')})` : ''}`;
    case 'FunctionCall': return `FunctionCall oid=${m.functionOid} (${plural(m.args.length, 'arg')})`;
    case 'FunctionCallResponse': return `FunctionCallResponse ${valueText(m.result.value)}`;
    case 'AuthenticationSASL': return `AuthenticationSASL ${(m.mechanisms ?? []).join(', ')}`;
    case 'AuthenticationSASLContinue':
      return m.scram?.iterations !== undefined ? `AuthenticationSASLContinue (${m.scram.iterations} iterations)` : 'AuthenticationSASLContinue';
    case 'AuthenticationSASLFinal':
      return m.scram?.error !== undefined ? `AuthenticationSASLFinal error=${shorten(m.scram.error, 40)}` : 'AuthenticationSASLFinal';
    case 'PasswordMessage': return m.method === 'unknown' ? 'PasswordMessage' : `PasswordMessage (${m.method})`;
    case 'SASLInitialResponse': return `SASLInitialResponse ${shorten(m.mechanism, 40)}`;
    case 'GSSResponse': return `GSSResponse (${plural(m.dataLength, 'byte')})`;
    case 'BackendKeyData': return `BackendKeyData pid=${m.processId}`;
    case 'ParameterStatus': return `ParameterStatus ${shorten(m.name, 40)}=${shorten(m.value)}`;
    case 'NegotiateProtocolVersion':
      return `NegotiateProtocolVersion 3.${m.newestMinor}${m.unrecognized.length > 0 ? ` (unrecognized: ${shorten(m.unrecognized.join(', '))})` : ''}`;
    case 'ReadyForQuery': return `ReadyForQuery ${m.transactionStatus}`;
    case 'ParameterDescription': return `ParameterDescription (${plural(m.paramTypes.length, 'param')})`;
    case 'RowDescription':
      return m.fields.length === 0 ? 'RowDescription (0 columns)'
        : `RowDescription (${plural(m.fields.length, 'column')}: ${shorten(m.fields.map((c) => c.name).join(', '))})`;
    case 'DataRow': return `DataRow (${plural(m.columnCount ?? m.values.length, 'column')})`;
    case 'CommandComplete': return `CommandComplete ${shorten(m.tag)}`;
    case 'ErrorResponse': return errorLine('Error', m.fields);
    case 'NoticeResponse': return errorLine('Notice', m.fields);
    case 'NotificationResponse': return `NotificationResponse ${shorten(m.channel, 40)} ${q(m.payload)} (pid ${m.processId})`;
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse':
      return `${m.type} ${m.format} (${plural(m.columnFormats.length, 'column')})`;
    case 'CopyData': {
      // Fields from dissectors/copy: a replication message name, a row count, the size.
      const parts = ['CopyData'];
      if (typeof m.replication === 'string') parts.push(m.replication);
      // Logical replication: the pgoutput message and the table it touches say what happened.
      const logical = m.logical as { message?: unknown; relation?: unknown } | undefined;
      if (logical && typeof logical.message === 'string') {
        parts.push(logical.message);
        if (typeof logical.relation === 'string') parts.push(logical.relation);
      }
      const detail: string[] = [];
      if (typeof m.rowCount === 'number') detail.push(plural(m.rowCount, 'row'));
      if (typeof m.size === 'number') detail.push(plural(m.size, 'byte'));
      if (detail.length > 0) parts.push(`(${detail.join(', ')})`);
      return parts.join(' ');
    }
    case 'CopyFail': return `CopyFail ${q(m.message)}`;
    case 'Unknown': return `Unknown: ${shorten(m.reason)}`;
    case 'Malformed': return `Malformed ${m.name}: ${shorten(m.reason)}`;
    default: return m.type;
  }
}

/**
 * The compact code column: the direction ('>' frontend, '<' backend) and the type byte. Startup
 * messages have no type byte, so they get a sign of their own; the one-byte answers show the
 * byte itself.
 */
export const SHORT_CODES: Readonly<Record<string, string>> = {
  StartupMessage: '@',
  SSLRequest: '~',
  GSSENCRequest: '%',
  CancelRequest: '!',
  Unknown: '?',
};

export function shortCode(dir: Direction, code: string | null, m: DecodedMessage): string {
  const arrow = dir === 'frontend' ? '>' : '<';
  if (code !== null) return arrow + code;
  if (m.type === 'SSLResponse') return arrow + (m.accepted ? 'S' : 'N');
  if (m.type === 'GSSENCResponse') return arrow + (m.accepted ? 'G' : 'N');
  if (m.type === 'Malformed') return arrow + (SHORT_CODES[m.name] ?? '?');
  return arrow + (SHORT_CODES[m.type] ?? '?');
}
