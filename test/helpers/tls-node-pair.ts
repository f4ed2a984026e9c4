/**
 * A TLS client and server in this process with a recording TCP relay between them: each chunk
 * the relay forwards becomes one Delivery (its own "frame"), so the TLS layer can be tested
 * on real handshakes without a capture. The client writes its secrets to an NSS key log
 * string through the `keylog` event, as SSLKEYLOGFILE would.
 */
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket, type SecureVersion } from 'node:tls';
import { spawn } from 'node:child_process';
import type { Delivery } from '../../src/reassembly/types.js';
import { testCert } from './tls-cert.js';

export interface PairOptions {
  maxVersion?: SecureVersion;
  minVersion?: SecureVersion;
  /** OpenSSL cipher string (TLS 1.2 names and/or TLS 1.3 suite names). */
  ciphers?: string;
  /** Extra OpenSSL options for the client (e.g. SSL_OP_NO_ENCRYPT_THEN_MAC). */
  secureOptions?: number;
  alpn?: string[];
  servername?: string;
  /** Groups the server accepts (e.g. 'P-256' to force a HelloRetryRequest from a client that leads with X25519). */
  serverEcdhCurve?: string;
  /** A session from an earlier PairResult, to resume (abbreviated TLS 1.2 handshake, TLS 1.3 PSK). */
  session?: Buffer;
  /** Client messages; the server answers each with "echo:" + it. */
  messages: string[];
}

