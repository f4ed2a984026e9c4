/**
 * pgoutput, the built-in logical decoding output plugin ("Logical Replication Message
 * Formats"): the payload of an XLogData message on a logical replication connection. Every
 * message starts with a Byte1 tag. Protocol version 2 added streamed transactions (their data
 * messages carry the xid first, between Stream Start and Stream Stop), version 3 two-phase
 * commit messages, version 4 the abort LSN and time of Stream Abort (parallel apply).
 *
 * The parse is strict: a payload is pgoutput only if it reads to exactly its last byte.
 * Whether an xid is present cannot be seen in the message itself; the connection's stream state
 * decides which reading is tried first, and the other is tried when it does not fit.
 */
import { isUtf8 } from 'node:buffer';
import type { PgValue } from '../types.js';
import { decodeTextValue, decodeValue, typeName } from '../values/index.js';
import { Cursor, OutOfBytes } from './cursor.js';
import { rememberRelation, type LogicalColumn, type LogicalRelation, type LogicalReplicationState } from './logical-state.js';
import { previewOf, type BytesPreview } from './preview.js';

/** Characters of a logical decoding message's content (or a text payload) kept. */
const TEXT_CAP = 4096;

/** Not an Error, as OutOfBytes: a text payload is tried as pgoutput first, and fails. */
class NotPgoutput {
  constructor(readonly message: string) {}
}

function fail(reason: string): never {
  throw new NotPgoutput(reason);
}

/** An object key that may be "__proto__": set as an own property, never as the prototype. */
function put(o: Record<string, PgValue>, key: string, v: PgValue): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
  else o[key] = v;
}

/** Printable UTF-8 (tabs and newlines allowed): shown as text; anything else as a hex preview. */
function isPrintableText(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return false;
  }
  return isUtf8(b);
}

export function textOrPreview(b: Buffer, fullHex: boolean): { text: string; textTruncated?: true } | BytesPreview {
  if (isPrintableText(b)) {
    const s = b.toString('utf8');
    return s.length > TEXT_CAP ? { text: s.slice(0, TEXT_CAP), textTruncated: true } : { text: s };
  }
  return previewOf(b, fullHex);
}

interface TupleData {
  values: Record<string, PgValue>;
  /** Columns whose value is an unchanged TOASTed datum ('u'): not sent, so not in `values`. */
  unchanged: string[];
}

function readTuple(c: Cursor, rel: LogicalRelation | undefined): TupleData {
  const n = c.i16('TupleData column count');
  if (n < 0) fail('negative column count');
  const values: Record<string, PgValue> = {};
  const unchanged: string[] = [];
  for (let i = 0; i < n; i++) {
    const col: LogicalColumn | undefined = rel?.columns[i];
    const name = col ? col.name : '$' + (i + 1);
    const kind = c.u8('TupleData column kind');
    if (kind === 0x6e) {
      put(values, name, null);
    } else if (kind === 0x75) {
      unchanged.push(name);
    } else if (kind === 0x74 || kind === 0x62) {
      const len = c.i32('TupleData value length');
      const v = c.bytes(len, 'TupleData value');
      if (kind === 0x74) put(values, name, col ? decodeTextValue(col.typeOid, v.toString('utf8')) : v.toString('utf8'));
      else put(values, name, col ? decodeValue(col.typeOid, 'binary', v) : '\\x' + v.toString('hex'));
    } else {
      fail(`unknown TupleData column kind 0x${kind.toString(16)}`);
    }
  }
  return { values, unchanged };
}

function relationLabel(rel: LogicalRelation | undefined): string | undefined {
  if (!rel) return undefined;
  return rel.namespace ? rel.namespace + '.' + rel.name : rel.name;
}

function withRelation(out: Record<string, unknown>, rel: LogicalRelation | undefined): void {
  const label = relationLabel(rel);
  if (label !== undefined) out.relation = label;
}

/** A decoded message, and the state change to apply if the whole payload fits. */
interface Parsed {
  fields: Record<string, unknown>;
  apply?: (s: LogicalReplicationState) => void;
}

