/**
 * Nothing from which a password can be recovered is printed by default (issue 19). The secrets
 * are read from the auth samples themselves (decoded with --show-secrets: the cleartext
 * password, the MD5 hashes, every SCRAM client proof and server signature) and from a generated
 * PostgreSQL 18 OAUTHBEARER login (a bearer token in SASLInitialResponse). Then every output
 * the command has is searched for each secret, as text, as hex of its bytes, and (for SCRAM's
 * base64 values) as hex of the decoded bytes: NDJSON (messages, --queries), text (-V too),
 * stats (text and JSON), check's messages, the HTML report (`pgsniff report`: the page, with
 * the slowest executions' parameters, and the command's own lines). With --show-secrets they appear (the test
 * would otherwise prove nothing), and a display filter cannot test a redacted value.
 *
 * Not covered here: the terminal UI (test/tui-secrets.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { collect } from './helpers/run-pipeline.js';
import { conversation, pcapFile } from './helpers/build-packets.js';
import { authentication, bytes, cstring, int32, msg, query, readyForQuery, commandComplete, startup } from './helpers/pg-builder.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'pgsniff-secrets-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.pgsniff-bearer-token-4f2a9c';

/** A PostgreSQL 18 OAUTHBEARER login (RFC 7628 client initial response), then one query. */
function oauthCapture(): string {
  const initial = Buffer.from(`n,,\x01auth=Bearer ${TOKEN}\x01\x01`, 'latin1');
  const frames = conversation([
    { from: 'client', data: startup({ user: 'oauth_user', database: 'd' }) },
    { from: 'server', data: authentication(10, cstring('OAUTHBEARER'), bytes([0])) },
    { from: 'client', data: msg('p', cstring('OAUTHBEARER'), int32(initial.length), bytes(initial)) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
    { from: 'client', data: query('SELECT 1') },
    { from: 'server', data: Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]) },
  ]);
  const path = join(tmp, 'oauth.pcap');
  writeFileSync(path, pcapFile(frames));
  return path;
}

const SAMPLES = ['auth-methods.pcap', 'simple-query.pcap'].map((f) => join(projectRoot, 'samples', f));

/** Every secret the captures carry, read with showSecrets. */
async function secretsOf(paths: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of paths) {
    const { records } = await collect(p, { showSecrets: true });
    for (const r of records) {
      if (r.kind !== 'message') continue;
      const m = r as Record<string, unknown>;
      if (m.type === 'PasswordMessage') {
        out.add(m.password as string);
        if ((m.password as string).startsWith('md5')) out.add((m.password as string).slice(3));
      }
      const scram = m.scram as { proof?: string; serverSignature?: string } | undefined;
      if (scram?.proof) out.add(scram.proof);
      if (scram?.serverSignature) out.add(scram.serverSignature);
      if (m.type === 'SASLInitialResponse' && m.mechanism === 'OAUTHBEARER') out.add(TOKEN);
    }
  }
  return [...out];
}

/** The forms a secret could take in an output: itself, hex of its text, hex of its base64-decoded bytes. */
function forms(secret: string): string[] {
  const f = [secret, Buffer.from(secret, 'latin1').toString('hex')];
  if (/^[A-Za-z0-9+/]{20,}={0,2}$/.test(secret)) f.push(Buffer.from(secret, 'base64').toString('hex'));
  return f;
}

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000, env: { ...process.env, PGSNIFF_RELAUNCH: '0' } });
  return { status: r.status, out: r.stdout + r.stderr };
}

function outputsOf(file: string, extra: string[] = []): Array<[string, string]> {
  const modes: string[][] = [
    ['read', file, '--json'], ['read', file, '--text'], ['read', file, '--text', '-V'], ['read', file, '--json', '--queries'],
    ['read', file, '--text', '--queries'], ['read', file, '--json', '--rows', '--queries'], ['stats', file], ['stats', file, '--json'],
    ['check', file, '--no-plaintext-passwords', '--require-tls', '--max-queries', '0', '--no-errors'],
    ['check', file, '--no-plaintext-passwords', '--require-tls', '--max-queries', '0', '--json'],
  ];
  const outs: Array<[string, string]> = modes.map((m) => [m.join(' '), run([...m, ...extra]).out]);
  // The HTML report (with the slowest executions' parameters): what the command says and the page it writes.
  const page = join(tmp, `report-${Math.random().toString(36).slice(2)}.html`);
  const r = run(['report', file, '-o', page, ...extra]);
  assert.equal(r.status, 0, r.out);
  outs.push([`report ${file}`, r.out + readFileSync(page, 'utf8')]);
  return outs;
}