interface PairResult {
  deliveries: Delivery[];
  keylog: string;
  /** What the client sent and what it received, in order, as plaintext. */
  sent: Buffer;
  received: Buffer;
  cipher: string;
  version: string;
  /** The session the client can resume later (the last one the server issued). */
  session: Buffer | null;
  resumed: boolean;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A relay on an ephemeral port that records every chunk each way as a Delivery. */
async function relay(targetPort: number, deliveries: Delivery[]): Promise<{ port: number; close: () => void }> {
  let frame = 0;
  const t0 = Date.now() * 1000;
  const record = (dir: 'frontend' | 'backend', bytes: Buffer) => {
    frame++;
    deliveries.push({ dir, bytes: Buffer.from(bytes), skip: 0, frame, timeUs: t0 + frame });
  };
  const sockets: Socket[] = [];
  const server = createNetServer((client) => {
    const upstream = netConnect(targetPort, '127.0.0.1');
    sockets.push(client, upstream);
    client.on('data', (b) => { record('frontend', b); upstream.write(b); });
    upstream.on('data', (b) => { record('backend', b); client.write(b); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const port = await listen(server);
  return { port, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

function echoServer(opts: PairOptions): Server {
  const { cert, key } = testCert();
  return createTlsServer({
    cert, key, maxVersion: opts.maxVersion, minVersion: opts.minVersion ?? 'TLSv1.2', ciphers: opts.ciphers,
    ALPNProtocols: opts.alpn, ecdhCurve: opts.serverEcdhCurve,
  }, (s: TLSSocket) => {
    s.on('data', (b) => s.write(Buffer.concat([Buffer.from('echo:'), b])));
    s.on('end', () => s.end());
    s.on('error', () => s.destroy());
  });
}

export async function runPair(opts: PairOptions): Promise<PairResult> {
  const server = echoServer(opts);
  const serverPort = await listen(server);
  const deliveries: Delivery[] = [];
  const r = await relay(serverPort, deliveries);
  try {
    return await clientSession(r.port, opts, deliveries);
  } finally {
    r.close();
    server.close();
  }
}

/** Two connections to one server (its ticket key): the second resumes the first's session; only the second is returned. */
export async function runPairResuming(opts: Omit<PairOptions, 'messages'>): Promise<PairResult> {
  const server = echoServer({ ...opts, messages: [] });
  const serverPort = await listen(server);
  const deliveries: Delivery[] = [];
  const r = await relay(serverPort, deliveries);
  try {
    const first = await clientSession(r.port, { ...opts, messages: ['first'] }, deliveries);
    deliveries.length = 0;
    if (!first.session) throw new Error('no session to resume');
    return await clientSession(r.port, { ...opts, session: first.session, messages: ['second', 'third'] }, deliveries);
  } finally {
    r.close();
    server.close();
  }
}

async function clientSession(port: number, opts: PairOptions, deliveries: Delivery[]): Promise<PairResult> {
  let keylog = '';
  const received: Buffer[] = [];
  const sock = tlsConnect({
    host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: opts.maxVersion, minVersion: opts.minVersion ?? 'TLSv1.2',
    ciphers: opts.ciphers, secureOptions: opts.secureOptions, ALPNProtocols: opts.alpn, servername: opts.servername ?? 'db.example',
    session: opts.session,
  });
  let session: Buffer | null = null;
  sock.on('session', (s: Buffer) => { session = s; });
  sock.on('keylog', (line) => { keylog += line.toString('latin1'); });
  await new Promise<void>((resolve, reject) => { sock.once('secureConnect', resolve); sock.once('error', reject); });
  const cipher = sock.getCipher().standardName;
  const resumed = sock.isSessionReused();
  const version = sock.getProtocol() ?? '';
  // Count received bytes as they come; each message waits for its whole echo before the next is sent.
  let got = 0;
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  sock.on('data', (chunk: Buffer) => { received.push(chunk); got += chunk.length; wake?.(); });
  sock.on('error', (e) => { failure = e; wake?.(); });
  let want = 0;
  for (const m of opts.messages) {
    want += 5 + Buffer.byteLength(m);
    sock.write(m);
    while (got < want) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  }
  sock.end();
  await new Promise<void>((resolve) => { sock.once('close', () => resolve()); });
  // The relay may still be forwarding the last bytes; give it a moment so deliveries are complete.
  await new Promise((res) => setTimeout(res, 20));
  return { deliveries: [...deliveries], keylog, sent: Buffer.from(opts.messages.join('')), received: Buffer.concat(received), cipher, version, session, resumed };
}

/**
 * The same through `openssl s_client`, which sends a TLS 1.3 KeyUpdate when a line is just "K"
 * (asking the peer to update too) or "k": the one way to get KeyUpdate on the wire here.
 */
export async function runOpensslKeyUpdate(lines: string[], keylogPath: string): Promise<{ deliveries: Delivery[]; received: Buffer }> {
  const opts: PairOptions = { messages: [], minVersion: 'TLSv1.3' };
  const server = echoServer(opts);
  const serverPort = await listen(server);
  const deliveries: Delivery[] = [];
  const r = await relay(serverPort, deliveries);
  try {
    const child = spawn('openssl', ['s_client', '-brief', '-tls1_3', '-keylogfile', keylogPath, '-connect', `127.0.0.1:${r.port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise((res) => child.once('exit', res));
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
    // s_client takes K and k as commands only when they start what it reads from stdin in one
    // go, so each line is written after the previous one has had its effect (its echo came
    // back, or s_client said KEYUPDATE), never on a timer that a loaded machine outruns.
    const until = async (done: () => boolean, what: string): Promise<void> => {
      for (let waited = 0; !done(); waited += 20) {
        if (waited > 30_000 || child.exitCode !== null) throw new Error(`openssl s_client: no ${what} (stderr: ${err.trim()})`);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const count = (hay: string, needle: string) => hay.split(needle).length - 1;
    await until(() => err.includes('CONNECTION ESTABLISHED'), 'handshake');
    for (const l of lines) {
      if (l === 'K' || l === 'k') {
        const before = count(err, 'KEYUPDATE');
        child.stdin.write(l + '\n');
        await until(() => count(err, 'KEYUPDATE') > before, `key update after ${l}`);
      } else {
        child.stdin.write(l + '\n');
        await until(() => Buffer.concat(out).includes(l + '\n'), `echo of "${l}"`);
      }
    }
    child.stdin.end();
    await new Promise((res) => setTimeout(res, 200));
    if (child.exitCode === null) child.kill();
    await exited;
    return { deliveries, received: Buffer.concat(out) };
  } finally {
    r.close();
    server.close();
  }
}
