/**
 * The Info column's words for one message. dissectors/summary.ts owns the project-wide
 * wording; this is the TUI's own until that module lands, reading only the fields that
 * dissectors/types.ts promises. Output is raw wire text: callers escape it for the terminal.
 */
import type { DecodedMessage, ErrorFields, TypedValue } from '../../dissectors/types.js';

const MAX_SQL = 200;

function clip(s: string, n = MAX_SQL): string {
  // Newlines and runs of blanks in SQL waste the one line the list has.
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

function valueText(v: TypedValue): string {
  if (v.value === null) return 'NULL';
  return typeof v.value === 'string' ? `'${clip(v.value, 40)}'` : clip(JSON.stringify(v.value), 40);
}

export function errorText(f: ErrorFields): string {
  const sev = f.severityNonLocalized ?? f.severity ?? 'ERROR';
  return `${sev} ${f.sqlstate ?? '?'} ${clip(f.message ?? '')}`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** One line describing a decoded message, without its type name. */
export function detailOf(m: DecodedMessage): string {
  switch (m.type) {
    case 'Query':
      return `"${clip(m.query)}"`;
    case 'Parse':
      return (m.statement ? `${m.statement}: ` : '') + `"${clip(m.query)}"`;
    case 'Bind': {
      const target = m.portal || m.statement ? `${m.portal || '""'} ← ${m.statement || '""'} ` : '';
      const params = Array.isArray(m.params) ? m.params.slice(0, 4).map(valueText).join(', ') : '';
      const more = Array.isArray(m.params) && m.params.length > 4 ? `, … (${m.params.length})` : '';
      return `${target}(${params}${more})`;
    }
    case 'Describe':
    case 'Close':
      return `${m.target} "${m.name}"`;
    case 'Execute':
      return `portal "${m.portal}"` + (m.maxRows ? ` max ${m.maxRows}` : '');
    case 'CommandComplete':
      return m.tag;
    case 'ErrorResponse':
    case 'NoticeResponse':
      return m.fields ? errorText(m.fields) : '';
    case 'ReadyForQuery':
      return m.transactionStatus ?? m.status;
    case 'RowDescription':
      return Array.isArray(m.fields) ? `${m.fields.length} columns: ${clip(m.fields.map((c) => c.name).join(', '), 80)}` : '';
    case 'DataRow':
      return Array.isArray(m.values) ? m.values.slice(0, 4).map(valueText).join(' | ') : '';
    case 'ParameterStatus':
      return `${m.name}=${clip(m.value, 60)}`;
    case 'StartupMessage': {
      const p = m.parameters ?? {};
      return `v${m.protocolMajor}.${m.protocolMinor} user=${p.user ?? '?'}` + (p.database ? ` database=${p.database}` : '');
    }
    case 'SSLResponse':
    case 'GSSENCResponse':
      return m.accepted ? 'accepted' : 'refused';
    case 'BackendKeyData':
    case 'CancelRequest':
      return `pid ${m.processId}`;
    case 'NotificationResponse':
      return `${m.channel}: ${clip(m.payload, 60)}`;
    case 'ParameterDescription':
      return Array.isArray(m.paramTypes) ? `${m.paramTypes.length} parameters` : '';
    case 'Unknown':
      return m.reason;
    case 'Malformed':
      return `${m.name}: ${m.reason}`;
    default: {
      const o = m as Record<string, unknown>;
      if (Array.isArray(o.mechanisms)) return o.mechanisms.join(', ');
      return str(o.mechanism) || str(o.reason);
    }
  }
}

export function summarizeMessage(m: DecodedMessage): string {
  const d = detailOf(m);
  return d ? `${m.type} ${d}` : m.type;
}

/** Short label for the code column: the type byte, or a name for startup-phase messages that have none. */
export function codeLabel(code: string | null, type: string): string {
  if (code !== null) return code;
  switch (type) {
    case 'StartupMessage': return 'startup';
    case 'SSLRequest': return 'ssl?';
    case 'GSSENCRequest': return 'gss?';
    case 'CancelRequest': return 'cancel';
    case 'SSLResponse': return 'ssl';
    case 'GSSENCResponse': return 'gss';
    default: return type;
  }
}
