/**
 * The TLS samples (samples/tls-*.pcap + .keylog, made by scripts/make-tls-samples.ts): read
 * through the capture reader and reassembly, decrypted with their key logs to the documented
 * queries and values; without the key log, the clear handshake facts and a note; tshark agrees
 * on the message count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { KeyLog, NOTE_NO_KEY, DSB_TLS_KEYLOG } from '../src/pg/tls/index.js';
import { readCapture } from '../src/capture/open.js';
import { connectionsOf, tlsPart } from './helpers/tls-capture.js';
import { feedAll } from './helpers/tls-feed.js';
import { dataRowValues, splitTyped } from './helpers/tls-pg-client.js';
import { TLS_SAMPLES, TLS_SAMPLE_PORT, TLS_SAMPLE_QUERIES } from './helpers/tls-samples.js';
import { projectRoot, tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';

const dir = join(projectRoot, 'samples');

for (const s of TLS_SAMPLES) {
  const pcap = join(dir, `${s.name}.pcap`);
  const keylog = join(dir, `${s.name}.keylog`);
  const skip = existsSync(pcap) && existsSync(keylog) ? false : `samples/${s.name}.pcap or its key log is absent (run scripts/make-tls-samples.ts)`;
  const direct = s.client.mode === 'direct';

  test(`${s.name}: decrypts to the documented queries and values`, { skip }, async () => {
    const conns = await connectionsOf(pcap, TLS_SAMPLE_PORT);
    assert.equal(conns.length, 1);
    const r = feedAll(tlsPart(conns[0].deliveries, direct), KeyLog.fromFile(keylog));
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.info.version, s.version);
    assert.equal(r.info.cipher, s.cipher);
    assert.equal(r.info.certSubject, 'CN=pgsniff-test, O=pgsniff');
    assert.equal(r.info.alpn, 'postgresql');
    const startLen = r.frontend.readUInt32BE(0);
    const fe = splitTyped(r.frontend.subarray(startLen));
    assert.equal(fe.rest.length, 0);
    assert.deepEqual(fe.msgs.filter((m) => m.code === 'Q').map((m) => m.body.toString('utf8', 0, m.body.length - 1)), TLS_SAMPLE_QUERIES);
    const be = splitTyped(r.backend);
    assert.equal(be.rest.length, 0);
    const rows = be.msgs.filter((m) => m.code === 'D').map((m) => dataRowValues(m.body));
    assert.deepEqual(rows[0], ['1', 'über TLS']);
    assert.equal(rows.length, 1 + 5 + 1);
    assert.deepEqual(rows.at(-1), ['t', s.version.replace('TLS ', 'TLSv')]);
  });

  test(`${s.name}: without the key log, the clear facts and one note`, { skip }, async () => {
    const [c] = await connectionsOf(pcap, TLS_SAMPLE_PORT);
    const r = feedAll(tlsPart(c.deliveries, direct), KeyLog.empty());
    assert.equal(r.chunks.length, 0);
    assert.equal(r.info.note, NOTE_NO_KEY);
    assert.equal(r.info.sni, 'localhost');
    assert.equal(r.info.cipher, s.cipher);
    assert.equal(r.info.certSubject, s.version === 'TLS 1.2' ? 'CN=pgsniff-test, O=pgsniff' : null);
  });

  test(`${s.name}: tshark decrypts the same number of messages`, { skip: skip || (tshark() ? false : SKIP_NO_TSHARK) }, async () => {
    const out = execFileSync('tshark', ['-r', pcap, '-o', `tls.keylog_file:${keylog}`, '-Y', 'pgsql', '-T', 'fields', '-e', 'pgsql.type'], { encoding: 'utf8' });
    const theirs = out.split('\n').filter((l) => l.trim()).reduce((n, l) => n + l.split(',').length, 0);
    const [c] = await connectionsOf(pcap, TLS_SAMPLE_PORT);
    const r = feedAll(tlsPart(c.deliveries, direct), KeyLog.fromFile(keylog));
    const ours = 1 + splitTyped(r.frontend.subarray(r.frontend.readUInt32BE(0))).msgs.length + splitTyped(r.backend).msgs.length + (direct ? 0 : 1);
    if (direct && theirs === 0) return; // tshark 4.0 does not recognise direct TLS on pgsql
    assert.equal(theirs, ours);
  });
}

function hasEditcap(): boolean {
  try {
    execFileSync('editcap', ['-h'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('keys from a pcapng Decryption Secrets Block decrypt like the key log file', {
  skip: !existsSync(join(dir, 'tls-13.pcap')) ? 'samples/tls-13.pcap is absent' : hasEditcap() ? false : 'editcap (Debian wireshark-common, comes with tshark) is not installed',
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'pgsniff-dsb-'));
  try {
    const pcapng = join(work, 'tls-13-dsb.pcapng');
    execFileSync('editcap', ['--inject-secrets', `tls,${join(dir, 'tls-13.keylog')}`, join(dir, 'tls-13.pcap'), pcapng], { stdio: 'ignore' });
    const keylog = KeyLog.empty();
    let blocks = 0;
    await readCapture(pcapng, {
      packet: () => {},
      anomaly: () => {},
      secrets: (type, data) => { if (type === DSB_TLS_KEYLOG) { blocks++; keylog.addText(data.toString('latin1')); } },
    });
    assert.equal(blocks, 1);
    const [c] = await connectionsOf(pcapng, TLS_SAMPLE_PORT);
    const r = feedAll(tlsPart(c.deliveries, false), keylog);
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.info.decrypted, true);
    const fe = splitTyped(r.frontend.subarray(r.frontend.readUInt32BE(0)));
    assert.deepEqual(fe.msgs.filter((m) => m.code === 'Q').map((m) => m.body.toString('utf8', 0, m.body.length - 1)), TLS_SAMPLE_QUERIES);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
