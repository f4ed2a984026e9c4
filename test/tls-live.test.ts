/**
 * Live decryption as `pgsniff -i lo --keylog FILE` does it: the capture process on lo
 * (src/capture/live-source.ts: pgsniff-capture, or tcpdump where it is not built),
 * the TCP decoder and reassembly, a TlsConnection per connection with a watched key log that a
 * slow logger fills only after the session's records have been captured. The ciphertext must
 * wait for its keys and then decrypt to exactly what the client sent and received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyLog, TlsConnection } from '../src/pg/tls/index.js';
import { findCaptureHelper, findTcpdump, openLiveSource } from '../src/capture/live-source.js';
import { TcpDecoder } from '../src/net/decoder.js';
import { FlowTable } from '../src/reassembly/flow-table.js';
import type { Direction } from '../src/reassembly/types.js';
import { hasOpenssl } from './helpers/tls-cert.js';
import { startTlsServer } from './helpers/tls-capture.js';
import { runTlsClient } from './helpers/tls-pg-client.js';

const SKIP = !hasOpenssl() ? 'the openssl CLI is not installed (needed for the test certificate)'
  : findCaptureHelper() === null && findTcpdump() === null ? 'no capture process: pgsniff-capture is not built and tcpdump is not installed'
  : process.getuid?.() !== 0 ? 'live capture on lo needs root'
  : false;

test('live capture with a key log that grows after the records it decrypts', { skip: SKIP }, async () => {
  const server = await startTlsServer();
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tls-live-'));
  const keylogPath = join(dir, 'keys.log');
  writeFileSync(keylogPath, '');
  const keylog = KeyLog.fromFile(keylogPath, { watch: true });
  const plain: Record<Direction, Buffer[]> = { frontend: [], backend: [] };
  const reasons: string[] = [];
  const tlsConns: TlsConnection[] = [];
  let lastFrame = 0;
  let firstQueryPlain = -1;
  const out = (dir: Direction, b: Buffer) => { plain[dir].push(b); };
  const table = new FlowTable({
    open() {
      const tls = new TlsConnection(keylog, (r) => reasons.push(r));
      tlsConns.push(tls);
      // The clear prefix before TLS: the 8-byte SSLRequest and the one-byte 'S'.
      const prefix: Record<Direction, number> = { frontend: 8, backend: 1 };
      return {
        data: (d) => {
          const n = Math.min(prefix[d.dir], d.bytes.length);
          prefix[d.dir] -= n;
          if (n < d.bytes.length || d.skip !== 0) tls.feed({ ...d, bytes: d.bytes.subarray(n) }, out);
        },
        close: (end) => tls.end(end.frame, out),
      };
    },
  }, () => {}, { serverPorts: [server.port] });
  const decoder = new TcpDecoder(() => {});
  const cap = await openLiveSource({ iface: 'lo', filter: `tcp port ${server.port}` }, {
    packet: (p) => {
      const seg = decoder.decode(p);
      if (seg) { lastFrame = seg.frame; table.segment(seg); }
    },
    anomaly: (a) => reasons.push(a.reason),
  });
  try {
    const client = await runTlsClient({
      port: server.port, mode: 'sslrequest', user: 'postgres', database: 'postgres', keylogPath, keylogDelayMs: 300,
      // The keys reach the file while the server sleeps: the records before wait for them, the
      // records after are decrypted as they come.
      queries: ["SELECT 'live' AS how", 'SELECT pg_sleep(0.8)', 'SELECT g FROM generate_series(1, 50) g'],
      onQueryDone: (i) => { if (i === 0) firstQueryPlain = plain.backend.length; },
    });
    await cap.settle(200, 3000);
    cap.stop();
    await cap.done;
    assert.equal(firstQueryPlain, 0, 'nothing decrypted before the keys reach the file');
    table.finish(lastFrame + 1, Date.now() * 1000);
    assert.equal(tlsConns.length, 1);
    assert.deepEqual(reasons, []);
    assert.ok(Buffer.concat(plain.frontend).equals(client.sent), 'frontend plaintext');
    assert.ok(Buffer.concat(plain.backend).equals(client.received), 'backend plaintext');
    assert.equal(tlsConns[0].info().decrypted, true);
  } finally {
    cap.stop();
    keylog.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
