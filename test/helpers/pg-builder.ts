/**
 * A small PostgreSQL message builder for tests (pg-protocol's test builder, in spirit):
 * `msg('Q', cstring('SELECT 1'))` gives the wire bytes of a Query, `startup({user: 'alice'})`
 * a StartupMessage. Parts are Buffers; `msg` adds the type byte and the length that counts
 * itself. `toRaw` turns wire bytes back into the RawMessage the framer would hand out.
 */
import type { RawMessage, Direction } from '../../dissectors/types.js';

export type Part = Buffer;

export function int8(n: number): Part {
  const b = Buffer.alloc(1);
  b.writeUInt8(n & 0xff);
  return b;
}

export function int16(n: number): Part {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n << 16 >> 16);
  return b;
}

export function int32(n: number): Part {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}

/** Unsigned Int32 (OIDs above 2^31). */
export function uint32(n: number): Part {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A NUL-terminated UTF-8 string. */
export function cstring(s: string): Part {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

/** Raw bytes: a Buffer, a byte array, or a UTF-8 string (no NUL added). */
export function bytes(b: Buffer | Uint8Array | readonly number[] | string): Part {
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  return Buffer.from(b as Uint8Array);
}

/** Int32 length then the bytes; null is -1 (a NULL value in Bind, DataRow, FunctionCall). */
export function lenBytes(b: Buffer | string | null): Part {
  if (b === null) return int32(-1);
  const data = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([int32(data.length), data]);
}

/** A typed message: type byte, Int32 length (counting itself), body. */
export function msg(code: string, ...parts: Part[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(code, 0, 1, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A startup-phase message: Int32 length (counting itself), body; no type byte. */
export function untyped(...parts: Part[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

export const PROTOCOL_3_0 = 196608;
export const PROTOCOL_3_2 = 196610;

/** StartupMessage with the parameters in the order given. */
export function startup(params: Record<string, string>, version = PROTOCOL_3_0): Buffer {
  const parts: Part[] = [int32(version)];
  for (const [k, v] of Object.entries(params)) parts.push(cstring(k), cstring(v));
  parts.push(int8(0));
  return untyped(...parts);
}

export function sslRequest(): Buffer {
  return untyped(int32(80877103));
}

export function gssencRequest(): Buffer {
  return untyped(int32(80877104));
}

/** CancelRequest; the key is 4 bytes under 3.0 and up to 256 under 3.2. */
export function cancelRequest(processId: number, key: Buffer): Buffer {
  return untyped(int32(80877102), int32(processId), key);
}

// ---- common messages ----

export function query(sql: string): Buffer {
  return msg('Q', cstring(sql));
}

export function parse(statement: string, sql: string, paramTypes: number[] = []): Buffer {
  return msg('P', cstring(statement), cstring(sql), int16(paramTypes.length), ...paramTypes.map(uint32));
}

export function bind(portal: string, statement: string, params: Array<Buffer | string | null>, paramFormats: number[] = [], resultFormats: number[] = []): Buffer {
  return msg('B', cstring(portal), cstring(statement),
    int16(paramFormats.length), ...paramFormats.map(int16),
    int16(params.length), ...params.map(lenBytes),
    int16(resultFormats.length), ...resultFormats.map(int16));
}

export function describe(target: 'S' | 'P', name: string): Buffer {
  return msg('D', bytes(target), cstring(name));
}

export function execute(portal: string, maxRows = 0): Buffer {
  return msg('E', cstring(portal), int32(maxRows));
}

export function sync(): Buffer {
  return msg('S');
}

export function authentication(authType: number, ...rest: Part[]): Buffer {
  return msg('R', int32(authType), ...rest);
}

export function readyForQuery(status: 'I' | 'T' | 'E' = 'I'): Buffer {
  return msg('Z', bytes(status));
}

export function commandComplete(tag: string): Buffer {
  return msg('C', cstring(tag));
}

export interface ColumnSpec {
  name: string; tableOid?: number; columnNumber?: number; typeOid: number; typeSize?: number; typeModifier?: number; format?: 0 | 1;
}

export function rowDescription(cols: ColumnSpec[]): Buffer {
  const parts: Part[] = [int16(cols.length)];
  for (const c of cols) {
    parts.push(cstring(c.name), uint32(c.tableOid ?? 0), int16(c.columnNumber ?? 0), uint32(c.typeOid),
      int16(c.typeSize ?? -1), int32(c.typeModifier ?? -1), int16(c.format ?? 0));
  }
  return msg('T', ...parts);
}

export function dataRow(values: Array<Buffer | string | null>): Buffer {
  return msg('D', int16(values.length), ...values.map(lenBytes));
}

/** ErrorResponse ('E') or NoticeResponse ('N') from field letters to values, in order. */
export function errorResponse(fields: Record<string, string>, code: 'E' | 'N' = 'E'): Buffer {
  const parts: Part[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(bytes(k), cstring(v));
  parts.push(int8(0));
  return msg(code, ...parts);
}

export function parameterStatus(name: string, value: string): Buffer {
  return msg('S', cstring(name), cstring(value));
}

export function backendKeyData(processId: number, key: Buffer): Buffer {
  return msg('K', int32(processId), key);
}

/**
 * The RawMessage the framer would cut from wire bytes: a typed message when `typed` (default),
 * else a startup-phase one; a single byte is the backend's answer to SSLRequest/GSSENCRequest.
 */
export function toRaw(dir: Direction, wire: Buffer, typed = true, frame = 1): RawMessage {
  const base = { dir, offset: 0, firstFrame: frame, frame, startTimeUs: 0, timeUs: 0 };
  if (wire.length === 1) return { ...base, code: null, length: 1, body: wire };
  if (typed) return { ...base, code: String.fromCharCode(wire[0]), length: wire.readInt32BE(1), body: wire.subarray(5) };
  return { ...base, code: null, length: wire.readInt32BE(0), body: wire.subarray(4) };
}
