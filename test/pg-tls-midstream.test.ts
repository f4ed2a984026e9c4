/**
 * A TLS connection whose start the capture missed (issue 13, section 5): recognised as TLS from
 * its records (content type, version bytes, lengths), reported `encryption: "tls"` with the
 * handshake unseen, and no resync anomalies from trying to frame ciphertext as messages. The
 * capture is the TLS 1.3 sample (a real PostgreSQL 18 session, see samples/TLS.md) with its
 * first frames (SYN, SSLRequest, the handshake) cut off by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { collect } from './helpers/run-pipeline.js';
import { tempDir } from './helpers/temp-dir.js';
import { writeFileSync } from 'node:fs';
import type { AnomalyRecord } from '../src/pipeline/events.js';
import type { SessionRecord } from '../src/session/schema.js';
import { CheckSink } from '../src/sinks/check.js';

/** A classic little-endian pcap without its frames before `keepFrom` (1-based). */
export function dropFrames(pcap: Buffer, keepFrom: number): Buffer {
  const out: Buffer[] = [pcap.subarray(0, 24)];
  let off = 24;
  for (let frame = 1; off + 16 <= pcap.length; frame++) {
    const len = pcap.readUInt32LE(off + 8);
    if (frame >= keepFrom) out.push(pcap.subarray(off, off + 16 + len));
    off += 16 + len;
  }
  return Buffer.concat(out);
}

test('TLS seen from mid-connection: encryption tls, handshake unseen, no resync; check calls it undecodable', async () => {
  const sample = readFileSync(join(projectRoot, 'samples', 'tls-13.pcap'));
  const dir = tempDir('pgsniff-midtls-');
  {
    // frame 11 on: application data records only (frames 8-10 are the handshake)
    for (const keepFrom of [11, 14]) {
      const path = join(dir, `mid-${keepFrom}.pcap`);
      writeFileSync(path, dropFrames(sample, keepFrom));
      const { records } = await collect(path);
      const anomalies = records.filter((r): r is AnomalyRecord => r.kind === 'anomaly');
      assert.deepEqual(anomalies.filter((a) => a.code !== 'mid-stream').map((a) => a.code), [], JSON.stringify(anomalies));
      assert.equal(records.filter((r) => r.kind === 'message').length, 0);
      const sessions = records.filter((r) => r.kind === 'session') as unknown as SessionRecord[];
      assert.equal(sessions.length, 1);
      const s = sessions[0]!;
      assert.equal(s.encryption, 'tls');
      assert.equal(s.tls?.decrypted, false);
      assert.match(s.tls?.note ?? '', /handshake was not captured/);
      const check = await CheckSink.create({ noErrors: true });
      for (const r of records) check.record(r);
      const res = check.result();
      assert.deepEqual(res.violations.map((v) => v.rule), ['undecoded']);
      assert.match(res.violations[0]!.message, /TLS whose handshake was not captured/);
    }
  }
});

test('a plaintext connection seen mid-stream is not taken for TLS', async () => {
  const sample = readFileSync(join(projectRoot, 'samples', 'simple-query.pcap'));
  const dir = tempDir('pgsniff-midtls-');
  {
    const path = join(dir, 'mid.pcap');
    writeFileSync(path, dropFrames(sample, 12));
    const { records } = await collect(path);
    const sessions = records.filter((r) => r.kind === 'session') as unknown as SessionRecord[];
    assert.ok(sessions.length >= 1);
    for (const s of sessions) assert.equal(s.encryption === 'tls', false);
    assert.ok(records.some((r) => r.kind === 'query'));
  }
});
