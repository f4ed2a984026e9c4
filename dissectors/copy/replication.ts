/**
 * CopyData inside CopyBoth: the streaming replication protocol ("Streaming Replication
 * Protocol"). Each message starts with a Byte1 tag:
 *   backend  'w' XLogData: Int64 start LSN, Int64 current end of WAL, Int64 send time, WAL data
 *            'k' Primary keepalive: Int64 end of WAL, Int64 send time, Byte1 reply requested
 *   frontend 'r' Standby status update: Int64 written, flushed, applied LSNs, Int64 client
 *                time, Byte1 reply requested
 *            'h' Hot standby feedback: Int64 client time, Int32 xmin, Int32 xmin epoch,
 *                Int32 catalog xmin, Int32 catalog xmin epoch
 * LSNs print as PostgreSQL prints them ("16/B374D848"), times (µs since 2000-01-01) as
 * ISO 8601 UTC.
 *
 * XLogData's payload depends on START_REPLICATION, which this stage does not see: WAL records
 * (physical), pgoutput messages, or another plugin's text (test_decoding). Unless the hint
 * `ctx.copy.output` says which, a payload that parses as pgoutput to its last byte is
 * pgoutput, printable UTF-8 is text, anything else is shown as a preview.
 */
import type { DissectContext } from '../types.js';
import { Cursor, OutOfBytes } from './cursor.js';
import { logicalStateOf } from './logical-state.js';
import { decodePgoutput, textOrPreview } from './pgoutput.js';
import { previewOf } from './preview.js';

/** What START_REPLICATION asked for, when src/pg or src/session knows it. */
export type ReplicationOutput = 'physical' | 'pgoutput' | 'text';

function xlogPayload(payload: Buffer, ctx: DissectContext, output: ReplicationOutput | undefined, fullHex: boolean): Record<string, unknown> {
  if (payload.length === 0 || output === 'physical') return { payload: previewOf(payload, fullHex) };
  if (output !== 'text') {
    const r = decodePgoutput(payload, logicalStateOf(ctx), fullHex);
    if (r.ok) return { logical: r.fields };
    if (output === 'pgoutput') return { logicalError: r.reason, payload: previewOf(payload, fullHex) };
  }
  const shown = textOrPreview(payload, fullHex);
  if ('text' in shown) return shown.textTruncated ? { payloadText: shown.text, payloadTextTruncated: true } : { payloadText: shown.text };
  return { payload: shown };
}

interface Layout {
  name: string;
  /** Exact size including the tag; XLogData's is the minimum. */
  size: number;
  read(c: Cursor, out: Record<string, unknown>): void;
}

const LAYOUTS: Record<string, Layout> = {
  w: {
    name: 'XLogData',
    size: 25,
    read(c, out) {
      out.walStart = c.lsn('WAL start');
      out.walEnd = c.lsn('WAL end');
      out.serverTime = c.time('send time');
      out.payloadSize = c.left;
    },
  },
  k: {
    name: 'PrimaryKeepalive',
    size: 18,
    read(c, out) {
      out.walEnd = c.lsn('WAL end');
      out.serverTime = c.time('send time');
      out.replyRequested = c.u8('reply requested') === 1;
    },
  },
  r: {
    name: 'StandbyStatusUpdate',
    size: 34,
    read(c, out) {
      out.written = c.lsn('written LSN');
      out.flushed = c.lsn('flushed LSN');
      out.applied = c.lsn('applied LSN');
      out.clientTime = c.time('client time');
      out.replyRequested = c.u8('reply requested') === 1;
    },
  },
  h: {
    name: 'HotStandbyFeedback',
    size: 25,
    read(c, out) {
      out.clientTime = c.time('client time');
      out.xmin = c.u32('xmin');
      out.xminEpoch = c.u32('xmin epoch');
      out.catalogXmin = c.u32('catalog xmin');
      out.catalogXminEpoch = c.u32('catalog xmin epoch');
    },
  },
};

export function decodeReplication(b: Buffer, ctx: DissectContext, output: ReplicationOutput | undefined, fullHex: boolean): Record<string, unknown> {
  if (b.length === 0) return { replication: 'Unknown', reason: 'empty message' };
  const tag = String.fromCharCode(b[0] as number);
  const layout = LAYOUTS[tag];
  if (!layout) return { replication: 'Unknown', tag, reason: 'unknown replication message tag', ...previewOf(b, fullHex) };
  const out: Record<string, unknown> = { replication: layout.name };
  const c = new Cursor(b, 1);
  try {
    layout.read(c, out);
  } catch (e) {
    const reason = e instanceof OutOfBytes ? e.message : 'undecodable';
    return { ...out, malformed: reason, ...previewOf(b, fullHex) };
  }
  if (tag === 'w') return { ...out, ...xlogPayload(b.subarray(c.pos), ctx, output, fullHex) };
  if (b.length !== layout.size) out.trailingBytes = b.length - layout.size;
  return out;
}
