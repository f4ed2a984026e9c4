/**
 * A small PostgreSQL message builder for tests (pg-protocol's test builder, in spirit):
 * `msg('Q', cstring('SELECT 1'))` gives the wire bytes of a Query, `startup({user: 'alice'})`
 * a StartupMessage. Parts are Buffers; `msg` adds the type byte and the length that counts
 * itself. `toRaw` turns wire bytes back into the RawMessage the framer would hand out.
 */
import type { RawMessage, Direction, DissectContext, ColumnDescription } from '../../dissectors/types.js';
import { rawMessage } from '../../dissectors/raw-message.js';

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

interface ColumnSpec {
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
  // The body as a range of the wire bytes, as the framer hands it out: readers must keep to the range.
  const base = { dir, offset: 0, firstFrame: frame, frame, startTimeUs: 0, timeUs: 0, source: wire, bodyEnd: wire.length };
  if (wire.length === 1) return { ...base, code: null, length: 1, body: wire, bodyStart: 0 };
  if (typed) return { ...base, code: String.fromCharCode(wire[0]), length: wire.readInt32BE(1), body: wire.subarray(5), bodyStart: 5 };
  return { ...base, code: null, length: wire.readInt32BE(0), body: wire.subarray(4), bodyStart: 4 };
}

// ---- a catalogue: one well-formed message of every kind ----

export interface CatalogueEntry {
  /** The decoded `type` expected. */
  type: string;
  dir: Direction;
  wire: Buffer;
  /** False for startup-phase messages (no type byte); the one-byte answers are detected by size. */
  typed: boolean;
  /** Context the message needs (authentication type before a 'p', protocol minor, pending request). */
  ctx?: { authType?: number | null; protocolMinor?: number; pendingRequest?: 'ssl' | 'gssenc' | null; saslMechanism?: string | null };
  /** Fields the decoded message must have (a subset check). */
  expect: Record<string, unknown>;
  /** The last field runs to the end of the body (rest-of-message): a shorter or longer body can still be well-formed. */
  openEnded?: boolean;
}

const KEY32 = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');

