/**
 * The decoded-message tree of one frame: the frame itself, each PostgreSQL message completed
 * in it (expandable to every field), the query each message belongs to, and the frame's
 * anomalies. Built on demand when the selection changes; nothing here is kept per frame.
 */
import type { RawMessage, DecodedMessage } from '../../dissectors/types.js';
import { fieldTree, type FieldNode } from '../../dissectors/tree.js';
import { F, REDACTED } from '../../dissectors/fields.js';
import type { TuiStore } from './store.js';
import { QF_ERROR, QF_FUNCTION, FF_TCP, MF_TLS, TLS_CONTENT, tcpFlagNames } from './store.js';
import { relTime, ms } from './text.js';

export interface TreeNode {
  /** Raw text (may hold wire bytes): escaped when drawn. */
  label: string;
  children: TreeNode[];
  expanded: boolean;
  /** Message index whose bytes the hex pane shows while this node is selected (-1: the frame). */
  msg: number;
  /** Byte range within the message (type byte at 0) to highlight, or null for all of it. */
  range: { start: number; length: number } | null;
  /** Frame to jump to on Enter, when the node is a cross-reference (a query's request frame). */
  jump?: number;
  colour?: 'red' | 'yellow' | 'cyan' | 'green';
  /** Children built on first expansion (frames carrying hundreds of messages). */
  load?: () => TreeNode[];
  /** The whole value, for the value viewer (the label may cut it); raw text, escaped when drawn. */
  full?: () => string;
  /** A display filter matching this field's value (Wireshark's "Apply as Filter"), when it has one. */
  filter?: string;
}

/** Whether a node can expand (it has children, or will build them). */
export function expandable(n: TreeNode): boolean {
  return n.children.length > 0 || n.load !== undefined;
}

/** Expands a node, building lazy children first. */
export function expand(n: TreeNode, on = true): void {
  if (on && n.load) {
    // Built children go before what the node already holds (its query).
    n.children = [...n.load(), ...n.children];
    delete n.load;
  }
  n.expanded = on && n.children.length > 0;
}

const MAX_CHILDREN = 200;
/** Frames with up to this many messages show every message's fields at once. */
const EXPAND_UP_TO = 16;

function node(label: string, msg: number, range: TreeNode['range'] = null, children: TreeNode[] = []): TreeNode {
  return { label, children, expanded: false, msg, range };
}

function scalar(v: unknown): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return JSON.stringify(v).length > v.length + 2 ? v : `"${v}"`;
  return String(v);
}