function parseBody(tag: number, c: Cursor, state: LogicalReplicationState, withXid: boolean, fullHex: boolean): Parsed {
  const f: Record<string, unknown> = {};
  const xid = (): void => {
    if (withXid) f.xid = c.u32('xid');
  };
  switch (tag) {
    case 0x42: // 'B'
      return { fields: { message: 'Begin', finalLsn: c.lsn('final LSN'), commitTime: c.time('commit time'), xid: c.u32('xid') } };
    case 0x4d: { // 'M'
      f.message = 'Message';
      xid();
      f.transactional = (c.u8('flags') & 1) === 1;
      f.lsn = c.lsn('LSN');
      f.prefix = c.cstr('prefix');
      const len = c.i32('content length');
      const content = c.bytes(len, 'content');
      f.contentSize = len;
      const shown = textOrPreview(content, fullHex);
      if ('text' in shown) {
        f.content = shown.text;
        if (shown.textTruncated) f.contentTruncated = true;
      } else f.contentHex = shown;
      return { fields: f };
    }
    case 0x43: // 'C'
      return { fields: { message: 'Commit', flags: c.u8('flags'), commitLsn: c.lsn('commit LSN'), endLsn: c.lsn('end LSN'), commitTime: c.time('commit time') } };
    case 0x4f: // 'O'
      return { fields: { message: 'Origin', commitLsn: c.lsn('origin commit LSN'), name: c.cstr('origin name') } };
    case 0x52: { // 'R'
      f.message = 'Relation';
      xid();
      const relationId = c.u32('relation ID');
      const namespace = c.cstr('namespace');
      const name = c.cstr('relation name');
      const replicaIdentity = String.fromCharCode(c.u8('replica identity'));
      const n = c.i16('column count');
      if (n < 0) fail('negative column count');
      // Each column takes at least 10 bytes: check before building the list.
      if (n * 10 > c.left) fail('more columns than bytes');
      const columns: LogicalColumn[] = [];
      for (let i = 0; i < n; i++) {
        const key = (c.u8('column flags') & 1) === 1;
        const colName = c.cstr('column name');
        const typeOid = c.u32('column type');
        const typeModifier = c.i32('column type modifier');
        columns.push({ name: colName, typeOid, typeModifier, key });
      }
      const rel: LogicalRelation = { relationId, namespace, name, replicaIdentity, columns };
      f.relationId = relationId;
      f.namespace = namespace;
      f.relation = name;
      f.replicaIdentity = replicaIdentity;
      f.columns = columns.map((col) => ({ ...col, typeName: typeName(col.typeOid) }));
      return { fields: f, apply: (s) => rememberRelation(s, rel) };
    }
    case 0x59: // 'Y'
      f.message = 'Type';
      xid();
      f.typeOid = c.u32('type OID');
      f.namespace = c.cstr('namespace');
      f.name = c.cstr('type name');
      return { fields: f };
    case 0x49: { // 'I'
      f.message = 'Insert';
      xid();
      const id = c.u32('relation ID');
      const rel = state.relations.get(id);
      f.relationId = id;
      withRelation(f, rel);
      if (c.u8('tuple marker') !== 0x4e) fail('Insert without a new tuple');
      const t = readTuple(c, rel);
      f.new = t.values;
      if (t.unchanged.length) f.unchanged = t.unchanged;
      return { fields: f };
    }
    case 0x55: { // 'U'
      f.message = 'Update';
      xid();
      const id = c.u32('relation ID');
      const rel = state.relations.get(id);
      f.relationId = id;
      withRelation(f, rel);
      let marker = c.u8('tuple marker');
      if (marker === 0x4b || marker === 0x4f) {
        f[marker === 0x4b ? 'key' : 'old'] = readTuple(c, rel).values;
        marker = c.u8('tuple marker');
      }
      if (marker !== 0x4e) fail('Update without a new tuple');
      const t = readTuple(c, rel);
      f.new = t.values;
      if (t.unchanged.length) f.unchanged = t.unchanged;
      return { fields: f };
    }
    case 0x44: { // 'D'
      f.message = 'Delete';
      xid();
      const id = c.u32('relation ID');
      const rel = state.relations.get(id);
      f.relationId = id;
      withRelation(f, rel);
      const marker = c.u8('tuple marker');
      if (marker !== 0x4b && marker !== 0x4f) fail('Delete without a key or old tuple');
      f[marker === 0x4b ? 'key' : 'old'] = readTuple(c, rel).values;
      return { fields: f };
    }
    case 0x54: { // 'T'
      f.message = 'Truncate';
      xid();
      const n = c.i32('relation count');
      const options = c.u8('options');
      if (n < 0 || n * 4 > c.left) fail('more relations than bytes');
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(c.u32('relation ID'));
      f.relationIds = ids;
      f.relations = ids.map((id) => relationLabel(state.relations.get(id)) ?? null);
      f.cascade = (options & 1) !== 0;
      f.restartIdentity = (options & 2) !== 0;
      return { fields: f };
    }
    case 0x53: { // 'S'
      const x = c.u32('xid');
      const first = c.u8('first segment') === 1;
      return { fields: { message: 'StreamStart', xid: x, firstSegment: first }, apply: (s) => { s.streamXid = x; } };
    }
    case 0x45: // 'E'
      return { fields: { message: 'StreamStop' }, apply: (s) => { s.streamXid = null; } };
    case 0x63: // 'c'
      return {
        fields: { message: 'StreamCommit', xid: c.u32('xid'), flags: c.u8('flags'), commitLsn: c.lsn('commit LSN'), endLsn: c.lsn('end LSN'), commitTime: c.time('commit time') },
      };
    case 0x41: { // 'A'
      f.message = 'StreamAbort';
      f.xid = c.u32('xid');
      f.subxid = c.u32('subtransaction xid');
      // Protocol version 4 with parallel streaming adds the abort LSN and time.
      if (c.left >= 16) {
        f.abortLsn = c.lsn('abort LSN');
        f.abortTime = c.time('abort time');
      }
      return { fields: f };
    }
    case 0x62: // 'b'
      return {
        fields: { message: 'BeginPrepare', prepareLsn: c.lsn('prepare LSN'), endLsn: c.lsn('end LSN'), prepareTime: c.time('prepare time'), xid: c.u32('xid'), gid: c.cstr('gid') },
      };
    case 0x50: // 'P'
    case 0x70: // 'p'
      return {
        fields: {
          message: tag === 0x50 ? 'Prepare' : 'StreamPrepare', flags: c.u8('flags'), prepareLsn: c.lsn('prepare LSN'),
          endLsn: c.lsn('end LSN'), prepareTime: c.time('prepare time'), xid: c.u32('xid'), gid: c.cstr('gid'),
        },
      };
    case 0x4b: // 'K'
      return {
        fields: { message: 'CommitPrepared', flags: c.u8('flags'), commitLsn: c.lsn('commit LSN'), endLsn: c.lsn('end LSN'), commitTime: c.time('commit time'), xid: c.u32('xid'), gid: c.cstr('gid') },
      };
    case 0x72: // 'r'
      return {
        fields: {
          message: 'RollbackPrepared', flags: c.u8('flags'), prepareEndLsn: c.lsn('prepare end LSN'), rollbackEndLsn: c.lsn('rollback end LSN'),
          prepareTime: c.time('prepare time'), rollbackTime: c.time('rollback time'), xid: c.u32('xid'), gid: c.cstr('gid'),
        },
      };
    default:
      return fail(`unknown pgoutput tag 0x${tag.toString(16)}`);
  }
}

