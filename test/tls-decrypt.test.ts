/**
 * TLS decryption on real handshakes between node:tls peers (no PostgreSQL, no capture): every
 * suite family of TLS 1.3 and TLS 1.2, records split and merged, missing and wrong keys, late
 * keys from a watched key log, gaps, and KeyUpdate (through openssl s_client).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:crypto';
import { KeyLog, NOTE_NO_KEY, NOTE_WRONG_KEY } from '../src/pg/tls/index.js';
import { runPair, runPairResuming, runOpensslKeyUpdate, type PairOptions } from './helpers/tls-node-pair.js';
import { feedAll, merge, rechunk } from './helpers/tls-feed.js';
import { hasOpenssl } from './helpers/tls-cert.js';
import { tempDir } from './helpers/temp-dir.js';

const SKIP = hasOpenssl() ? false : 'the openssl CLI is not installed: TLS tests need it for a certificate';
const MESSAGES = ['SELECT 1;', 'x'.repeat(40000), 'third message'];

function keylogOf(text: string): KeyLog {
  const k = KeyLog.empty();
  k.addText(text);
  return k;
}

const CASES: Array<{ name: string; opts: Partial<PairOptions>; want: string }> = [
  { name: 'TLS 1.3 AES-128-GCM', opts: { ciphers: 'TLS_AES_128_GCM_SHA256' }, want: 'TLS_AES_128_GCM_SHA256' },
  { name: 'TLS 1.3 AES-256-GCM', opts: { ciphers: 'TLS_AES_256_GCM_SHA384' }, want: 'TLS_AES_256_GCM_SHA384' },
  { name: 'TLS 1.3 ChaCha20', opts: { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }, want: 'TLS_CHACHA20_POLY1305_SHA256' },
  { name: 'TLS 1.3 AES-128-CCM', opts: { ciphers: 'TLS_AES_128_CCM_SHA256' }, want: 'TLS_AES_128_CCM_SHA256' },
  { name: 'TLS 1.2 ECDHE AES-128-GCM', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }, want: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' },
  { name: 'TLS 1.2 ECDHE AES-256-GCM', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, want: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' },
  { name: 'TLS 1.2 ECDHE ChaCha20', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' }, want: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' },
  { name: 'TLS 1.2 RSA AES-128-GCM', opts: { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }, want: 'TLS_RSA_WITH_AES_128_GCM_SHA256' },
  { name: 'TLS 1.2 RSA AES-256-GCM', opts: { maxVersion: 'TLSv1.2', ciphers: 'AES256-GCM-SHA384' }, want: 'TLS_RSA_WITH_AES_256_GCM_SHA384' },
  { name: 'TLS 1.2 CBC SHA1 encrypt-then-MAC', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' }, want: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' },
  { name: 'TLS 1.2 CBC SHA1 MAC-then-encrypt', opts: { maxVersion: 'TLSv1.2', ciphers: 'AES256-SHA', secureOptions: constants.SSL_OP_NO_ENCRYPT_THEN_MAC }, want: 'TLS_RSA_WITH_AES_256_CBC_SHA' },
  { name: 'TLS 1.2 CBC SHA256', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256', secureOptions: constants.SSL_OP_NO_ENCRYPT_THEN_MAC }, want: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256' },
  { name: 'TLS 1.2 CBC SHA384', opts: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA384' }, want: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384' },
];

for (const c of CASES) {
  test(`decrypts ${c.name}, split and merged`, { skip: SKIP }, async () => {
    const run = await runPair({ messages: MESSAGES, alpn: ['postgresql'], ...c.opts });
    assert.equal(run.cipher, c.want, 'the peers negotiated the suite under test');
    for (const [how, ds] of [['as relayed', run.deliveries], ['1-byte deliveries', rechunk(run.deliveries, 1)],
      ['7-byte deliveries', rechunk(run.deliveries, 7)], ['merged', merge(run.deliveries)]] as const) {
      const r = feedAll(ds, keylogOf(run.keylog));
      assert.deepEqual(r.anomalies, [], how);
      assert.equal(r.frontend.toString(), run.sent.toString(), `${how}: frontend plaintext`);
      assert.equal(r.backend.toString(), run.received.toString(), `${how}: backend plaintext`);
      assert.equal(r.info.cipher, c.want);
      assert.equal(r.info.version, c.opts.maxVersion === 'TLSv1.2' ? 'TLS 1.2' : 'TLS 1.3');
      assert.equal(r.info.decrypted, true);
      assert.equal(r.info.note, null);
      assert.equal(r.info.sni, 'db.example');
      assert.equal(r.info.alpn, 'postgresql');
      assert.equal(r.info.certSubject, 'CN=pgsniff-test, O=pgsniff');
    }
  });
}

test('TLS 1.3 HelloRetryRequest: the real ServerHello and the first ClientHello random are used', { skip: SKIP }, async () => {
  const run = await runPair({ messages: MESSAGES, serverEcdhCurve: 'P-384' });
  const serverHellos = run.deliveries.filter((d) => d.dir === 'backend' && d.bytes[0] === 0x16 && d.bytes[5] === 2).length;
  assert.ok(serverHellos >= 2, 'the server answered the first ClientHello with a HelloRetryRequest');
  const r = feedAll(run.deliveries, keylogOf(run.keylog));
  assert.deepEqual(r.anomalies, []);
  assert.equal(r.frontend.toString(), run.sent.toString());
  assert.equal(r.backend.toString(), run.received.toString());
  assert.equal(r.info.version, 'TLS 1.3');
  const none = feedAll(run.deliveries, KeyLog.empty());
  assert.equal(none.info.version, 'TLS 1.3');
  assert.equal(none.info.note, NOTE_NO_KEY);
});

test('resumed sessions (TLS 1.2 abbreviated handshake, TLS 1.3 PSK) decrypt too', { skip: SKIP }, async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const run = await runPairResuming({ maxVersion });
    assert.equal(run.resumed, true, `${maxVersion}: the second connection resumed`);
    const r = feedAll(run.deliveries, keylogOf(run.keylog));
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.frontend.toString(), run.sent.toString());
    assert.equal(r.backend.toString(), run.received.toString());
    assert.equal(r.info.certSubject, null, 'no certificate in a resumed handshake');
  }
});

test('without keys: clear handshake fields, byte counts, one note, no plaintext', { skip: SKIP }, async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const run = await runPair({ messages: MESSAGES, alpn: ['postgresql'], maxVersion });
    const r = feedAll(run.deliveries, KeyLog.empty());
    assert.equal(r.chunks.length, 0);
    assert.equal(r.info.decrypted, false);
    assert.equal(r.info.note, NOTE_NO_KEY);
    assert.equal(r.anomalies.filter((a) => a.reason === NOTE_NO_KEY).length, 1, 'the note is reported once per session');
    assert.equal(r.info.sni, 'db.example');
    assert.deepEqual(r.info.alpnOffered, ['postgresql']);
    assert.ok(r.info.encryptedBytes!.frontend > 40000 && r.info.encryptedBytes!.backend > 40000, JSON.stringify(r.info.encryptedBytes));
    if (maxVersion === 'TLSv1.2') {
      assert.equal(r.info.version, 'TLS 1.2');
      assert.equal(r.info.certSubject, 'CN=pgsniff-test, O=pgsniff', 'TLS 1.2 certificates are in clear');
      assert.equal(r.info.alpn, 'postgresql');
    } else {
      assert.equal(r.info.version, 'TLS 1.3');
      assert.equal(r.info.certSubject, null, 'TLS 1.3 certificates are encrypted');
      assert.equal(r.info.alpn, null, 'TLS 1.3 sends the chosen ALPN encrypted');
    }
  }
});

test('a wrong key gives a clear note, not garbage', { skip: SKIP }, async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const run = await runPair({ messages: MESSAGES, maxVersion });
    // Flip one hex digit of every secret, keep the client randoms.
    const wrong = run.keylog.replace(/^(\S+ \S+ )(.)/gm, (_m, head: string, c: string) => head + (c === '0' ? '1' : '0'));
    const r = feedAll(run.deliveries, keylogOf(wrong));
    assert.equal(r.chunks.length, 0);
    assert.equal(r.info.decrypted, false);
    assert.equal(r.info.note, NOTE_WRONG_KEY);
  }
});

test('TLS 1.3 with only the application secrets in the key log', { skip: SKIP }, async () => {
  const run = await runPair({ messages: MESSAGES });
  const appOnly = run.keylog.split('\n').filter((l) => l.startsWith('CLIENT_TRAFFIC_SECRET_0') || l.startsWith('SERVER_TRAFFIC_SECRET_0')).join('\n');
  const r = feedAll(run.deliveries, keylogOf(appOnly));
  assert.equal(r.frontend.toString(), run.sent.toString());
  assert.equal(r.backend.toString(), run.received.toString());
});

test('watched key log: keys appended after the first records are used, ciphertext waits for them', { skip: SKIP }, async () => {
  const run = await runPair({ messages: MESSAGES });
  const dir = tempDir('pgsniff-keylog-');
  const path = join(dir, 'keys.log');
  writeFileSync(path, '# keys arrive late\n');
  const keylog = KeyLog.fromFile(path, { watch: true });
  try {
    const half = Math.floor(run.deliveries.length / 2);
    const first = feedAll(run.deliveries.slice(0, 0), keylog); // nothing yet: an empty session is fine
    assert.equal(first.chunks.length, 0);
    const { TlsConnection } = await import('../src/pg/tls/index.js');
    const chunks: Buffer[][] = [[], []];
    const tls = new TlsConnection(keylog, () => assert.fail('no anomaly expected'));
    const out = (d: 'frontend' | 'backend', b: Buffer) => { chunks[d === 'frontend' ? 0 : 1].push(b); };
    for (const d of run.deliveries.slice(0, half)) tls.feed(d, out);
    assert.equal(chunks[0].length + chunks[1].length, 0, 'nothing decrypted before the key is there');
    // Write a half line first: it must not be consumed until complete.
    const [line1, ...rest] = run.keylog.split('\n');
    appendFileSync(path, line1.slice(0, 20));
    await new Promise((r) => setTimeout(r, 60));
    appendFileSync(path, line1.slice(20) + '\n' + rest.join('\n'));
    await new Promise((r) => setTimeout(r, 60));
    for (const d of run.deliveries.slice(half)) tls.feed(d, out);
    tls.end(999, out);
    assert.equal(Buffer.concat(chunks[0]).toString(), run.sent.toString());
    assert.equal(Buffer.concat(chunks[1]).toString(), run.received.toString());
    assert.equal(keylog.stats().malformedLines, 0);
  } finally {
    keylog.close();
  }
});

test('a gap in application data: resynchronises on the next record that decrypts', { skip: SKIP }, async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const run = await runPair({ messages: ['a'.repeat(100), 'b'.repeat(50000), 'c'.repeat(100)], maxVersion });
    // Cut the frontend stream into 1000-byte pieces and drop one inside the 50000-byte message.
    const ds = rechunk(run.deliveries, 1000);
    const idx = ds.findIndex((d, i) => d.dir === 'frontend' && i > 10 && d.bytes.length === 1000 && ds[i + 1]?.dir === 'frontend');
    assert.ok(idx > 0);
    const lost = ds[idx].bytes.length;
    const cut = [...ds.slice(0, idx), { ...ds[idx + 1], skip: lost }, ...ds.slice(idx + 2)];
    const r = feedAll(cut, keylogOf(run.keylog));
    assert.ok(r.anomalies.some((a) => /lost in the frontend/.test(a.reason)), 'the gap is reported');
    assert.ok(r.anomalies.some((a) => /resynchronised/.test(a.reason)), JSON.stringify(r.anomalies));
    const text = r.frontend.toString();
    assert.ok(text.startsWith('a'.repeat(100)) && text.endsWith('c'.repeat(100)), 'decryption goes on after the gap');
    assert.ok(text.length < 50200, 'the lost records are missing, nothing invented');
    assert.equal(r.backend.toString(), run.received.toString());
  }
});

test('a gap in the handshake: that direction is no longer decrypted, with a note', { skip: SKIP }, async () => {
  const run = await runPair({ messages: MESSAGES });
  const backendIdx = run.deliveries.findIndex((d) => d.dir === 'backend');
  const cut = run.deliveries.map((d, i) => (i === backendIdx ? { ...d, bytes: d.bytes.subarray(10), skip: 10 } : d));
  const r = feedAll(cut, keylogOf(run.keylog));
  assert.equal(r.backend.length, 0);
  assert.match(r.info.note ?? '', /lost in the backend TLS stream/);
});

test('TLS 1.3 KeyUpdate both ways (openssl s_client)', { skip: SKIP }, async () => {
  const dir = tempDir('pgsniff-ku-');
  const path = join(dir, 'keys.log');
  const run = await runOpensslKeyUpdate(['before', 'K', 'after one', 'k', 'after two'], path);
  const r = feedAll(run.deliveries, KeyLog.fromFile(path));
  assert.deepEqual(r.anomalies, []);
  assert.equal(r.frontend.toString(), 'before\nafter one\nafter two\n');
  assert.equal(r.backend.toString(), 'echo:before\necho:after one\necho:after two\n');
  assert.match(readFileSync(path, 'latin1'), /CLIENT_TRAFFIC_SECRET_0/);
});
