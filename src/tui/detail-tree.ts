/**
 * The decoded-message tree of one frame: the frame itself, each PostgreSQL message completed
 * in it (expandable to every field), the query each message belongs to, and the frame's
 * anomalies. Built on demand when the selection changes; nothing here is kept per frame.
 */
import type { RawMessage, DecodedMessage } from '../../dissectors/types.js';
import { fieldTree, type FieldNode } from '../../dissectors/tree.js';
import type { TuiStore } from './store.js';
import { QF_ERROR } from './store.js';
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

function fromField(f: FieldNode, msg: number, depth: number): TreeNode {
  const text = f.display !== '' ? f.display : f.value === '' ? '""' : '';
  const n = node(text !== '' ? `${f.label}: ${text}` : f.label, msg, { start: f.offset, length: f.length });
  if (depth < 8) {
    for (const c of f.children.slice(0, MAX_CHILDREN)) n.children.push(fromField(c, msg, depth + 1));
    if (f.children.length > MAX_CHILDREN) n.children.push(node(`… ${f.children.length - MAX_CHILDREN} more`, msg));
  }
  return n;
}

/** Every field with its byte range (dissectors/tree.ts); the decoded object walked generically if that fails. */
export function fieldNodes(raw: RawMessage, decoded: DecodedMessage, msg: number, showSecrets = false): TreeNode[] {
  try {
    return fieldTree(raw, decoded, { showSecrets }).map((f) => fromField(f, msg, 0));
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

export function queryNode(store: TuiStore, q: number, msg: number): TreeNode {
  const dur = store.qDur.get(q);
  const rows = store.qRows.get(q);
  const failed = (store.qFlags.get(q) & QF_ERROR) !== 0;
  const sql = store.qSql.get(q);
  const short = sql.length > 80 ? sql.slice(0, 79) + '…' : sql;
  const head = `Query #${q + 1}: ${ms(dur)}` + (Number.isFinite(rows) ? `, ${rows} row${rows === 1 ? '' : 's'}` : '') + (failed ? ', failed' : '') +
    (short ? ` · ${short.replace(/\s+/g, ' ')}` : '');
  const n = node(head, msg);
  n.colour = failed ? 'red' : 'cyan';
  n.children.push(node(`SQL: ${store.qSql.get(q)}`, msg));
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
  const frame = node(`Frame ${no}: ${store.fLen.get(fi)} bytes on wire, ${store.fCap.get(fi)} captured, ${src} → ${dst}`, -1);
  frame.children.push(
    node(`time: +${relTime(store.fTime.get(fi), store.baseUs)} s`, -1),
    node(`session: ${sess < 0 ? '-' : sess}`, -1),
    node(`file offset: ${store.fOff.get(fi) < 0 ? 'not re-readable (live)' : store.fOff.get(fi)}`, -1),
  );
  const out: TreeNode[] = [frame];
  const shown = new Set<number>();
  const msgs = store.messagesOf(fi);
  const count = msgs.length;
  for (const m of msgs) {
    const dir = store.dirOf(m);
    const code = store.code(m);
    const first = store.mFirstFrame.get(m);
    const span = first !== no ? `, frames ${first}–${no}` : '';
    const head = `${store.typeName(m)} (${dir}${code ? ` '${code}'` : ''}, length ${store.mLen.get(m)}${span})`;
    const n = node(head, m);
    const type = store.typeName(m);
    if (type === 'ErrorResponse' || type === 'Malformed' || type === 'Unknown') n.colour = 'red';
    else if (type === 'NoticeResponse') n.colour = 'yellow';
    const fields = (): TreeNode[] => {
      const c = store.cached(m);
      if (c) return fieldNodes(c.raw, c.decoded, m, showSecrets);
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
