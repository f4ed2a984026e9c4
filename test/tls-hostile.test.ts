/**
 * Hostile and broken input for the TLS layer: random bytes, a real session bit-flipped and cut
 * at many offsets, absurd lengths, a key that never comes; and the key log parser and
 * looksLikeTls on their own. Whatever the bytes: no exception, bounded buffers, no plaintext
 * that did not authenticate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyLog, TlsConnection, looksLikeTls, NOTE_NO_KEY } from '../src/pg/tls/index.js';
import { isUserError } from '../src/core/errors.js';
import type { Delivery, Direction } from '../src/reassembly/types.js';
import { runPair } from './helpers/tls-node-pair.js';
import { feedAll, rechunk } from './helpers/tls-feed.js';
import { hasOpenssl } from './helpers/tls-cert.js';
import { SSL_REQUEST, startupMessage } from './helpers/tls-pg-client.js';
import { tempDir } from './helpers/temp-dir.js';

const SKIP = hasOpenssl() ? false : 'the openssl CLI is not installed: TLS tests need it for a certificate';

/** Deterministic pseudo-random bytes (xorshift), so a failure can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

function keylogOf(text: string): KeyLog {
  const k = KeyLog.empty();
  k.addText(text);
  return k;
}

test('random bytes: no exception, nothing decrypted', () => {
  const next = prng(42);
  for (let round = 0; round < 200; round++) {
    const tls = new TlsConnection(KeyLog.empty(), () => {});
    let frame = 0;
    for (let i = 0; i < 20; i++) {
      const len = next() % 3000;
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = next() & 0xff;
      // Half the rounds start with a plausible record header so parsing gets further.
      if (i === 0 && round % 2 === 0 && len >= 5) { bytes[0] = 0x16; bytes[1] = 3; bytes[2] = 3; }
      const dir: Direction = next() & 1 ? 'frontend' : 'backend';
      tls.feed({ dir, bytes, skip: next() % 10 === 0 ? 17 : 0, frame: ++frame, timeUs: frame }, () => assert.fail('no plaintext from random bytes'));
    }
    tls.end(frame, () => assert.fail('no plaintext'));
    const info = tls.info();
    assert.equal(info.decrypted, false);
  }
});

test('absurd lengths: oversized records are not buffered, huge handshake messages are skipped', () => {
  const reasons: string[] = [];
  const tls = new TlsConnection(KeyLog.empty(), (r) => reasons.push(r));
  tls.feed({ dir: 'frontend', bytes: Buffer.from([0x16, 3, 1, 0xff, 0xff, 1, 2, 3]), skip: 0, frame: 1, timeUs: 1 }, () => {});
  assert.ok(reasons.some((r) => /not a TLS record/.test(r)), reasons.join('|'));
  // A handshake message that claims 16 MB, in valid records: skipped as it streams, never held.
  const tls2 = new TlsConnection(KeyLog.empty(), (r) => reasons.push(r));
  const rec = (payload: Buffer) => Buffer.concat([Buffer.from([0x16, 3, 3, payload.length >> 8, payload.length & 0xff]), payload]);
  tls2.feed({ dir: 'backend', bytes: rec(Buffer.concat([Buffer.from([2, 0xff, 0xff, 0xff]), Buffer.alloc(16000)])), skip: 0, frame: 2, timeUs: 2 }, () => {});
  for (let i = 0; i < 50; i++) tls2.feed({ dir: 'backend', bytes: rec(Buffer.alloc(16000)), skip: 0, frame: 3 + i, timeUs: 3 }, () => {});
  assert.ok(reasons.some((r) => /handshake message of 16777215 bytes skipped/.test(r)));
  const used = process.memoryUsage().heapUsed;
  assert.ok(used < 512 * 1024 * 1024);
});

test('a real session bit-flipped at many places: no exception, no unauthenticated plaintext', { skip: SKIP }, async () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const run = await runPair({ messages: ['hello', 'world'], maxVersion, alpn: ['postgresql'] });
    const stream = rechunk(run.deliveries, 1 << 20);
    const total = stream.reduce((n, d) => n + d.bytes.length, 0);
    for (let pos = 0; pos < total; pos += 7) {
      let at = pos;
      const mutated: Delivery[] = stream.map((d) => {
        const b = Buffer.from(d.bytes);
        if (at >= 0 && at < b.length) b[at] ^= 0x40;
        at -= d.bytes.length;
        return { ...d, bytes: b };
      });
      const r = feedAll(mutated, keylogOf(run.keylog));
      // Whatever decrypts is a prefix of the truth (a flipped record never yields plaintext).
      assert.ok(run.sent.toString().startsWith(r.frontend.toString()), `${maxVersion} flip at ${pos}: frontend`);
      assert.ok(run.received.toString().startsWith(r.backend.toString()), `${maxVersion} flip at ${pos}: backend`);
    }
  }
});

test('a real session cut at every offset: no exception, plaintext is a prefix', { skip: SKIP }, async () => {
  const run = await runPair({ messages: ['hello', 'world'] });
  const all = run.deliveries;
  const total = all.reduce((n, d) => n + d.bytes.length, 0);
  for (let cut = 0; cut <= total; cut += 3) {
    let left = cut;
    const part: Delivery[] = [];
    for (const d of all) {
      if (left <= 0) break;
      part.push({ ...d, bytes: d.bytes.subarray(0, Math.min(left, d.bytes.length)) });
      left -= d.bytes.length;
    }
    const r = feedAll(part, keylogOf(run.keylog));
    assert.ok(run.sent.toString().startsWith(r.frontend.toString()));
    assert.ok(run.received.toString().startsWith(r.backend.toString()));
  }
});

test('a watched key log that never gets the key: ciphertext waits up to 1 MiB, then one note', { skip: SKIP }, async () => {
  const run = await runPair({ messages: Array.from({ length: 40 }, () => 'y'.repeat(40000)) });
  const dir = tempDir('pgsniff-nokey-');
  const path = join(dir, 'keys.log');
  writeFileSync(path, '');
  const keylog = KeyLog.fromFile(path, { watch: true });
  try {
    const r = feedAll(run.deliveries, keylog);
    assert.equal(r.chunks.length, 0);
    assert.match(r.info.note ?? '', /no key for this session \(gave up waiting/);
    assert.ok(r.info.encryptedBytes!.frontend > 1_500_000);
  } finally {
    keylog.close();
  }
});

test('looksLikeTls: a ClientHello yes; startup packets, SSLRequest, HTTP no', { skip: SKIP }, async () => {
  const run = await runPair({ messages: ['x'] });
  const hello = run.deliveries.find((d) => d.dir === 'frontend')!.bytes;
  assert.equal(looksLikeTls(hello), true);
  assert.equal(looksLikeTls(hello.subarray(0, 3)), true, 'judged on what is there');
  assert.equal(looksLikeTls(startupMessage({ user: 'u' })), false);
  assert.equal(looksLikeTls(SSL_REQUEST), false);
  assert.equal(looksLikeTls(Buffer.from('GET / HTTP/1.1\r\n')), false);
  assert.equal(looksLikeTls(Buffer.alloc(0)), false);
  const serverHello = Buffer.from(hello);
  serverHello[5] = 2;
  assert.equal(looksLikeTls(serverHello), false, 'a ServerHello is not a client opening TLS');
});

test('key log parsing: labels, comments, CRLF, case, junk lines counted', () => {
  const r = 'A'.repeat(64);
  const k = KeyLog.empty();
  k.addText([
    '# comment', '', `CLIENT_RANDOM ${r} ${'11'.repeat(48)}\r`, `SERVER_TRAFFIC_SECRET_0 ${r.toLowerCase()} ${'22'.repeat(32)}`,
    `EXPORTER_SECRET ${r} ${'33'.repeat(32)}`, 'garbage line', `CLIENT_RANDOM ${'zz'.repeat(32)} ${'11'.repeat(48)}`,
    `CLIENT_RANDOM ${r} 123`, `NEW_LABEL ${r} ${'44'.repeat(32)}`,
  ].join('\n'));
  const s = k.lookup(Buffer.from(r, 'hex'));
  assert.ok(s?.master?.equals(Buffer.alloc(48, 0x11)));
  assert.ok(s?.serverApplication?.equals(Buffer.alloc(32, 0x22)));
  assert.deepEqual(k.stats(), { sessions: 1, malformedLines: 4 });
  assert.equal(k.lookup(Buffer.alloc(32)), undefined);
});

test('key log files: missing is a UserError; watched, it may appear later', async () => {
  assert.throws(() => KeyLog.fromFile('/nonexistent/keys.log'), (e: unknown) => isUserError(e) && e.code === 'ENOENT');
  const dir = tempDir('pgsniff-later-');
  const path = join(dir, 'later.log');
  const k = KeyLog.fromFile(path, { watch: true });
  try {
    const random = Buffer.alloc(32, 7);
    assert.equal(k.lookup(random), undefined);
    appendFileSync(path, `CLIENT_RANDOM ${random.toString('hex')} ${'55'.repeat(48)}\n`);
    await new Promise((res) => setTimeout(res, 80));
    assert.ok(k.lookup(random)?.master);
    assert.equal(k.live, true);
  } finally {
    k.close();
  }
  assert.equal(k.live, false);
});

test('no key (static key log): the note once per session, even with both directions', { skip: SKIP }, async () => {
  const run = await runPair({ messages: ['a', 'b'], maxVersion: 'TLSv1.2' });
  const r = feedAll(run.deliveries, KeyLog.empty());
  assert.deepEqual(r.anomalies.map((a) => a.reason), [NOTE_NO_KEY]);
});

test('handshake parsers: every truncation and many byte flips of real hellos and certificates, never an exception', { skip: SKIP }, async () => {
  const { parseClientHello, parseServerHello, parseCertificateSubject } = await import('../src/pg/tls/handshake.js');
  const run = await runPair({ messages: ['x'], maxVersion: 'TLSv1.2', alpn: ['postgresql'] });
  const client = run.deliveries.find((d) => d.dir === 'frontend')!.bytes;
  const server = Buffer.concat(run.deliveries.filter((d) => d.dir === 'backend').map((d) => d.bytes));
  // Handshake messages from the first records: ClientHello; ServerHello and Certificate.
  const messages: Array<{ type: number; body: Buffer }> = [];
  for (const stream of [client, server]) {
    let pos = 0;
    while (pos + 5 <= stream.length && stream[pos] === 0x16) {
      const len = stream.readUInt16BE(pos + 3);
      const frag = stream.subarray(pos + 5, pos + 5 + len);
      for (let h = 0; h + 4 <= frag.length;) {
        const hl = frag.readUIntBE(h + 1, 3);
        messages.push({ type: frag[h], body: frag.subarray(h + 4, h + 4 + hl) });
        h += 4 + hl;
      }
      pos += 5 + len;
    }
  }
  const parse = (type: number, b: Buffer) => {
    if (type === 1) parseClientHello(b);
    else if (type === 2) parseServerHello(b);
    else if (type === 11) { parseCertificateSubject(b, false); parseCertificateSubject(b, true); }
  };
  assert.ok(messages.some((m) => m.type === 11), 'the certificate is among them');
  const next = prng(7);
  for (const m of messages) {
    for (let cut = 0; cut <= m.body.length; cut += m.body.length > 2000 ? 13 : 1) parse(m.type, m.body.subarray(0, cut));
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(m.body);
      for (let k = 0; k < 3; k++) b[next() % b.length] = next() & 0xff;
      parse(m.type, b);
    }
  }
  const hello = parseClientHello(messages.find((m) => m.type === 1)!.body);
  assert.equal(hello?.sni, 'db.example');
  assert.deepEqual(hello?.alpn, ['postgresql']);
});