/** A decoded value as tree nodes, generically (no byte ranges: the whole message is highlighted). */
function valueNodes(key: string, v: unknown, msg: number, depth: number): TreeNode {
  if (v === null || typeof v !== 'object') return node(`${key}: ${scalar(v)}`, msg);
  // A typed value (parameter, column) reads best on one line: value (type, format).
  const o = v as Record<string, unknown>;
  if (!Array.isArray(v) && 'value' in o && 'oid' in o) {
    const tn = typeof o.typeName === 'string' ? o.typeName : `oid ${String(o.oid)}`;
    const val = o.value !== null && typeof o.value === 'object' ? JSON.stringify(o.value) : scalar(o.value);
    return node(`${key}: ${val} (${tn}, ${String(o.format)})`, msg);
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(o);
  const head = Array.isArray(v) ? `${key} [${v.length}]` : key;
  const n = node(head, msg);
  if (depth > 6) return n;
  for (const [k, x] of entries.slice(0, MAX_CHILDREN)) n.children.push(valueNodes(k, x, msg, depth + 1));
  if (entries.length > MAX_CHILDREN) n.children.push(node(`… ${entries.length - MAX_CHILDREN} more`, msg));
  return n;
}

const VALUE_DATA_KEY = 'pgsql.value.data';
/** Longest string value turned into a filter (a 6.8 KB query would make an unreadable prompt). */
const FILTER_VALUE_MAX = 1000;

/**
 * A field's whole value for the viewer: a typed value's bytes as sent (text format), a string
 * as read (a Query's SQL, whole), else what the tree shows.
 */
function fullText(f: FieldNode, bytes: Buffer | null): string {
  const data = f.children.find((c) => c.key === VALUE_DATA_KEY);
  if (data && bytes && !f.display.includes('(binary ') && data.offset + data.length <= bytes.length) {
    return bytes.toString('utf8', data.offset, data.offset + data.length);
  }
  if (typeof f.value === 'string' && f.children.length === 0) return f.value;
  return f.display;
}

function fromField(f: FieldNode, msg: number, depth: number, bytes: Buffer | null): TreeNode {
  const text = f.display !== '' ? f.display : f.value === '' ? '""' : '';
  const n = node(text !== '' ? `${f.label}: ${text}` : f.label, msg, { start: f.offset, length: f.length });
  if (text !== '') n.full = () => fullText(f, bytes);
  // The field's registry key and value, in -Y's language (redacted values match nothing: none).
  const v = f.value;
  if (f.key && (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v !== REDACTED && v.length <= FILTER_VALUE_MAX))) {
    n.filter = `${f.key} == ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
  }
  if (depth < 8) {
    for (const c of f.children.slice(0, MAX_CHILDREN)) n.children.push(fromField(c, msg, depth + 1, bytes));
    if (f.children.length > MAX_CHILDREN) n.children.push(node(`… ${f.children.length - MAX_CHILDREN} more`, msg));
  }
  return n;
}

/** Every field with its byte range (dissectors/tree.ts); the decoded object walked generically if that fails. */
function fieldNodes(raw: RawMessage, decoded: DecodedMessage, msg: number, showSecrets = false, columnNames: string[] | null = null): TreeNode[] {
  try {
    const bytes = messageBytes(raw);
    // A DataRow's values are labelled with their columns' names ("Value 3 (email, text)").
    const ctx = { showSecrets, columnNames: columnNames ?? undefined };
    return fieldTree(raw, decoded, ctx).map((f) => fromField(f, msg, 0, bytes));
  } catch {
    // The tracing decoder should not throw, but a detail pane must never take the UI down.
  }
  const out: TreeNode[] = [];
  for (const [k, v] of Object.entries(decoded)) {
    if (k === 'type') continue;
    out.push(valueNodes(k, v, msg, 0));
  }
  return out;
}

/** Bytes of a message as on the wire: type byte (when it has one), Int32 length, body. */
export function messageBytes(raw: RawMessage): Buffer {
  // The one-byte answers to SSLRequest / GSSENCRequest have no length field: the body is all.
  if (raw.code === null && raw.dir === 'backend' && raw.body.length === 1) return raw.body;
  const head = Buffer.alloc(raw.code === null ? 4 : 5);
  let o = 0;
  if (raw.code !== null) head[o++] = raw.code.charCodeAt(0) & 0xff;
  head.writeUInt32BE(raw.length >>> 0, o);
  return Buffer.concat([head, raw.body]);
}

function queryNode(store: TuiStore, q: number, msg: number): TreeNode {
  const dur = store.qDur.get(q);
  const rows = store.qRows.get(q);
  const failed = (store.qFlags.get(q) & QF_ERROR) !== 0;
  const sql = store.qSql.get(q);
  const short = sql.length > 80 ? sql.slice(0, 79) + '…' : sql;
  const head = `Query #${q + 1}: ${ms(dur)}` + (Number.isFinite(rows) ? `, ${rows} row${rows === 1 ? '' : 's'}` : '') + (failed ? ', failed' : '') +
    (short ? ` · ${short.replace(/\s+/g, ' ')}` : '');
  const n = node(head, msg);
  n.colour = failed ? 'red' : 'cyan';
  const sqlNode = node(`SQL: ${store.qSql.get(q)}`, msg);
  sqlNode.full = () => store.qSql.get(q);
  n.children.push(sqlNode);
  const detail = store.qDetail.get(q);
  if (detail) for (const part of detail.split('; ')) n.children.push(node(part, msg));
  if (failed) {
    const e = node(`error: ${store.qError.get(q)}`, msg);
    e.colour = 'red';
    n.children.push(e);
  }
  n.children.push(node(`latency: ${ms(dur)}`, msg));
  const start = store.qStartFrame.get(q);
  const j = node(`frames ${start}–${store.qEndFrame.get(q)} (Enter: go to request)`, msg);
  j.jump = start;
  n.children.push(j);
  return n;
}

/** The tree of frame index `fi`, messages expanded one level. */
export function buildTree(store: TuiStore, fi: number, showSecrets = false): TreeNode[] {
  const no = store.fNo.get(fi);
  const src = store.endpoints.name(store.fSrc.get(fi)) || '-';
  const dst = store.endpoints.name(store.fDst.get(fi)) || '-';
  const sess = store.fSess.get(fi);
  const frame = node(`Frame ${no}: ${store.fLen.get(fi)} bytes on wire, ${store.fCapturedLength.get(fi)} captured, ${src} → ${dst}`, -1);
  frame.children.push(
    node(`time: +${relTime(store.fTime.get(fi), store.baseUs)} s`, -1),
    node(`session: ${sess < 0 ? '-' : sess}`, -1),
    node(`file offset: ${store.fFileOffset.get(fi) < 0 ? 'not re-readable (live)' : store.fFileOffset.get(fi)}`, -1),
  );
  const out: TreeNode[] = [frame];
  if (store.fFlags.get(fi) & FF_TCP && src !== '-') out.push(...tcpNodes(store, fi, src, dst));
  const shown = new Set<number>();
  const msgs = store.messagesOf(fi);
  const count = msgs.length;
  for (const m of msgs) {
    const dir = store.dirOf(m);
    const code = store.code(m);
    const first = store.mFirstFrame.get(m);
    const span = first !== no ? `, frames ${first}–${no}` : '';
    const tls = store.mFlags.get(m) & MF_TLS ? ', decrypted from TLS' : '';
    const head = `${store.typeName(m)} (${dir}${code ? ` '${code}'` : ''}, length ${store.mLen.get(m)}${span}${tls})`;
    const n = node(head, m);
    const type = store.typeName(m);
    if (type === 'ErrorResponse' || type === 'Malformed' || type === 'Unknown') n.colour = 'red';
    else if (type === 'NoticeResponse') n.colour = 'yellow';
    const fields = (): TreeNode[] => {
      const c = store.cached(m);
      if (c && c.decoded.type === 'FunctionCallResponse') return functionResultNodes(store, m, no, c.raw, c.decoded, showSecrets);
      if (c) return fieldNodes(c.raw, c.decoded, m, showSecrets, c.decoded.type === 'DataRow' ? store.columnNamesFor(m) : null);
      return [
        node(`summary: ${store.summary(m)}`, m),
        node('(fields not in memory: message bodies beyond the body budget are dropped; the hex pane shows the frame from the file)', -1),
      ];
    };
    // A frame of a few messages opens with their fields; one of hundreds (DataRows) builds
    // them only for the message the user expands.
    if (count <= EXPAND_UP_TO) {
      n.children.push(...fields());
      n.expanded = true;
    } else {
      n.load = fields;
      n.label += ` · ${store.summary(m)}`;
    }
    // The query once per frame, under the first of its messages there.
    const q = store.queryAt(store.sessionOf(m), no);
    if (q >= 0 && !shown.has(q)) {
      shown.add(q);
      n.children.push(queryNode(store, q, m));
    }
    out.push(n);
  }
  for (const a of store.anomaliesAt(no)) {
    const n = node(`Anomaly ${store.anomalyCodes.name(store.aCode.get(a))}: ${store.aReason.get(a)}`, -1);
    n.colour = 'yellow';
    out.push(n);
  }
  return out;
}

/**
 * A FunctionCallResponse does not say its result's format: its FunctionCall's result format code
 * does. The pipeline decoded it in that format when the session layer knew the call, and the
 * tree's "Result format" line (dissectors/tree.ts, the same as -V's) says so, or that no call
 * was seen; the TUI adds the frame of the call, from the query record that paired them.
 */
function functionResultNodes(store: TuiStore, m: number, no: number, raw: RawMessage, decoded: Extract<DecodedMessage, { type: 'FunctionCallResponse' }>,
  showSecrets: boolean): TreeNode[] {
  const q = store.queryAt(store.sessionOf(m), no);
  const paired = q >= 0 && (store.qFlags.get(q) & QF_FUNCTION) !== 0 && store.qEndFrame.get(q) === no;
  const out = fieldNodes(raw, decoded, m, showSecrets, null);
  for (const n of out) {
    if (!n.label.startsWith(`${F.functionResultFormat.label}: `)) continue;
    if (decoded.resultFormat === null) n.colour = 'yellow';
    else if (paired) n.label += ` in frame ${store.qStartFrame.get(q)}`;
  }
  return out;
}

/** What reassembly found about a segment (half-stream.ts SEG_*), said in full. */
const NOTE_TEXT: readonly string[] = [
  '',
  'retransmission: every byte of it was delivered before (decoded once, from the first copy)',
  'partial retransmission: its first bytes were delivered before; the rest is new',
  'previous segment not captured (yet): bytes before it are missing; it waits for them or a gap is declared',
  'out of order: it fills a hole before bytes that came earlier',
];

function splitEndpoint(e: string): { host: string; port: string } {
  const i = e.lastIndexOf(':');
  const host = e.slice(0, i);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: e.slice(i + 1) };
}

