/**
 * A minimal PostgreSQL client over TLS for tests and samples: SSLRequest then TLS, or direct
 * TLS with ALPN "postgresql" (PostgreSQL 17+), trust authentication, simple queries, Terminate.
 * Written here rather than through `pg` because the tests need control of the TLS socket
 * (maxVersion, ciphers, ALPN, direct negotiation) and of the exact bytes sent and received:
 * those are what decryption must reproduce. Secrets go to a key log file via the `keylog` event.
 */
import { cstring, msg, startup } from './pg-builder.js';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls';
import { appendFileSync } from 'node:fs';

export interface TlsClientOptions {
  port: number;
  /** 'plain': no TLS at all (the same scenario in clear, for comparison). */
  mode: 'sslrequest' | 'direct' | 'plain';
  user: string;
  database: string;
  keylogPath: string | null;
  /** Append each key log line this much later (a slow logger: keys reach the file after the records they protect). */
  keylogDelayMs?: number;
  maxVersion?: SecureVersion;
  ciphers?: string;
  secureOptions?: number;
  queries: string[];
  /** Called after each query's ReadyForQuery (index in `queries`). */
  onQueryDone?: (index: number) => void;
}

export interface PgMsg {
  /** Type byte, or null for the StartupMessage. */
  code: string | null;
  body: Buffer;
}

export interface TlsClientResult {
  /** Every byte written into / read from the TLS layer, in order. */
  sent: Buffer;
  received: Buffer;
  /** The DataRow values of each query, as text. */
  rows: Array<Array<Array<string | null>>>;
  cipher: string;
  version: string;
  alpn: string | false;
  /** The client's local port (to find the connection in a capture). */
  localPort: number;
}

export function startupMessage(params: Record<string, string>): Buffer {
  return startup(params);
}

export const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Typed messages from a backend stream (whole ones only; the rest is left). */
export function splitTyped(buf: Buffer): { msgs: PgMsg[]; rest: Buffer } {
  const msgs: PgMsg[] = [];
  let pos = 0;
  while (pos + 5 <= buf.length) {
    const len = buf.readUInt32BE(pos + 1);
    if (len < 4 || pos + 1 + len > buf.length) break;
    msgs.push({ code: String.fromCharCode(buf[pos]), body: buf.subarray(pos + 5, pos + 1 + len) });
    pos += 1 + len;
  }
  return { msgs, rest: buf.subarray(pos) };
}

export function dataRowValues(body: Buffer): Array<string | null> {
  const n = body.readUInt16BE(0);
  const out: Array<string | null> = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) { out.push(null); continue; }
    out.push(body.toString('utf8', pos, pos + len));
    pos += len;
  }
  return out;
}

async function openTls(o: TlsClientOptions): Promise<{ sock: TLSSocket | Socket; raw: Socket }> {
  const common = {
    rejectUnauthorized: false, maxVersion: o.maxVersion, minVersion: 'TLSv1.2' as const, ciphers: o.ciphers,
    secureOptions: o.secureOptions, servername: 'localhost', ALPNProtocols: ['postgresql'],
  };
  let raw: Socket;
  let sock: TLSSocket;
  if (o.mode === 'plain') {
    raw = netConnect(o.port, '127.0.0.1');
    await new Promise<void>((res, rej) => { raw.once('connect', res); raw.once('error', rej); });
    return { sock: raw, raw };
  }
  if (o.mode === 'direct') {
    raw = netConnect(o.port, '127.0.0.1');
    await new Promise<void>((res, rej) => { raw.once('connect', res); raw.once('error', rej); });
    sock = tlsConnect({ ...common, socket: raw });
  } else {
    raw = netConnect(o.port, '127.0.0.1');
    await new Promise<void>((res, rej) => { raw.once('connect', res); raw.once('error', rej); });
    raw.write(SSL_REQUEST);
    const answer = await new Promise<Buffer>((res, rej) => { raw.once('data', res); raw.once('error', rej); });
    if (answer.length !== 1 || answer[0] !== 0x53) throw new Error(`server refused SSL: ${answer.toString('latin1')}`);
    sock = tlsConnect({ ...common, socket: raw });
  }
  if (o.keylogPath) {
    const path = o.keylogPath;
    const delay = o.keylogDelayMs ?? 0;
    sock.on('keylog', (line) => {
      if (delay > 0) setTimeout(() => appendFileSync(path, line), delay);
      else appendFileSync(path, line);
    });
  }
  await new Promise<void>((res, rej) => { sock.once('secureConnect', res); sock.once('error', rej); });
  return { sock, raw };
}

export async function runTlsClient(o: TlsClientOptions): Promise<TlsClientResult> {
  const { sock, raw } = await openTls(o);
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  sock.on('data', (b: Buffer) => { received.push(b); buf = Buffer.concat([buf, b]); waiters.splice(0).forEach((w) => w()); });
  let closed = false;
  sock.on('close', () => { closed = true; waiters.splice(0).forEach((w) => w()); });
  const write = (b: Buffer) => { sent.push(b); sock.write(b); };

  /** Messages up to and including the next ReadyForQuery. */
  const untilReady = async (): Promise<PgMsg[]> => {
    const got: PgMsg[] = [];
    for (;;) {
      const { msgs, rest } = splitTyped(buf);
      buf = Buffer.from(rest);
      for (const m of msgs) {
        got.push(m);
        if (m.code === 'Z') return got;
        if (m.code === 'E' && got.length === 1 && got[0].code === 'E' && closed) throw new Error('server error: ' + m.body.toString('latin1'));
      }
      if (closed) throw new Error('connection closed: ' + got.map((m) => m.code + (m.code === 'E' ? m.body.toString('latin1') : '')).join(' '));
      await new Promise<void>((res) => waiters.push(res));
    }
  };

  write(startupMessage({ user: o.user, database: o.database, application_name: 'pgsniff-tls-test' }));
  await untilReady();
  const tls = 'getCipher' in sock ? sock : null;
  const cipher = tls?.getCipher()?.standardName ?? '', version = tls?.getProtocol() ?? '', alpn = tls?.alpnProtocol ?? false;
  const localPort = raw.localPort ?? 0;
  const rows: TlsClientResult['rows'] = [];
  for (const q of o.queries) {
    write(msg('Q', cstring(q)));
    const msgs = await untilReady();
    rows.push(msgs.filter((m) => m.code === 'D').map((m) => dataRowValues(m.body)));
    o.onQueryDone?.(rows.length - 1);
  }
  write(msg('X', Buffer.alloc(0)));
  sock.end();
  if (!closed) await new Promise<void>((res) => { sock.once('close', () => res()); setTimeout(res, 2000); });
  return {
    sent: Buffer.concat(sent), received: Buffer.concat(received), rows,
    cipher, version, alpn, localPort,
  };
}
