/**
 * TLS sessions against a real PostgreSQL server, captured with tcpdump on the loopback
 * interface, and read back through the project's capture reader and reassembly into
 * per-connection Deliveries. Shared by test/tls-postgres.test.ts and scripts/make-tls-samples.ts.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startServer, type PgServer } from './pg-server.js';
import { testCert } from './tls-cert.js';
import { runTlsClient, type TlsClientOptions, type TlsClientResult } from './tls-pg-client.js';
import { FlowTable } from '../../src/reassembly/flow-table.js';
import type { ConnectionInfo, Delivery } from '../../src/reassembly/types.js';
import { loadSegments } from './reassembly-recorder.js';

export function hasTcpdump(): boolean {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/** PostgreSQL with ssl=on, the test certificate, and trust for TLS connections from 127.0.0.1. */
export async function startTlsServer(port?: number): Promise<PgServer> {
  const cert = testCert();
  return startServer({
    port,
    auth: 'trust',
    hba: ['hostssl all all 127.0.0.1/32 trust'],
    dataFiles: [{ name: 'server.crt', content: cert.cert, mode: 0o644 }, { name: 'server.key', content: cert.key, mode: 0o600 }],
    settings: { ssl: true, ssl_cert_file: 'server.crt', ssl_key_file: 'server.key' },
  });
}

export class Tcpdump {
  private constructor(private readonly child: ChildProcess, private readonly exited: Promise<unknown>) {}

  /** Starts tcpdump on lo for one port and waits until it listens; `bufferKiB`: its kernel buffer (-B), for busy captures. */
  static async start(pcapPath: string, port: number, filter = `tcp port ${port}`, bufferKiB?: number): Promise<Tcpdump> {
    const buffer = bufferKiB === undefined ? [] : ['-B', String(bufferKiB)];
    const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', ...buffer, '-w', pcapPath, '-U', '-s', '0', filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise((res) => child.once('exit', res));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcpdump did not start listening within 10 s')), 10000);
      let err = '';
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString();
        if (/listening on/.test(err)) { clearTimeout(timer); resolve(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`tcpdump exited (${code}): ${err}`)); });
    });
    return new Tcpdump(child, exited);
  }

  /** Lets the last packets reach the file, then stops tcpdump. */
  async stop(): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    await this.exited;
  }
}

export interface CapturedSession {
  client: TlsClientResult;
  options: Omit<TlsClientOptions, 'port' | 'keylogPath'>;
}

/** Runs the clients one after another while tcpdump writes pcapPath; the key log goes to keylogPath. */
export async function captureSessions(server: PgServer, pcapPath: string, keylogPath: string,
  sessions: Array<Omit<TlsClientOptions, 'port' | 'keylogPath'>>): Promise<CapturedSession[]> {
  writeFileSync(keylogPath, '');
  const dump = await Tcpdump.start(pcapPath, server.port);
  const out: CapturedSession[] = [];
  try {
    for (const options of sessions) out.push({ options, client: await runTlsClient({ ...options, port: server.port, keylogPath }) });
  } finally {
    await dump.stop();
  }
  return out;
}

export interface CapturedConnection {
  info: ConnectionInfo;
  deliveries: Delivery[];
}

/** Every TCP connection of a capture with its deliveries (bytes copied), through the project's reader and reassembly. */
export async function connectionsOf(pcapPath: string, serverPort: number): Promise<CapturedConnection[]> {
  const conns: CapturedConnection[] = [];
  const table = new FlowTable({
    open(info) {
      const c: CapturedConnection = { info, deliveries: [] };
      conns.push(c);
      return { data: (d) => { c.deliveries.push({ ...d, bytes: Buffer.from(d.bytes) }); }, close: () => {} };
    },
  }, () => {}, { serverPorts: [serverPort] });
  let last = { frame: 0, timeUs: 0 };
  for (const s of await loadSegments(pcapPath)) {
    table.segment(s);
    last = { frame: s.frame, timeUs: s.timeUs };
  }
  table.finish(last.frame, last.timeUs);
  return conns;
}

/**
 * The deliveries after the clear prefix that precedes TLS: the 8-byte SSLRequest and the
 * one-byte 'S' (or nothing, for direct TLS). This is the slicing src/pg/connection.ts does.
 */
export function tlsPart(deliveries: Delivery[], direct: boolean): Delivery[] {
  const skip = { frontend: direct ? 0 : 8, backend: direct ? 0 : 1 };
  const out: Delivery[] = [];
  for (const d of deliveries) {
    const n = Math.min(skip[d.dir], d.bytes.length);
    skip[d.dir] -= n;
    if (n === d.bytes.length) continue;
    out.push({ ...d, bytes: d.bytes.subarray(n) });
  }
  return out;
}