/** Tags whose message carries an xid only inside a streamed transaction. */
const OPTIONAL_XID = new Set([0x4d, 0x52, 0x59, 0x49, 0x55, 0x44, 0x54]);

type PgoutputResult = { ok: true; fields: Record<string, unknown> } | { ok: false; reason: string };

/** Decode one pgoutput message; on success, apply its effect on the connection's state. Never throws. */
export function decodePgoutput(b: Buffer, state: LogicalReplicationState, fullHex: boolean): PgoutputResult {
  if (b.length === 0) return { ok: false, reason: 'empty payload' };
  const tag = b[0] as number;
  const readings = OPTIONAL_XID.has(tag) ? (state.streamXid !== null ? [true, false] : [false, true]) : [false];
  // The reason reported is the preferred reading's: the other is only a fallback.
  let reason: string | null = null;
  for (const withXid of readings) {
    const c = new Cursor(b, 1);
    try {
      const p = parseBody(tag, c, state, withXid, fullHex);
      if (c.left !== 0) {
        reason ??= `${c.left} bytes after the message`;
        continue;
      }
      p.apply?.(state);
      return { ok: true, fields: p.fields };
    } catch (e) {
      if (e instanceof NotPgoutput || e instanceof OutOfBytes) reason ??= e.message;
      else reason ??= e instanceof Error ? e.message : 'undecodable';
    }
  }
  return { ok: false, reason: reason ?? 'undecodable' };
}