test('no cleartext password, MD5 hash, SCRAM proof, server signature or bearer token in any default output', async () => {
  const files = [...SAMPLES, oauthCapture()];
  const secrets = await secretsOf(files);
  // the captures do carry each kind
  assert.ok(secrets.includes('clear-secret'), 'cleartext password found');
  assert.ok(secrets.some((s) => /^md5[0-9a-f]{32}$/.test(s)), 'MD5 hash found');
  assert.ok(secrets.includes(TOKEN), 'bearer token found');
  assert.ok(secrets.filter((s) => s.endsWith('=')).length >= 2, 'a SCRAM proof and a server signature found');
  for (const file of files) {
    for (const [what, out] of outputsOf(file)) {
      assert.ok(out.length > 0, what);
      for (const s of secrets) {
        for (const form of forms(s)) assert.ok(!out.includes(form), `${what} shows a secret (${form})`);
      }
    }
  }
});

test('--show-secrets shows them (so the search above can find what it looks for)', async () => {
  const oauth = oauthCapture();
  const json = run(['read', oauth, '--json', '--show-secrets']).out;
  assert.ok(json.includes(TOKEN));
  const auth = run(['read', SAMPLES[0]!, '--json', '--show-secrets']).out;
  assert.ok(auth.includes('clear-secret'));
  const scram = run(['read', SAMPLES[1]!, '--text', '-V', '--show-secrets']).out;
  const secrets = await secretsOf([SAMPLES[1]!]);
  for (const s of secrets) assert.ok(scram.includes(s), `-V --show-secrets shows ${s}`);
});

test('a display filter cannot test a redacted value', async () => {
  const secrets = await secretsOf([SAMPLES[1]!]);
  const proof = secrets[0]!;
  for (const [file, filter] of [
    [SAMPLES[0]!, 'password == "clear-secret"'], [SAMPLES[0]!, 'password contains "secret"'], [SAMPLES[0]!, 'password matches "^md5"'],
    [SAMPLES[1]!, `scram.proof == "${proof}"`], [SAMPLES[1]!, `data contains "${proof.slice(0, 12)}"`], [SAMPLES[1]!, 'scram.serverSignature matches "^[A-Za-z0-9+/]{43}="'],
    [oauthCapture(), 'data contains "Bearer"'],
  ] as const) {
    const hidden = run(['read', file, '--json', '-Y', filter]);
    assert.equal(hidden.status, 0, hidden.out);
    assert.equal(hidden.out.trim(), '', `-Y '${filter}' matched a redacted value`);
    // the same filter with the secrets shown does match: the test tests something
    const shown = run(['read', file, '--json', '--show-secrets', '-Y', filter]);
    assert.notEqual(shown.out.trim(), '', `-Y '${filter}' --show-secrets`);
  }
});

test('redacted SCRAM keeps what is safe: user, nonces, salt, iteration count, channel binding', async () => {
  const { records } = await collect(SAMPLES[1]!, {});
  const cont = records.find((r) => r.kind === 'message' && r.type === 'AuthenticationSASLContinue') as Record<string, unknown>;
  const scram = cont.scram as Record<string, unknown>;
  assert.equal(typeof scram.salt, 'string');
  assert.equal(scram.iterations, 4096);
  assert.equal(typeof scram.nonce, 'string');
  const final = records.find((r) => r.kind === 'message' && r.type === 'AuthenticationSASLFinal') as Record<string, unknown>;
  assert.deepEqual(final.scram, { serverSignature: '<redacted>' });
  assert.equal(final.data, 'v=<redacted>');
  const resp = records.find((r) => r.kind === 'message' && r.type === 'SASLResponse') as Record<string, unknown>;
  assert.match(resp.data as string, /^c=biws,r=[^,]+,p=<redacted>$/);
});