/** The frame's IP and TCP layers, as Wireshark's tree has them (numbers relative to each direction's first). */
function tcpNodes(store: TuiStore, fi: number, src: string, dst: string): TreeNode[] {
  const a = splitEndpoint(src);
  const b = splitEndpoint(dst);
  const v6 = src.startsWith('[');
  const ip = node(`Internet Protocol Version ${v6 ? 6 : 4}, Src: ${a.host}, Dst: ${b.host}`, -1);
  ip.children.push(node(`Source Address: ${a.host}`, -1), node(`Destination Address: ${b.host}`, -1));
  const flags = store.fTcpFlags.get(fi);
  const rawSeq = store.fSeq.get(fi);
  const rawAck = store.fAck.get(fi);
  const seq = store.relativeSeq(fi, rawSeq, false);
  const ack = store.relativeSeq(fi, rawAck, true);
  const len = store.fPayload.get(fi);
  const hasAck = (flags & 0x10) !== 0;
  const tcp = node(`Transmission Control Protocol, Src Port: ${a.port}, Dst Port: ${b.port}, Seq: ${seq}${hasAck ? `, Ack: ${ack}` : ''}, Len: ${len}`, -1);
  tcp.children.push(
    node(`Source Port: ${a.port}`, -1),
    node(`Destination Port: ${b.port}`, -1),
    node(`Sequence Number: ${seq} (relative; raw ${rawSeq})`, -1),
  );
  if (hasAck) tcp.children.push(node(`Acknowledgment Number: ${ack} (relative; raw ${rawAck})`, -1));
  tcp.children.push(
    node(`Flags: 0x${flags.toString(16).padStart(3, '0')} (${tcpFlagNames(flags) || 'none'})`, -1),
    node(`Window: ${store.fWin.get(fi)} (the field, unscaled)`, -1),
    node(`TCP payload: ${len} byte${len === 1 ? '' : 's'}`, -1),
  );
  const { note, tlsRecord } = store.tcpNote(fi);
  if (note > 0) {
    const n = node(`Reassembly: ${NOTE_TEXT[note] ?? `note ${note}`}`, -1);
    n.colour = 'yellow';
    tcp.children.push(n);
    tcp.colour = 'yellow';
  }
  if (tlsRecord > 0) tcp.children.push(node(`TLS: the payload begins with a record of content type ${tlsRecord} (${TLS_CONTENT[tlsRecord]})`, -1));
  tcp.expanded = note > 0;
  return [ip, tcp];
}

export interface FlatLine { node: TreeNode; depth: number }

export function flatten(roots: TreeNode[]): FlatLine[] {
  const out: FlatLine[] = [];
  const walk = (ns: TreeNode[], depth: number) => {
    for (const n of ns) {
      out.push({ node: n, depth });
      if (n.expanded && n.children.length > 0) walk(n.children, depth + 1);
    }
  };
  walk(roots, 0);
  return out;
}