/** Every message the protocol defines (3.0 and 3.2), both directions, built with this module. */
export function catalogue(): CatalogueEntry[] {
  const F = 'frontend' as const;
  const B = 'backend' as const;
  return [
    // startup phase
    { type: 'StartupMessage', dir: F, typed: false, wire: startup({ user: 'alice', database: 'app', application_name: 'psql', client_encoding: 'UTF8' }),
      expect: { protocolMajor: 3, protocolMinor: 0, parameters: { user: 'alice', database: 'app', application_name: 'psql', client_encoding: 'UTF8' } } },
    { type: 'StartupMessage', dir: F, typed: false, wire: startup({ database: 'app', user: 'bob', _pq_: 'x' }, PROTOCOL_3_2),
      expect: { protocolMajor: 3, protocolMinor: 2, parameters: { database: 'app', user: 'bob', _pq_: 'x' } } },
    { type: 'SSLRequest', dir: F, typed: false, wire: sslRequest(), expect: {} },
    { type: 'GSSENCRequest', dir: F, typed: false, wire: gssencRequest(), expect: {} },
    { type: 'CancelRequest', dir: F, typed: false, wire: cancelRequest(4242, Buffer.from('deadbeef', 'hex')), expect: { processId: 4242, secretKey: 'deadbeef' }, openEnded: true },
    { type: 'CancelRequest', dir: F, typed: false, wire: cancelRequest(4243, KEY32), expect: { processId: 4243, secretKey: KEY32.toString('hex') }, openEnded: true },
    { type: 'SSLResponse', dir: B, typed: false, wire: Buffer.from('S'), ctx: { pendingRequest: 'ssl' }, expect: { accepted: true } },
    { type: 'SSLResponse', dir: B, typed: false, wire: Buffer.from('N'), ctx: { pendingRequest: 'ssl' }, expect: { accepted: false } },
    { type: 'GSSENCResponse', dir: B, typed: false, wire: Buffer.from('G'), ctx: { pendingRequest: 'gssenc' }, expect: { accepted: true } },
    { type: 'GSSENCResponse', dir: B, typed: false, wire: Buffer.from('N'), ctx: { pendingRequest: 'gssenc' }, expect: { accepted: false } },

    // authentication
    { type: 'AuthenticationOk', dir: B, typed: true, wire: authentication(0), expect: { authType: 0 } },
    { type: 'AuthenticationKerberosV5', dir: B, typed: true, wire: authentication(2), expect: { authType: 2 } },
    { type: 'AuthenticationCleartextPassword', dir: B, typed: true, wire: authentication(3), expect: { authType: 3 } },
    { type: 'AuthenticationMD5Password', dir: B, typed: true, wire: authentication(5, bytes([1, 2, 3, 4])), expect: { authType: 5, salt: '01020304' } },
    { type: 'AuthenticationGSS', dir: B, typed: true, wire: authentication(7), expect: { authType: 7 } },
    { type: 'AuthenticationGSSContinue', dir: B, typed: true, wire: authentication(8, bytes([0x60, 0x82, 0x01])), expect: { authType: 8, data: '608201', dataLength: 3 }, openEnded: true },
    { type: 'AuthenticationSSPI', dir: B, typed: true, wire: authentication(9), expect: { authType: 9 } },
    { type: 'AuthenticationSASL', dir: B, typed: true, wire: authentication(10, cstring('SCRAM-SHA-256-PLUS'), cstring('SCRAM-SHA-256'), int8(0)),
      expect: { authType: 10, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] } },
    { type: 'AuthenticationSASLContinue', dir: B, typed: true, wire: authentication(11, bytes('r=abcdef,s=c2FsdA==,i=4096')),
      ctx: { saslMechanism: 'SCRAM-SHA-256' }, expect: { authType: 11, scram: { nonce: 'abcdef', salt: 'c2FsdA==', iterations: 4096 } }, openEnded: true },
    { type: 'AuthenticationSASLFinal', dir: B, typed: true, wire: authentication(12, bytes('v=c2lnbmF0dXJl')),
      ctx: { saslMechanism: 'SCRAM-SHA-256' }, expect: { authType: 12, scram: { serverSignature: '<redacted>' } }, openEnded: true },
    { type: 'PasswordMessage', dir: F, typed: true, wire: msg('p', cstring('hunter2')), ctx: { authType: 3 }, expect: { method: 'cleartext', password: '<redacted>' } },
    { type: 'PasswordMessage', dir: F, typed: true, wire: msg('p', cstring('md5' + '0123456789abcdef0123456789abcdef')), ctx: { authType: 5 }, expect: { method: 'md5', password: '<redacted>' } },
    { type: 'SASLInitialResponse', dir: F, typed: true, wire: msg('p', cstring('SCRAM-SHA-256'), lenBytes('n,,n=,r=abc')), ctx: { authType: 10 },
      expect: { mechanism: 'SCRAM-SHA-256', dataLength: 11, data: 'n,,n=,r=abc', scram: { gs2Flag: 'n', user: '', nonce: 'abc' } } },
    { type: 'SASLResponse', dir: F, typed: true, wire: msg('p', bytes('c=biws,r=abcdef,p=cHJvb2Y=')), ctx: { authType: 11, saslMechanism: 'SCRAM-SHA-256' },
      expect: { data: 'c=biws,r=abcdef,p=<redacted>', scram: { channelBinding: 'biws', nonce: 'abcdef', proof: '<redacted>' } }, openEnded: true },
    { type: 'GSSResponse', dir: F, typed: true, wire: msg('p', bytes([0x60, 0x81, 0x00])), ctx: { authType: 7 }, expect: { dataLength: 3, data: '<redacted>' }, openEnded: true },
    { type: 'BackendKeyData', dir: B, typed: true, wire: backendKeyData(1234, Buffer.from('cafebabe', 'hex')), expect: { processId: 1234, secretKey: 'cafebabe' } },
    { type: 'BackendKeyData', dir: B, typed: true, wire: backendKeyData(1235, KEY32), ctx: { protocolMinor: 2 }, expect: { processId: 1235, secretKey: KEY32.toString('hex') }, openEnded: true },
    { type: 'NegotiateProtocolVersion', dir: B, typed: true, wire: msg('v', int32(0), int32(2), cstring('_pq_.foo'), cstring('_pq_.bar')),
      expect: { newestMinor: 0, unrecognized: ['_pq_.foo', '_pq_.bar'] } },
    // What servers really send: the whole version number (PostgreSQL 18 answering 3.2 with an unknown _pq_ option).
    { type: 'NegotiateProtocolVersion', dir: B, typed: true, wire: msg('v', int32(PROTOCOL_3_2), int32(1), cstring('_pq_.x')),
      expect: { newestMinor: 2, unrecognized: ['_pq_.x'] } },
    { type: 'ParameterStatus', dir: B, typed: true, wire: parameterStatus('server_version', '18.1'), expect: { name: 'server_version', value: '18.1' } },
    { type: 'Terminate', dir: F, typed: true, wire: msg('X'), expect: {} },

    // simple query
    { type: 'Query', dir: F, typed: true, wire: query('SELECT 1; SELECT 2'), expect: { query: 'SELECT 1; SELECT 2' } },
    { type: 'RowDescription', dir: B, typed: true,
      wire: rowDescription([{ name: 'id', tableOid: 16384, columnNumber: 1, typeOid: 23, typeSize: 4 }, { name: 'name', tableOid: 16384, columnNumber: 2, typeOid: 25, format: 1 }]),
      expect: { fields: [
        { name: 'id', tableOid: 16384, columnNumber: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 'text' },
        { name: 'name', tableOid: 16384, columnNumber: 2, typeOid: 25, typeSize: -1, typeModifier: -1, format: 'binary' },
      ] } },
    { type: 'DataRow', dir: B, typed: true, wire: dataRow(['1', null, 'Zoë']), expect: { values: [
      { oid: 0, format: 'text', value: '1' }, { oid: 0, format: 'text', value: null }, { oid: 0, format: 'text', value: 'Zoë' }] } },
    { type: 'CommandComplete', dir: B, typed: true, wire: commandComplete('INSERT 0 3'), expect: { tag: 'INSERT 0 3', command: 'INSERT', rows: 3, oid: 0 } },
    { type: 'CommandComplete', dir: B, typed: true, wire: commandComplete('CREATE TABLE'), expect: { command: 'CREATE TABLE', rows: null } },
    { type: 'EmptyQueryResponse', dir: B, typed: true, wire: msg('I'), expect: {} },
    { type: 'ReadyForQuery', dir: B, typed: true, wire: readyForQuery('I'), expect: { status: 'I', transactionStatus: 'idle' } },
    { type: 'ReadyForQuery', dir: B, typed: true, wire: readyForQuery('T'), expect: { status: 'T', transactionStatus: 'transaction' } },
    { type: 'ReadyForQuery', dir: B, typed: true, wire: readyForQuery('E'), expect: { status: 'E', transactionStatus: 'failed' } },

    // extended query
    { type: 'Parse', dir: F, typed: true, wire: parse('S_1', 'SELECT generate_series(0, $1)', [23]), expect: { statement: 'S_1', query: 'SELECT generate_series(0, $1)', paramTypes: [23] } },
    { type: 'Bind', dir: F, typed: true, wire: bind('', 'S_1', ['10', Buffer.from([0, 0, 0, 7]), null], [0, 1, 0], [1]),
      expect: { portal: '', statement: 'S_1', paramFormats: ['text', 'binary', 'text'], resultFormats: ['binary'],
        params: [{ oid: 0, format: 'text', value: '10' }, { oid: 0, format: 'binary', value: '\\x00000007' }, { oid: 0, format: 'text', value: null }] } },
    { type: 'Describe', dir: F, typed: true, wire: describe('S', 'S_1'), expect: { target: 'statement', name: 'S_1' } },
    { type: 'Describe', dir: F, typed: true, wire: describe('P', ''), expect: { target: 'portal', name: '' } },
    { type: 'Execute', dir: F, typed: true, wire: execute('', 100), expect: { portal: '', maxRows: 100 } },
    { type: 'Close', dir: F, typed: true, wire: msg('C', bytes('S'), cstring('S_1')), expect: { target: 'statement', name: 'S_1' } },
    { type: 'Sync', dir: F, typed: true, wire: sync(), expect: {} },
    { type: 'Flush', dir: F, typed: true, wire: msg('H'), expect: {} },
    { type: 'ParseComplete', dir: B, typed: true, wire: msg('1'), expect: {} },
    { type: 'BindComplete', dir: B, typed: true, wire: msg('2'), expect: {} },
    { type: 'CloseComplete', dir: B, typed: true, wire: msg('3'), expect: {} },
    { type: 'ParameterDescription', dir: B, typed: true, wire: msg('t', int16(2), uint32(23), uint32(3000000000)), expect: { paramTypes: [23, 3000000000] } },
    { type: 'NoData', dir: B, typed: true, wire: msg('n'), expect: {} },
    { type: 'PortalSuspended', dir: B, typed: true, wire: msg('s'), expect: {} },

    // errors and notices
    { type: 'ErrorResponse', dir: B, typed: true, wire: errorResponse({
      S: 'ERROR', V: 'ERROR', C: '42601', M: 'syntax error at or near "$1"', D: 'd', H: 'h', P: '15', p: '3', q: 'iq', W: 'w',
      s: 'public', t: 'tbl', c: 'col', d: 'dt', n: 'cons', F: 'scan.l', L: '1244', R: 'scanner_yyerror',
    }), expect: { fields: {
      severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '42601', message: 'syntax error at or near "$1"', detail: 'd', hint: 'h',
      position: '15', internalPosition: '3', internalQuery: 'iq', where: 'w', schema: 'public', table: 'tbl', column: 'col', dataType: 'dt',
      constraint: 'cons', file: 'scan.l', line: '1244', routine: 'scanner_yyerror',
    } } },
    { type: 'NoticeResponse', dir: B, typed: true, wire: errorResponse({ S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'hello', Y: 'future' }, 'N'),
      expect: { fields: { severity: 'NOTICE', severityNonLocalized: 'NOTICE', sqlstate: '00000', message: 'hello', unknown: { Y: 'future' } } } },
    { type: 'NotificationResponse', dir: B, typed: true, wire: msg('A', int32(77), cstring('jobs'), cstring('{"id":1}')), expect: { processId: 77, channel: 'jobs', payload: '{"id":1}' } },

    // COPY
    { type: 'CopyInResponse', dir: B, typed: true, wire: msg('G', int8(0), int16(2), int16(0), int16(0)), expect: { format: 'text', columnFormats: ['text', 'text'] } },
    { type: 'CopyOutResponse', dir: B, typed: true, wire: msg('H', int8(1), int16(1), int16(1)), expect: { format: 'binary', columnFormats: ['binary'] } },
    { type: 'CopyBothResponse', dir: B, typed: true, wire: msg('W', int8(0), int16(0)), expect: { format: 'text', columnFormats: [] } },
    { type: 'CopyData', dir: F, typed: true, wire: msg('d', bytes('1\tone\n')), expect: {}, openEnded: true },
    { type: 'CopyData', dir: B, typed: true, wire: msg('d', bytes('2\ttwo\n')), expect: {}, openEnded: true },
    { type: 'CopyDone', dir: F, typed: true, wire: msg('c'), expect: {} },
    { type: 'CopyDone', dir: B, typed: true, wire: msg('c'), expect: {} },
    { type: 'CopyFail', dir: F, typed: true, wire: msg('f', cstring('client gave up')), expect: { message: 'client gave up' } },

    // function call
    { type: 'FunctionCall', dir: F, typed: true, wire: msg('F', uint32(1598), int16(1), int16(1), int16(2), lenBytes(Buffer.from([0, 0, 0, 1])), lenBytes(null), int16(1)),
      expect: { functionOid: 1598, resultFormat: 'binary', args: [{ oid: 0, format: 'binary', value: '\\x00000001' }, { oid: 0, format: 'binary', value: null }] } },
    { type: 'FunctionCallResponse', dir: B, typed: true, wire: msg('V', lenBytes(Buffer.from([0, 0, 0, 42]))), expect: { result: { oid: 0, format: 'binary', value: '\\x0000002a' } } },
    { type: 'FunctionCallResponse', dir: B, typed: true, wire: msg('V', lenBytes('t')), expect: { result: { oid: 0, format: 'text', value: 't' } } },
    { type: 'FunctionCallResponse', dir: B, typed: true, wire: msg('V', lenBytes(null)), expect: { result: { oid: 0, format: 'text', value: null } } },

    // what is not the protocol
    { type: 'Unknown', dir: F, typed: true, wire: msg('Y', bytes('??')), expect: { size: 2, raw: '3f3f' }, openEnded: true },
    { type: 'Unknown', dir: B, typed: true, wire: msg('x'), expect: { size: 0 }, openEnded: true },
  ];
}

/** A DissectContext for tests: secrets hidden, protocol 3.0, no authentication yet, no types known, unless overridden. */
export function makeContext(over: Partial<DissectContext> & { paramTypes?: number[]; columns?: ColumnDescription[] } = {}): DissectContext {
  const { paramTypes, columns, ...rest } = over;
  return {
    showSecrets: false,
    protocolMinor: 0,
    authType: null,
    copy: null,
    statementParamTypes: () => paramTypes,
    resultColumns: () => columns,
    ...rest,
  };
}

/** The RawMessage of a catalogue entry. */
export function catalogueRaw(e: CatalogueEntry): RawMessage {
  return toRaw(e.dir, e.wire, e.typed);
}

/** The same message with its body cut to `n` bytes (the length field follows). */
export function withBody(raw: RawMessage, body: Buffer): RawMessage {
  return rawMessage({ ...raw, body, length: raw.code === null && raw.length === 1 && raw.dir === 'backend' ? body.length : body.length + 4 });
}
